//! Retrieval: a question → ranked passages. For now lexical (BM25) only; the vector half and
//! fusion join here.

pub mod fusion;
pub mod snippet;

use serde::{Deserialize, Serialize};

use crate::chunk::Chunk;
use crate::config::{BoostProfiles, Config};
use crate::error::{Error, Result};
use crate::index::lexical::{FilterKey, FilterSet};
use crate::index::Generation;

/// How to retrieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Lexical only.
    Bm25,
    /// Vector only.
    Vector,
    /// Lexical and vector, fused.
    #[default]
    Hybrid,
}

impl Mode {
    /// Parses `bm25`, `vector` or `hybrid`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bm25" | "lexical" => Some(Mode::Bm25),
            "vector" | "dense" => Some(Mode::Vector),
            "hybrid" => Some(Mode::Hybrid),
            _ => None,
        }
    }
}

/// Filters parsed from `key=value` pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub set: FilterSet,
}

impl Filters {
    /// Parses `key=value` strings; values of the same key are alternatives, different keys must
    /// all match.
    pub fn parse<S: AsRef<str>>(pairs: &[S]) -> Result<Filters> {
        let mut set: FilterSet = Vec::new();
        for p in pairs {
            let p = p.as_ref();
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| Error::InvalidRequest(format!("filter `{p}` is not key=value")))?;
            let key = FilterKey::parse(k).ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "unknown filter key `{k}` (one of: {})",
                    FilterKey::NAMES
                ))
            })?;
            if v.trim().is_empty() {
                return Err(Error::InvalidRequest(format!(
                    "filter `{p}` has an empty value"
                )));
            }
            match set.iter_mut().find(|(kk, _)| *kk == key) {
                Some((_, vs)) => vs.push(v.trim().to_string()),
                None => set.push((key, vec![v.trim().to_string()])),
            }
        }
        Ok(Filters { set })
    }
}

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub top_k: usize,
    pub mode: Mode,
    pub filters: Filters,
}

/// Scores of a hit by stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageScores {
    pub bm25: f32,
}

/// One ranked passage.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub rank: usize,
    pub score: f32,
    pub scores: StageScores,
    pub chunk_id: String,
    pub doc_id: String,
    pub title: String,
    pub heading_path: Vec<String>,
    pub doc_type: String,
    pub language: String,
    pub audience: String,
    pub products: Vec<String>,
    pub source: String,
    /// Byte range of the passage in its source file.
    pub span: (usize, usize),
    pub text: String,
    pub snippet: snippet::Snippet,
}

/// Validates a request against the limits in the configuration.
pub fn validate(req: &SearchRequest, config: &Config) -> Result<()> {
    if req.query.trim().is_empty() {
        return Err(Error::InvalidRequest("the query is empty".into()));
    }
    if req.query.len() > config.search.max_query_bytes {
        return Err(Error::InvalidRequest(format!(
            "the query is {} bytes, over the limit of {} (search.max_query_bytes)",
            req.query.len(),
            config.search.max_query_bytes
        )));
    }
    if req.top_k == 0 || req.top_k > config.search.max_top_k {
        return Err(Error::InvalidRequest(format!(
            "top_k must be between 1 and {}",
            config.search.max_top_k
        )));
    }
    Ok(())
}

/// Searches a generation.
pub fn search(
    generation: &Generation,
    req: &SearchRequest,
    boosts: &BoostProfiles,
    config: &Config,
) -> Result<Vec<Hit>> {
    validate(req, config)?;
    match req.mode {
        Mode::Bm25 => {}
        Mode::Vector | Mode::Hybrid => {
            return Err(Error::NotAvailable(
                "vector and hybrid retrieval arrive with the embedding model; use --mode bm25"
                    .into(),
            ))
        }
    }
    let hits = generation
        .lexical
        .search(&req.query, req.top_k, boosts, &req.filters.set)?;
    let mut out = Vec::with_capacity(hits.len());
    for (i, h) in hits.into_iter().enumerate() {
        let chunk = generation.lexical.chunk(h.addr)?;
        out.push(to_hit(
            generation.lexical.analyzer(),
            i + 1,
            h.score,
            chunk,
            &req.query,
        ));
    }
    Ok(out)
}

fn to_hit(
    analyzer: &crate::analyze::Analyzer,
    rank: usize,
    score: f32,
    c: Chunk,
    query: &str,
) -> Hit {
    let snippet = snippet::make(analyzer, &c.text, query, 160);
    Hit {
        rank,
        score,
        scores: StageScores { bm25: score },
        chunk_id: c.id.to_string(),
        doc_id: c.meta.id.clone(),
        title: c.meta.title.clone(),
        heading_path: c.heading_path,
        doc_type: c.meta.doc_type.as_str().to_string(),
        language: c.language.as_str().to_string(),
        audience: c.meta.audience.as_str().to_string(),
        products: c.meta.products.clone(),
        source: c.meta.source.clone(),
        span: c.span,
        text: c.text,
        snippet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_group() {
        let f = Filters::parse(&["product=X9 Pro", "type=manual", "product=X9"]).expect("parses");
        assert_eq!(f.set.len(), 2);
        assert_eq!(
            f.set[0],
            (
                FilterKey::Product,
                vec!["X9 Pro".to_string(), "X9".to_string()]
            )
        );
        assert!(Filters::parse(&["colour=red"])
            .unwrap_err()
            .to_string()
            .contains("colour"));
        assert!(Filters::parse(&["product"])
            .unwrap_err()
            .to_string()
            .contains("key=value"));
        assert!(Filters::parse(&["product="])
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }
}
