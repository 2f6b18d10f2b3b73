//! Retrieval: a question → ranked passages, lexically (BM25), by vector, or both fused; falls
//! back to BM25 with a warning when the embedding model is unavailable.

pub mod fusion;
pub mod snippet;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::chunk::Chunk;
use crate::config::Config;
pub use crate::domain::Scope;
use crate::domain::{Audience, ChunkId, DocType};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::index::lexical::{FilterKey, FilterSet, Stats};
use crate::index::Generation;
use crate::rerank::{self, Reranker};

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
            check_filter_value(key, k, v.trim())?;
            match set.iter_mut().find(|(kk, _)| *kk == key) {
                Some((_, vs)) => vs.push(v.trim().to_string()),
                None => set.push((key, vec![v.trim().to_string()])),
            }
        }
        Ok(Filters { set })
    }
}

/// Checks the text of a query or question (`what`): not empty, not only whitespace and control
/// characters (NUL, escapes), within `search.max_query_bytes`.
pub fn check_query_text(what: &str, text: &str, config: &Config) -> Result<()> {
    if text.len() > config.search.max_query_bytes {
        return Err(Error::InvalidRequest(format!(
            "the {what} is {} bytes, over the limit of {} (search.max_query_bytes)",
            text.len(),
            config.search.max_query_bytes
        )));
    }
    if text
        .chars()
        .all(|c| c.is_whitespace() || crate::error::is_control(c))
    {
        return Err(Error::InvalidRequest(format!(
            "the {what} is empty (it has no letters, digits or signs, only spaces or control characters)"
        )));
    }
    Ok(())
}

/// Refuses a value no passage can have for an enumerated key (`type=manaul`,
/// `audience=internl`): such a filter would silently match nothing.
fn check_filter_value(key: FilterKey, name: &str, v: &str) -> Result<()> {
    let known = match key {
        FilterKey::DocType => DocType::parse(v).is_some(),
        FilterKey::Language => crate::text::Lang::parse(v).is_some(),
        FilterKey::Audience => Audience::parse(v).is_some(),
        _ => return Ok(()),
    };
    if known {
        return Ok(());
    }
    let allowed = match key {
        FilterKey::DocType => "manual, policy, faq, ticket, note or other",
        FilterKey::Language => "en or zh",
        _ => "public or internal",
    };
    Err(Error::InvalidRequest(format!(
        "filter `{name}`: unknown value `{}` ({allowed})",
        crate::error::printable(v)
    )))
}

/// A search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub top_k: usize,
    pub mode: Mode,
    pub filters: Filters,
    /// What the caller may read.
    pub scope: Scope,
    /// Fusion settings for this request instead of `[search.fusion]`.
    pub fusion: Option<crate::config::FusionConfig>,
    /// Rerank hybrid results with the second-stage ranker (when one is configured).
    pub rerank: bool,
    /// Stops the search when nobody waits for it any more.
    pub cancel: crate::cancel::Cancel,
}

impl Filters {
    /// These filters narrowed to what `scope` may read, or `None` when the filters ask only for
    /// audiences the scope may not read (so nothing can match).
    pub fn within(&self, scope: Scope) -> Option<Filters> {
        if scope == Scope::All {
            return Some(self.clone());
        }
        let mut set = self.set.clone();
        if let Some(pos) = set.iter().position(|(k, _)| *k == FilterKey::Audience) {
            let (_, values) = set.remove(pos);
            if !values.iter().any(|v| v.eq_ignore_ascii_case("public")) {
                return None;
            }
        }
        set.push((FilterKey::Audience, vec!["public".to_string()]));
        Some(Filters { set })
    }
}

/// Scores of a hit by stage (absent where the stage did not see the passage).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageScores {
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

