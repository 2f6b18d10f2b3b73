//! Measuring follow-up rewriting on public sets (`../shared/eval/rewrite-zh`, `rewrite-en`,
//! and held-out files of the same layout): each row has `context` (earlier turns), `question`
//! and the reference `rewrite`. kefu's rewriter runs beside two baselines: no rewriting, and
//! prepending the previous user turn (what Rasa does).
//!
//! Tokens are characters for Chinese and lower-cased words and punctuation for English.
//! Restoration precision and recall are micro-averaged over the tokens the output and the
//! reference add to the question (multisets); BLEU is corpus BLEU-4 with the brevity penalty;
//! the false-rewrite rate is over rows whose reference equals the question.
//!
//! Row layouts: Chinese rows give `context` as [user, reply]; English rows give the article's
//! title and section first, then alternating question and answer (QuAC), unless a
//! `context_roles` field names each turn's role (`user` / `system`, TREC CAsT).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::converse::{resolve, Dialogue, NoNames};
use crate::error::{Error, Result};
use crate::text::Lang;

#[derive(Debug, Deserialize)]
struct Row {
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    context: Vec<String>,
    #[serde(default)]
    context_roles: Option<Vec<String>>,
    question: String,
    rewrite: String,
}

/// The figures of one system.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    pub exact_match: f64,
    pub restoration_p: f64,
    pub restoration_r: f64,
    pub restoration_f1: f64,
    pub bleu: f64,
    pub false_rewrite_rate: f64,
}

#[derive(Debug, Serialize)]
pub struct Baselines {
    pub no_rewrite: Figures,
    pub prepend_previous: Figures,
}

/// The report of `kefu eval --task rewrite`.
#[derive(Debug, Serialize)]
pub struct RewriteReport {
    pub task: &'static str,
    pub file: String,
    pub rows: usize,
    /// Rows whose reference is the question itself (the false-rewrite rate's rows).
    pub unchanged_rows: usize,
    #[serde(flatten)]
    pub kefu: Figures,
    pub baselines: Baselines,
    /// The LLM rewriter on the same rows (`--rewriter llm`), and how many of its calls failed
    /// (the question then stands unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<Figures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_failures: Option<usize>,
}

/// An LLM rewriter as the grader calls it: (question, language, earlier turns) → rewrite.
pub type LlmRewrite<'a> = &'a dyn Fn(&str, Lang, &[String]) -> Result<String>;

fn tokens(s: &str, lang: Lang) -> Vec<String> {
    match lang {
        Lang::Zh => s
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_lowercase().to_string())
            .collect(),
        _ => {
            let mut out = Vec::new();
            let mut word = String::new();
            for c in s.chars() {
                if c.is_alphanumeric() || c == '_' {
                    word.extend(c.to_lowercase());
                } else {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                    if !c.is_whitespace() {
                        out.push(c.to_string());
                    }
                }
            }
            if !word.is_empty() {
                out.push(word);
            }
            out
        }
    }
}

fn counts(t: &[String]) -> HashMap<&str, usize> {
    let mut m = HashMap::new();
    for w in t {
        *m.entry(w.as_str()).or_insert(0) += 1;
    }
    m
}

