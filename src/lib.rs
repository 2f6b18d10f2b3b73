//! kefu (客服): a retrieval-augmented knowledge-base search engine for customer service, in
//! Chinese and English.
//!
//! The flow of a document: file → [`ingest`] (a [`ingest::Document`] with metadata and blocks)
//! → [`chunk`] (passages with heading paths and byte spans) → [`analyze`] (terms) → [`index`]
//! (a new generation, swapped in atomically). The flow of a question: [`retrieve`] over the live
//! generation → ranked passages with snippets. See ARCHITECTURE.md for the map and invariants.

pub mod analyze;
pub mod answer;
pub mod cancel;
pub mod chunk;
pub mod config;
pub mod domain;
pub mod embed;
pub mod error;
pub mod eval;
pub mod fsutil;
pub mod http;
pub mod index;
pub mod ingest;
pub mod json;
pub mod models;
pub mod rerank;
pub mod retrieve;
pub mod service;
pub mod store;
pub mod text;

use std::sync::Arc;

pub use config::Config;
pub use error::{Error, Result};
pub use index::build::{IndexOptions, IndexReport};
pub use retrieve::{Filters, Hit, Mode, Scope, SearchRequest};

use analyze::Analyzer;
use embed::Embedder as _;
use index::{Generation, IndexDir};

/// Builds the analyzer described by the configuration (loads jieba's dictionary and the user
/// dictionary: do it once and share it).
pub fn analyzer(config: &Config) -> Result<Arc<Analyzer>> {
    Ok(Arc::new(Analyzer::new(&config.analysis)?))
}

/// Indexes the corpus into a new generation (incrementally).
pub fn index(
    config: &Config,
    analyzer: &Arc<Analyzer>,
    opts: &IndexOptions,
) -> Result<IndexReport> {
    index::build::run(config, analyzer, opts)
}

/// The query side: the live index generation and what is needed to search it.
pub struct Engine {
    config: Config,
    generation: Generation,
    embedder: Option<Arc<dyn embed::Embedder>>,
    reranker: Option<Arc<rerank::Reranker>>,
    calibration: Arc<answer::Calibrations>,
    llm: Option<Arc<answer::llm::LlmClient>>,
    /// The centroid of the generation's passage vectors (for answer confidence), of all of
    /// them and of the public ones (what a public caller's confidence is measured against).
    centroid: Option<Vec<f32>>,
    public_centroid: Option<Vec<f32>>,
}

/// A question to answer.
#[derive(Debug, Clone)]
pub struct AnswerRequest {
    pub question: String,
    pub filters: Filters,
    /// What the caller may read (and so what may be cited).
    pub scope: retrieve::Scope,
    /// Passages retrieved as evidence.
    pub passages: usize,
    /// Let the LLM composer write the answer when `[answer.llm]` is configured (false: always
    /// extractive).
    pub use_llm: bool,
    /// Stops the work when nobody waits for the answer any more.
    pub cancel: cancel::Cancel,
}

/// Milliseconds spent in each stage of answering.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timings {
    /// Embedding the question (part of `retrieve_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_ms: Option<f64>,
    /// Reranking the candidates (part of `retrieve_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_ms: Option<f64>,
    /// Retrieval as a whole.
    pub retrieve_ms: f64,
    /// Choosing and citing sentences, and the confidence.
    pub compose_ms: f64,
    pub total_ms: f64,
}

/// An answer as returned to callers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Answer {
    pub question: String,
    #[serde(flatten)]
    pub composed: answer::Composed,
    /// The retrieval mode used (bm25 when the embedding model is unavailable).
    pub mode: Mode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub timings: Timings,
}

impl Engine {
    /// Opens the live generation of the configured index folder, and the query embedder when
    /// the generation has vectors and the model is in the cache (it is not fetched here).
    pub fn open(config: Config, analyzer: Arc<Analyzer>) -> Result<Engine> {
        Self::open_reusing(config, analyzer, None)
    }

    /// [`Engine::open`], keeping the query embedder of `previous` when it fits the new
    /// generation (so a swap after reindexing does not reload the model).
    pub fn open_reusing(
        config: Config,
        analyzer: Arc<Analyzer>,
        previous: Option<&Engine>,
    ) -> Result<Engine> {
        let fingerprint = analyzer.fingerprint().to_string();
        let v = &config.vector;
        let params = index::vector::HnswParams {
            m: v.m,
            ef_construction: v.ef_construction,
            ef_search: v.ef_search,
        };
        let generation = IndexDir::new(&config.index.dir).open_current(analyzer, params)?;
        if generation.manifest.analysis != fingerprint {
            tracing::warn!(
                generation = generation.number,
                "the live index was built with other analysis settings; results may be off until `kefu index` rebuilds it"
            );
        }
        let embedder = match (&generation.vectors, &generation.manifest.embedder) {
            (Some(_), Some(fp)) if config.vector.enabled => {
                match previous.and_then(|p| p.embedder.clone()) {
                    Some(e) if e.fingerprint() == fp => Some(e),
                    _ => Self::query_embedder(&config, fp),
                }
            }
            _ => None,
        };
        let reranker = match previous {
            Some(p) if p.config.rerank == config.rerank => p.reranker.clone(),
            _ => rerank::Reranker::from_config(&config)?.map(Arc::new),
        };
        let calibration = match previous {
            Some(p) => p.calibration.clone(),
            None => Arc::new(answer::Calibrations::builtin()?),
        };
        let llm = config
            .answer
            .llm
            .as_ref()
            .map(|l| Arc::new(answer::llm::LlmClient::new(l)));
        let centroid = generation.vectors.as_ref().map(|v| v.centroid());
        let public_centroid = match &generation.vectors {
            Some(v) => {
                let public = generation.lexical.filter_keys(&vec![(
                    index::lexical::FilterKey::Audience,
                    vec!["public".to_string()],
                )])?;
                Some(v.centroid_of(|k| public.contains(&k)))
            }
            None => None,
        };
        Ok(Engine {
            config,
            generation,
            embedder,
            reranker,
            calibration,
            llm,
            centroid,
            public_centroid,
        })
    }

