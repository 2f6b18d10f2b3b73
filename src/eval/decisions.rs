//! Grading decisions on a table of cases (`exams/decisions.jsonl`): each case is a purchase,
//! a request and a day, with the expected decision, reason, dates, days left and cost. A case
//! passes when every expected field matches; the cost is compared by amount and currency
//! (its wording is free).

use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::customer::ask::Ask;
use crate::customer::decide::{decide, Decision, Facts};
use crate::customer::terms::Terms;
use crate::customer::Purchase;
use crate::error::{Error, Result};

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    as_of: NaiveDate,
    region: String,
    purchase: Purchase,
    ask: Ask,
    expect: Expect,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
struct Expect {
    decision: String,
    reason: String,
    starts: Option<NaiveDate>,
    expires: Option<NaiveDate>,
    days_left: Option<i64>,
    cost: Option<ExpectCost>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
struct ExpectCost {
    amount: f64,
    currency: String,
    #[serde(default)]
    what: String,
}

/// One case that did not pass.
#[derive(Debug, Serialize)]
pub struct Miss {
    pub id: String,
    pub fields: Vec<&'static str>,
    pub expected: serde_json::Value,
    pub got: serde_json::Value,
}

/// The figures.
#[derive(Debug, Serialize)]
pub struct DecisionReport {
    pub task: &'static str,
    pub file: String,
    pub rows: usize,
    /// Cases with every field right.
    pub accuracy: f64,
    /// Cases with the decision (the verdict alone) right.
    pub decision_accuracy: f64,
    pub reason_accuracy: f64,
    pub dates_accuracy: f64,
    pub cost_accuracy: f64,
    pub failures: Vec<Miss>,
}

fn got_json(d: &Decision) -> serde_json::Value {
    serde_json::json!({
        "decision": d.decision.as_str(),
        "reason": d.reason,
        "starts": d.starts,
        "expires": d.expires,
        "days_left": d.days_left,
        "cost": d.cost.as_ref().map(|c| serde_json::json!({"amount": c.amount, "currency": c.currency, "what": c.what})),
    })
}

/// Grades every case of `file` against the terms in `corpus`.
pub fn grade(file: &Path, corpus: &Path) -> Result<DecisionReport> {
    let terms = Terms::load(corpus).map_err(Error::InvalidRequest)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::InvalidRequest(format!("{}: {e}", file.display())))?;
    let mut rows = 0usize;
    let (mut all, mut verdict, mut reason, mut dates, mut cost) = (0, 0, 0, 0, 0);
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(line)
            .map_err(|e| Error::InvalidRequest(format!("{}:{}: {e}", file.display(), n + 1)))?;
        rows += 1;
        let facts = Facts {
            purchase: &case.purchase,
            region: &case.region,
            as_of: case.as_of,
        };
        let e = &case.expect;
        let mut fields = Vec::new();
        let got = match decide(&terms, facts, &case.ask) {
            Ok(d) => {
                if d.decision.as_str() != e.decision {
                    fields.push("decision");
                } else {
                    verdict += 1;
                }
                if d.reason != e.reason {
                    fields.push("reason");
                } else {
                    reason += 1;
                }
                if (d.starts, d.expires, d.days_left) != (e.starts, e.expires, e.days_left) {
                    fields.push("dates");
                } else {
                    dates += 1;
                }
                let cost_ok = match (&d.cost, &e.cost) {
                    (None, None) => true,
                    (Some(g), Some(x)) => {
                        (g.amount - x.amount).abs() < 0.005 && g.currency == x.currency
                    }
                    _ => false,
                };
                if cost_ok {
                    cost += 1;
                } else {
                    fields.push("cost");
                }
                got_json(&d)
            }
            Err(err) => {
                fields.extend(["decision", "reason", "dates", "cost"]);
                serde_json::json!({ "error": err.0 })
            }
        };
        if fields.is_empty() {
            all += 1;
        } else {
            failures.push(Miss {
                id: case.id.clone(),
                fields,
                expected: serde_json::to_value(e).unwrap_or_default(),
                got,
            });
        }
    }
    let rate = |k: usize| {
        if rows == 0 {
            0.0
        } else {
            k as f64 / rows as f64
        }
    };
    Ok(DecisionReport {
        task: "decisions",
        file: file.display().to_string(),
        rows,
        accuracy: rate(all),
        decision_accuracy: rate(verdict),
        reason_accuracy: rate(reason),
        dates_accuracy: rate(dates),
        cost_accuracy: rate(cost),
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our own tables of cases, written from the policies' prose before the code (the second
    /// by a writer who never saw it): every case passes.
    #[test]
    fn the_decision_tables_pass_whole() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (file, at_least) in [
            ("exams/decisions.jsonl", 60),
            ("exams/decisions-fresh.jsonl", 40),
        ] {
            check(&root.join(file), &root.join("corpus"), at_least);
        }
    }

    fn check(file: &Path, corpus: &Path, at_least: usize) {
        let r = grade(file, corpus).expect("grade");
        assert!(r.rows >= at_least, "{}: {} cases", file.display(), r.rows);
        let misses: Vec<String> = r
            .failures
            .iter()
            .map(|m| {
                format!(
                    "{} {:?}: expected {} got {}",
                    m.id, m.fields, m.expected, m.got
                )
            })
            .collect();
        assert!(misses.is_empty(), "{}", misses.join("\n"));
    }
}
