//! Decisions: is this covered, can it be returned or exchanged, can TianCare+ still be
//! bought — computed from a purchase's dates and the policies' typed [`Terms`], as of a given
//! day, never guessed. Pure functions: the same purchase, request, terms and day give the same
//! decision, with the dates worked out and each applied clause named for citation.
//!
//! The calendar is [`super::dates`]: a period of N months ends the day before the same date N
//! months later; a window of N days ends N days after the event (delivered on the 20th, the
//! 7-day window ends on the 27th). The day a period ends is still inside it.

use chrono::NaiveDate;
use serde::Serialize;

use super::ask::{side_of, Ask, Damage, Intent};
use super::dates::{days_end, days_left, months_end};
use super::terms::{currency_of, ClauseRef, ReturnTerms, Terms};
use super::{Purchase, RepairKind, SalesChannel, Tier};

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Covered,
    NotCovered,
    ReturnEligible,
    ExchangeEligible,
    Expired,
    NeedsInfo,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Covered => "covered",
            Verdict::NotCovered => "not_covered",
            Verdict::ReturnEligible => "return_eligible",
            Verdict::ExchangeEligible => "exchange_eligible",
            Verdict::Expired => "expired",
            Verdict::NeedsInfo => "needs_info",
        }
    }
}

/// What something costs the customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub amount: f64,
    pub currency: &'static str,
    pub what: String,
}

/// A decision with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub decision: Verdict,
    /// A reason code (`defect_in_warranty`, `accidental_damage`, `return_window_passed`, …).
    pub reason: &'static str,
    /// The period the decision is about: the warranty, a part's term, a return window.
    pub starts: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    /// Days left in that period, counting today as used (0 on its last day).
    pub days_left: Option<i64>,
    pub cost: Option<Cost>,
    /// The part decided about, if any.
    pub part: Option<String>,
    /// The clauses applied, in the order they matter.
    pub clauses: Vec<ClauseRef>,
}

/// The facts a decision is taken on, besides the request.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub purchase: &'a Purchase,
    /// The customer's market (`CN`, `EU`, `UK`, `US`, `SG`, `AU`).
    pub region: &'a str,
    pub as_of: NaiveDate,
}

/// Why a decision cannot be taken at all (the terms or the purchase lack something).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecidable(pub String);

impl std::fmt::Display for Undecidable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A period of cover, and why it is what it is.
struct Period {
    starts: NaiveDate,
    expires: NaiveDate,
    /// The reason if the day is inside it; empty for the device's own period, where the
    /// reason is the segment the day falls in (standard, TianCare+, Platinum).
    covered_reason: &'static str,
    /// The reason if the day is past it.
    expired_reason: &'static str,
    clauses: Vec<ClauseRef>,
    /// The end of the standard warranty, and of TianCare+'s extension.
    std_end: NaiveDate,
    tc_end: NaiveDate,
    whole_end: NaiveDate,
}

struct Builder {
    part: Option<String>,
    clauses: Vec<ClauseRef>,
    as_of: NaiveDate,
}

impl Builder {
    fn done(
        self,
        decision: Verdict,
        reason: &'static str,
        window: Option<(NaiveDate, NaiveDate)>,
        cost: Option<Cost>,
    ) -> Decision {
        let (starts, expires) = match window {
            Some((s, e)) => (Some(s), Some(e)),
            None => (None, None),
        };
        let days_left = match (decision, expires) {
            (Verdict::Expired, _) | (_, None) => None,
            (_, Some(e)) => Some(days_left(self.as_of, e)),
        };
        let mut clauses = self.clauses;
        let mut seen = std::collections::BTreeSet::new();
        clauses.retain(|c| !c.clause.is_empty() && seen.insert(c.clone()));
        Decision {
            decision,
            reason,
            starts,
            expires,
            days_left,
            cost,
            part: self.part,
            clauses,
        }
    }
}

/// Decides `ask` for `facts` under `terms`.
pub fn decide(terms: &Terms, facts: Facts<'_>, ask: &Ask) -> Result<Decision, Undecidable> {
    let p = facts.purchase;
    let part = ask.part_for(&p.category);
    let b = Builder {
        part,
        clauses: Vec::new(),
        as_of: facts.as_of,
    };
    match ask.intent {
        Intent::Repair => repair(terms, facts, ask, b),
        Intent::Return => return_(terms, facts, ask, b),
        Intent::Exchange => exchange(terms, facts, ask, b),
        Intent::TiancarePurchase => tiancare_purchase(terms, facts, b),
    }
}