    fn query_embedder(config: &Config, fingerprint: &str) -> Option<Arc<dyn embed::Embedder>> {
        let Some(files) = models::find(config) else {
            tracing::warn!("the embedding model is not in the cache (run `kefu models fetch`); answering from BM25");
            return None;
        };
        let opts = embed::E5Options {
            threads: config.vector.query_threads,
            batch_size: config.vector.batch_size,
            batch_tokens: config.vector.batch_tokens,
            max_tokens: 512,
            sessions: config.vector.query_sessions.max(1),
        };
        match embed::E5Embedder::load(&files, opts) {
            Ok(e) if e.fingerprint() == fingerprint => Some(Arc::new(e)),
            Ok(_) => {
                tracing::warn!("the index was embedded with another model version; answering from BM25 until `kefu index` rebuilds it");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "the embedding model could not be loaded; answering from BM25");
                None
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The live generation.
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// Whether vector and hybrid retrieval are available.
    pub fn has_vectors(&self) -> bool {
        self.embedder.is_some() && self.generation.vectors.is_some()
    }

    /// The centroid a caller of `scope` is measured against.
    fn centroid_for(&self, scope: Scope) -> &Option<Vec<f32>> {
        match scope {
            Scope::Public => &self.public_centroid,
            Scope::All => &self.centroid,
        }
    }

    /// Searches the live generation.
    pub fn search(&self, req: &SearchRequest) -> Result<retrieve::SearchOutcome> {
        retrieve::search(
            &self.generation,
            self.embedder.as_deref(),
            self.reranker.as_deref(),
            req,
            &self.config,
        )
    }

    /// Answers a question from the live generation: hybrid retrieval, reranking, and the
    /// extractive composer with citations (or the LLM composer when `[answer.llm]` is set), or
    /// an abstention.
    pub fn answer(&self, req: &AnswerRequest) -> Result<Answer> {
        self.answer_streaming(req, &mut |_| true)
    }

    /// [`Engine::answer`], telling `sink` each sentence as soon as it is checked.
    pub fn answer_streaming(&self, req: &AnswerRequest, sink: answer::Sink<'_>) -> Result<Answer> {
        let started = std::time::Instant::now();
        let sreq = SearchRequest {
            query: req.question.clone(),
            top_k: req.passages.clamp(1, self.config.search.max_top_k),
            mode: Mode::Hybrid,
            filters: req.filters.clone(),
            scope: req.scope,
            fusion: None,
            rerank: true,
            cancel: req.cancel.clone(),
        };
        let ranked = retrieve::rank(
            &self.generation,
            self.embedder.as_deref(),
            self.reranker.as_deref(),
            &sreq,
            &self.config,
        )?;
        let lexical = &self.generation.lexical;
        let evidence = answer::Evidence::gather(
            lexical,
            &self.config.search.boost,
            &req.question,
            ranked
                .items
                .iter()
                .map(|r| (r.addr, r.chunk.clone(), r.cosine, r.score))
                .collect(),
            crate::index::lexical::Stats::of(req.scope),
        )?;
        req.cancel.check("answering")?;
        let retrieve_ms = started.elapsed().as_secs_f64() * 1e3;
        let t = std::time::Instant::now();
        let composer = answer::Composer {
            analyzer: lexical.analyzer(),
            embedder: self.embedder.as_deref(),
            sentence_vectors: self.generation.sentences.as_ref(),
            calibration: self
                .calibration
                .for_lang(crate::text::Lang::detect(&req.question)),
            options: answer::ExtractOptions::default(),
        };
        let background = answer::Background {
            known_share: lexical.known_share(
                &req.question,
                &self.config.search.boost,
                crate::index::lexical::Stats::of(req.scope),
            )?,
            centroid_cosine: match (&ranked.query_vector, self.centroid_for(req.scope)) {
                (Some(q), Some(c)) => Some(index::vector::dot(q, c)),
                _ => None,
            },
        };
        let composed = composer.compose(
            &req.question,
            ranked.query_vector.as_deref(),
            &evidence,
            background,
        )?;
        let composed = match (&self.llm, &self.config.answer.llm) {
            (Some(client), Some(limits)) if req.use_llm => {
                composer.compose_llm(client, limits, &req.question, &evidence, composed, sink)
            }
            _ => {
                answer::Composer::emit_all(&composed, sink);
                composed
            }
        };
        let compose_ms = t.elapsed().as_secs_f64() * 1e3;
        Ok(Answer {
            question: req.question.clone(),
            composed,
            mode: ranked.mode,
            warnings: ranked.warnings,
            timings: Timings {
                embed_ms: ranked.embed_ms,
                rerank_ms: ranked.rerank_ms,
                retrieve_ms,
                compose_ms,
                total_ms: started.elapsed().as_secs_f64() * 1e3,
            },
        })
    }
}
