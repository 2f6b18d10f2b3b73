//! `kefu eval`: retrieval quality and speed on a BEIR-layout data set (`corpus.jsonl`,
//! `queries.jsonl`, `qrels.tsv`), and answer quality with abstention. The corpus is indexed
//! into an in-memory generation with the product's own pipeline, and every question goes
//! through the product's [`Engine`](crate::Engine): what eval measures is what kefu does.
//! Questions are run one at a time on one thread. A hit whose id equals the question's id is
//! skipped (a question is not its own paraphrase).

mod answers;
pub mod decisions;
pub mod dialogue;
pub mod exam;
mod prepare;
mod retrieval;
pub mod rewrite;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::retrieve::Mode;
use crate::text::Lang;

pub use answers::{evaluate_answers, AnswerEval, Labelled};
pub use prepare::{prepare, Prepared};
pub use retrieval::{evaluate, EvalResult};

/// Retrieval depth (Recall@100).
pub const DEPTH: usize = 100;

#[derive(Deserialize)]
struct CorpusLine {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct QueryLine {
    #[serde(rename = "_id")]
    id: String,
    text: String,
    #[serde(default)]
    answer: Option<String>,
}

/// A loaded data set.
pub struct Dataset {
    pub name: String,
    pub corpus: Vec<(String, String, String)>,
    pub queries: Vec<(String, String)>,
    pub qrels: HashMap<String, HashSet<String>>,
    /// Reference answers (full answers or answer spans) by question id, where the set has them.
    pub answers: HashMap<String, String>,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(line)
                .map_err(|e| Error::bad_file(path, format!("line {}: {e}", n + 1)))?,
        );
    }
    Ok(out)
}

impl Dataset {
    /// Loads a data set folder.
    pub fn load(dir: &Path) -> Result<Dataset> {
        if !dir.is_dir() {
            return Err(Error::InvalidRequest(format!(
                "data set folder {} does not exist",
                dir.display()
            )));
        }
        let corpus: Vec<CorpusLine> = read_jsonl(&dir.join("corpus.jsonl"))?;
        let queries: Vec<QueryLine> = read_jsonl(&dir.join("queries.jsonl"))?;
        let qpath = dir.join("qrels.tsv");
        let qtext = std::fs::read_to_string(&qpath).map_err(|e| Error::io(&qpath, e))?;
        let mut qrels: HashMap<String, HashSet<String>> = HashMap::new();
        for (n, line) in qtext.lines().enumerate() {
            let cols: Vec<&str> = line.split('\t').collect();
            if n == 0 && cols.first().is_some_and(|c| c.contains("query")) {
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            if cols.len() < 3 {
                return Err(Error::bad_file(
                    &qpath,
                    format!("line {}: expected query-id, corpus-id, score", n + 1),
                ));
            }
            let score: f64 = cols[2].trim().parse().map_err(|_| {
                Error::bad_file(
                    &qpath,
                    format!("line {}: score `{}` is not a number", n + 1, cols[2]),
                )
            })?;
            if score > 0.0 {
                qrels
                    .entry(cols[0].to_string())
                    .or_default()
                    .insert(cols[1].to_string());
            }
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Dataset {
            name,
            corpus: corpus
                .into_iter()
                .map(|c| (c.id, c.title, c.text))
                .collect(),
            answers: queries
                .iter()
                .filter_map(|q| q.answer.clone().map(|a| (q.id.clone(), a)))
                .collect(),
            queries: queries.into_iter().map(|q| (q.id, q.text)).collect(),
            qrels,
        })
    }
}

impl Dataset {
    /// The language of most of its passages.
    pub fn corpus_language(&self) -> Lang {
        let zh = self
            .corpus
            .iter()
            .filter(|(_, _, t)| Lang::detect(t) == Lang::Zh)
            .count();
        if zh * 2 > self.corpus.len() {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The language of most of its questions.
    pub fn language(&self) -> Lang {
        let zh = self
            .queries
            .iter()
            .filter(|(_, t)| Lang::detect(t) == Lang::Zh)
            .count();
        if zh * 2 > self.queries.len() {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

/// nDCG@k with binary relevance.
pub fn ndcg_at(ranked: &[&str], relevant: &HashSet<String>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, id)| relevant.contains(**id))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    if ideal == 0.0 {
        0.0
    } else {
        dcg / ideal
    }
}

/// Recall@k.
pub fn recall_at(ranked: &[&str], relevant: &HashSet<String>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|id| relevant.contains(**id))
        .count();
    found as f64 / relevant.len() as f64
}

/// MRR@k.
pub fn mrr_at(ranked: &[&str], relevant: &HashSet<String>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|id| relevant.contains(*id))
        .map_or(0.0, |p| 1.0 / (p + 1) as f64)
}

/// The value at quantile `q` (0..=1) of sorted samples.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// What `kefu eval` measures: a retrieval mode, or hybrid retrieval reranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalMode {
    Bm25,
    Vector,
    Hybrid,
    /// Hybrid retrieval, its first candidates reranked.
    Rerank,
}

impl EvalMode {
    /// Every mode, in the order `--mode all` runs them.
    pub const ALL: [EvalMode; 4] = [
        EvalMode::Bm25,
        EvalMode::Vector,
        EvalMode::Hybrid,
        EvalMode::Rerank,
    ];

    /// Parses `bm25`, `vector`, `hybrid` or `rerank`.
    pub fn parse(s: &str) -> Option<EvalMode> {
        if s.trim().eq_ignore_ascii_case("rerank") {
            return Some(EvalMode::Rerank);
        }
        Mode::parse(s).map(|m| match m {
            Mode::Bm25 => EvalMode::Bm25,
            Mode::Vector => EvalMode::Vector,
            Mode::Hybrid => EvalMode::Hybrid,
        })
    }

    /// The mode's name.
    pub fn name(self) -> &'static str {
        match self {
            EvalMode::Bm25 => "bm25",
            EvalMode::Vector => "vector",
            EvalMode::Hybrid => "hybrid",
            EvalMode::Rerank => "rerank",
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        let r = rel(&["a", "c"]);
        let ranked = ["a", "b", "c"];
        // DCG = 1 + 1/log2(4) = 1.5 ; IDCG = 1 + 1/log2(3)
        let expected = 1.5 / (1.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&ranked, &r, 10) - expected).abs() < 1e-12);
        assert_eq!(recall_at(&ranked, &r, 2), 0.5);
        assert_eq!(mrr_at(&["x", "c"], &r, 10), 0.5);
        assert_eq!(mrr_at(&["x"], &r, 10), 0.0);
        assert_eq!(ndcg_at(&["a", "c"], &r, 10), 1.0);
        assert_eq!(ndcg_at(&[], &r, 10), 0.0);
    }

    #[test]
    fn quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 51.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