/// When the warranty starts: the delivery date of an online order, the invoice date of a shop
/// purchase (its order date when no invoice is recorded).
fn warranty_start(terms: &Terms, p: &Purchase) -> (Option<NaiveDate>, Option<ClauseRef>) {
    let w = terms.warranty.as_ref();
    match p.channel {
        SalesChannel::Online => (p.delivered, w.map(|w| w.start_online.clone())),
        SalesChannel::Store => (
            Some(p.invoiced.unwrap_or(p.ordered)),
            w.map(|w| w.start_store.clone()),
        ),
    }
}

fn end_of(start: NaiveDate, months: u32) -> Result<NaiveDate, Undecidable> {
    months_end(start, months)
        .ok_or_else(|| Undecidable(format!("{months} months from {start} is out of range")))
}

/// The period that covers a defect of `part` (or of the whole device).
fn cover_period(
    terms: &Terms,
    p: &Purchase,
    start: NaiveDate,
    part: Option<&str>,
    fault: Option<&str>,
) -> Result<Period, Undecidable> {
    let cat = terms.categories.get(&p.category).ok_or_else(|| {
        Undecidable(format!(
            "no warranty term for the category `{}` in the policies",
            p.category
        ))
    })?;
    let mut clauses = vec![cat.clause.clone()];
    let std_end = end_of(start, cat.months)?;
    let tc = p
        .tiancare
        .is_some()
        .then_some(())
        .and(terms.tiancare.as_ref());
    let tc_months = tc.map_or(0, |t| t.extension_months);
    let tc_end = end_of(start, cat.months + tc_months)?;
    let plat = terms.platinum.as_ref().filter(|x| {
        p.tier_at_purchase == Some(Tier::Platinum) && x.categories.contains(&p.category)
    });
    let whole_end = end_of(start, cat.months + tc_months + plat.map_or(0, |x| x.months))?;
    if let Some(t) = tc {
        clauses.push(t.extension_clause.clone());
    }
    if let Some(x) = plat {
        clauses.push(x.clause.clone());
    }
    let own = part.and_then(|pt| cat.parts.get(pt).map(|m| (pt, *m)));
    let mut period = match own {
        // a part with a shorter term keeps it, whatever extends the device
        Some((pt, m)) if m < cat.months => {
            let mut c = vec![cat
                .part_clauses
                .get(pt)
                .cloned()
                .unwrap_or(cat.clause.clone())];
            if let Some(t) = tc {
                c.push(t.own_part_terms_clause.clone());
            }
            Period {
                starts: start,
                expires: end_of(start, m)?,
                covered_reason: "part_term",
                expired_reason: "part_term",
                clauses: c,
                std_end,
                tc_end,
                whole_end,
            }
        }
        // a part with a longer term: covered by it once the device's term is over, unless
        // the policy makes it conditional on the installer
        Some((pt, m)) if m > cat.months => {
            let part_end = end_of(start, m)?;
            let installer_ok = terms.warranty.as_ref().is_none_or(|w| {
                w.installer_part != pt
                    || p.installer
                        .as_deref()
                        .is_none_or(|i| w.installers.iter().any(|ok| ok == i))
            });
            if let Some(pc) = cat.part_clauses.get(pt) {
                clauses.push(pc.clone());
            }
            if !installer_ok {
                if let Some(w) = terms.warranty.as_ref() {
                    clauses.push(w.installer_clause.clone());
                }
                Period {
                    starts: start,
                    expires: whole_end,
                    covered_reason: "",
                    expired_reason: "compressor_installer_condition",
                    clauses,
                    std_end,
                    tc_end,
                    whole_end,
                }
            } else if part_end > whole_end {
                Period {
                    starts: start,
                    expires: part_end,
                    covered_reason: "part_term",
                    expired_reason: "warranty_expired",
                    clauses,
                    std_end,
                    tc_end,
                    whole_end,
                }
            } else {
                Period {
                    starts: start,
                    expires: whole_end,
                    covered_reason: "",
                    expired_reason: "warranty_expired",
                    clauses,
                    std_end,
                    tc_end,
                    whole_end,
                }
            }
        }
        _ => Period {
            starts: start,
            expires: whole_end,
            covered_reason: "",
            expired_reason: "warranty_expired",
            clauses,
            std_end,
            tc_end,
            whole_end,
        },
    };
    // A repaired part: 90 days from the repair, or the rest of its term, whichever is longer.
    if let (Some(pt), Some(w)) = (part, terms.warranty.as_ref()) {
        // one of a pair (the left earbud) is not the other one repaired
        let side = fault.and_then(side_of);
        let latest = p
            .repairs
            .iter()
            .filter(|r| r.part == pt)
            .filter(|r| match (side, side_of(&r.fault)) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            })
            .filter_map(|r| days_end(r.date, w.repaired_part_days).map(|e| (r.date, e)))
            .max_by_key(|(_, e)| *e);
        if let Some((repaired, rp_end)) = latest {
            if rp_end > period.expires {
                period = Period {
                    starts: repaired,
                    expires: rp_end,
                    covered_reason: "repaired_part_90_days",
                    expired_reason: "repaired_part_90_days",
                    clauses: vec![w.repaired_part_clause.clone()],
                    std_end,
                    tc_end,
                    whole_end,
                };
            }
        }
    }
    period.std_end = std_end;
    period.tc_end = tc_end;
    period.whole_end = whole_end;
    Ok(period)
}

