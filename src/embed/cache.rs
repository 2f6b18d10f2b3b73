//! Customers ask the same questions again and again: an embedder wrapper that keeps the vectors
//! of recent questions, keyed by the question normalised (width, case, spacing and end
//! punctuation folded), bounded and least-recently-used first out. It belongs to one embedder,
//! so its vectors are always of that model (its fingerprint is the inner one's).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use unicode_normalization::UnicodeNormalization;

use super::Embedder;
use crate::error::Result;

/// An [`Embedder`] whose question vectors are cached.
pub struct CachedQueries {
    inner: Arc<dyn Embedder>,
    cache: Mutex<LruCache<String, Arc<Vec<f32>>>>,
}

/// How a question is looked up: NFKC, lower case, white space collapsed, end punctuation and
/// spaces trimmed (「保修多久？」 and 「保修多久」 are one question).
pub fn normalise(question: &str) -> String {
    let folded: String = question.nfkc().flat_map(char::to_lowercase).collect();
    let words: Vec<&str> = folded.split_whitespace().collect();
    words
        .join(" ")
        .trim_end_matches(|c: char| {
            c.is_ascii_punctuation() || "。？！…~～".contains(c) || c.is_whitespace()
        })
        .to_string()
}

impl CachedQueries {
    /// Wraps `inner`, keeping the vectors of up to `capacity` questions (at least one).
    pub fn new(inner: Arc<dyn Embedder>, capacity: usize) -> CachedQueries {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        CachedQueries {
            inner,
            cache: Mutex::new(LruCache::new(cap)),
        }
    }

    /// The number of questions cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Arc<Vec<f32>>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Embedder for CachedQueries {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let keys: Vec<String> = texts.iter().map(|t| normalise(t)).collect();
        let mut out: Vec<Option<Vec<f32>>> = {
            let mut cache = self.lock();
            keys.iter()
                .map(|k| cache.get(k).map(|v| v.as_ref().clone()))
                .collect()
        };
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            // embedded outside the lock: other questions are served meanwhile
            let todo: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            let vectors = self.inner.embed_queries(&todo)?;
            let mut cache = self.lock();
            for (&i, v) in missing.iter().zip(vectors) {
                cache.put(keys[i].clone(), Arc::new(v.clone()));
                out[i] = Some(v);
            }
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }

    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.inner.embed_passages(texts)
    }

    fn fingerprint(&self) -> &str {
        self.inner.fingerprint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the questions it embeds; a question's vector is its length.
    struct Counting(AtomicUsize);

    impl Embedder for Counting {
        fn dim(&self) -> usize {
            1
        }
        fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.0.fetch_add(texts.len(), Ordering::Relaxed);
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
        fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.embed_queries(texts)
        }
        fn fingerprint(&self) -> &str {
            "counting"
        }
    }

    #[test]
    fn a_question_asked_again_is_not_embedded_again() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let c = CachedQueries::new(inner.clone(), 8);
        let a = c.embed_queries(&["X9 Pro 保修多久？"]).expect("embeds");
        let b = c.embed_queries(&["x9 pro  保修多久"]).expect("embeds");
        assert_eq!(a, b);
        assert_eq!(inner.0.load(Ordering::Relaxed), 1);
        assert_eq!(c.fingerprint(), "counting");
    }

    #[test]
    fn the_least_recently_used_question_leaves_first() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let c = CachedQueries::new(inner.clone(), 2);
        for q in [
            "a question",
            "b question",
            "a question",
            "c question",
            "a question",
        ] {
            c.embed_queries(&[q]).expect("embeds");
        }
        // a stayed (used last but one), b left when c came
        assert_eq!(inner.0.load(Ordering::Relaxed), 3);
        assert_eq!(c.len(), 2);
        c.embed_queries(&["b question"]).expect("embeds");
        assert_eq!(inner.0.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn passages_are_never_cached() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let c = CachedQueries::new(inner.clone(), 8);
        c.embed_passages(&["p"]).expect("embeds");
        c.embed_passages(&["p"]).expect("embeds");
        assert_eq!(inner.0.load(Ordering::Relaxed), 2);
        assert!(c.is_empty());
    }

    #[test]
    fn normalising_folds_width_case_spacing_and_end_punctuation() {
        assert_eq!(normalise(" How LONG  is it?? "), "how long is it");
        assert_eq!(normalise("保修多久？"), "保修多久");
        assert_eq!(normalise("ＸＹ"), "xy");
    }
}
