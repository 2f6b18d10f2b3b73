//! kefu (客服): a retrieval-augmented knowledge-base search engine for customer service, in
//! Chinese and English.
//!
//! The flow of a document: file → [`ingest`] (a [`ingest::Document`] with metadata and blocks)
//! → [`chunk`] (passages with heading paths and byte spans) → [`analyze`] (terms) → [`index`]
//! (a new generation, swapped in atomically). The flow of a question: [`retrieve`] over the live
//! generation → ranked passages with snippets. See ARCHITECTURE.md for the map and invariants.

pub mod analyze;
pub mod chunk;
pub mod config;
pub mod embed;
pub mod error;
pub mod eval;
pub mod http;
pub mod index;
pub mod ingest;
pub mod models;
pub mod rerank;
pub mod retrieve;
pub mod service;
pub mod store;

use std::sync::Arc;

pub use config::Config;
pub use error::{Error, Result};
pub use index::build::{IndexOptions, IndexReport};
pub use retrieve::{Filters, Hit, Mode, SearchRequest};

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
        Ok(Engine {
            config,
            generation,
            embedder,
        })
    }

    fn query_embedder(config: &Config, fingerprint: &str) -> Option<Arc<dyn embed::Embedder>> {
        let Some(files) = models::find(config) else {
            tracing::warn!("the embedding model is not in the cache (run `kefu models fetch`); answering from BM25");
            return None;
        };
        let opts = embed::E5Options {
            threads: config.vector.query_threads,
            batch_size: 1,
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

    /// Searches the live generation.
    pub fn search(&self, req: &SearchRequest) -> Result<retrieve::SearchOutcome> {
        retrieve::search(
            &self.generation,
            self.embedder.as_deref(),
            req,
            &self.config,
        )
    }
}
