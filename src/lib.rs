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
pub mod index;
pub mod ingest;
pub mod models;
pub mod retrieve;
pub mod store;

use std::sync::Arc;

pub use config::Config;
pub use error::{Error, Result};
pub use index::build::{IndexOptions, IndexReport};
pub use retrieve::{Filters, Hit, Mode, SearchRequest};

use analyze::Analyzer;
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
}

impl Engine {
    /// Opens the live generation of the configured index folder.
    pub fn open(config: Config, analyzer: Arc<Analyzer>) -> Result<Engine> {
        let fingerprint = analyzer.fingerprint().to_string();
        let generation = IndexDir::new(&config.index.dir).open_current(analyzer)?;
        if generation.manifest.analysis != fingerprint {
            tracing::warn!(
                generation = generation.number,
                "the live index was built with other analysis settings; results may be off until `kefu index` rebuilds it"
            );
        }
        Ok(Engine { config, generation })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The live generation.
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// Searches the live generation.
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<Hit>> {
        retrieve::search(
            &self.generation,
            req,
            &self.config.search.boost,
            &self.config,
        )
    }
}
