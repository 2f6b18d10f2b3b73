//! The policies' terms, typed: read from the `warranty:` and `terms:` keys of the policies'
//! front matter, so that a decision is computed from the same files a writer edits and every
//! term it applies can be cited by its clause. The terms live in one language version of a
//! policy (the English one in the demo corpus); a clause number means the same clause in every
//! language version, and [`Terms::locate`] finds it in either (`11.1` is the first item of
//! section 11, written `## 11.` or `## 十一、`).
//!
//! The shapes are documented in docs/corpus-formats.md ("Policy terms").

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::domain::WarrantyTerm;
use crate::ingest::frontmatter;
use crate::text::Lang;

/// A clause of a policy: the policy's id without its language suffix, and the clause number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ClauseRef {
    pub policy: String,
    pub clause: String,
    /// An agents-only note: applied, but never shown to a customer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// Months of warranty for one product category.
#[derive(Debug, Clone)]
pub struct CategoryTerm {
    pub months: u32,
    pub parts: BTreeMap<String, u32>,
    pub clause: ClauseRef,
    pub part_clauses: BTreeMap<String, ClauseRef>,
}

/// The rules of the standard warranty besides its periods.
#[derive(Debug, Clone)]
pub struct WarrantyRules {
    pub start_online: ClauseRef,
    pub start_store: ClauseRef,
    pub covers: ClauseRef,
    pub free: ClauseRef,
    /// Damage type (`accidental`, `liquid`, …) → the clause excluding it.
    pub exclusions: BTreeMap<String, ClauseRef>,
    pub installer_part: String,
    pub installers: Vec<String>,
    pub installer_clause: ClauseRef,
    pub repaired_part_days: u32,
    pub repaired_part_clause: ClauseRef,
    pub repeat_repairs: usize,
    pub repeat_clause: ClauseRef,
    pub claim: ClauseRef,
}

/// TianCare+, the extended warranty.
#[derive(Debug, Clone)]
pub struct TiancareTerms {
    pub buy_within_days: u32,
    pub buy_clause: ClauseRef,
    pub extension_months: u32,
    pub extension_clause: ClauseRef,
    /// Category → the parts an accidental-damage repair covers.
    pub accidental: BTreeMap<String, Vec<String>>,
    pub per_year: usize,
    /// Currency → the accidental-damage service fee.
    pub fee: BTreeMap<String, f64>,
    pub accidental_clause: ClauseRef,
    pub accidental_parts_clause: ClauseRef,
    pub fee_clause: ClauseRef,
    pub year_clause: ClauseRef,
    pub limit_clause: ClauseRef,
    /// Model → price of a plan in CNY.
    pub prices: BTreeMap<String, f64>,
    pub prices_clause: ClauseRef,
    pub own_part_terms_clause: ClauseRef,
}

/// Returns and exchanges.
#[derive(Debug, Clone)]
pub struct ReturnTerms {
    pub no_reason_days: u32,
    pub no_reason_clause: ClauseRef,
    pub channels: Vec<String>,
    pub store_clause: ClauseRef,
    pub withdrawal_regions: Vec<String>,
    pub withdrawal_days: u32,
    pub withdrawal_clause: ClauseRef,
    /// `customised`, `opened_earbuds`, `installed_air_conditioner` → clause.
    pub exceptions: BTreeMap<String, ClauseRef>,
    pub exchange_days: u32,
    pub exchange_clause: ClauseRef,
    pub cosmetic_clause: ClauseRef,
    pub repeat_repairs: usize,
    pub repeat_clause: ClauseRef,
}

/// One listed out-of-warranty price.
#[derive(Debug, Clone)]
pub struct PriceTerm {
    pub part: String,
    pub models: Vec<String>,
    pub categories: Vec<String>,
    /// Currency → amount.
    pub amounts: BTreeMap<String, f64>,
    pub clause: ClauseRef,
}

