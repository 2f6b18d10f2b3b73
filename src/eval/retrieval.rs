//! Retrieval figures of a data set: nDCG@10, Recall@100 and MRR@10 per mode, with timings.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::analyze::Query;
use crate::answer::Calibrations;
use crate::config::Config;
use crate::domain::ChunkId;
use crate::error::{Error, Result};
use crate::index::vector::VectorIndex;
use crate::rerank::Reranker;
use crate::retrieve::{Filters, Mode, Scope, SearchRequest};

use super::{median, mrr_at, ndcg_at, quantile, recall_at, Dataset, EvalMode, DEPTH};

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
    /// Vector modes: seconds spent embedding the corpus (included in `index_s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_s: Option<f64>,
    /// Vector modes: median time to embed one question (included in `p50_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_p50_ms: Option<f64>,
    /// Vector mode: median approximate-search time, without the embedding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_p50_ms: Option<f64>,
    /// Vector mode: share of the exact top 10 that the approximate search finds.
    #[serde(rename = "ann_recall@10", skip_serializing_if = "Option::is_none")]
    pub ann_recall10: Option<f64>,
    /// Rerank mode: median time of the reranking step (fetching the candidates, features,
    /// scoring), without retrieval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_p50_ms: Option<f64>,
}

/// Per-mode accumulators.
#[derive(Default)]
struct Acc {
    latencies: Vec<f64>,
    total_s: f64,
    ndcg: f64,
    recall: f64,
    mrr: f64,
}

impl Acc {
    fn add(&mut self, ds: &Dataset, qid: &str, ranked: &[ChunkId], ms: f64) {
        let ids: Vec<&str> = ranked
            .iter()
            .filter_map(|k| ds.corpus.get(k.0 as usize).map(|c| c.0.as_str()))
            .filter(|id| *id != qid)
            .take(DEPTH)
            .collect();
        let rel = &ds.qrels[qid];
        self.ndcg += ndcg_at(&ids, rel, 10);
        self.recall += recall_at(&ids, rel, DEPTH);
        self.mrr += mrr_at(&ids, rel, 10);
        self.latencies.push(ms);
        self.total_s += ms / 1000.0;
    }
}

/// The search a mode runs for a question, `k` passages deep, unfiltered.
fn request(query: &Query, mode: EvalMode, k: usize) -> SearchRequest {
    SearchRequest {
        query: query.text.clone(),
        top_k: k,
        mode: match mode {
            EvalMode::Bm25 => Mode::Bm25,
            EvalMode::Vector => Mode::Vector,
            EvalMode::Hybrid | EvalMode::Rerank => Mode::Hybrid,
        },
        filters: Filters::default(),
        scope: Scope::All,
        fusion: None,
        rerank: mode == EvalMode::Rerank,
        cancel: Default::default(),
    }
}

/// Evaluates the given modes on a loaded data set. The corpus is indexed (and, for the vector
/// modes, embedded) once; each question is analysed and embedded once and that time is counted
/// in every mode that uses it; each mode is then the engine's own search. Timings are
/// single-threaded: one question at a time, one inference thread. `Rerank` needs `reranker`.
pub fn evaluate(
    ds: &Dataset,
    modes: &[EvalMode],
    config: &Config,
    analyzer: &Arc<crate::analyze::Analyzer>,
    progress: bool,
    dump_vectors: Option<&Path>,
    reranker: Option<Arc<Reranker>>,
) -> Result<Vec<EvalResult>> {
    if modes.contains(&EvalMode::Rerank) && reranker.is_none() {
        return Err(Error::Internal("rerank mode without a reranker".into()));
    }
    let wants_vectors = modes.iter().any(|m| *m != EvalMode::Bm25);
    let calibration = Arc::new(Calibrations::builtin()?);
    let prep = super::prepare(
        ds,
        config,
        analyzer,
        progress,
        wants_vectors,
        reranker,
        calibration,
    )?;
    let engine = &prep.engine;
    let vector_s = prep.embed_s + prep.hnsw_s;
    let judged: Vec<&(String, String)> = ds
        .queries
        .iter()
        .filter(|(id, _)| ds.qrels.contains_key(id))
        .collect();
    let k = DEPTH + 1;
    // warm-up
    for (_, text) in judged.iter().take(20) {
        let mut query = Query::new(analyzer, text);
        engine.order(&query, &request(&query, EvalMode::Bm25, k))?;
        engine.embed_query(&mut query)?;
    }
    let mut accs: Vec<Acc> = modes.iter().map(|_| Acc::default()).collect();
    let mut embed_ms = Vec::new();
    let mut search_ms = Vec::new();
    let mut rerank_ms = Vec::new();
    let mut ann = (0usize, 0usize);
    let mut query_vectors: Vec<f32> = Vec::new();
    for (qid, text) in &judged {
        let t = Instant::now();
        let mut query = Query::new(analyzer, text);
        let analyse_ms = t.elapsed().as_secs_f64() * 1000.0;
        if wants_vectors {
            match engine.embed_query(&mut query)? {
                Some(ms) => embed_ms.push(ms),
                None => return Err(Error::Internal("vector mode without vectors".into())),
            }
        }
        if let (Some(_), Some(v)) = (dump_vectors, &query.vector) {
            query_vectors.extend_from_slice(v);
        }
        let e_ms = analyse_ms + embed_ms.last().copied().unwrap_or(0.0);
        for (m, acc) in modes.iter().zip(accs.iter_mut()) {
            let t = Instant::now();
            let ordered = engine.order(&query, &request(&query, *m, k))?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match m {
                EvalMode::Vector => {
                    search_ms.push(ms);
                    if let (Some(vectors), Some(q)) =
                        (engine.generation().vector_index(), &query.vector)
                    {
                        let (hits, total) = ann_recall(vectors, q, &ordered.ids());
                        ann.0 += hits;
                        ann.1 += total;
                    }
                }
                EvalMode::Rerank => rerank_ms.extend(ordered.rerank_ms),
                _ => {}
            }
            let embedded = if *m == EvalMode::Bm25 {
                analyse_ms
            } else {
                e_ms
            };
            acc.add(ds, qid, &ordered.ids(), ms + embedded);
        }
    }
    if let (Some(dir), Some(vectors)) = (dump_vectors, engine.generation().vector_index()) {
        dump(
            dir,
            ds,
            vectors,
            &query_vectors,
            config,
            &search_ms,
            ann.0,
            ann.1,
        )?;
    }
    let measured = Measured {
        queries: judged.len(),
        lexical_s: prep.lexical_s,
        embed_s: prep.embed_s,
        vector_s,
        embed_p50: (!embed_ms.is_empty()).then(|| median(embed_ms.clone())),
        search_p50: (!search_ms.is_empty()).then(|| median(search_ms.clone())),
        rerank_p50: (!rerank_ms.is_empty()).then(|| median(rerank_ms.clone())),
        ann,
    };
    Ok(modes
        .iter()
        .zip(accs)
        .map(|(m, acc)| measured.result(&ds.name, *m, &acc))
        .collect())
}

