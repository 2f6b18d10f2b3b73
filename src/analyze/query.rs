//! A question analysed once: its language and its terms per lexical field, computed at the
//! start of a turn and carried through every stage (lexical search, reranking features, an
//! answer's word overlap and known-term share), so no stage re-derives them.

use super::{Analyzer, QueryTerms};
use crate::text::Lang;

/// A query text with what analysis knows of it.
#[derive(Debug, Clone)]
pub struct Query {
    /// The text as the caller wrote it.
    pub text: String,
    /// Its language (chooses the BM25 profile, the reranker's model, the calibration and the
    /// language of an answer).
    pub lang: Lang,
    /// Its distinct terms per lexical field.
    pub terms: QueryTerms,
    /// Words, Chinese character bigrams and identifiers, sorted and distinct, made when first
    /// asked for ([`Query::overlap_terms`]).
    overlap: std::sync::OnceLock<Vec<String>>,
    /// Its embedding, when it was made ahead of retrieval (retrieval embeds it otherwise).
    pub vector: Option<Vec<f32>>,
}

impl Query {
    /// Analyses `text`.
    pub fn new(analyzer: &Analyzer, text: &str) -> Query {
        Query {
            text: text.to_string(),
            lang: Lang::detect(text),
            terms: analyzer.query_terms(text),
            overlap: std::sync::OnceLock::new(),
            vector: None,
        }
    }

    /// Words, Chinese character bigrams and identifiers, sorted and distinct: the terms an
    /// answer sentence's overlap with the question is measured by.
    pub fn overlap_terms(&self) -> &[String] {
        self.overlap.get_or_init(|| {
            let t = &self.terms;
            let mut out: Vec<String> = t.words.iter().chain(&t.cjk_bigrams).cloned().collect();
            out.extend(t.idents.iter().filter(|i| !i.is_empty()).cloned());
            out.sort();
            out.dedup();
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_analysed_once_with_its_language_and_terms() {
        let a = Analyzer::new(&crate::config::AnalysisConfig::default()).expect("analyzer");
        let q = Query::new(&a, "X9 Pro 屏幕碎了");
        assert_eq!(q.lang, Lang::Zh);
        assert!(q.terms.idents.iter().any(|i| i == "x9pro"), "{:?}", q.terms);
        assert!(q.overlap_terms().windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Query::new(&a, "reset the remote").lang, Lang::En);
    }
}