/// The answer to a search: the hits, the mode actually used, and any warnings (a fallback to
/// BM25 when the embedding model is unavailable).
#[derive(Debug, Clone, Serialize)]
pub struct SearchOutcome {
    pub mode: Mode,
    pub hits: Vec<Hit>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Milliseconds spent embedding the query (absent when no embedding was made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_ms: Option<f64>,
    /// Milliseconds spent reranking (absent when no reranking ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_ms: Option<f64>,
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
    check_query_text("query", &req.query, config)?;
    if req.top_k == 0 || req.top_k > config.search.max_top_k {
        return Err(Error::InvalidRequest(format!(
            "top_k must be between 1 and {}",
            config.search.max_top_k
        )));
    }
    Ok(())
}

/// With a filter this selective (allowed passages), vector search is exact over them instead
/// of approximate with over-fetching.
const EXACT_FILTER_LIMIT: usize = 5000;

/// Vector candidates for a query vector, honouring the filters.
fn vector_candidates(
    generation: &Generation,
    q: &[f32],
    k: usize,
    filters: &Filters,
) -> Result<Vec<(ChunkId, f32)>> {
    let Some(vectors) = &generation.vectors else {
        return Ok(Vec::new());
    };
    if filters.set.is_empty() {
        return Ok(vectors.search(q, k));
    }
    let allowed = generation.lexical.filter_keys(&filters.set)?;
    if allowed.len() <= EXACT_FILTER_LIMIT {
        return Ok(vectors.exact(q, k, |key| allowed.contains(&key)));
    }
    let mut hits = vectors.search(q, k * 4);
    hits.retain(|(key, _)| allowed.contains(key));
    hits.truncate(k);
    Ok(hits)
}

/// A ranked passage not loaded yet: key, address when known, score, stage scores, cosine.
type Pending = (
    ChunkId,
    Option<tantivy::DocAddress>,
    f32,
    StageScores,
    Option<f32>,
);

/// A passage ranked by [`rank`], with what retrieval knew of it.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub chunk: Chunk,
    pub addr: tantivy::DocAddress,
    pub score: f32,
    pub scores: StageScores,
    /// Cosine similarity to the question, when known.
    pub cosine: Option<f32>,
}

/// The ranked passages of a request and how they were found.
#[derive(Debug, Clone)]
pub struct RankedOutcome {
    pub mode: Mode,
    pub items: Vec<Ranked>,
    pub warnings: Vec<String>,
    pub embed_ms: Option<f64>,
    /// Milliseconds of the reranking step, when it ran.
    pub rerank_ms: Option<f64>,
    /// The question's vector, when one was made.
    pub query_vector: Option<Vec<f32>>,
}

/// Searches a generation: lexical, vector or both fused. When vectors are asked for but the
/// embedder is missing or fails, answers from BM25 and says so in the warnings.
pub fn search(
    generation: &Generation,
    embedder: Option<&dyn Embedder>,
    reranker: Option<&Reranker>,
    req: &SearchRequest,
    config: &Config,
) -> Result<SearchOutcome> {
    let r = rank(generation, embedder, reranker, req, config)?;
    let analyzer = generation.lexical.analyzer();
    Ok(SearchOutcome {
        mode: r.mode,
        hits: r
            .items
            .into_iter()
            .enumerate()
            .map(|(i, it)| to_hit(analyzer, i + 1, it.score, it.scores, it.chunk, &req.query))
            .collect(),
        warnings: r.warnings,
        embed_ms: r.embed_ms,
        rerank_ms: r.rerank_ms,
    })
}