/// The home-visit fee for appliances repaired at home.
#[derive(Debug, Clone)]
pub struct HomeVisit {
    pub categories: Vec<String>,
    pub amount_cny: f64,
    pub clause: ClauseRef,
    /// Parts with a long term of their own whose visit is charged once the whole-device term
    /// has ended (the washer's inverter motor: the part is free, the visit is not).
    pub charged_after_whole_term: Vec<String>,
    pub motor_clause: ClauseRef,
}

/// Extra months for a tier's purchases.
#[derive(Debug, Clone)]
pub struct TierExtension {
    pub months: u32,
    pub categories: Vec<String>,
    pub clause: ClauseRef,
}

/// A service bulletin: free repair of a known defect for a serial range, for some months
/// from purchase, even after the warranty.
#[derive(Debug, Clone)]
pub struct Bulletin {
    pub reference: String,
    pub models: Vec<String>,
    pub part: String,
    pub symptoms: Vec<String>,
    pub serial_from: String,
    pub serial_to: String,
    pub months_from_purchase: u32,
    pub clause: ClauseRef,
}

impl Bulletin {
    /// Whether a serial number (`SN X9P2406B03317` or `X9P2406B03317`) is in the range: its
    /// first characters, as long as the range's bounds, compared in order.
    pub fn covers_serial(&self, serial: &str) -> bool {
        let s = serial.trim();
        let s = s
            .strip_prefix("SN")
            .or_else(|| s.strip_prefix("sn"))
            .unwrap_or(s)
            .trim()
            .to_ascii_uppercase();
        let n = self.serial_from.len();
        if s.len() < n || !s.is_char_boundary(n) {
            return false;
        }
        let head = &s[..n];
        head >= self.serial_from.as_str() && head <= self.serial_to.as_str()
    }

    /// Whether a fault description names the bulletin's symptom.
    pub fn matches_symptom(&self, fault: &str) -> bool {
        let f = fault.to_lowercase();
        self.symptoms.iter().any(|s| f.contains(&s.to_lowercase()))
    }
}

/// Every term the decisions use. Built by [`Terms::load`]; each part is optional so that a
/// corpus without (say) a returns policy still decides repairs.
#[derive(Debug, Clone, Default)]
pub struct Terms {
    pub categories: BTreeMap<String, CategoryTerm>,
    pub warranty: Option<WarrantyRules>,
    pub tiancare: Option<TiancareTerms>,
    pub returns: Option<ReturnTerms>,
    pub prices: Vec<PriceTerm>,
    pub home_visit: Option<HomeVisit>,
    pub diagnosis: Option<ClauseRef>,
    pub platinum: Option<TierExtension>,
    pub bulletins: Vec<Bulletin>,
    /// Policy (without language) → language → its document id, source file and whole text.
    texts: BTreeMap<String, BTreeMap<&'static str, PolicyText>>,
}

#[derive(Debug, Clone)]
struct PolicyText {
    doc_id: String,
    title: String,
    language: &'static str,
    source: String,
    text: String,
}

/// A clause found in a policy's text: the document, the source file and the byte range of the
/// clause in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClauseSpan {
    pub doc_id: String,
    pub title: String,
    /// The language of the version found (`en`, `zh`).
    pub language: String,
    pub source: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
}