/// What one evaluation run measured besides the per-mode accumulators.
struct Measured {
    queries: usize,
    lexical_s: f64,
    embed_s: f64,
    vector_s: f64,
    embed_p50: Option<f64>,
    search_p50: Option<f64>,
    rerank_p50: Option<f64>,
    /// (true neighbours found, neighbours asked for) of the vector searches.
    ann: (usize, usize),
}

impl Measured {
    /// The figures of mode `m` on dataset `dataset`.
    fn result(&self, dataset: &str, m: EvalMode, acc: &Acc) -> EvalResult {
        let n = self.queries.max(1) as f64;
        let mut lat = acc.latencies.clone();
        lat.sort_by(f64::total_cmp);
        let vector = m != EvalMode::Bm25;
        EvalResult {
            dataset: dataset.to_string(),
            mode: m.name().into(),
            queries: self.queries,
            ndcg10: acc.ndcg / n,
            recall100: acc.recall / n,
            mrr10: acc.mrr / n,
            index_s: match m {
                EvalMode::Bm25 => self.lexical_s,
                EvalMode::Vector => self.vector_s,
                EvalMode::Hybrid | EvalMode::Rerank => self.lexical_s + self.vector_s,
            },
            p50_ms: quantile(&lat, 0.5),
            p99_ms: quantile(&lat, 0.99),
            qps: if acc.total_s > 0.0 {
                self.queries as f64 / acc.total_s
            } else {
                0.0
            },
            embed_s: vector.then_some(self.embed_s),
            embed_p50_ms: if vector { self.embed_p50 } else { None },
            search_p50_ms: self.search_p50.filter(|_| m == EvalMode::Vector),
            ann_recall10: (m == EvalMode::Vector && self.ann.1 > 0)
                .then(|| self.ann.0 as f64 / self.ann.1 as f64),
            rerank_p50_ms: self.rerank_p50.filter(|_| m == EvalMode::Rerank),
        }
    }
}

/// Recall of the approximate top 10 (`found`, best first) against exact search over the same
/// vectors, by similarity: a hit as similar as the exact 10th counts (corpora repeat passages
/// word for word, and any of a set of identical vectors is an equally right answer). Returns
/// (hits, exact results).
fn ann_recall(vectors: &VectorIndex, q: &[f32], found: &[ChunkId]) -> (usize, usize) {
    let exact = vectors.exact(q, 10, |_| true);
    let tenth = exact.last().map_or(f32::INFINITY, |x| x.1);
    let hits = found
        .iter()
        .take(10)
        .filter(|id| {
            vectors
                .vector(**id)
                .is_some_and(|v| crate::index::vector::dot(q, v) >= tenth - 1e-5)
        })
        .count();
    (hits, exact.len())
}

/// Writes the corpus and query vectors (f32, little-endian, row-major) and what hnsw_rs did
/// with them, for comparing ANN libraries on the same vectors (`benches/peer_ann.py`).
#[allow(clippy::too_many_arguments)]
fn dump(
    dir: &Path,
    ds: &Dataset,
    index: &VectorIndex,
    queries: &[f32],
    config: &Config,
    search_ms: &[f64],
    hits: usize,
    total: usize,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let corpus: Vec<u8> = index
        .iter()
        .flat_map(|(_, v)| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect();
    crate::fsutil::write_atomic(&dir.join("corpus.f32"), &corpus)?;
    let q: Vec<u8> = queries.iter().flat_map(|x| x.to_le_bytes()).collect();
    crate::fsutil::write_atomic(&dir.join("queries.f32"), &q)?;
    let mean = if search_ms.is_empty() {
        0.0
    } else {
        search_ms.iter().sum::<f64>() / search_ms.len() as f64
    };
    let meta = serde_json::json!({
        "dataset": ds.name,
        "dim": index.dim(),
        "corpus": index.len(),
        "queries": queries.len() / index.dim().max(1),
        "m": config.vector.m,
        "ef_construction": config.vector.ef_construction,
        "ef_search": config.vector.ef_search,
        "hnsw_rs": {
            "search_p50_ms": median(search_ms.to_vec()),
            "qps": if mean > 0.0 { 1000.0 / mean } else { 0.0 },
            "recall@10": if total > 0 { hits as f64 / total as f64 } else { 0.0 },
        }
    });
    crate::fsutil::write_atomic(&dir.join("meta.json"), meta.to_string().as_bytes())
}