/// [`search`] without the presentation: the ranked passages themselves.
pub fn rank(
    generation: &Generation,
    embedder: Option<&dyn Embedder>,
    reranker: Option<&Reranker>,
    req: &SearchRequest,
    config: &Config,
) -> Result<RankedOutcome> {
    validate(req, config)?;
    let cancel = &req.cancel;
    cancel.check("search")?;
    let boosts = &config.search.boost;
    let mut warnings = Vec::new();
    let mut mode = req.mode;
    let mut qvec = None;
    let mut embed_ms = None;
    let mut rerank_ms = None;
    let Some(filters) = req.filters.within(req.scope) else {
        return Ok(RankedOutcome {
            mode,
            items: Vec::new(),
            warnings,
            embed_ms,
            rerank_ms,
            query_vector: None,
        });
    };
    let req = &SearchRequest {
        filters,
        ..req.clone()
    };
    if mode != Mode::Bm25 {
        let embedded = match (embedder, &generation.vectors) {
            (Some(e), Some(_)) => {
                let t = std::time::Instant::now();
                let r = e.embed_queries(&[req.query.as_str()]);
                embed_ms = Some(t.elapsed().as_secs_f64() * 1e3);
                Some(r)
            }
            _ => None,
        };
        match embedded {
            Some(r) => match r {
                Ok(mut v) => qvec = v.pop(),
                Err(err) => {
                    tracing::warn!(error = %err, "embedding the query failed; answering from BM25");
                    warnings.push(format!("embedding the query failed ({err}); answered from BM25"));
                }
            },
            None => warnings.push("vector search is not available (no embedding model or no vector index); answered from BM25".into()),
        }
        if qvec.is_none() {
            mode = Mode::Bm25;
        }
    }
    cancel.check("search")?;
    let fusion_config = req.fusion.as_ref().unwrap_or(&config.search.fusion);
    let reranker = reranker.filter(|_| req.rerank && mode == Mode::Hybrid);
    let depth = req.top_k.max(reranker.map_or(0, |r| r.candidates));
    let cand = fusion_config.candidates.max(depth);
    let lexical = &generation.lexical;
    let mut ranked: Vec<Pending> = Vec::new();
    let mut reranked: Option<Vec<Ranked>> = None;
    match (mode, &qvec) {
        (Mode::Vector, Some(q)) => {
            for (k, s) in vector_candidates(generation, q, req.top_k, &req.filters)? {
                let scores = StageScores {
                    vector: Some(s),
                    ..Default::default()
                };
                ranked.push((k, None, s, scores, Some(s)));
            }
        }
        (Mode::Hybrid, Some(q)) => {
            let lex_hits = lexical.search(
                &req.query,
                cand,
                boosts,
                &req.filters.set,
                Stats::of(req.scope),
            )?;
            let lex = fusion::lexical_input(&lex_hits, fusion_config);
            let vec = vector_candidates(generation, q, cand, &req.filters)?;
            let fused = fusion::fuse(&lex, &vec, fusion_config, depth)?;
            let lex_map: HashMap<ChunkId, (f32, tantivy::DocAddress)> = lex_hits
                .iter()
                .map(|h| (h.key, (h.score, h.addr)))
                .collect();
            let vec_map: HashMap<ChunkId, f32> = vec.iter().copied().collect();
            let stage = |k: &ChunkId, s: f32| StageScores {
                bm25: lex_map.get(k).map(|x| x.0),
                vector: vec_map.get(k).copied(),
                fused: Some(s),
                rerank: None,
            };
            cancel.check("search")?;
            if let Some(rr) = reranker {
                let t = std::time::Instant::now();
                let ctx = rerank::Context {
                    reader: lexical,
                    profiles: boosts,
                    vectors: generation.vectors.as_ref(),
                    today: chrono::Utc::now().date_naive(),
                    stats: Stats::of(req.scope),
                };
                let cands =
                    rerank::candidates(&ctx, &fused, &lex_hits, &vec, Some(q), rr.candidates)?;
                let fused_score: HashMap<ChunkId, f32> = fused.iter().copied().collect();
                let mut items = Vec::with_capacity(req.top_k);
                let mut seen = std::collections::HashSet::new();
                for (c, score) in rr.rerank(&ctx, &req.query, cands)? {
                    seen.insert(c.chunk.id);
                    let mut scores = stage(
                        &c.chunk.id,
                        fused_score.get(&c.chunk.id).copied().unwrap_or(0.0),
                    );
                    scores.rerank = Some(score);
                    items.push(Ranked {
                        addr: c.addr,
                        score,
                        scores,
                        cosine: c.cosine,
                        chunk: c.chunk,
                    });
                }
                rerank_ms = Some(t.elapsed().as_secs_f64() * 1e3);
                reranked = Some(items);
                // the fused passages beyond the reranked ones follow in fused order
                for (k, s) in fused.iter().filter(|(k, _)| !seen.contains(k)) {
                    ranked.push((
                        *k,
                        lex_map.get(k).map(|x| x.1),
                        *s,
                        stage(k, *s),
                        vec_map.get(k).copied(),
                    ));
                }
            } else {
                for (k, s) in &fused {
                    ranked.push((
                        *k,
                        lex_map.get(k).map(|x| x.1),
                        *s,
                        stage(k, *s),
                        vec_map.get(k).copied(),
                    ));
                }
            }
        }
        _ => {
            for h in lexical.search(
                &req.query,
                req.top_k,
                boosts,
                &req.filters.set,
                Stats::of(req.scope),
            )? {
                let scores = StageScores {
                    bm25: Some(h.score),
                    ..Default::default()
                };
                ranked.push((h.key, Some(h.addr), h.score, scores, None));
            }
        }
    }
    let mut items = reranked.unwrap_or_default();
    items.truncate(req.top_k);
    for (key, addr, score, scores, cosine) in ranked {
        if items.len() >= req.top_k {
            break;
        }
        cancel.check("search")?;
        let addr = match addr {
            Some(a) => a,
            None => match lexical.address_of(key)? {
                Some(a) => a,
                None => continue,
            },
        };
        let chunk = lexical.chunk(addr)?;
        items.push(Ranked {
            chunk,
            addr,
            score,
            scores,
            cosine,
        });
    }
    items.retain(|it| {
        let ok = req.scope.allows(it.chunk.meta.audience);
        if !ok {
            // cannot happen (the audience filter ran first); kept as the last line of defence
            tracing::error!(chunk = %it.chunk.id, "an internal passage reached a public search; dropped");
        }
        ok
    });
    Ok(RankedOutcome {
        mode,
        items,
        warnings,
        embed_ms,
        rerank_ms,
        query_vector: qvec,
    })
}

