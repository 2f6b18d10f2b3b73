//! kefu (客服): a retrieval-augmented knowledge-base search engine for customer service, in
//! Chinese and English.
//!
//! The flow of a document: file → [`ingest`] (a [`ingest::Document`] with metadata and blocks)
//! → [`chunk`] (passages with heading paths and byte spans) → [`analyze`] (terms) → [`index`]
//! (a new generation, swapped in atomically). The flow of a question: [`retrieve`] over the live
//! generation → ranked passages with snippets. See ARCHITECTURE.md for the map and invariants.

pub mod analyze;
pub mod answer;
pub(crate) mod cancel;
pub mod chunk;
pub mod config;
pub mod converse;
pub mod customer;
pub mod domain;
pub mod embed;
pub mod engine;
pub mod error;
pub mod eval;
pub(crate) mod fsutil;
pub mod http;
pub mod index;
pub mod ingest;
pub(crate) mod json;
pub mod learn;
pub mod models;
pub mod rerank;
pub mod retrieve;
pub mod service;
pub mod store;
pub(crate) mod text;

use std::sync::Arc;

pub use config::Config;
pub use engine::{Answer, AnswerRequest, Engine, Timings};
pub use error::{Error, Result};
pub use index::build::{IndexOptions, IndexReport};
pub use retrieve::{Filters, Hit, Mode, Scope, SearchRequest};
pub use text::Lang;

use analyze::Analyzer;

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