fn price_cost(terms: &Terms, p: &Purchase, part: Option<&str>, region: &str) -> Option<Cost> {
    if let Some(pt) = part {
        if let Some((amount, currency, _)) = terms.price(&p.model, &p.category, pt, region) {
            return Some(Cost {
                amount,
                currency,
                what: format!("paid {} {} replacement", p.model, pt.replace('_', " ")),
            });
        }
    }
    home_visit(terms, p, region, "out-of-warranty home visit, plus parts")
}

fn home_visit(terms: &Terms, p: &Purchase, region: &str, what: &str) -> Option<Cost> {
    let h = terms.home_visit.as_ref()?;
    if !h.categories.contains(&p.category) || currency_of(region) != "CNY" {
        return None;
    }
    Some(Cost {
        amount: h.amount_cny,
        currency: "CNY",
        what: what.to_string(),
    })
}

fn repair(
    terms: &Terms,
    facts: Facts<'_>,
    ask: &Ask,
    mut b: Builder,
) -> Result<Decision, Undecidable> {
    let p = facts.purchase;
    let (start, start_clause) = warranty_start(terms, p);
    let Some(start) = start else {
        return Ok(b.done(Verdict::NeedsInfo, "not_delivered", None, None));
    };
    b.clauses.extend(start_clause);
    let part = b.part.clone();
    let per = cover_period(terms, p, start, part.as_deref(), ask.fault.as_deref())?;
    let device_segment = per.covered_reason.is_empty()
        || (per.covered_reason == "part_term"
            && per.expires > per.whole_end
            && facts.as_of <= per.whole_end);
    let covered_reason = if !device_segment {
        per.covered_reason
    } else if facts.as_of <= per.std_end {
        "defect_in_warranty"
    } else if facts.as_of <= per.tc_end {
        "tiancare_extension"
    } else {
        "platinum_extension"
    };
    b.clauses.extend(per.clauses.iter().cloned());
    let window = Some((per.starts, per.expires));
    let inside = facts.as_of >= per.starts && facts.as_of <= per.expires;
    // a bulletin's symptom is a defect, however the customer put it
    let symptom = terms.bulletins.iter().any(|sb| {
        ask.fault.as_deref().is_some_and(|f| sb.matches_symptom(f))
            && sb.models.iter().any(|m| m.eq_ignore_ascii_case(&p.model))
    });
    let damage = match ask.damage {
        None | Some(Damage::Unspecified) if symptom => Damage::Defect,
        other => other.unwrap_or(Damage::Unspecified),
    };
    let w = terms.warranty.as_ref();

    if !inside && facts.as_of > per.expires {
        // past the period: a bulletin may still cover the defect
        if matches!(damage, Damage::Defect) {
            if let Some(d) = bulletin(terms, facts, ask, part.as_deref(), start, &mut b)? {
                return Ok(d);
            }
        }
        if per.expired_reason == "compressor_installer_condition" {
            let cost = home_visit(
                terms,
                p,
                facts.region,
                "out-of-warranty home visit, plus parts",
            );
            return Ok(b.done(Verdict::Expired, per.expired_reason, window, cost));
        }
        let cost = match per.expired_reason {
            "part_term" => price_cost(terms, p, part.as_deref(), facts.region).filter(|_| {
                terms
                    .price(
                        &p.model,
                        &p.category,
                        part.as_deref().unwrap_or(""),
                        facts.region,
                    )
                    .is_some()
            }),
            _ => price_cost(terms, p, part.as_deref(), facts.region),
        };
        if let Some(d) = terms.diagnosis.clone() {
            b.clauses.push(d);
        }
        return Ok(b.done(Verdict::Expired, per.expired_reason, window, cost));
    }

    match damage {
        Damage::Defect => {
            if let Some(w) = w {
                b.clauses.push(w.covers.clone());
                b.clauses.push(w.free.clone());
            }
            let cost = if covered_reason == "part_term"
                && facts.as_of > end_of(start, terms.categories[&p.category].months)?
            {
                let charged = terms.home_visit.as_ref().is_some_and(|h| {
                    part.as_deref()
                        .is_some_and(|pt| h.charged_after_whole_term.iter().any(|x| x == pt))
                });
                if charged {
                    if let Some(h) = terms.home_visit.as_ref() {
                        b.clauses.push(h.motor_clause.clone());
                    }
                    home_visit(
                        terms,
                        p,
                        facts.region,
                        "home visit after the whole-device term (the part is free)",
                    )
                } else {
                    None
                }
            } else {
                None
            };
            Ok(b.done(Verdict::Covered, covered_reason, window, cost))
        }
        Damage::Unspecified => Ok(b.done(Verdict::NeedsInfo, "needs_damage_type", window, None)),
        Damage::Accidental => {
            if let Some(d) = tiancare_accidental(terms, facts, part.as_deref(), start, &mut b)? {
                return Ok(d);
            }
            cite_exclusion(terms, "accidental", &mut b);
            let cost = priced(terms, p, part.as_deref(), facts.region, &mut b);
            Ok(b.done(Verdict::NotCovered, "accidental_damage", window, cost))
        }
        Damage::Liquid | Damage::TheftLoss => {
            let (key, reason) = exclusion(damage).unwrap_or(("liquid", "liquid_damage"));
            cite_exclusion(terms, key, &mut b);
            let mut cost = priced(terms, p, part.as_deref(), facts.region, &mut b);
            if damage == Damage::TheftLoss {
                if let Some(c) = cost.as_mut() {
                    c.what = format!(
                        "replacement {} (lost)",
                        part.as_deref().unwrap_or("part").replace('_', " ")
                    );
                }
            }
            Ok(b.done(Verdict::NotCovered, reason, window, cost))
        }
        Damage::Cosmetic | Damage::UnauthorisedRepair | Damage::NonTianlanCharger => {
            let (key, reason) = exclusion(damage).unwrap_or(("cosmetic", "cosmetic_wear"));
            cite_exclusion(terms, key, &mut b);
            Ok(b.done(Verdict::NotCovered, reason, window, None))
        }
    }
}