/// A document as a caller may see it: its metadata and its passages in order.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    pub doc_id: String,
    pub title: String,
    pub doc_type: String,
    pub language: String,
    pub audience: String,
    pub products: Vec<String>,
    pub source: String,
    pub passages: Vec<PassageView>,
}

/// One passage of a [`DocumentView`].
#[derive(Debug, Clone, Serialize)]
pub struct PassageView {
    pub chunk_id: String,
    pub heading_path: Vec<String>,
    pub span: (usize, usize),
    pub text: String,
}

/// The document `doc_id` of the generation, if it exists and `scope` may read it (a document
/// the scope may not read is reported as absent, so its existence does not leak).
pub fn document(
    generation: &Generation,
    doc_id: &crate::domain::DocId,
    scope: Scope,
) -> Result<Option<DocumentView>> {
    let doc_id = doc_id.as_str();
    let filters = Filters {
        set: vec![(FilterKey::DocId, vec![doc_id.to_string()])],
    };
    let Some(filters) = filters.within(scope) else {
        return Ok(None);
    };
    let keys = generation.lexical.filter_keys(&filters.set)?;
    let mut chunks = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(addr) = generation.lexical.address_of(key)? {
            let c = generation.lexical.chunk(addr)?;
            if c.meta.id == doc_id && scope.allows(c.meta.audience) {
                chunks.push(c);
            }
        }
    }
    chunks.sort_by_key(|c| (c.span.0, c.span.1));
    let Some(first) = chunks.first() else {
        return Ok(None);
    };
    let m = first.meta.clone();
    Ok(Some(DocumentView {
        doc_id: m.id.clone(),
        title: m.title.clone(),
        doc_type: m.doc_type.as_str().to_string(),
        language: m.language.as_str().to_string(),
        audience: m.audience.as_str().to_string(),
        products: m.products.clone(),
        source: m.source.clone(),
        passages: chunks
            .into_iter()
            .map(|c| PassageView {
                chunk_id: c.id.to_string(),
                heading_path: c.heading_path,
                span: c.span,
                text: c.text,
            })
            .collect(),
    }))
}

fn to_hit(
    analyzer: &crate::analyze::Analyzer,
    rank: usize,
    score: f32,
    scores: StageScores,
    c: Chunk,
    query: &str,
) -> Hit {
    let snippet = snippet::make(analyzer, &c.text, query, 160);
    Hit {
        rank,
        score,
        scores,
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
    fn a_public_scope_narrows_every_filter_to_public_passages() {
        let none = Filters::default();
        assert_eq!(none.within(Scope::All), Some(none.clone()));
        let p = none.within(Scope::Public).expect("some");
        assert_eq!(
            p.set,
            vec![(FilterKey::Audience, vec!["public".to_string()])]
        );
        let internal = Filters::parse(&["audience=internal"]).expect("parses");
        assert_eq!(internal.within(Scope::Public), None);
        let both =
            Filters::parse(&["audience=internal", "audience=public", "type=faq"]).expect("parses");
        let r = both.within(Scope::Public).expect("some");
        assert!(r
            .set
            .contains(&(FilterKey::Audience, vec!["public".to_string()])));
        assert_eq!(r.set.len(), 2);
    }

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
