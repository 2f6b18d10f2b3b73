//! `kefu eval`: retrieval quality and speed on a BEIR-layout data set (`corpus.jsonl`,
//! `queries.jsonl`, `qrels.tsv`). A fresh in-memory index is built over the corpus with the same
//! analysis and scoring as the product; every query with judgements is run one at a time on one
//! thread. A hit whose id equals the query's id is skipped (a question is not its own paraphrase).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::analyze::Analyzer;
use crate::chunk::{count_tokens, Chunk, ChunkId};
use crate::config::{BoostProfiles, Config};
use crate::error::{Error, Result};
use crate::index::lexical::LexicalIndex;
use crate::ingest::{Audience, DocMeta, DocType, Lang};
use crate::retrieve::Mode;

/// Retrieval depth (Recall@100).
pub const DEPTH: usize = 100;

/// The figures for one data set and mode.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalResult {
    pub dataset: String,
    pub mode: String,
    pub queries: usize,
    #[serde(rename = "ndcg@10")]
    pub ndcg10: f64,
    #[serde(rename = "recall@100")]
    pub recall100: f64,
    #[serde(rename = "mrr@10")]
    pub mrr10: f64,
    pub index_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub qps: f64,
}

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
}

/// A loaded data set.
pub struct Dataset {
    pub name: String,
    pub corpus: Vec<(String, String, String)>,
    pub queries: Vec<(String, String)>,
    pub qrels: HashMap<String, HashSet<String>>,
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
            queries: queries.into_iter().map(|q| (q.id, q.text)).collect(),
            qrels,
        })
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

/// Evaluates one mode on a loaded data set.
pub fn evaluate(
    ds: &Dataset,
    mode: Mode,
    config: &Config,
    analyzer: &Arc<Analyzer>,
    boosts: &BoostProfiles,
) -> Result<EvalResult> {
    match mode {
        Mode::Bm25 => {}
        Mode::Vector | Mode::Hybrid => {
            return Err(Error::NotAvailable(format!(
                "--mode {} needs the embedding model, which is not built yet; use --mode bm25",
                match mode {
                    Mode::Vector => "vector",
                    _ => "hybrid",
                }
            )))
        }
    }
    let started = Instant::now();
    let lexical = LexicalIndex::create_in_ram(analyzer.clone())?;
    // One indexing thread keeps passages in corpus order, so equal scores always break the same
    // way and every run gives the same figures.
    let writer = lexical.writer(config.index.writer_memory_mb.max(64), 1)?;
    for (i, (id, title, text)) in ds.corpus.iter().enumerate() {
        let meta = Arc::new(DocMeta {
            id: id.clone(),
            title: title.clone(),
            doc_type: DocType::Other,
            language: Lang::detect(text),
            audience: Audience::Public,
            products: vec![],
            category: None,
            tags: vec![],
            effective_date: None,
            version: None,
            warranty: vec![],
            source: String::new(),
            extra: Default::default(),
        });
        let chunk = Chunk {
            id: ChunkId(i as u64),
            ord: 0,
            heading_path: vec![],
            text: text.clone(),
            span: (0, text.len()),
            language: meta.language,
            tokens: count_tokens(text),
            meta,
        };
        writer.add(&chunk)?;
    }
    writer.commit(true)?;
    let reader = lexical.reader()?;
    let index_s = started.elapsed().as_secs_f64();

    let judged: Vec<&(String, String)> = ds
        .queries
        .iter()
        .filter(|(id, _)| ds.qrels.contains_key(id))
        .collect();
    let no_filters = Vec::new();
    let run = |text: &str| reader.search(text, DEPTH + 1, boosts, &no_filters);
    for (_, text) in judged.iter().take(20) {
        run(text)?;
    }
    let mut latencies = Vec::with_capacity(judged.len());
    let mut ndcg = 0.0;
    let mut recall = 0.0;
    let mut mrr = 0.0;
    let total = Instant::now();
    let mut results: Vec<Vec<usize>> = Vec::with_capacity(judged.len());
    for (qid, text) in &judged {
        let t = Instant::now();
        let hits = run(text)?;
        let ids: Vec<usize> = hits
            .iter()
            .map(|h| h.key.0 as usize)
            .filter(|&i| ds.corpus.get(i).is_some_and(|c| c.0 != *qid))
            .take(DEPTH)
            .collect();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        results.push(ids);
    }
    let elapsed = total.elapsed().as_secs_f64();
    for ((qid, _), ids) in judged.iter().zip(&results) {
        let ranked: Vec<&str> = ids.iter().map(|&i| ds.corpus[i].0.as_str()).collect();
        let rel = &ds.qrels[qid];
        ndcg += ndcg_at(&ranked, rel, 10);
        recall += recall_at(&ranked, rel, DEPTH);
        mrr += mrr_at(&ranked, rel, 10);
    }
    latencies.sort_by(f64::total_cmp);
    let n = judged.len().max(1) as f64;
    Ok(EvalResult {
        dataset: ds.name.clone(),
        mode: "bm25".into(),
        queries: judged.len(),
        ndcg10: ndcg / n,
        recall100: recall / n,
        mrr10: mrr / n,
        index_s,
        p50_ms: quantile(&latencies, 0.5),
        p99_ms: quantile(&latencies, 0.99),
        qps: if elapsed > 0.0 {
            judged.len() as f64 / elapsed
        } else {
            0.0
        },
    })
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
