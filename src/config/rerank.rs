//! `[rerank]`: the second-stage ranker and its optional cross-encoder.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Second-stage reranking of the fused candidates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RerankConfig {
    /// Rerank hybrid results (and the passages answers are composed from).
    pub enabled: bool,
    /// Fused candidates reranked per question.
    pub candidates: usize,
    /// A linear model file written by `kefu rerank train`; empty: the built-in model.
    pub model: PathBuf,
    /// A user-supplied cross-encoder ONNX model, used instead of the linear model.
    pub cross_encoder: Option<CrossEncoderConfig>,
}

impl Default for RerankConfig {
    fn default() -> Self {
        RerankConfig {
            enabled: true,
            candidates: 50,
            model: PathBuf::new(),
            cross_encoder: None,
        }
    }
}

/// A cross-encoder: one relevance logit per (question, passage), output named `logits`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CrossEncoderConfig {
    /// The ONNX model file.
    pub onnx: PathBuf,
    /// Folder with `tokenizer.json` (and optionally `config.json`, `special_tokens_map.json`,
    /// `tokenizer_config.json`).
    pub tokenizer: PathBuf,
    /// Longest input (question and passage together), in tokens.
    #[serde(default = "default_ce_length")]
    pub max_length: usize,
    /// Inference threads.
    #[serde(default = "default_one")]
    pub threads: usize,
}

fn default_ce_length() -> usize {
    512
}

fn default_one() -> usize {
    1
}

impl RerankConfig {
    pub fn validate(&self) -> Result<()> {
        if self.candidates == 0 || self.candidates > 1000 {
            return Err(Error::config(
                "rerank.candidates",
                "must be between 1 and 1000",
            ));
        }
        if let Some(ce) = &self.cross_encoder {
            if ce.max_length < 16 || ce.threads == 0 {
                return Err(Error::config(
                    "rerank.cross_encoder",
                    "max_length must be at least 16 and threads at least 1",
                ));
            }
        }
        Ok(())
    }
}
