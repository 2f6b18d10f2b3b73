//! How much a candidate sentence is worth as part of an answer: a logistic model over a few
//! features of the sentence (its similarity to the question, the question's words in it and in
//! its section's title, its passage's rank and similarity, whether it gives what was asked for,
//! whether it is a step, a table row, a ticket's), trained by `kefu answer train-sentences` on
//! customer questions whose answers' facts are known (a sentence holding a fact is a good one)
//! and shipped as `data/sentences.json`. The score is the probability that the sentence holds
//! what the customer asked, so the composer's ratios (`keep_ratio`, `follow_ratio`) compare
//! probabilities.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The model shipped with kefu.
const BUILTIN: &str = include_str!("../../data/sentences.json");

/// The version of the feature set; a model of another version is refused.
pub const VERSION: u32 = 2;

/// The features, in order.
pub const FEATURES: [&str; 12] = [
    // the question's similarity to the sentence, rescaled from e5's 0.75..0.95 to 0..1
    "cosine",
    // share of the question's words in the sentence
    "overlap",
    // 1 / (1 + the passage's rank)
    "rank_prior",
    // share of the question's words in the title of the sentence's section
    "section_overlap",
    // how well the sentence gives what was asked for (a duration, a price, a code's meaning)
    "fit",
    // from a manual, policy or FAQ rather than a ticket
    "document",
    // an item (or a later sentence of one) of a list
    "item",
    // a row of a table
    "row",
    // the first sentence of its passage
    "first",
    // the passage's similarity to the question, rescaled like `cosine`
    "passage_cosine",
    // the passage's share of the question's ideal BM25 score
    "passage_coverage",
    // an example ("For example, …", 「例如……」): it illustrates an answer, it is seldom one
    "example",
];

/// A trained sentence model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SentenceModel {
    pub version: u32,
    /// How it was made (the command and the data).
    #[serde(default)]
    pub about: String,
    pub features: Vec<String>,
    pub weights: Vec<f32>,
    pub bias: f32,
}

impl SentenceModel {
    /// The model shipped in `data/sentences.json` (the hand-set weights if it is unreadable,
    /// which a test rules out).
    pub fn builtin() -> &'static SentenceModel {
        static MODEL: OnceLock<SentenceModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            SentenceModel::from_json(BUILTIN).unwrap_or_else(|e| {
                tracing::error!(error = %e, "data/sentences.json is unusable; hand-set weights");
                SentenceModel::hand_set()
            })
        })
    }

    /// Weights set by hand (the composer's before training): similarity, word overlap, the
    /// passage's rank, the section's title and what was asked for, tickets below documents.
    pub fn hand_set() -> SentenceModel {
        SentenceModel {
            version: VERSION,
            about: "set by hand".into(),
            features: FEATURES.iter().map(|f| f.to_string()).collect(),
            weights: vec![4.5, 3.0, 2.5, 2.0, 2.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0],
            bias: -5.0,
        }
    }

    /// Reads and checks a model.
    pub fn from_json(text: &str) -> Result<SentenceModel> {
        let m: SentenceModel = serde_json::from_str(text).map_err(|e| {
            Error::config(
                "answer.sentences",
                format!("unreadable sentence model: {e}"),
            )
        })?;
        if m.version != VERSION
            || m.features.iter().map(String::as_str).ne(FEATURES)
            || m.weights.len() != FEATURES.len()
            || m.weights.iter().any(|w| !w.is_finite())
            || !m.bias.is_finite()
        {
            return Err(Error::config(
                "answer.sentences",
                format!(
                    "the sentence model is for other features (version {}, {} weights; kefu \
                     uses version {VERSION} with {})",
                    m.version,
                    m.weights.len(),
                    FEATURES.join(", ")
                ),
            ));
        }
        Ok(m)
    }

    /// The probability that a sentence with `features` holds what was asked.
    pub fn score(&self, features: &[f32]) -> f32 {
        let s: f32 = self.bias
            + self
                .weights
                .iter()
                .zip(features)
                .map(|(w, x)| w * x)
                .sum::<f32>();
        1.0 / (1.0 + (-s).exp())
    }
}

/// e5 similarities of related text sit between about 0.75 and 0.95: that range as 0..1.
pub fn rescaled(cosine: f32) -> f32 {
    ((cosine - 0.75) / 0.2).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_model_reads_and_weighs_similar_sentences_higher() {
        let m = SentenceModel::from_json(BUILTIN).expect("data/sentences.json reads");
        let mut near = vec![0.0; FEATURES.len()];
        near[0] = 1.0;
        near[1] = 1.0;
        let far = vec![0.0; FEATURES.len()];
        assert!(m.score(&near) > m.score(&far));
        let s = m.score(&near);
        assert!(s > 0.0 && s < 1.0);
    }

    #[test]
    fn a_model_for_other_features_is_refused_with_what_is_expected() {
        let mut m = SentenceModel::hand_set();
        m.weights.pop();
        let text = serde_json::to_string(&m).expect("serialises");
        let e = SentenceModel::from_json(&text).expect_err("refused");
        assert!(e.to_string().contains("cosine"), "{e}");
        m = SentenceModel::hand_set();
        m.version = VERSION + 1;
        let text = serde_json::to_string(&m).expect("serialises");
        assert!(SentenceModel::from_json(&text).is_err());
    }
}
