//! Retrieval: a question → ranked passages, lexically (BM25), by vector, or both fused; falls
//! back to BM25 with a warning when the embedding model is unavailable.

mod document;
pub mod fusion;
mod request;
pub mod snippet;

pub use document::{document, DocumentView, PassageView};
pub use request::{check_query_text, validate, Filters, Mode, SearchRequest};

use std::collections::HashMap;

use crate::analyze::Query;
use crate::chunk::Chunk;
use crate::config::Config;
use crate::domain::ChunkId;
pub use crate::domain::Scope;
use crate::embed::Embedder;
use crate::error::Result;
use crate::index::lexical::Stats;
use crate::index::Backend;
use crate::rerank::{self, Reranker};

/// Scores of a hit by stage (absent where the stage did not see the passage).
#[derive(Debug, Clone, Default)]
pub struct StageScores {
    pub bm25: Option<f32>,
    pub vector: Option<f32>,
    pub fused: Option<f32>,
    /// The second-stage ranker's score (reranked hits come first, by this score).
    pub rerank: Option<f32>,
}

/// The answer to a search: the hits, the mode actually used, and any warnings (a fallback to
/// BM25 when the embedding model is unavailable).
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    pub mode: Mode,
    pub hits: Vec<Hit>,
    pub warnings: Vec<String>,
    /// Milliseconds spent embedding the query (absent when no embedding was made).
    pub embed_ms: Option<f64>,
    /// Milliseconds spent reranking (absent when no reranking ran).
    pub rerank_ms: Option<f64>,
}

/// One ranked passage.
#[derive(Debug, Clone)]
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

/// A ranked passage not loaded yet.
struct Pending {
    id: ChunkId,
    score: f32,
    scores: StageScores,
    cosine: Option<f32>,
}

/// A passage ranked by [`rank`], with what retrieval knew of it.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub chunk: Chunk,
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

/// The query's vector, or why there is none (then the mode falls back to BM25).
struct Embedded {
    mode: Mode,
    vector: Option<Vec<f32>>,
    embed_ms: Option<f64>,
    warnings: Vec<String>,
}

fn embed_query(
    index: &dyn Backend,
    embedder: Option<&dyn Embedder>,
    mode: Mode,
    query: &Query,
) -> Embedded {
    let mut out = Embedded {
        mode,
        vector: None,
        embed_ms: None,
        warnings: Vec::new(),
    };
    if mode == Mode::Bm25 {
        return out;
    }
    if let Some(v) = query.vector.as_ref().filter(|_| index.has_vectors()) {
        out.vector = Some(v.clone());
        return out;
    }
    match embedder.filter(|_| index.has_vectors()) {
        Some(e) => {
            let t = std::time::Instant::now();
            let r = e.embed_queries(&[query.text.as_str()]);
            out.embed_ms = Some(t.elapsed().as_secs_f64() * 1e3);
            match r {
                Ok(mut v) => out.vector = v.pop(),
                Err(err) => {
                    tracing::warn!(error = %err, "embedding the query failed; answering from BM25");
                    out.warnings
                        .push(format!("embedding the query failed ({err}); answered from BM25"));
                }
            }
        }
        None => out.warnings.push("vector search is not available (no embedding model or no vector index); answered from BM25".into()),
    }
    if out.vector.is_none() {
        out.mode = Mode::Bm25;
    }
    out
}

/// What a search runs on: an index, the query embedder and the reranker when there are
/// ones, and the configuration.
#[derive(Clone, Copy)]
pub struct Retriever<'a> {
    pub index: &'a dyn Backend,
    pub embedder: Option<&'a dyn Embedder>,
    pub reranker: Option<&'a Reranker>,
    pub config: &'a Config,
}

impl Retriever<'_> {
    /// Searches the index: lexical, vector or both fused. When vectors are asked for but the
    /// embedder is missing or fails, answers from BM25 and says so in the warnings.
    pub fn search(&self, query: &Query, req: &SearchRequest) -> Result<SearchOutcome> {
        let r = self.rank(query, req)?;
        let analyzer = self.index.analyzer();
        Ok(SearchOutcome {
            mode: r.mode,
            hits: r
                .items
                .into_iter()
                .enumerate()
                .map(|(i, it)| to_hit(analyzer, i + 1, it.score, it.scores, it.chunk, query))
                .collect(),
            warnings: r.warnings,
            embed_ms: r.embed_ms,
            rerank_ms: r.rerank_ms,
        })
    }

    /// [`Retriever::search`] without the presentation: the ranked passages themselves. `query`
    /// is `req.query` analysed.
    pub fn rank(&self, query: &Query, req: &SearchRequest) -> Result<RankedOutcome> {
        let ordered = self.order(query, req)?;
        let items = load(self.index, ordered.reranked, ordered.rest, req)?;
        Ok(RankedOutcome {
            mode: ordered.mode,
            items,
            warnings: ordered.warnings,
            embed_ms: ordered.embed_ms,
            rerank_ms: ordered.rerank_ms,
            query_vector: ordered.query_vector,
        })
    }
}

