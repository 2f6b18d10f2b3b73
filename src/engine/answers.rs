//! Customers ask the same questions again and again: the extractive answers of recent
//! questions, keyed by everything an answer depends on besides the index — the question
//! normalised as the embedding cache does, what the caller may read, the filters, the number
//! of passages. One cache belongs to one engine, and so to one index generation and one
//! calibration: a swap after reindexing starts an empty one. LLM answers are never kept (the
//! model may answer differently and costs the caller nothing to ask again).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;

use super::{Answer, AnswerRequest};
use crate::embed::cache::normalise;

/// Recent answers, bounded, least recently asked first out.
pub struct AnswerCache {
    answers: Mutex<LruCache<String, Arc<Answer>>>,
}

impl AnswerCache {
    /// A cache of up to `capacity` answers; `None` for 0 (no cache).
    pub fn new(capacity: usize) -> Option<Arc<AnswerCache>> {
        let cap = NonZeroUsize::new(capacity)?;
        Some(Arc::new(AnswerCache {
            answers: Mutex::new(LruCache::new(cap)),
        }))
    }

    /// What an answer to `req` is kept under.
    pub fn key(req: &AnswerRequest) -> String {
        format!(
            "{:?}\u{1}{:?}\u{1}{}\u{1}{}",
            req.scope,
            req.filters,
            req.passages,
            normalise(&req.question)
        )
    }

    /// The answer kept under `key`, if any.
    pub fn get(&self, key: &str) -> Option<Arc<Answer>> {
        self.lock().get(key).cloned()
    }

    /// Keeps `answer` under `key`.
    pub fn put(&self, key: String, answer: Answer) {
        self.lock().put(key, Arc::new(answer));
    }

    /// The number of answers kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<String, Arc<Answer>>> {
        self.answers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieve::{Filters, Scope};

    fn request(question: &str, scope: Scope, passages: usize) -> AnswerRequest {
        AnswerRequest {
            question: question.into(),
            filters: Filters::default(),
            scope,
            passages,
            use_llm: false,
            cancel: Default::default(),
        }
    }

    #[test]
    fn one_question_asked_alike_has_one_key_and_what_changes_the_answer_changes_it() {
        let key = |q: &str, s: Scope, p: usize| AnswerCache::key(&request(q, s, p));
        assert_eq!(
            key("保修多久？", Scope::Public, 5),
            key("保修多久", Scope::Public, 5)
        );
        assert_eq!(
            key("How long is the warranty?", Scope::Public, 5),
            key("how long is the  warranty", Scope::Public, 5)
        );
        assert_ne!(
            key("保修多久", Scope::Public, 5),
            key("保修多久", Scope::All, 5)
        );
        assert_ne!(
            key("保修多久", Scope::Public, 5),
            key("保修多久", Scope::Public, 3)
        );
        let mut filtered = request("保修多久", Scope::Public, 5);
        filtered.filters = Filters::parse(&["product=X9"]).expect("filter");
        assert_ne!(
            AnswerCache::key(&filtered),
            key("保修多久", Scope::Public, 5)
        );
        assert!(AnswerCache::new(0).is_none());
    }
}
