//! `[answer]`: grounded answers and the LLM composer's limits.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Answers (`/v1/answer`, `kefu ask`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerConfig {
    /// Passages retrieved as evidence when a request does not say.
    pub passages: usize,
    /// An OpenAI-compatible chat-completions server that writes answers from the passages
    /// (checked sentence by sentence); without it answers are extractive.
    pub llm: Option<LlmConfig>,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            passages: 5,
            llm: None,
        }
    }
}

/// The LLM composer's server and its limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Base URL of the API, up to and including `/v1` (e.g. `http://127.0.0.1:8000/v1`).
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// The environment variable holding the API key ("" or unset: no key is sent).
    #[serde(default)]
    pub api_key_env: String,
    /// Most tokens the model may write.
    #[serde(default = "default_llm_max_tokens")]
    pub max_tokens: usize,
    /// Connecting, in milliseconds.
    #[serde(default = "default_llm_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Longest wait for the next piece of the reply, in milliseconds.
    #[serde(default = "default_llm_read_ms")]
    pub timeout_ms: u64,
    /// Longest time for the whole reply, in milliseconds.
    #[serde(default = "default_llm_total_ms")]
    pub total_timeout_ms: u64,
    /// A sentence is supported when at least this share of its words is in the cited passage…
    #[serde(default = "default_llm_overlap")]
    pub min_overlap: f32,
    /// …or (half the words, or another language) its similarity to a passage sentence is at
    /// least this.
    #[serde(default = "default_llm_similarity")]
    pub min_similarity: f32,
    /// Below this share of kept sentences the extractive answer is returned instead.
    #[serde(default = "default_llm_kept")]
    pub min_kept: f32,
}

fn default_llm_max_tokens() -> usize {
    400
}
fn default_llm_connect_ms() -> u64 {
    2000
}
fn default_llm_read_ms() -> u64 {
    15000
}
fn default_llm_total_ms() -> u64 {
    60000
}
fn default_llm_overlap() -> f32 {
    0.6
}
fn default_llm_similarity() -> f32 {
    0.85
}
fn default_llm_kept() -> f32 {
    0.5
}

impl AnswerConfig {
    pub fn validate(&self) -> Result<()> {
        if self.passages == 0 || self.passages > 50 {
            return Err(Error::config("answer.passages", "must be between 1 and 50"));
        }
        match &self.llm {
            Some(l) => l.validate(),
            None => Ok(()),
        }
    }
}

impl LlmConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(Error::config(
                "answer.llm.base_url",
                format!("`{}` is not an http(s) URL", self.base_url),
            ));
        }
        if self.model.trim().is_empty() || self.max_tokens == 0 {
            return Err(Error::config(
                "answer.llm",
                "model must be named and max_tokens above 0",
            ));
        }
        if self.timeout_ms == 0 || self.total_timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return Err(Error::config("answer.llm", "timeouts must be above 0"));
        }
        for (k, v) in [
            ("min_overlap", self.min_overlap),
            ("min_similarity", self.min_similarity),
            ("min_kept", self.min_kept),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::config(
                    format!("answer.llm.{k}"),
                    "must be between 0 and 1",
                ));
            }
        }
        Ok(())
    }
}