/// Multiset difference a − b.
fn minus<'a>(a: &HashMap<&'a str, usize>, b: &HashMap<&str, usize>) -> HashMap<&'a str, usize> {
    a.iter()
        .filter_map(|(k, n)| {
            let left = n.saturating_sub(*b.get(k).unwrap_or(&0));
            (left > 0).then_some((*k, left))
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    rows: usize,
    exact: usize,
    tp: usize,
    got: usize,
    added: usize,
    unchanged: usize,
    false_rewrites: usize,
    /// BLEU: matched and total n-grams for n = 1..4, candidate and reference lengths.
    matched: [usize; 4],
    total: [usize; 4],
    cand_len: usize,
    ref_len: usize,
}

impl Tally {
    fn add(&mut self, question: &str, reference: &str, output: &str, lang: Lang) {
        let q = tokens(question, lang);
        let r = tokens(reference, lang);
        let o = tokens(output, lang);
        self.rows += 1;
        if o == r {
            self.exact += 1;
        }
        let qc = counts(&q);
        let added = minus(&counts(&r), &qc);
        let got = minus(&counts(&o), &qc);
        let inter: usize = got
            .iter()
            .map(|(k, n)| (*n).min(*added.get(k).unwrap_or(&0)))
            .sum();
        self.tp += inter;
        self.got += got.values().sum::<usize>();
        self.added += added.values().sum::<usize>();
        if tokens(reference, lang) == q {
            self.unchanged += 1;
            if o != q {
                self.false_rewrites += 1;
            }
        }
        for n in 1..=4 {
            let grams = |t: &[String]| {
                let mut m: HashMap<Vec<String>, usize> = HashMap::new();
                for w in t.windows(n) {
                    *m.entry(w.to_vec()).or_insert(0) += 1;
                }
                m
            };
            let og = grams(&o);
            let rg = grams(&r);
            self.matched[n - 1] += og
                .iter()
                .map(|(g, c)| (*c).min(*rg.get(g).unwrap_or(&0)))
                .sum::<usize>();
            self.total[n - 1] += o.len().saturating_sub(n - 1);
        }
        self.cand_len += o.len();
        self.ref_len += r.len();
    }

    fn figures(&self) -> Figures {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let p = ratio(self.tp, self.got);
        let r = ratio(self.tp, self.added);
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        let bleu = if self.matched.contains(&0) || self.cand_len == 0 {
            0.0
        } else {
            let log_p: f64 = (0..4)
                .map(|i| (self.matched[i] as f64 / self.total[i] as f64).ln())
                .sum::<f64>()
                / 4.0;
            let bp = if self.cand_len > self.ref_len {
                1.0
            } else {
                (1.0 - self.ref_len as f64 / self.cand_len as f64).exp()
            };
            bp * log_p.exp()
        };
        Figures {
            exact_match: ratio(self.exact, self.rows),
            restoration_p: p,
            restoration_r: r,
            restoration_f1: f1,
            bleu,
            false_rewrite_rate: ratio(self.false_rewrites, self.unchanged),
        }
    }
}

/// A title-like topic in an English opening question ("What is throat cancer?" → "throat
/// cancer"), for dialogues that have no title.
fn topic_of_question(q: &str) -> Option<String> {
    let t = q.trim().trim_end_matches(['?', '.', '!']).trim();
    let lower = t.to_lowercase();
    let prefixes = [
        "tell me about ",
        "what is a ",
        "what is an ",
        "what is the ",
        "what is ",
        "what are the ",
        "what are ",
        "what was the ",
        "what was ",
        "who is ",
        "who was ",
        "describe ",
    ];
    let rest = prefixes
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(|_| &t[p.len()..]))?;
    let n = rest.split_whitespace().count();
    (1..=5).contains(&n).then(|| rest.to_string())
}

/// Grades kefu's rewriter and the baselines on `file`.
pub fn grade(file: &Path) -> Result<RewriteReport> {
    grade_with(file, None, None)
}

