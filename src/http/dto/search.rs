//! `POST /v1/search`: the request body and the ranked hits.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{filter_pairs, span, FilterMap, Span};
use crate::cancel::Cancel;
use crate::config::{Config, FusionConfig};
use crate::error::Error;
use crate::http::error::ApiError;
use crate::retrieve::{self, Filters, Scope, SearchRequest};

/// A search.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    /// The question or keywords (search.max_query_bytes at most).
    pub query: String,
    /// `bm25`, `vector` or `hybrid` (the default).
    #[serde(default)]
    #[schema(value_type = Option<Mode>)]
    pub mode: Option<String>,
    /// 1..search.max_top_k (default search.top_k).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub top_k: Option<usize>,
    /// type, product, lang, audience, tag, category, doc_id: a string or a list of alternatives.
    #[serde(default)]
    #[schema(inline)]
    pub filters: FilterMap,
    /// Override of [search.fusion] for this request: method (weighted|rrf), rrf_k,
    /// lexical_weight, vector_weight, candidates, lexical_scale (coverage|minmax).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub fusion: Option<serde_json::Map<String, Value>>,
    /// Rerank hybrid results with the second-stage ranker (default true).
    #[serde(default)]
    pub rerank: Option<bool>,
}

impl SearchBody {
    /// The request this body asks for, checked against the configuration and the caller's
    /// limits.
    pub fn into_request(
        self,
        config: &Config,
        scope: Scope,
        max_top_k: usize,
    ) -> Result<SearchRequest, ApiError> {
        let mode = match &self.mode {
            None => retrieve::Mode::Hybrid,
            Some(m) => retrieve::Mode::parse(m).ok_or_else(|| {
                ApiError::bad_request(format!("unknown mode `{m}` (bm25, vector or hybrid)"))
            })?,
        };
        let filters = Filters::parse(&filter_pairs(self.filters)?)?;
        let top_k = self.top_k.unwrap_or(config.search.top_k);
        if top_k > max_top_k {
            return Err(ApiError::bad_request(format!(
                "top_k must be between 1 and {max_top_k} for this key (http.bot_max_top_k)"
            )));
        }
        let fusion = match self.fusion {
            None => None,
            Some(over) => {
                // the request's keys over the configured ones, then the same checks as config
                let mut base = serde_json::to_value(config.search.fusion)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                if let Value::Object(b) = &mut base {
                    b.extend(over);
                }
                let f: FusionConfig = serde_json::from_value(base)
                    .map_err(|e| ApiError::bad_request(format!("fusion: {e}")))?;
                f.check("fusion")
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(f)
            }
        };
        let req = SearchRequest {
            query: self.query,
            top_k,
            mode,
            filters,
            scope,
            fusion,
            rerank: self.rerank.unwrap_or(true),
            cancel: Cancel::new(),
        };
        retrieve::validate(&req, config)?;
        Ok(req)
    }
}

/// How a search retrieved.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Bm25,
    Vector,
    Hybrid,
}

impl From<retrieve::Mode> for Mode {
    fn from(m: retrieve::Mode) -> Mode {
        match m {
            retrieve::Mode::Bm25 => Mode::Bm25,
            retrieve::Mode::Vector => Mode::Vector,
            retrieve::Mode::Hybrid => Mode::Hybrid,
        }
    }
}

/// The ranked passages.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// The query, as the command line prints it (absent over HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The mode used (bm25 when the embedding model is unavailable).
    pub mode: Mode,
    /// The index generation that answered.
    pub generation: u64,
    pub took_ms: f64,
    /// Milliseconds spent embedding the query (null when none was made).
    pub embed_ms: Option<f64>,
    /// Problems that did not stop the search (a fallback to BM25, say).
    pub warnings: Vec<String>,
    pub hits: Vec<Hit>,
}

/// Scores of a hit by stage (absent where the stage did not see the passage).
#[derive(Debug, Serialize, ToSchema)]
pub struct Scores {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bm25: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused: Option<f32>,
    /// The second-stage ranker's score (reranked hits come first, by this score).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank: Option<f32>,
}

/// A passage's best-matching stretch, and where the matches are in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snippet {
    pub text: String,
    /// Byte ranges of the matches in `text`.
    pub highlights: Vec<Span>,
}

/// One ranked passage.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hit {
    pub rank: usize,
    pub score: f32,
    pub scores: Scores,
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
    pub span: Span,
    pub text: String,
    pub snippet: Snippet,
}

impl From<retrieve::Hit> for Hit {
    fn from(h: retrieve::Hit) -> Hit {
        Hit {
            rank: h.rank,
            score: h.score,
            scores: Scores {
                bm25: h.scores.bm25,
                vector: h.scores.vector,
                fused: h.scores.fused,
                rerank: h.scores.rerank,
            },
            chunk_id: h.chunk_id,
            doc_id: h.doc_id,
            title: h.title,
            heading_path: h.heading_path,
            doc_type: h.doc_type,
            language: h.language,
            audience: h.audience,
            products: h.products,
            source: h.source,
            span: span(h.span),
            text: h.text,
            snippet: Snippet {
                text: h.snippet.text,
                highlights: h.snippet.highlights.into_iter().map(span).collect(),
            },
        }
    }
}

impl SearchResponse {
    /// The response for `outcome`, served by `generation` in `took_ms`.
    pub fn new(outcome: retrieve::SearchOutcome, generation: u64, took_ms: f64) -> Self {
        SearchResponse {
            query: None,
            mode: outcome.mode.into(),
            generation,
            took_ms,
            embed_ms: outcome.embed_ms,
            warnings: outcome.warnings,
            hits: outcome.hits.into_iter().map(Hit::from).collect(),
        }
    }
}