/// The warranty's exclusion a damage type falls under: its key in the terms and the reason
/// code said to the customer (`None`: a defect, or a damage not yet known).
fn exclusion(damage: Damage) -> Option<(&'static str, &'static str)> {
    Some(match damage {
        Damage::Accidental => ("accidental", "accidental_damage"),
        Damage::Liquid => ("liquid", "liquid_damage"),
        Damage::TheftLoss => ("theft_loss", "theft_or_loss"),
        Damage::Cosmetic => ("cosmetic", "cosmetic_wear"),
        Damage::UnauthorisedRepair => ("unauthorised_repair", "unauthorised_repair"),
        Damage::NonTianlanCharger => ("non_tianlan_charger", "non_tianlan_charger"),
        Damage::Defect | Damage::Unspecified => return None,
    })
}

/// Cites the warranty's exclusion `key`, when the terms have it.
fn cite_exclusion(terms: &Terms, key: &str, b: &mut Builder) {
    if let Some(c) = terms.warranty.as_ref().and_then(|w| w.exclusions.get(key)) {
        b.clauses.push(c.clone());
    }
}

/// The window of `days` days after `from` (the day itself not counted).
fn days_window(from: NaiveDate, days: u32) -> Result<(NaiveDate, NaiveDate), Undecidable> {
    days_end(from, days)
        .map(|end| (from, end))
        .ok_or_else(|| Undecidable(format!("{days} days from {from} is out of range")))
}

