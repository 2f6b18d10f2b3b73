//! `[corpus]` and `[redact]`: where the knowledge base comes from, its limits, and the
//! redaction of personal data in tickets.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where the knowledge base comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CorpusConfig {
    /// The folder of source files (manuals, policies, tickets).
    pub dir: PathBuf,
    /// Files larger than this are reported and skipped.
    pub max_file_bytes: u64,
    /// Audience of documents that do not say: `public` or `internal`.
    pub default_audience: String,
    /// Audience of tickets (past support conversations) that do not say.
    pub ticket_audience: String,
    /// Where documents uploaded over HTTP are kept (indexed with the corpus; their sources
    /// show as `@managed/<file>`).
    pub managed_dir: PathBuf,
    /// A document with more passages than this is refused (an upload with 422, a corpus file
    /// reported as failed), so no single document can hold the indexer for long.
    pub max_passages_per_document: usize,
    /// The same for sentences (each is embedded for answers).
    pub max_sentences_per_document: usize,
    /// At most this many products, and this many tags, per document.
    pub max_list_items: usize,
    /// At most this many characters in one product, tag, category, version or title.
    pub max_value_chars: usize,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            dir: PathBuf::from("corpus"),
            max_file_bytes: 8 * 1024 * 1024,
            default_audience: "public".into(),
            ticket_audience: "internal".into(),
            managed_dir: PathBuf::from("managed"),
            max_passages_per_document: 2000,
            max_sentences_per_document: 20_000,
            max_list_items: 64,
            max_value_chars: 200,
        }
    }
}

/// Redaction of personal data in tickets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Strings that look like personal data but are not (the company's own hotlines, e-mail).
    pub allow: Vec<String>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            allow: vec![
                "400-820-6688".into(),
                "+1-800-555-0142".into(),
                "support@tianlan.example".into(),
            ],
        }
    }
}

impl CorpusConfig {
    /// The audiences name one, and every limit lets something through.
    pub fn validate(&self) -> Result<()> {
        let audience = |key: &str, v: &str| -> Result<()> {
            if v == "public" || v == "internal" {
                Ok(())
            } else {
                Err(Error::config(
                    key,
                    format!("must be `public` or `internal`, not `{v}`"),
                ))
            }
        };
        audience("corpus.default_audience", &self.default_audience)?;
        audience("corpus.ticket_audience", &self.ticket_audience)?;
        for (key, v) in [
            (
                "corpus.max_passages_per_document",
                self.max_passages_per_document,
            ),
            (
                "corpus.max_sentences_per_document",
                self.max_sentences_per_document,
            ),
            ("corpus.max_list_items", self.max_list_items),
            ("corpus.max_value_chars", self.max_value_chars),
        ] {
            if v == 0 {
                return Err(Error::config(key, "must be above 0"));
            }
        }
        if self.max_file_bytes == 0 {
            return Err(Error::config("corpus.max_file_bytes", "must be above 0"));
        }
        Ok(())
    }
}