// ---- the raw shapes of the front matter ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerms {
    starts: Option<RawStarts>,
    covers: Option<RawCovers>,
    exclusions: Option<BTreeMap<String, String>>,
    installer_condition: Option<RawInstaller>,
    repaired_part: Option<RawDaysClause>,
    repeat_repairs: Option<RawRepeat>,
    claim: Option<RawClause>,
    tiancare: Option<RawTiancare>,
    returns: Option<RawReturns>,
    repair_prices: Option<Vec<RawPrice>>,
    home_visit: Option<RawHomeVisit>,
    diagnosis_clause: Option<String>,
    platinum_extension: Option<RawTierExtension>,
    bulletins: Option<Vec<RawBulletin>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStarts {
    online: String,
    store: String,
    clause: String,
    store_clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCovers {
    clause: String,
    free_clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstaller {
    part: String,
    installers: Vec<String>,
    clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaysClause {
    days: u32,
    clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepeat {
    repairs: usize,
    clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClause {
    clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiancare {
    buy_within_days: u32,
    buy_clause: String,
    extension_months: u32,
    extension_clause: String,
    ends_clause: String,
    accidental: RawAccidental,
    prices: BTreeMap<String, f64>,
    prices_clause: String,
    own_part_terms_clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccidental {
    categories: BTreeMap<String, Vec<String>>,
    per_year: usize,
    fee: BTreeMap<String, f64>,
    clause: String,
    parts_clause: String,
    fee_clause: String,
    year_clause: String,
    limit_clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReturns {
    no_reason_days: u32,
    no_reason_clause: String,
    channels: Vec<String>,
    store_clause: String,
    withdrawal: RawWithdrawal,
    exceptions: BTreeMap<String, String>,
    exchange_days: u32,
    exchange_clause: String,
    cosmetic_clause: String,
    repeat_repairs: usize,
    repeat_clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWithdrawal {
    regions: Vec<String>,
    days: u32,
    clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    part: String,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(rename = "CNY")]
    cny: Option<f64>,
    #[serde(rename = "USD")]
    usd: Option<f64>,
    clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHomeVisit {
    categories: Vec<String>,
    #[serde(rename = "CNY")]
    cny: f64,
    clause: String,
    #[serde(default)]
    charged_after_whole_term: Vec<String>,
    motor_clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTierExtension {
    months: u32,
    categories: Vec<String>,
    clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBulletin {
    reference: String,
    models: Vec<String>,
    part: String,
    symptoms: Vec<String>,
    serial_prefix: String,
    serial_from: String,
    serial_to: String,
    months_from_purchase: u32,
    clause: String,
}

/// A policy's id without its language suffix: `policy-warranty-en` → `policy-warranty`.
pub fn policy_base(id: &str) -> &str {
    id.strip_suffix("-en")
        .or_else(|| id.strip_suffix("-zh"))
        .unwrap_or(id)
}

impl Terms {
    /// Reads the terms from the front matter of every Markdown file under `corpus` (the
    /// customers folder aside). A malformed `terms:` block is an error naming the file and
    /// the key; a corpus without terms gives empty terms.
    pub fn load(corpus: &Path) -> Result<Terms, String> {
        let mut files = Vec::new();
        collect_markdown(corpus, corpus, &mut files)?;
        files.sort();
        let mut terms = Terms::default();
        for (rel, path) in files {
            let src = std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let (fm, _) =
                frontmatter::split(&src).map_err(|e| format!("{}: {e}", path.display()))?;
            let Some(fm) = fm else { continue };
            let Some(id) = fm.id.clone() else { continue };
            let lang = fm.language.unwrap_or(Lang::En);
            let internal = matches!(fm.audience, Some(crate::domain::Audience::Internal));
            terms
                .add(&id, internal, &fm.warranty, fm.extra.get("terms"))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if !fm.warranty.is_empty() || fm.extra.contains_key("terms") || is_policy_pair(&id) {
                terms
                    .texts
                    .entry(policy_base(&id).to_string())
                    .or_default()
                    .insert(
                        lang.as_str(),
                        PolicyText {
                            doc_id: id.clone(),
                            title: fm.title.clone().unwrap_or_else(|| id.clone()),
                            language: lang.as_str(),
                            source: rel,
                            text: src,
                        },
                    );
            }
        }
        Ok(terms)
    }

    /// Merges one document's terms.
    pub fn add(
        &mut self,
        doc_id: &str,
        internal: bool,
        warranty: &[WarrantyTerm],
        raw: Option<&serde_json::Value>,
    ) -> Result<(), String> {
        let policy = policy_base(doc_id).to_string();
        let c = |clause: &str| ClauseRef {
            policy: policy.clone(),
            clause: clause.to_string(),
            internal,
        };
        for w in warranty {
            if self.categories.contains_key(&w.category) {
                continue; // the other language version of the same policy
            }
            self.categories.insert(
                w.category.clone(),
                CategoryTerm {
                    months: w.months,
                    parts: w.parts.clone(),
                    clause: c(w.clause.as_deref().unwrap_or("")),
                    part_clauses: w
                        .part_clauses
                        .iter()
                        .map(|(p, cl)| (p.clone(), c(cl)))
                        .collect(),
                },
            );
        }
        let Some(raw) = raw else { return Ok(()) };
        let t: RawTerms =
            serde_json::from_value(raw.clone()).map_err(|e| format!("`terms`: {e}"))?;
        if let (Some(s), Some(cv), Some(ex), Some(inst), Some(rp), Some(rr), Some(cl)) = (
            t.starts,
            t.covers,
            t.exclusions,
            t.installer_condition,
            t.repaired_part,
            t.repeat_repairs,
            t.claim,
        ) {
            if s.online != "delivered" || s.store != "invoiced" {
                return Err(format!(
                    "`terms.starts`: the warranty starts on `delivered` (online) and `invoiced` \
                     (store); `{}` / `{}` are not supported",
                    s.online, s.store
                ));
            }
            self.warranty = Some(WarrantyRules {
                start_online: c(&s.clause),
                start_store: c(&s.store_clause),
                covers: c(&cv.clause),
                free: c(&cv.free_clause),
                exclusions: ex.iter().map(|(k, v)| (k.clone(), c(v))).collect(),
                installer_part: inst.part,
                installers: inst.installers,
                installer_clause: c(&inst.clause),
                repaired_part_days: rp.days,
                repaired_part_clause: c(&rp.clause),
                repeat_repairs: rr.repairs,
                repeat_clause: c(&rr.clause),
                claim: c(&cl.clause),
            });
        }
        if let Some(tc) = t.tiancare {
            let _ = tc.ends_clause;
            self.tiancare = Some(TiancareTerms {
                buy_within_days: tc.buy_within_days,
                buy_clause: c(&tc.buy_clause),
                extension_months: tc.extension_months,
                extension_clause: c(&tc.extension_clause),
                accidental: tc.accidental.categories,
                per_year: tc.accidental.per_year,
                fee: tc.accidental.fee,
                accidental_clause: c(&tc.accidental.clause),
                accidental_parts_clause: c(&tc.accidental.parts_clause),
                fee_clause: c(&tc.accidental.fee_clause),
                year_clause: c(&tc.accidental.year_clause),
                limit_clause: c(&tc.accidental.limit_clause),
                prices: tc.prices,
                prices_clause: c(&tc.prices_clause),
                own_part_terms_clause: c(&tc.own_part_terms_clause),
            });
        }
        if let Some(r) = t.returns {
            self.returns = Some(ReturnTerms {
                no_reason_days: r.no_reason_days,
                no_reason_clause: c(&r.no_reason_clause),
                channels: r.channels,
                store_clause: c(&r.store_clause),
                withdrawal_regions: r.withdrawal.regions,
                withdrawal_days: r.withdrawal.days,
                withdrawal_clause: c(&r.withdrawal.clause),
                exceptions: r
                    .exceptions
                    .iter()
                    .map(|(k, v)| (k.clone(), c(v)))
                    .collect(),
                exchange_days: r.exchange_days,
                exchange_clause: c(&r.exchange_clause),
                cosmetic_clause: c(&r.cosmetic_clause),
                repeat_repairs: r.repeat_repairs,
                repeat_clause: c(&r.repeat_clause),
            });
        }
        for p in t.repair_prices.unwrap_or_default() {
            let mut amounts = BTreeMap::new();
            if let Some(a) = p.cny {
                amounts.insert("CNY".to_string(), a);
            }
            if let Some(a) = p.usd {
                amounts.insert("USD".to_string(), a);
            }
            if p.models.is_empty() && p.categories.is_empty() {
                return Err(format!(
                    "`terms.repair_prices`: the price of `{}` names neither `models` nor `categories`",
                    p.part
                ));
            }
            self.prices.push(PriceTerm {
                part: p.part,
                models: p.models,
                categories: p.categories,
                amounts,
                clause: c(&p.clause),
            });
        }
        if let Some(h) = t.home_visit {
            self.home_visit = Some(HomeVisit {
                categories: h.categories,
                amount_cny: h.cny,
                clause: c(&h.clause),
                charged_after_whole_term: h.charged_after_whole_term,
                motor_clause: c(&h.motor_clause),
            });
        }
        if let Some(d) = t.diagnosis_clause {
            self.diagnosis = Some(c(&d));
        }
        if let Some(p) = t.platinum_extension {
            self.platinum = Some(TierExtension {
                months: p.months,
                categories: p.categories,
                clause: c(&p.clause),
            });
        }
        for b in t.bulletins.unwrap_or_default() {
            if !b.serial_from.starts_with(&b.serial_prefix)
                || !b.serial_to.starts_with(&b.serial_prefix)
                || b.serial_from.len() != b.serial_to.len()
            {
                return Err(format!(
                    "`terms.bulletins`: `{}`: the range {}..{} must start with `{}` and have \
                     bounds of one length",
                    b.reference, b.serial_from, b.serial_to, b.serial_prefix
                ));
            }
            self.bulletins.push(Bulletin {
                reference: b.reference,
                models: b.models,
                part: b.part,
                symptoms: b.symptoms,
                serial_from: b.serial_from.to_ascii_uppercase(),
                serial_to: b.serial_to.to_ascii_uppercase(),
                months_from_purchase: b.months_from_purchase,
                clause: c(&b.clause),
            });
        }
        Ok(())
    }

    /// The listed price of repairing `part` of `model` (in `category`), in the region's
    /// currency: CNY in mainland China, USD elsewhere where the policy lists one.
    pub fn price(
        &self,
        model: &str,
        category: &str,
        part: &str,
        region: &str,
    ) -> Option<(f64, &'static str, &PriceTerm)> {
        let currency = currency_of(region);
        self.prices
            .iter()
            .filter(|p| p.part == part)
            .filter(|p| {
                p.models.iter().any(|m| m.eq_ignore_ascii_case(model))
                    || p.categories.iter().any(|c| c == category)
            })
            .find_map(|p| p.amounts.get(currency).map(|a| (*a, currency, p)))
    }

    /// Finds a clause in a policy's text, in `lang` if that version exists, else in any.
    pub fn locate(&self, clause: &ClauseRef, lang: Lang) -> Option<ClauseSpan> {
        let langs = self.texts.get(&clause.policy)?;
        let text = langs.get(lang.as_str()).or_else(|| langs.values().next())?;
        let (start, end) = locate_clause(&text.text, &clause.clause)?;
        Some(ClauseSpan {
            doc_id: text.doc_id.clone(),
            title: text.title.clone(),
            language: text.language.to_string(),
            source: text.source.clone(),
            start,
            end,
            text: text.text[start..end].to_string(),
        })
    }
}

/// The currency of a region's listed prices.
pub fn currency_of(region: &str) -> &'static str {
    if region.eq_ignore_ascii_case("CN") {
        "CNY"
    } else {
        "USD"
    }
}

fn is_policy_pair(id: &str) -> bool {
    id.starts_with("policy-") || id.starts_with("note-")
}

fn collect_markdown(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if dir == root && name == crate::index::build::CUSTOMERS_DIR {
                continue;
            }
            collect_markdown(root, &path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("md" | "markdown")
        ) {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// Chinese numerals of section headings: 一 … 九十九.
fn chinese_number(s: &str) -> Option<u32> {
    let digit = |c: char| "零一二三四五六七八九".chars().position(|d| d == c);
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        ['十'] => Some(10),
        ['十', d] => Some(10 + digit(*d)? as u32),
        [t, '十'] => Some(digit(*t)? as u32 * 10),
        [t, '十', d] => Some(digit(*t)? as u32 * 10 + digit(*d)? as u32),
        [d] => Some(digit(*d)? as u32),
        _ => None,
    }
}

/// The section number of a heading line (`## 11. What…`, `## 十一、…`), if it has one.
fn heading_number(line: &str) -> Option<u32> {
    let rest = line.trim_start_matches('#');
    if rest.len() == line.len() {
        return None;
    }
    let rest = rest.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if !digits.is_empty() {
        return digits.parse().ok();
    }
    let head: String = rest
        .chars()
        .take_while(|c| *c != '、' && *c != ' ')
        .collect();
    chinese_number(&head)
}

/// The byte range of clause `label` in a policy's text: `S` is section S's heading and its
/// first block; `S.N` is the paragraph that starts `S.N `, else the N-th numbered item (`N. `)
/// of section S, else its N-th block (a paragraph, a list item or a table: translations do not
/// always number their clauses), else its first block.
pub fn locate_clause(text: &str, label: &str) -> Option<(usize, usize)> {
    let (sec, item) = match label.split_once('.') {
        Some((s, n)) => (
            s.trim().parse::<u32>().ok()?,
            Some(n.trim().parse::<u32>().ok()?),
        ),
        None => (label.trim().parse::<u32>().ok()?, None),
    };
    // lines with their byte offsets
    let mut lines = Vec::new();
    let mut pos = 0;
    for l in text.split_inclusive('\n') {
        lines.push((pos, l));
        pos += l.len();
    }
    let start_ix = lines.iter().position(|(_, l)| {
        l.starts_with('#')
            && l.trim_start_matches('#').starts_with(' ')
            && heading_number(l) == Some(sec)
    })?;
    let section_end = lines[start_ix + 1..]
        .iter()
        .position(|(_, l)| l.starts_with("## ") || l.starts_with("# "))
        .map(|i| start_ix + 1 + i)
        .unwrap_or(lines.len());
    let blocks = blocks_of(&lines[start_ix + 1..section_end]);
    let Some(n) = item else {
        let (_, end) = *blocks.first()?;
        return Some((lines[start_ix].0, end));
    };
    let dotted = format!("{sec}.{n} ");
    let numbered = format!("{n}. ");
    let starts_with = |p: &str| {
        blocks
            .iter()
            .find(|(s, _)| text[*s..].starts_with(p))
            .copied()
    };
    starts_with(&dotted)
        .or_else(|| starts_with(&numbered))
        .or_else(|| blocks.get(n as usize - 1).copied())
        .or_else(|| blocks.first().copied())
}

fn is_list_item(l: &str) -> bool {
    let t = l.trim_start();
    t.starts_with("- ")
        || t.starts_with("* ")
        || t.split_once(". ")
            .is_some_and(|(d, _)| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
}

/// The blocks of a section's lines: paragraphs, list items (one each) and tables (one each),
/// as byte ranges without their trailing line breaks.
fn blocks_of(lines: &[(usize, &str)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut open: Option<(usize, usize, bool)> = None; // start, end, is a table
    for (off, l) in lines {
        let t = l.trim();
        let end = off + l.trim_end().len();
        if t.is_empty() {
            if let Some((s, e, _)) = open.take() {
                out.push((s, e));
            }
            continue;
        }
        let table = t.starts_with('|');
        match open {
            Some((s, _, was_table)) if !is_list_item(l) && was_table == table => {
                open = Some((s, end, table));
            }
            _ => {
                if let Some((s, e, _)) = open.take() {
                    out.push((s, e));
                }
                open = Some((*off, end, table));
            }
        }
    }
    if let Some((s, e, _)) = open {
        out.push((s, e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
    }

    #[test]
    fn the_demo_policies_carry_every_term() {
        let t = Terms::load(&corpus()).expect("terms load");
        assert_eq!(t.categories.len(), 6);
        assert_eq!(t.categories["phone"].months, 12);
        assert_eq!(t.categories["tv"].parts["remote"], 6);
        let w = t.warranty.as_ref().expect("warranty rules");
        assert_eq!(w.repaired_part_days, 90);
        assert!(w.exclusions.contains_key("liquid"));
        let tc = t.tiancare.as_ref().expect("tiancare");
        assert_eq!((tc.buy_within_days, tc.extension_months), (30, 12));
        assert_eq!(tc.fee["USD"], 29.0);
        let r = t.returns.as_ref().expect("returns");
        assert_eq!(
            (r.no_reason_days, r.exchange_days, r.withdrawal_days),
            (7, 15, 14)
        );
        assert_eq!(t.platinum.as_ref().map(|p| p.months), Some(6));
        assert_eq!(t.bulletins.len(), 1);
        assert!(t.bulletins[0].clause.internal);
        assert_eq!(
            t.price("X9 Pro", "phone", "screen", "US").map(|p| p.0),
            Some(189.0)
        );
        assert_eq!(
            t.price("A5", "phone", "battery", "CN").map(|p| p.0),
            Some(299.0)
        );
        assert!(t.price("AB-14", "laptop", "keyboard", "US").is_none());
    }

    #[test]
    fn clauses_are_found_in_both_languages() {
        let t = Terms::load(&corpus()).expect("terms load");
        let liquid = t.warranty.as_ref().map(|w| w.exclusions["liquid"].clone());
        let liquid = liquid.expect("liquid clause");
        let en = t.locate(&liquid, Lang::En).expect("en clause");
        assert!(en.text.starts_with("2. **Liquid damage**"), "{}", en.text);
        let zh = t.locate(&liquid, Lang::Zh).expect("zh clause");
        assert!(zh.text.starts_with("2. **进液损坏**"), "{}", zh.text);
        assert_eq!(zh.doc_id, "policy-warranty-zh");
        let repaired = t.warranty.as_ref().map(|w| w.repaired_part_clause.clone());
        let en = t
            .locate(&repaired.expect("13.1"), Lang::En)
            .expect("13.1 en");
        assert!(en.text.starts_with("13.1 A part repaired"), "{}", en.text);
        // the span is the file's bytes
        let src = std::fs::read_to_string(corpus().join(&en.source)).expect("source");
        assert_eq!(&src[en.start..en.end], en.text);
    }

    #[test]
    fn clause_numbers_and_serial_ranges() {
        assert_eq!(chinese_number("十一"), Some(11));
        assert_eq!(chinese_number("二十"), Some(20));
        assert_eq!(chinese_number("九"), Some(9));
        assert_eq!(heading_number("## 十三、维修后的保修"), Some(13));
        assert_eq!(heading_number("## 13. Repaired"), Some(13));
        let text = "# T\n\n## 2. Start\n\n2.1 Online orders start on delivery.\nMore.\n\n2.2 Store.\n\n## 3. List\n\n1. one\n2. two\n";
        let (s, e) = locate_clause(text, "2.1").expect("2.1");
        assert_eq!(&text[s..e], "2.1 Online orders start on delivery.\nMore.");
        let (s, e) = locate_clause(text, "3.2").expect("3.2");
        assert_eq!(&text[s..e], "2. two");
        assert_eq!(locate_clause(text, "4.1"), None);
        // a translation without clause numbers: the N-th block of the section
        let zh = "## 二、开始\n\n- 线上订单：签收日期；\n- 门店：发票日期；\n\n## 四、手机\n\n整机保修 12 个月。\n";
        let (s, e) = locate_clause(zh, "2.2").expect("2.2");
        assert_eq!(&zh[s..e], "- 门店：发票日期；");
        let (s, e) = locate_clause(zh, "4.3").expect("4.3");
        assert_eq!(&zh[s..e], "整机保修 12 个月。");
        let b = Bulletin {
            reference: "SB".into(),
            models: vec![],
            part: "screen".into(),
            symptoms: vec!["green line".into()],
            serial_from: "X9P2405A".into(),
            serial_to: "X9P2407Z".into(),
            months_from_purchase: 24,
            clause: ClauseRef {
                policy: "n".into(),
                clause: "1".into(),
                internal: true,
            },
        };
        assert!(b.covers_serial("SN X9P2406B03317"));
        assert!(b.covers_serial("x9p2407z0"));
        assert!(!b.covers_serial("SN X9P2409C11880"));
        assert!(!b.covers_serial("X9P24"));
        assert!(b.matches_symptom("A thin Green Line on the screen"));
    }
}