/// The returns and exchange terms, or why nothing can be decided without them.
fn returns_terms(terms: &Terms) -> Result<&ReturnTerms, Undecidable> {
    terms
        .returns
        .as_ref()
        .ok_or_else(|| Undecidable("no returns and exchange terms in the policies".into()))
}

/// The listed price of a part, if there is one (a part with no list price is quoted after the
/// free diagnosis).
fn priced(
    terms: &Terms,
    p: &Purchase,
    part: Option<&str>,
    region: &str,
    b: &mut Builder,
) -> Option<Cost> {
    let pt = part?;
    let (amount, currency, term) = terms.price(&p.model, &p.category, pt, region)?;
    b.clauses.push(term.clause.clone());
    Some(Cost {
        amount,
        currency,
        what: format!("paid {} {} replacement", p.model, pt.replace('_', " ")),
    })
}

/// A service bulletin that covers this defect past the warranty, if one applies.
fn bulletin(
    terms: &Terms,
    facts: Facts<'_>,
    ask: &Ask,
    part: Option<&str>,
    start: NaiveDate,
    b: &mut Builder,
) -> Result<Option<Decision>, Undecidable> {
    let p = facts.purchase;
    let fault = ask.fault.as_deref().unwrap_or("");
    let Some(sb) = terms.bulletins.iter().find(|sb| {
        sb.models.iter().any(|m| m.eq_ignore_ascii_case(&p.model))
            && part == Some(sb.part.as_str())
            && sb.covers_serial(&p.serial)
            && sb.matches_symptom(fault)
    }) else {
        return Ok(None);
    };
    let end = end_of(start, sb.months_from_purchase)?;
    let taken = Builder {
        part: b.part.clone(),
        clauses: {
            let mut c = std::mem::take(&mut b.clauses);
            c.push(sb.clause.clone());
            c
        },
        as_of: facts.as_of,
    };
    if facts.as_of <= end {
        Ok(Some(taken.done(
            Verdict::Covered,
            "known_issue_bulletin",
            Some((start, end)),
            None,
        )))
    } else {
        let cost = price_cost(terms, p, part, facts.region);
        Ok(Some(taken.done(
            Verdict::Expired,
            "known_issue_bulletin",
            Some((start, end)),
            cost,
        )))
    }
}

