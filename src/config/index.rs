//! `[index]`, `[chunk]` and `[analysis]`: how documents become passages and terms, and
//! where generations are built.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where and how index generations are built.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// The folder that holds index generations and the store.
    pub dir: PathBuf,
    /// How many generations to keep on disk (the live one included).
    pub keep_generations: usize,
    /// Memory budget of the lexical index writer, in MiB.
    pub writer_memory_mb: usize,
    /// Threads used to parse and index; 0 means one per core.
    pub threads: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            dir: PathBuf::from("indexes"),
            keep_generations: 2,
            writer_memory_mb: 64,
            threads: 0,
        }
    }
}

/// How documents are cut into passages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChunkConfig {
    /// Token budget of one passage (a CJK character or a Latin word counts as one token).
    pub max_tokens: usize,
    /// Tokens of trailing sentences repeated at the start of the next passage of a section.
    pub overlap_tokens: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_tokens: 160,
            overlap_tokens: 32,
        }
    }
}

/// Text analysis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// A jieba user dictionary of product terms (`word [freq] [tag]` per line); empty for none.
    pub user_dict: PathBuf,
    /// Stem English words (Snowball English).
    pub english_stemming: bool,
    /// Drop English stopwords (Lucene's 33, and a question's pronouns and auxiliaries).
    pub english_stopwords: bool,
    /// Drop Chinese function words (的, 了, 吗, …) from the word field.
    pub chinese_stopwords: bool,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            user_dict: PathBuf::from("corpus/dict/user.dict"),
            english_stemming: true,
            english_stopwords: true,
            chinese_stopwords: true,
        }
    }
}

impl IndexConfig {
    pub fn validate(&self) -> Result<()> {
        if self.keep_generations == 0 {
            return Err(Error::config(
                "index.keep_generations",
                "must be at least 1",
            ));
        }
        if !(15..=4096).contains(&self.writer_memory_mb) {
            return Err(Error::config(
                "index.writer_memory_mb",
                "must be between 15 and 4096",
            ));
        }
        Ok(())
    }
}

impl ChunkConfig {
    pub fn validate(&self) -> Result<()> {
        if !(16..=4096).contains(&self.max_tokens) {
            return Err(Error::config(
                "chunk.max_tokens",
                "must be between 16 and 4096",
            ));
        }
        if self.overlap_tokens * 2 > self.max_tokens {
            return Err(Error::config(
                "chunk.overlap_tokens",
                "must be at most half of chunk.max_tokens",
            ));
        }
        Ok(())
    }
}
