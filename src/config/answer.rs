//! `[answer]`: grounded answers and the LLM composer's limits.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Answers (`/v1/answer`, `kefu ask`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerConfig {
    /// Passages retrieved as evidence when a request does not say.
    pub passages: usize,
    /// Sentences in an extractive answer at most.
    pub max_sentences: usize,
    /// The length, in characters, that an extractive answer's sentences after the first may
    /// not take it past, for Chinese and for English answers.
    pub max_chars_zh: usize,
    pub max_chars_en: usize,
    /// Sentences of other passages support the first when they score at least this share of
    /// it and come from one of the `support_passages` best passages.
    pub support_ratio: f32,
    pub support_passages: usize,
    /// Extractive answers kept for questions asked again (the same question, normalised, with
    /// the same scope, filters and passages), least recently asked first out; emptied when a
    /// new index generation goes live. 0 turns it off.
    pub cache: usize,
    /// An OpenAI-compatible chat-completions server that writes answers from the passages
    /// (checked sentence by sentence); without it answers are extractive.
    pub llm: Option<LlmConfig>,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        let extract = crate::answer::ExtractOptions::default();
        AnswerConfig {
            passages: 5,
            max_sentences: extract.max_sentences,
            max_chars_zh: extract.max_chars_zh,
            max_chars_en: extract.max_chars_en,
            support_ratio: extract.keep_ratio,
            support_passages: extract.support_passages,
            cache: 1024,
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
    /// The extractive composer's settings.
    pub fn extract_options(&self) -> crate::answer::ExtractOptions {
        crate::answer::ExtractOptions {
            passages: self.passages,
            max_sentences: self.max_sentences,
            max_chars_zh: self.max_chars_zh,
            max_chars_en: self.max_chars_en,
            keep_ratio: self.support_ratio,
            support_passages: self.support_passages,
            ..crate::answer::ExtractOptions::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.passages == 0 || self.passages > 50 {
            return Err(Error::config("answer.passages", "must be between 1 and 50"));
        }
        if self.max_sentences == 0 || self.max_sentences > 20 {
            return Err(Error::config(
                "answer.max_sentences",
                "must be between 1 and 20",
            ));
        }
        if !(0.0..=1.0).contains(&self.support_ratio) {
            return Err(Error::config(
                "answer.support_ratio",
                "must be between 0 and 1",
            ));
        }
        if self.support_passages == 0 || self.support_passages > 50 {
            return Err(Error::config(
                "answer.support_passages",
                "must be between 1 and 50",
            ));
        }
        if self.cache > 1_000_000 {
            return Err(Error::config(
                "answer.cache",
                "must be at most 1000000 answers (0 turns the cache off)",
            ));
        }
        for (key, v) in [
            ("answer.max_chars_zh", self.max_chars_zh),
            ("answer.max_chars_en", self.max_chars_en),
        ] {
            if !(20..=5000).contains(&v) {
                return Err(Error::config(key, "must be between 20 and 5000"));
            }
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