/// TianCare+'s accidental-damage repair, if the plan covers this part today.
fn tiancare_accidental(
    terms: &Terms,
    facts: Facts<'_>,
    part: Option<&str>,
    start: NaiveDate,
    b: &mut Builder,
) -> Result<Option<Decision>, Undecidable> {
    let p = facts.purchase;
    let (Some(plan), Some(t)) = (p.tiancare.as_ref(), terms.tiancare.as_ref()) else {
        return Ok(None);
    };
    let Some(parts) = t.accidental.get(&p.category) else {
        return Ok(None);
    };
    // phones: the screen or the back glass; earbuds: an earbud (the default part)
    let part_ok = match part {
        Some(pt) => parts.iter().any(|x| x == pt),
        None => parts.len() == 1,
    };
    if !part_ok {
        return Ok(None);
    }
    let months = terms.categories.get(&p.category).map_or(0, |c| c.months);
    let plan_end = end_of(start, months + t.extension_months)?;
    let activated = plan.bought.max(start);
    if facts.as_of < activated || facts.as_of > plan_end {
        return Ok(None);
    }
    // the coverage year the day falls in
    let mut year_start = activated;
    let mut k = 0u32;
    let year_end = loop {
        let end = end_of(year_start, 12)?;
        if facts.as_of <= end {
            break end;
        }
        k += 1;
        year_start = activated
            .checked_add_months(chrono::Months::new(12 * k))
            .ok_or_else(|| Undecidable("coverage year out of range".into()))?;
    };
    b.clauses.push(t.accidental_clause.clone());
    b.clauses.push(t.accidental_parts_clause.clone());
    b.clauses.push(t.year_clause.clone());
    let used = p
        .repairs
        .iter()
        .filter(|r| r.kind == RepairKind::Tiancare && r.date >= year_start && r.date <= year_end)
        .count();
    let window = Some((year_start, year_end));
    let taken = Builder {
        part: b.part.clone(),
        clauses: std::mem::take(&mut b.clauses),
        as_of: facts.as_of,
    };
    if used >= t.per_year {
        let mut taken = taken;
        taken.clauses.push(t.limit_clause.clone());
        let cost = priced(terms, p, part, facts.region, &mut taken);
        return Ok(Some(taken.done(
            Verdict::NotCovered,
            "tiancare_limit_used",
            window,
            cost,
        )));
    }
    let currency = currency_of(facts.region);
    let mut taken = taken;
    taken.clauses.push(t.fee_clause.clone());
    let cost = t.fee.get(currency).map(|a| Cost {
        amount: *a,
        currency,
        what: "TianCare+ accidental repair fee".into(),
    });
    Ok(Some(taken.done(
        Verdict::Covered,
        "tiancare_accidental_repair",
        window,
        cost,
    )))
}

fn return_(
    terms: &Terms,
    facts: Facts<'_>,
    ask: &Ask,
    mut b: Builder,
) -> Result<Decision, Undecidable> {
    let p = facts.purchase;
    let r = returns_terms(terms)?;
    let online = matches!(p.channel, SalesChannel::Online);
    if !online || !r.channels.iter().any(|c| c == "online") {
        b.clauses.push(r.store_clause.clone());
        b.clauses.push(r.exchange_clause.clone());
        return Ok(b.done(Verdict::NotCovered, "store_purchase", None, None));
    }
    let Some(delivered) = p.delivered else {
        return Ok(b.done(Verdict::NeedsInfo, "not_delivered", None, None));
    };
    let withdrawal = r
        .withdrawal_regions
        .iter()
        .any(|x| x.eq_ignore_ascii_case(facts.region));
    let (days, ok_reason) = if withdrawal {
        b.clauses.push(r.withdrawal_clause.clone());
        (r.withdrawal_days, "eu_withdrawal")
    } else {
        b.clauses.push(r.no_reason_clause.clone());
        (r.no_reason_days, "within_return_window")
    };
    let (_, end) = days_window(delivered, days)?;
    let window = Some((delivered, end));
    if facts.as_of > end {
        return Ok(b.done(Verdict::Expired, "return_window_passed", window, None));
    }
    let exception = |b: &mut Builder, key: &str| {
        if let Some(c) = r.exceptions.get(key) {
            b.clauses.push(c.clone());
        }
        b.clauses.push(r.exchange_clause.clone());
    };
    if ask.customised == Some(true) {
        exception(&mut b, "customised");
        return Ok(b.done(Verdict::NotCovered, "customised_item", window, None));
    }
    if p.category == "earbuds" {
        match ask.opened {
            Some(true) => {
                exception(&mut b, "opened_earbuds");
                return Ok(b.done(Verdict::NotCovered, "opened_earbuds", window, None));
            }
            None => {
                if let Some(c) = r.exceptions.get("opened_earbuds") {
                    b.clauses.push(c.clone());
                }
                return Ok(b.done(Verdict::NeedsInfo, "needs_opened_state", window, None));
            }
            Some(false) => {}
        }
    }
    if p.category == "air_conditioner" && p.installed.is_some_and(|d| d <= facts.as_of) {
        exception(&mut b, "installed_air_conditioner");
        return Ok(b.done(
            Verdict::NotCovered,
            "installed_air_conditioner",
            window,
            None,
        ));
    }
    Ok(b.done(Verdict::ReturnEligible, ok_reason, window, None))
}