/// [`grade`] on the first `limit` rows (all when `None`), with an LLM rewriter graded beside.
pub fn grade_with(
    file: &Path,
    llm: Option<LlmRewrite<'_>>,
    limit: Option<usize>,
) -> Result<RewriteReport> {
    let mut by_llm = Tally::default();
    let mut llm_failures = 0usize;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::InvalidRequest(format!("{}: {e}", file.display())))?;
    let (mut ours, mut none, mut prepend) = (Tally::default(), Tally::default(), Tally::default());
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if limit.is_some_and(|l| ours.rows >= l) {
            break;
        }
        let row: Row = serde_json::from_str(line)
            .map_err(|e| Error::InvalidRequest(format!("{}:{}: {e}", file.display(), n + 1)))?;
        let lang = match row.lang.as_deref() {
            Some(l) => Lang::parse(l).unwrap_or(Lang::En),
            None => Lang::detect(&row.question),
        };
        // the earlier turns, the topic and the previous user turn, by layout
        let (turns, topic, previous): (Vec<String>, Option<String>, Option<String>) =
            if let Some(roles) = &row.context_roles {
                let users: Vec<&String> = row
                    .context
                    .iter()
                    .zip(roles)
                    .filter(|(_, r)| r.as_str() == "user")
                    .map(|(c, _)| c)
                    .collect();
                let topic = users.first().and_then(|q| topic_of_question(q));
                (
                    row.context.clone(),
                    topic,
                    users.last().map(|s| s.to_string()),
                )
            } else if lang == Lang::Zh {
                (row.context.clone(), None, row.context.first().cloned())
            } else {
                let topic = row.context.first().cloned();
                let turns: Vec<String> = row.context.iter().skip(2).cloned().collect();
                let previous = if turns.len() >= 2 {
                    turns.get(turns.len() - 2).cloned()
                } else {
                    None
                };
                (turns, topic, previous)
            };
        let dialogue = Dialogue {
            turns: &turns,
            topic: topic.as_deref(),
            open_domain: true,
            ..Dialogue::default()
        };
        let out = resolve(&row.question, lang, &dialogue, &NoNames);
        ours.add(&row.question, &row.rewrite, &out.text, lang);
        none.add(&row.question, &row.rewrite, &row.question, lang);
        let joined = match (previous, lang) {
            (Some(p), Lang::Zh) => format!("{p}{}", row.question),
            (Some(p), _) => format!("{p} {}", row.question),
            (None, _) => row.question.clone(),
        };
        prepend.add(&row.question, &row.rewrite, &joined, lang);
        if let Some(rewrite) = llm {
            // the LLM sees the conversation as the user saw it: the topic first, then the turns
            let mut seen: Vec<String> = topic.iter().cloned().collect();
            seen.extend(turns.iter().cloned());
            let out = rewrite(&row.question, lang, &seen).unwrap_or_else(|_| {
                llm_failures += 1;
                row.question.clone()
            });
            by_llm.add(&row.question, &row.rewrite, &out, lang);
        }
    }
    Ok(RewriteReport {
        task: "rewrite",
        file: file.display().to_string(),
        rows: ours.rows,
        unchanged_rows: ours.unchanged,
        kefu: ours.figures(),
        baselines: Baselines {
            no_rewrite: none.figures(),
            prepend_previous: prepend.figures(),
        },
        llm: llm.map(|_| by_llm.figures()),
        llm_failures: llm.map(|_| llm_failures),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restoration_counts_only_the_tokens_added() {
        let mut t = Tally::default();
        // the reference adds 乌龙茶; the output adds 乌龙 and 水
        t.add("嗯好喝", "嗯乌龙茶好喝", "嗯乌龙水好喝", Lang::Zh);
        let f = t.figures();
        assert!((f.restoration_p - 2.0 / 3.0).abs() < 1e-9, "{f:?}");
        assert!((f.restoration_r - 2.0 / 3.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f.exact_match, 0.0);
        let mut t = Tally::default();
        t.add(
            "When did they disband?",
            "When did they disband?",
            "When did they disband?",
            Lang::En,
        );
        t.add("Where?", "Where?", "Where was Zappa?", Lang::En);
        let f = t.figures();
        assert_eq!((f.false_rewrite_rate, f.exact_match), (0.5, 0.5));
    }

    #[test]
    fn a_cast_opening_question_gives_its_topic() {
        assert_eq!(
            topic_of_question("What is throat cancer?").as_deref(),
            Some("throat cancer")
        );
        assert_eq!(
            topic_of_question("How do I bake bread at home for a party?"),
            None
        );
    }
}