/// The order of a request's passages before the rest are loaded: the reranked ones (loaded,
/// best first), then the others in first-stage order.
pub struct Ordered {
    pub mode: Mode,
    pub reranked: Vec<Ranked>,
    rest: Vec<Pending>,
    pub warnings: Vec<String>,
    pub embed_ms: Option<f64>,
    pub rerank_ms: Option<f64>,
    pub query_vector: Option<Vec<f32>>,
}

impl Ordered {
    /// Every ordered passage's id, best first.
    pub fn ids(&self) -> Vec<ChunkId> {
        self.reranked
            .iter()
            .map(|r| r.chunk.id)
            .chain(self.rest.iter().map(|p| p.id))
            .collect()
    }
}

/// The first-stage lists of a hybrid search: lexical hits, vector hits, and their fusion.
pub struct Lists {
    pub lexical: Vec<crate::index::lexical::LexicalHit>,
    pub vector: Vec<(ChunkId, f32)>,
    pub fused: Vec<(ChunkId, f32)>,
}

impl Retriever<'_> {
    /// Every stage of [`Retriever::rank`] but loading the passages: validation, the caller's
    /// scope, the query's vector (with the fallback to BM25), the candidate lists, fusion and
    /// reranking.
    pub fn order(&self, query: &Query, req: &SearchRequest) -> Result<Ordered> {
        let Retriever {
            index,
            embedder,
            reranker,
            config,
        } = *self;
        validate(req, config)?;
        debug_assert_eq!(query.text, req.query);
        let cancel = &req.cancel;
        cancel.check("search")?;
        let Some(filters) = req.filters.within(req.scope) else {
            return Ok(Ordered {
                mode: req.mode,
                reranked: Vec::new(),
                rest: Vec::new(),
                warnings: Vec::new(),
                embed_ms: None,
                rerank_ms: None,
                query_vector: None,
            });
        };
        let req = &SearchRequest {
            filters,
            ..req.clone()
        };
        let embedded = embed_query(index, embedder, req.mode, query);
        cancel.check("search")?;
        let stage = Stage {
            index,
            query,
            req,
            config,
            boosts: config.search.boost.for_lang(query.lang),
        };
        let (reranked, rest, rerank_ms) = match (embedded.mode, &embedded.vector) {
            (Mode::Vector, Some(q)) => (Vec::new(), stage.vector_only(q)?, None),
            (Mode::Hybrid, Some(q)) => stage.hybrid(reranker, q)?,
            _ => (Vec::new(), stage.lexical_only()?, None),
        };
        Ok(Ordered {
            mode: embedded.mode,
            reranked,
            rest,
            warnings: embedded.warnings,
            embed_ms: embedded.embed_ms,
            rerank_ms,
            query_vector: embedded.vector,
        })
    }

    /// The hybrid lists of `query` (vector `q`) for `req` as [`Retriever::rank`] builds them,
    /// `depth` fused passages deep: what reranker training learns from.
    pub fn hybrid_lists(
        &self,
        query: &Query,
        q: &[f32],
        req: &SearchRequest,
        depth: usize,
    ) -> Result<Lists> {
        let stage = Stage {
            index: self.index,
            query,
            req,
            config: self.config,
            boosts: self.config.search.boost.for_lang(query.lang),
        };
        stage.lists(q, depth)
    }
}

/// One request's ranking stages, over one index.
struct Stage<'a> {
    index: &'a dyn Backend,
    query: &'a Query,
    /// The request with its filters narrowed to its scope.
    req: &'a SearchRequest,
    config: &'a Config,
    /// The BM25 profile of the query's language.
    boosts: &'a crate::config::FieldBoosts,
}

/// Passages reranked (loaded, best first), the rest in first-stage order, and the time the
/// reranking took.
type Staged = (Vec<Ranked>, Vec<Pending>, Option<f64>);