fn exchange(
    terms: &Terms,
    facts: Facts<'_>,
    ask: &Ask,
    mut b: Builder,
) -> Result<Decision, Undecidable> {
    let p = facts.purchase;
    let r = returns_terms(terms)?;
    let (start, start_clause) = warranty_start(terms, p);
    let Some(start) = start else {
        return Ok(b.done(Verdict::NeedsInfo, "not_delivered", None, None));
    };
    let (_, end) = days_window(start, r.exchange_days)?;
    let damage = ask.damage.unwrap_or(Damage::Defect);
    let part = b.part.clone();
    if facts.as_of <= end {
        let window = Some((start, end));
        b.clauses.push(r.exchange_clause.clone());
        return Ok(match damage {
            Damage::Defect | Damage::Unspecified => b.done(
                Verdict::ExchangeEligible,
                "within_exchange_window",
                window,
                None,
            ),
            Damage::Cosmetic => {
                b.clauses.push(r.cosmetic_clause.clone());
                b.done(Verdict::NotCovered, "cosmetic_wear", window, None)
            }
            other => {
                let (key, reason) = exclusion(other).unwrap_or(("accidental", "accidental_damage"));
                cite_exclusion(terms, key, &mut b);
                let cost = priced(terms, p, part.as_deref(), facts.region, &mut b);
                b.done(Verdict::NotCovered, reason, window, cost)
            }
        });
    }
    let warranty_repairs: Vec<&str> = p
        .repairs
        .iter()
        .filter(|x| x.kind == RepairKind::Warranty)
        .map(|x| x.part.as_str())
        .collect();
    if warranty_repairs.is_empty() {
        b.clauses.push(r.exchange_clause.clone());
        return Ok(b.done(
            Verdict::Expired,
            "exchange_window_passed",
            Some((start, end)),
            None,
        ));
    }
    b.clauses.extend(start_clause);
    let per = cover_period(terms, p, start, None, None)?;
    let window = Some((per.starts, per.expires));
    b.clauses.push(r.repeat_clause.clone());
    if facts.as_of > per.expires {
        return Ok(b.done(Verdict::Expired, "warranty_expired", window, None));
    }
    let count = |pt: &str| warranty_repairs.iter().filter(|x| **x == pt).count();
    let same = part.as_deref().map_or(0, count);
    if same >= r.repeat_repairs {
        return Ok(b.done(
            Verdict::ExchangeEligible,
            "third_repair_exchange",
            window,
            None,
        ));
    }
    if let Some(w) = terms.warranty.as_ref() {
        b.clauses.push(w.covers.clone());
        b.clauses.push(w.free.clone());
    }
    let other_repeated = warranty_repairs
        .iter()
        .any(|pt| count(pt) >= r.repeat_repairs);
    if same == 0 && other_repeated {
        Ok(b.done(Verdict::Covered, "different_defect", window, None))
    } else {
        Ok(b.done(Verdict::Covered, "fewer_than_two_repairs", window, None))
    }
}

fn tiancare_purchase(
    terms: &Terms,
    facts: Facts<'_>,
    mut b: Builder,
) -> Result<Decision, Undecidable> {
    let p = facts.purchase;
    let t = terms
        .tiancare
        .as_ref()
        .ok_or_else(|| Undecidable("no TianCare+ terms in the policies".into()))?;
    b.part = None;
    b.clauses.push(t.buy_clause.clone());
    let bought = match p.channel {
        SalesChannel::Online => p.ordered,
        SalesChannel::Store => p.invoiced.unwrap_or(p.ordered),
    };
    let (_, end) = days_window(bought, t.buy_within_days)?;
    let window = Some((bought, end));
    if p.tiancare.is_some() {
        b.clauses.push(t.extension_clause.clone());
        return Ok(b.done(Verdict::Covered, "tiancare_already_bought", window, None));
    }
    if facts.as_of > end {
        return Ok(b.done(Verdict::Expired, "tiancare_window_passed", window, None));
    }
    let cost = (currency_of(facts.region) == "CNY")
        .then(|| t.prices.get(&p.model))
        .flatten()
        .map(|a| {
            b.clauses.push(t.prices_clause.clone());
            Cost {
                amount: *a,
                currency: "CNY",
                what: format!("TianCare+ plan for {}", p.model),
            }
        });
    Ok(b.done(Verdict::Covered, "tiancare_window_open", window, cost))
}
