//! `[search]`: defaults and limits of a search, fusion, and the BM25 field weights.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Search defaults and limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Results returned when a request does not say.
    pub top_k: usize,
    /// The largest `top_k` a request may ask for.
    pub max_top_k: usize,
    /// The longest query accepted, in bytes.
    pub max_query_bytes: usize,
    /// Per-field weights of the lexical score, by the language of the query.
    pub boost: BoostProfiles,
    /// Fusion of lexical and vector candidates.
    pub fusion: FusionConfig,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            top_k: 10,
            max_top_k: 1000,
            max_query_bytes: 2048,
            boost: BoostProfiles::default(),
            fusion: FusionConfig::default(),
        }
    }
}

/// Field weights for English queries and for Chinese (or mixed) queries. Chinese questions
/// are short and colloquial: character n-grams carry them better than jieba words, so the
/// profiles differ (tuned on `../shared/eval`, see the README).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BoostProfiles {
    pub en: FieldBoosts,
    pub zh: FieldBoosts,
}

impl Default for BoostProfiles {
    fn default() -> Self {
        BoostProfiles {
            en: FieldBoosts::default(),
            zh: FieldBoosts {
                title: 0.6,
                heading: 0.5,
                body: 0.25,
                cjk_unigram: 1.0,
                cjk_bigram: 0.3,
                ident: 3.0,
                k1: 0.84,
                b: 0.64,
                pairs: 0.0,
                max_df: 1.0,
            },
        }
    }
}

impl BoostProfiles {
    /// The profile for a query in `lang`.
    pub fn for_lang(&self, lang: crate::text::Lang) -> &FieldBoosts {
        match lang {
            crate::text::Lang::Zh => &self.zh,
            crate::text::Lang::En => &self.en,
        }
    }
}

/// Weights of each lexical field in the BM25 sum.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FieldBoosts {
    /// Words of the document title.
    pub title: f32,
    /// Words of the heading path.
    pub heading: f32,
    /// Words of the passage (English stems, jieba words).
    pub body: f32,
    /// Chinese character unigrams of title, headings and passage.
    pub cjk_unigram: f32,
    /// Chinese character bigrams of title, headings and passage.
    pub cjk_bigram: f32,
    /// Identifiers (model numbers, order numbers) whole and by their parts.
    pub ident: f32,
    /// BM25 term-frequency saturation (k1 > 0).
    pub k1: f32,
    /// BM25 length normalisation (0 = none, 1 = full).
    pub b: f32,
    /// Adjacent word pairs of the query found together in the passage.
    pub pairs: f32,
    /// Query terms found in more than this share of passages are not scored (1 = keep all).
    pub max_df: f32,
}

impl Default for FieldBoosts {
    fn default() -> Self {
        FieldBoosts {
            title: 0.6,
            heading: 0.5,
            body: 1.0,
            cjk_unigram: 0.2,
            cjk_bigram: 0.5,
            ident: 3.0,
            k1: 0.525,
            b: 0.43,
            pairs: 0.6,
            max_df: 1.0,
        }
    }
}

/// How lexical and vector candidates are fused.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Reciprocal-rank fusion.
    Rrf,
    /// Weighted sum of min-max normalised scores.
    Weighted,
}

/// Fusion settings (`[search.fusion]`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FusionConfig {
    pub method: FusionMethod,
    /// RRF constant.
    pub rrf_k: f32,
    /// Weight of the lexical list.
    pub lexical_weight: f32,
    /// Weight of the vector list.
    pub vector_weight: f32,
    /// Candidates taken from each list before fusing.
    pub candidates: usize,
    /// For weighted fusion, how BM25 scores are put on a 0–1 scale: `minmax` over the candidate
    /// list, or `coverage` (the share of the query's idf-weighted terms the passage matches,
    /// which stays low when BM25 finds little, e.g. a Chinese question over English passages).
    pub lexical_scale: LexicalScale,
}

impl FusionConfig {
    /// Checks the values; `prefix` names where they came from in errors.
    pub fn check(&self, prefix: &str) -> Result<()> {
        for (key, v) in [
            ("lexical_weight", self.lexical_weight),
            ("vector_weight", self.vector_weight),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::config(
                    format!("{prefix}.{key}"),
                    "must be a finite number >= 0",
                ));
            }
        }
        if !(self.rrf_k.is_finite() && self.rrf_k > 0.0) {
            return Err(Error::config(format!("{prefix}.rrf_k"), "must be > 0"));
        }
        if self.candidates == 0 || self.candidates > 10_000 {
            return Err(Error::config(
                format!("{prefix}.candidates"),
                "must be between 1 and 10000",
            ));
        }
        Ok(())
    }
}

/// How BM25 scores are scaled for weighted fusion.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LexicalScale {
    Minmax,
    Coverage,
}

impl Default for FusionConfig {
    fn default() -> Self {
        FusionConfig {
            method: FusionMethod::Weighted,
            rrf_k: 60.0,
            lexical_weight: 0.92,
            vector_weight: 0.08,
            candidates: 100,
            lexical_scale: LexicalScale::Coverage,
        }
    }
}

impl SearchConfig {
    pub fn validate(&self) -> Result<()> {
        if self.top_k == 0 || self.top_k > self.max_top_k {
            return Err(Error::config(
                "search.top_k",
                "must be between 1 and search.max_top_k",
            ));
        }
        self.fusion.check("search.fusion")?;
        if self.max_query_bytes < 16 {
            return Err(Error::config(
                "search.max_query_bytes",
                "must be at least 16",
            ));
        }
        self.boost.en.validate("search.boost.en")?;
        self.boost.zh.validate("search.boost.zh")
    }
}

impl FieldBoosts {
    /// Weights are finite and not negative; k1 and b are in BM25's ranges.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (key, v) in [
            ("title", self.title),
            ("heading", self.heading),
            ("body", self.body),
            ("cjk_unigram", self.cjk_unigram),
            ("cjk_bigram", self.cjk_bigram),
            ("ident", self.ident),
            ("pairs", self.pairs),
            ("max_df", self.max_df),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::config(
                    format!("{prefix}.{key}"),
                    "must be a finite number >= 0",
                ));
            }
        }
        if !(self.k1 > 0.0 && self.k1 <= 10.0) {
            return Err(Error::config(format!("{prefix}.k1"), "must be in (0, 10]"));
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(Error::config(format!("{prefix}.b"), "must be in [0, 1]"));
        }
        Ok(())
    }
}
