//! `kefu eval`: retrieval quality and speed on a BEIR-layout data set (`corpus.jsonl`,
//! `queries.jsonl`, `qrels.tsv`). A fresh in-memory index is built over the corpus with the same
//! analysis and scoring as the product; every query with judgements is run one at a time on one
//! thread. A hit whose id equals the query's id is skipped (a question is not its own paraphrase).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::analyze::{Analyzer, Query};
use crate::chunk::Chunk;
use crate::config::{BoostProfiles, Config};
use crate::domain::{Audience, ChunkId, DocMeta, DocType};
use crate::embed::{E5Embedder, E5Options, Embedder};
use crate::error::{Error, Result};
use crate::index::lexical::{LexicalHit, LexicalIndex, Stats};
use crate::index::vector::{HnswParams, VectorIndex};
use crate::index::{Backend, Generation};
use crate::models;
use crate::rerank::{self, Reranker};
use crate::retrieve::fusion;
use crate::retrieve::Mode;
use crate::text::{count_tokens, Lang};

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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

/// A data set indexed in memory for evaluation: the generation and, when vectors were asked
/// for, the query embedder.
pub struct Prepared {
    pub generation: Generation,
    pub embedder: Option<E5Embedder>,
    /// Seconds to build the lexical index.
    pub lexical_s: f64,
    /// Seconds spent embedding the corpus (the original time when the embeddings were cached).
    pub embed_s: f64,
    /// Seconds to build the vector graph.
    pub hnsw_s: f64,
}