impl Stage<'_> {
    fn stats(&self) -> Stats {
        Stats::of(self.req.scope)
    }

    fn lexical_only(&self) -> Result<Vec<Pending>> {
        let hits = self.index.lexical(
            self.query,
            self.boosts,
            self.req.top_k,
            &self.req.filters.set,
            self.stats(),
        )?;
        Ok(hits
            .into_iter()
            .map(|h| Pending {
                id: h.key,
                score: h.score,
                scores: StageScores {
                    bm25: Some(h.score),
                    ..Default::default()
                },
                cosine: None,
            })
            .collect())
    }

    fn vector_only(&self, q: &[f32]) -> Result<Vec<Pending>> {
        let hits = self
            .index
            .nearest(q, self.req.top_k, &self.req.filters.set)?;
        Ok(hits
            .into_iter()
            .map(|(id, s)| Pending {
                id,
                score: s,
                scores: StageScores {
                    vector: Some(s),
                    ..Default::default()
                },
                cosine: Some(s),
            })
            .collect())
    }

    /// The lexical and vector lists and their fusion, `depth` passages deep.
    fn lists(&self, q: &[f32], depth: usize) -> Result<Lists> {
        let req = self.req;
        let fusion_config = req.fusion.as_ref().unwrap_or(&self.config.search.fusion);
        let cand = fusion_config.candidates.max(depth);
        let lexical = self.index.lexical(
            self.query,
            self.boosts,
            cand,
            &req.filters.set,
            self.stats(),
        )?;
        let lex = fusion::lexical_input(&lexical, fusion_config);
        let vector = self.index.nearest(q, cand, &req.filters.set)?;
        let fused = fusion::fuse(&lex, &vector, fusion_config, depth)?;
        Ok(Lists {
            lexical,
            vector,
            fused,
        })
    }

    /// Lexical and vector candidates, fused, the first ones reranked when a reranker is on.
    fn hybrid(&self, reranker: Option<&Reranker>, q: &[f32]) -> Result<Staged> {
        let req = self.req;
        let reranker = reranker.filter(|_| req.rerank);
        let depth = req.top_k.max(reranker.map_or(0, |r| r.candidates));
        let Lists {
            lexical: lex_hits,
            vector: vec,
            fused,
        } = self.lists(q, depth)?;
        let lex_map: HashMap<ChunkId, f32> = lex_hits.iter().map(|h| (h.key, h.score)).collect();
        let vec_map: HashMap<ChunkId, f32> = vec.iter().copied().collect();
        let pending = |id: ChunkId, s: f32| Pending {
            id,
            score: s,
            scores: StageScores {
                bm25: lex_map.get(&id).copied(),
                vector: vec_map.get(&id).copied(),
                fused: Some(s),
                rerank: None,
            },
            cosine: vec_map.get(&id).copied(),
        };
        req.cancel.check("search")?;
        let Some(rr) = reranker else {
            let rest = fused.iter().map(|&(id, s)| pending(id, s)).collect();
            return Ok((Vec::new(), rest, None));
        };
        let t = std::time::Instant::now();
        let ctx = rerank::Context::now(self.index, self.boosts, self.stats());
        let cands = rerank::candidates(&ctx, &fused, &lex_hits, &vec, Some(q), rr.candidates)?;
        let fused_score: HashMap<ChunkId, f32> = fused.iter().copied().collect();
        let mut items = Vec::with_capacity(req.top_k);
        let mut seen = std::collections::HashSet::new();
        for (c, score) in rr.rerank(&ctx, self.query, cands)? {
            seen.insert(c.chunk.id);
            let mut p = pending(
                c.chunk.id,
                fused_score.get(&c.chunk.id).copied().unwrap_or(0.0),
            );
            p.scores.rerank = Some(score);
            items.push(Ranked {
                score,
                scores: p.scores,
                cosine: c.cosine,
                chunk: c.chunk,
            });
        }
        let rerank_ms = Some(t.elapsed().as_secs_f64() * 1e3);
        // the fused passages beyond the reranked ones follow in fused order
        let rest = fused
            .iter()
            .filter(|(id, _)| !seen.contains(id))
            .map(|&(id, s)| pending(id, s))
            .collect();
        Ok((items, rest, rerank_ms))
    }
}

/// The first `top_k` of the reranked and then the pending passages, loaded, and checked once
/// more against the caller's scope.
fn load(
    index: &dyn Backend,
    reranked: Vec<Ranked>,
    pending: Vec<Pending>,
    req: &SearchRequest,
) -> Result<Vec<Ranked>> {
    let top_k = req.top_k;
    let mut items = reranked;
    items.truncate(top_k);
    for p in pending {
        if items.len() >= top_k {
            break;
        }
        req.cancel.check("search")?;
        let Some(Some(chunk)) = index.passages(&[p.id])?.pop() else {
            continue;
        };
        items.push(Ranked {
            chunk,
            score: p.score,
            scores: p.scores,
            cosine: p.cosine,
        });
    }
    let scope = req.scope;
    items.retain(|it| {
            let ok = scope.allows(it.chunk.meta.audience);
            if !ok {
                // cannot happen (the audience filter ran first); kept as the last line of defence
                tracing::error!(chunk = %it.chunk.id, "an internal passage reached a public search; dropped");
            }
            ok
        });
    Ok(items)
}

fn to_hit(
    analyzer: &crate::analyze::Analyzer,
    rank: usize,
    score: f32,
    scores: StageScores,
    c: Chunk,
    query: &Query,
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