/// Indexes a data set in memory with the same analysis and scoring as the product; with
/// `vectors`, also embeds the corpus (cached per model and corpus) and builds the graph.
pub fn prepare(
    ds: &Dataset,
    config: &Config,
    analyzer: &Arc<Analyzer>,
    progress: bool,
    vectors: bool,
) -> Result<Prepared> {
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
            pieces: Vec::new(),
        };
        writer.add(&chunk)?;
    }
    writer.commit(true)?;
    let lexical_s = started.elapsed().as_secs_f64();
    if !vectors {
        return Ok(Prepared {
            generation: Generation::in_memory(lexical, None)?,
            embedder: None,
            lexical_s,
            embed_s: 0.0,
            hnsw_s: 0.0,
        });
    }
    let files = models::ensure(config, progress)?;
    let v = &config.vector;
    let index_threads = if v.index_threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        v.index_threads
    };
    let passages = E5Embedder::load(
        &files,
        E5Options {
            threads: index_threads,
            batch_size: v.batch_size,
            batch_tokens: config.vector.batch_tokens,
            max_tokens: 512,
            sessions: 1,
        },
    )?;
    let queries = E5Embedder::load(
        &files,
        E5Options {
            threads: v.query_threads,
            batch_size: v.batch_size,
            batch_tokens: config.vector.batch_tokens,
            max_tokens: 512,
            sessions: 1,
        },
    )?;
    let t = Instant::now();
    let texts: Vec<String> = ds
        .corpus
        .iter()
        .map(|(_, title, text)| crate::embed::embed_text(title, &[], text))
        .collect();
    // corpus embeddings are cached per (model, corpus): re-running an evaluation (to tune
    // fusion, say) does not embed again; `embed_s` then reports the original embedding time
    let mut h = blake3::Hasher::new();
    h.update(passages.fingerprint().as_bytes());
    for t in &texts {
        h.update(t.as_bytes());
        h.update(&[0]);
    }
    let cache_file = models::cache_dir(config)
        .join("eval-embeddings")
        .join(format!("{}-{}.bin", ds.name, &h.finalize().to_hex()[..16]));
    let mut items = Vec::with_capacity(texts.len());
    let mut cached_s = None;
    if let Ok(bytes) = std::fs::read(&cache_file) {
        let dim = passages.dim();
        if bytes.len() == 8 + texts.len() * dim * 4 {
            cached_s = Some(f64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8])));
            for (i, v) in bytes[8..].chunks_exact(dim * 4).enumerate() {
                items.push((
                    ChunkId(i as u64),
                    v.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                ));
            }
        }
    }
    if cached_s.is_none() {
        let step = 256;
        for (n, part) in texts.chunks(step).enumerate() {
            let refs: Vec<&str> = part.iter().map(String::as_str).collect();
            let vecs = passages.embed_passages(&refs)?;
            for (j, vec) in vecs.into_iter().enumerate() {
                items.push((ChunkId((n * step + j) as u64), vec));
            }
            if progress {
                eprint!(
                    "\rembedding the corpus: {}/{}",
                    items.len().min(texts.len()),
                    texts.len()
                );
            }
        }
        if progress {
            eprintln!();
        }
        let took = t.elapsed().as_secs_f64();
        let mut bytes = took.to_le_bytes().to_vec();
        for (_, v) in &items {
            for x in v {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        if let Some(dir) = cache_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = crate::fsutil::write_atomic(&cache_file, &bytes) {
            tracing::warn!(error = %e, "could not cache the corpus embeddings");
        }
    }
    let embed_s = cached_s.unwrap_or_else(|| t.elapsed().as_secs_f64());
    let params = HnswParams {
        m: v.m,
        ef_construction: v.ef_construction,
        ef_search: v.ef_search,
    };
    let t = Instant::now();
    let index = VectorIndex::build(queries.dim(), items, params)?;
    let hnsw_s = t.elapsed().as_secs_f64();
    Ok(Prepared {
        generation: Generation::in_memory(lexical, Some(index))?,
        embedder: Some(queries),
        lexical_s,
        embed_s,
        hnsw_s,
    })
}

/// The two first-stage lists of a question and their fusion (`k` fused passages).
pub struct HybridLists {
    pub lexical: Vec<LexicalHit>,
    pub vector: Vec<(ChunkId, f32)>,
    pub fused: Vec<(ChunkId, f32)>,
}

impl Prepared {
    /// Hybrid retrieval of `query` (vector `q`) as the product does it, unfiltered.
    pub fn hybrid(
        &self,
        config: &Config,
        query: &Query,
        q: &[f32],
        k: usize,
    ) -> Result<HybridLists> {
        if !self.generation.has_vectors() {
            return Err(Error::Internal("hybrid retrieval without vectors".into()));
        }
        let cand = config.search.fusion.candidates.max(k);
        let lexical = self.generation.lexical(
            query,
            config.search.boost.for_lang(query.lang),
            cand,
            &Vec::new(),
            Stats::All,
        )?;
        let lex = fusion::lexical_input(&lexical, &config.search.fusion);
        let vector = self.generation.nearest(q, cand, &Vec::new())?;
        let fused = fusion::fuse(&lex, &vector, &config.search.fusion, k)?;
        Ok(HybridLists {
            lexical,
            vector,
            fused,
        })
    }

    /// The reranking context over this data set, for a question in `lang`.
    pub fn rerank_context<'a>(&'a self, config: &'a Config, lang: Lang) -> rerank::Context<'a> {
        rerank::Context {
            index: &self.generation,
            boosts: config.search.boost.for_lang(lang),
            today: chrono::Utc::now().date_naive(),
            // eval sets have no internal passages: every statistic is over all of them
            stats: Stats::All,
        }
    }
}

/// Evaluates the given modes on a loaded data set. The corpus is indexed (and, for the vector
/// modes, embedded) once; each question is embedded once and that time is counted in every mode
/// that uses it. Timings are single-threaded: one question at a time, one inference thread.
/// `Rerank` needs `reranker`.
pub fn evaluate(
    ds: &Dataset,
    modes: &[EvalMode],
    config: &Config,
    analyzer: &Arc<Analyzer>,
    progress: bool,
    dump_vectors: Option<&Path>,
    reranker: Option<&Reranker>,
) -> Result<Vec<EvalResult>> {
    let boosts: &BoostProfiles = &config.search.boost;
    let wants_vectors = modes.iter().any(|m| *m != EvalMode::Bm25);
    let prep = prepare(ds, config, analyzer, progress, wants_vectors)?;
    let index = &prep.generation;
    let vector_s = prep.embed_s + prep.hnsw_s;

    let judged: Vec<&(String, String)> = ds
        .queries
        .iter()
        .filter(|(id, _)| ds.qrels.contains_key(id))
        .collect();
    let no_filters = Vec::new();
    let k = DEPTH + 1;
    // warm-up
    for (_, text) in judged.iter().take(20) {
        let query = Query::new(analyzer, text);
        index.lexical(
            &query,
            boosts.for_lang(query.lang),
            k,
            &no_filters,
            Stats::All,
        )?;
        if let Some(e) = &prep.embedder {
            e.embed_queries(&[text.as_str()])?;
        }
    }
    let mut accs: Vec<Acc> = modes.iter().map(|_| Acc::default()).collect();
    let mut embed_ms = Vec::new();
    let mut search_ms = Vec::new();
    let mut rerank_ms = Vec::new();
    let mut ann_hits = 0usize;
    let mut query_vectors: Vec<f32> = Vec::new();
    let mut ann_total = 0usize;
    for (qid, text) in &judged {
        let query = Query::new(analyzer, text);
        let ctx = prep.rerank_context(config, query.lang);
        let qvec = match &prep.embedder {
            Some(e) => {
                let t = Instant::now();
                let v = e.embed_queries(&[text.as_str()])?.pop().unwrap_or_default();
                embed_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                Some(v)
            }
            None => None,
        };
        if let (Some(_), Some(v)) = (dump_vectors, &qvec) {
            query_vectors.extend_from_slice(v);
        }
        let e_ms = embed_ms.last().copied().unwrap_or(0.0);
        for (m, acc) in modes.iter().zip(accs.iter_mut()) {
            match (m, index.vector_index(), &qvec) {
                (EvalMode::Bm25, _, _) => {
                    let t = Instant::now();
                    let r: Vec<ChunkId> = index
                        .lexical(
                            &query,
                            boosts.for_lang(query.lang),
                            k,
                            &no_filters,
                            Stats::All,
                        )?
                        .into_iter()
                        .map(|h| h.key)
                        .collect();
                    acc.add(ds, qid, &r, t.elapsed().as_secs_f64() * 1000.0);
                }
                (EvalMode::Vector, Some(vectors), Some(q)) => {
                    let t = Instant::now();
                    let hits = vectors.search(q, k);
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    search_ms.push(ms);
                    // recall against exact search, by similarity: a hit as similar as the exact
                    // 10th counts (corpora repeat passages word for word, and any of a set of
                    // identical vectors is an equally right answer)
                    let exact = vectors.exact(q, 10, |_| true);
                    let tenth = exact.last().map_or(f32::INFINITY, |x| x.1);
                    ann_total += exact.len();
                    ann_hits += hits.iter().take(10).filter(|h| h.1 >= tenth - 1e-5).count();
                    let r: Vec<ChunkId> = hits.into_iter().map(|h| h.0).collect();
                    acc.add(ds, qid, &r, ms + e_ms);
                }
                (EvalMode::Hybrid, Some(_), Some(q)) => {
                    let t = Instant::now();
                    let lists = prep.hybrid(config, &query, q, k)?;
                    let r: Vec<ChunkId> = lists.fused.into_iter().map(|h| h.0).collect();
                    acc.add(ds, qid, &r, t.elapsed().as_secs_f64() * 1000.0 + e_ms);
                }
                (EvalMode::Rerank, Some(_), Some(q)) => {
                    let Some(rr) = reranker else {
                        return Err(Error::Internal("rerank mode without a reranker".into()));
                    };
                    let t = Instant::now();
                    let lists = prep.hybrid(config, &query, q, k)?;
                    let t2 = Instant::now();
                    let cands = rerank::candidates(
                        &ctx,
                        &lists.fused,
                        &lists.lexical,
                        &lists.vector,
                        Some(q),
                        rr.candidates,
                    )?;
                    let reranked = rr.rerank(&ctx, &query, cands)?;
                    rerank_ms.push(t2.elapsed().as_secs_f64() * 1000.0);
                    let mut r: Vec<ChunkId> = reranked
                        .iter()
                        .map(|(c, _)| ChunkId(c.chunk.id.0))
                        .collect();
                    let head: HashSet<ChunkId> = r.iter().copied().collect();
                    r.extend(
                        lists
                            .fused
                            .iter()
                            .map(|h| h.0)
                            .filter(|k| !head.contains(k)),
                    );
                    acc.add(ds, qid, &r, t.elapsed().as_secs_f64() * 1000.0 + e_ms);
                }
                _ => return Err(Error::Internal("vector mode without vectors".into())),
            }
        }
    }
    if let (Some(dir), Some(vectors)) = (dump_vectors, index.vector_index()) {
        dump(
            dir,
            ds,
            vectors,
            &query_vectors,
            config,
            &search_ms,
            ann_hits,
            ann_total,
        )?;
    }
    let n = judged.len().max(1) as f64;
    let embed_p50 = (!embed_ms.is_empty()).then(|| median(embed_ms.clone()));
    Ok(modes
        .iter()
        .zip(accs)
        .map(|(m, acc)| {
            let mut lat = acc.latencies.clone();
            lat.sort_by(f64::total_cmp);
            let vector = *m != EvalMode::Bm25;
            EvalResult {
                dataset: ds.name.clone(),
                mode: m.name().into(),
                queries: judged.len(),
                ndcg10: acc.ndcg / n,
                recall100: acc.recall / n,
                mrr10: acc.mrr / n,
                index_s: match m {
                    EvalMode::Bm25 => prep.lexical_s,
                    EvalMode::Vector => vector_s,
                    EvalMode::Hybrid | EvalMode::Rerank => prep.lexical_s + vector_s,
                },
                p50_ms: quantile(&lat, 0.5),
                p99_ms: quantile(&lat, 0.99),
                qps: if acc.total_s > 0.0 {
                    judged.len() as f64 / acc.total_s
                } else {
                    0.0
                },
                embed_s: vector.then_some(prep.embed_s),
                embed_p50_ms: if vector { embed_p50 } else { None },
                search_p50_ms: (*m == EvalMode::Vector && !search_ms.is_empty())
                    .then(|| median(search_ms.clone())),
                ann_recall10: (*m == EvalMode::Vector && ann_total > 0)
                    .then(|| ann_hits as f64 / ann_total as f64),
                rerank_p50_ms: (*m == EvalMode::Rerank && !rerank_ms.is_empty())
                    .then(|| median(rerank_ms.clone())),
            }
        })
        .collect())
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

/// Answer quality on a data set (and, with negatives, abstention).
#[derive(Debug, Clone, Serialize)]
pub struct AnswerEval {
    pub dataset: String,
    pub questions: usize,
    /// Share of answered questions.
    pub answered: f64,
    /// Share of answers (abstention aside) whose citations include a gold passage.
    pub cited_gold: f64,
    /// Share of questions with a gold passage among the evidence (the ceiling of `cited_gold`).
    pub gold_in_evidence: f64,
    /// Mean ROUGE-L of the answer against the reference answer, and of the top passage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rouge_l: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rouge_l_top_passage: Option<f64>,
    /// Share of answers containing the gold answer span, and of top passages containing it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_contained: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_top_passage: Option<f64>,
    /// With negatives: the data set the unanswerable questions come from, and the precision and
    /// recall of abstaining on them at the calibration's threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negatives: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abstention_precision: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abstention_recall: Option<f64>,
    /// Median time to answer one question (retrieval, reranking, composing).
    pub p50_ms: f64,
}

/// A question's confidence signals and whether it was answerable.
pub type Labelled = (Vec<f32>, bool);

/// Answers every judged question of `ds` (retrieval, reranking, the extractive composer) and,
/// with `negatives`, that set's questions against `ds`'s corpus (unanswerable). Returns the
/// figures and, per question, its confidence signals and whether it was answerable.
pub fn evaluate_answers(
    ds: &Dataset,
    negatives: Option<&Dataset>,
    config: &Config,
    analyzer: &Arc<Analyzer>,
    reranker: &Reranker,
    calibrations: &crate::answer::Calibrations,
    progress: bool,
) -> Result<(AnswerEval, Vec<Labelled>)> {
    use crate::answer::{metrics, Composer, Evidence, ExtractOptions};
    let prep = prepare(ds, config, analyzer, progress, true)?;
    let Some(embedder) = &prep.embedder else {
        return Err(Error::Internal("no vectors prepared".into()));
    };
    // sentence vectors, embedded once per passage as the indexer would (not timed: the
    // product computes them when indexing)
    let mut memo: HashMap<ChunkId, crate::index::sentences::PassageSentences> = HashMap::new();
    let centroid = prep
        .generation
        .centroid(Stats::All)
        .map(<[f32]>::to_vec)
        .unwrap_or_default();
    let mut questions: Vec<(&str, &str, bool)> = ds
        .queries
        .iter()
        .filter(|(id, _)| ds.qrels.contains_key(id))
        .map(|(id, t)| (id.as_str(), t.as_str(), true))
        .collect();
    if let Some(neg) = negatives {
        questions.extend(
            neg.queries
                .iter()
                .filter(|(id, _)| neg.qrels.contains_key(id))
                .map(|(id, t)| (id.as_str(), t.as_str(), false)),
        );
    }
    let mut signals = Vec::new();
    let mut confidences = Vec::new();
    let (mut answered, mut cited, mut own, mut in_evidence) = (0usize, 0usize, 0usize, 0usize);
    let (mut rouge, mut rouge_top, mut n_ref) = (0.0, 0.0, 0usize);
    let (mut span, mut span_top, mut n_span) = (0usize, 0usize, 0usize);
    let mut times = Vec::new();
    for (i, (qid, text, answerable)) in questions.iter().enumerate() {
        let t = Instant::now();
        let query = Query::new(analyzer, text);
        let ctx = prep.rerank_context(config, query.lang);
        let boosts = config.search.boost.for_lang(query.lang);
        let q = embedder.embed_queries(&[*text])?.pop().unwrap_or_default();
        let lists = prep.hybrid(config, &query, &q, reranker.candidates.max(5))?;
        let cands = rerank::candidates(
            &ctx,
            &lists.fused,
            &lists.lexical,
            &lists.vector,
            Some(&q),
            reranker.candidates,
        )?;
        let top: Vec<_> = reranker
            .rerank(&ctx, &query, cands)?
            .into_iter()
            .filter(|(c, _)| {
                ds.corpus
                    .get(c.chunk.id.0 as usize)
                    .is_none_or(|x| x.0 != *qid)
            })
            .take(5)
            .collect();
        let evidence = Evidence::gather(
            &prep.generation,
            boosts,
            &query,
            top.into_iter()
                .map(|(c, s)| (c.chunk, c.cosine, s))
                .collect(),
            Stats::All,
        )?;
        let mut elapsed = t.elapsed();
        for e in &evidence {
            if memo.contains_key(&e.chunk.id) {
                continue;
            }
            let ranges = crate::text::quotable_ranges(&e.chunk.text);
            let texts: Vec<&str> = ranges.iter().map(|(a, b)| &e.chunk.text[*a..*b]).collect();
            let vecs = embedder.embed_passages(&texts)?;
            memo.insert(e.chunk.id, ranges.into_iter().zip(vecs).collect());
        }
        let sv = crate::index::sentences::SentenceVectors::build(
            embedder.dim(),
            evidence
                .iter()
                .map(|e| {
                    (
                        e.chunk.id,
                        memo.get(&e.chunk.id).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        )?;
        let t = Instant::now();
        // quality is measured on every answer; abstention from the confidence afterwards
        let calibration = calibrations.for_lang(query.lang);
        let index = prep.generation.with_sentences(sv);
        let never = crate::answer::Calibration {
            threshold: f32::NEG_INFINITY,
            ..calibration.clone()
        };
        let composer = Composer {
            index: &index,
            embedder: Some(embedder as &dyn crate::embed::Embedder),
            calibration: &never,
            options: ExtractOptions::default(),
        };
        let background = crate::answer::Background {
            known_share: index.known_share(&query, boosts, Stats::All)?,
            centroid_cosine: Some(crate::index::vector::dot(&q, &centroid)),
        };
        let composed = composer.compose(&query, Some(&q), &evidence, background)?;
        elapsed += t.elapsed();
        times.push(elapsed.as_secs_f64() * 1000.0);
        let confidence = calibration.confidence(&composed.signals);
        signals.push((composed.signals.clone(), *answerable));
        confidences.push((confidence, *answerable, calibration.threshold));
        if progress && (i + 1) % 100 == 0 {
            eprint!("\r{}: {}/{} questions", ds.name, i + 1, questions.len());
        }
        if !answerable {
            continue;
        }
        own += 1;
        if confidence >= calibration.threshold && !composed.abstained {
            answered += 1;
        }
        let gold = &ds.qrels[*qid];
        let corpus_id = |p: &crate::answer::CitedPassage| -> String {
            p.chunk_id
                .parse::<crate::domain::ChunkId>()
                .ok()
                .and_then(|k| ds.corpus.get(k.0 as usize))
                .map(|x| x.0.clone())
                .unwrap_or_default()
        };
        if composed
            .passages
            .iter()
            .any(|p| gold.contains(&corpus_id(p)))
        {
            cited += 1;
        }
        if evidence.iter().any(|e| {
            ds.corpus
                .get(e.chunk.id.0 as usize)
                .is_some_and(|x| gold.contains(&x.0))
        }) {
            in_evidence += 1;
        }
        let plain: String = composed
            .sentences
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let top_text = evidence.first().map_or("", |e| e.chunk.text.as_str());
        if let Some(reference) = ds.answers.get(*qid) {
            // long reference answers are scored with ROUGE-L, short ones as spans
            if reference.chars().count() > 40 {
                n_ref += 1;
                rouge += metrics::rouge_l(&plain, reference);
                rouge_top += metrics::rouge_l(top_text, reference);
            } else {
                n_span += 1;
                span += usize::from(metrics::contains_span(&plain, reference));
                span_top += usize::from(metrics::contains_span(top_text, reference));
            }
        }
    }
    if progress {
        eprintln!("\r{}: {} questions", ds.name, questions.len());
    }
    let own_f = own.max(1) as f64;
    let (ap, ar) = if negatives.is_some() {
        // each question against its own language's threshold
        let shifted: Vec<(f32, bool)> = confidences.iter().map(|(c, a, t)| (c - t, *a)).collect();
        let (p, r) = crate::answer::confidence::abstention(&shifted, 0.0);
        (Some(p), Some(r))
    } else {
        (None, None)
    };
    times.sort_by(f64::total_cmp);
    Ok((
        AnswerEval {
            dataset: ds.name.clone(),
            questions: own,
            answered: answered as f64 / own_f,
            cited_gold: cited as f64 / own_f,
            gold_in_evidence: in_evidence as f64 / own_f,
            rouge_l: (n_ref > 0).then(|| rouge / n_ref as f64),
            rouge_l_top_passage: (n_ref > 0).then(|| rouge_top / n_ref as f64),
            span_contained: (n_span > 0).then(|| span as f64 / n_span as f64),
            span_top_passage: (n_span > 0).then(|| span_top as f64 / n_span as f64),
            negatives: negatives.map(|n| n.name.clone()),
            abstention_precision: ap,
            abstention_recall: ar,
            p50_ms: quantile(&times, 0.5),
        },
        signals,
    ))
}
