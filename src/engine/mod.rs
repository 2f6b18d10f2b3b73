//! The only place the stages are wired (L4): a search (analyse → retrieve), an answer, and the
//! turn pipeline an answer runs through ([`turn`]: named stages with their timings, and the
//! observers that watch every turn). Everything above — the HTTP service, the command line,
//! evaluation and training — goes through an [`Engine`]; nothing below knows of it.

pub mod answers;
pub mod chat;
pub mod turn;

use std::sync::Arc;

use crate::analyze::{Analyzer, Query};
use crate::answer;
use crate::answer::scope::{self as scope_check, Catalogue, Verdict};
use crate::config::Config;
use crate::embed::{self, Embedder as _};
use crate::error::Result;
use crate::index::lexical::Stats;
use crate::index::{vector, Backend, Generation, IndexDir};
use crate::models;
use crate::rerank;
use crate::retrieve::{self, Filters, Mode, Scope, SearchRequest};

pub use turn::{StageTiming, TurnObserver, TurnRecord};

/// The query side: an index and what is needed to search it and answer from it.
pub struct Engine {
    config: Config,
    generation: Generation,
    embedder: Option<Arc<dyn embed::Embedder>>,
    reranker: Option<Arc<rerank::Reranker>>,
    calibration: Arc<answer::Calibrations>,
    llm: Option<Arc<answer::llm::LlmClient>>,
    observers: Vec<Arc<dyn TurnObserver>>,
    /// What the knowledge base covers, for every caller and for public ones.
    catalogue: Arc<Catalogues>,
    /// Recent extractive answers (`answer.cache`), this generation's only.
    answers: Option<Arc<answers::AnswerCache>>,
    /// The policies' typed terms, for decisions.
    terms: Arc<crate::customer::terms::Terms>,
}

/// The policies' terms in the configured corpus; empty (no decisions, with a warning) when
/// they cannot be read.
fn load_terms(config: &Config) -> Arc<crate::customer::terms::Terms> {
    match crate::customer::terms::Terms::load(&config.corpus.dir) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            tracing::warn!("policy terms unreadable, no decisions will be taken: {e}");
            Arc::new(crate::customer::terms::Terms::default())
        }
    }
}

/// The catalogue of a generation as each scope sees it.
struct Catalogues {
    all: Catalogue,
    public: Catalogue,
}

impl Catalogues {
    fn of(generation: &Generation) -> Arc<Catalogues> {
        let docs = generation.documents();
        let analyzer = generation.analyzer();
        Arc::new(Catalogues {
            all: Catalogue::of(analyzer, &docs, false),
            public: Catalogue::of(analyzer, &docs, true),
        })
    }

    fn for_scope(&self, scope: Scope) -> &Catalogue {
        match scope {
            Scope::All => &self.all,
            Scope::Public => &self.public,
        }
    }
}

/// A question to answer.
#[derive(Debug, Clone)]
pub struct AnswerRequest {
    pub question: String,
    pub filters: Filters,
    /// What the caller may read (and so what may be cited).
    pub scope: Scope,
    /// Passages retrieved as evidence.
    pub passages: usize,
    /// Let the LLM composer write the answer when `[answer.llm]` is configured (false: always
    /// extractive).
    pub use_llm: bool,
    /// Stops the work when nobody waits for the answer any more.
    pub cancel: crate::cancel::Cancel,
}

impl AnswerRequest {
    /// `question` as a support bot asks it of `engine`: public passages, no filters, the
    /// configured number of passages, extractive unless `use_llm`.
    pub fn as_bot(engine: &Engine, question: String, use_llm: bool) -> AnswerRequest {
        AnswerRequest {
            question,
            filters: Filters::default(),
            scope: Scope::Public,
            passages: engine.config().answer.passages,
            use_llm,
            cancel: Default::default(),
        }
    }
}

/// Milliseconds spent in each stage of answering.
#[derive(Debug, Clone)]
pub struct Timings {
    /// Embedding the question (part of `retrieve_ms`).
    pub embed_ms: Option<f64>,
    /// Reranking the candidates (part of `retrieve_ms`).
    pub rerank_ms: Option<f64>,
    /// Retrieval as a whole (analysing the question, ranking, gathering the evidence).
    pub retrieve_ms: f64,
    /// Choosing and citing sentences, and the confidence.
    pub compose_ms: f64,
    pub total_ms: f64,
    /// Every stage of the turn by name, in order.
    pub stages: Vec<StageTiming>,
}

impl Timings {
    /// The timings of a turn's stages.
    fn of(stages: Vec<StageTiming>, embed_ms: Option<f64>, rerank_ms: Option<f64>) -> Timings {
        let ms = |names: &[&str]| -> f64 {
            stages
                .iter()
                .filter(|s| names.contains(&s.stage))
                .map(|s| s.ms)
                .sum()
        };
        Timings {
            embed_ms,
            rerank_ms,
            retrieve_ms: ms(&["analyse", "scope", "retrieve", "evidence"]),
            compose_ms: ms(&["compose", "write"]),
            total_ms: ms(&[
                "analyse", "cache", "scope", "retrieve", "evidence", "compose", "write",
            ]),
            stages,
        }
    }
}

/// An answer as returned to callers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub question: String,
    pub composed: answer::Composed,
    /// The retrieval mode used (bm25 when the embedding model is unavailable).
    pub mode: Mode,
    pub warnings: Vec<String>,
    pub timings: Timings,
    /// The passages the answer was composed from, best first (cited or not).
    pub evidence: Vec<crate::chunk::Chunk>,
}

impl Engine {
    /// Opens the live generation of the configured index folder, and the query embedder when
    /// the generation has vectors and the model is in the cache (it is not fetched here).
    pub fn open(config: Config, analyzer: Arc<Analyzer>) -> Result<Engine> {
        Self::open_reusing(config, analyzer, None)
    }

    /// [`Engine::open`], keeping the query embedder, reranker, calibration and observers of
    /// `previous` when they fit the new generation (so a swap after reindexing does not
    /// reload the model).
    pub fn open_reusing(
        config: Config,
        analyzer: Arc<Analyzer>,
        previous: Option<&Engine>,
    ) -> Result<Engine> {
        let fingerprint = analyzer.fingerprint().to_string();
        let generation = IndexDir::new(&config.index.dir)
            .open_current(analyzer, vector::HnswParams::of(&config.vector))?;
        if generation.manifest.analysis != fingerprint {
            tracing::warn!(
                generation = generation.number,
                "the live index was built with other analysis settings; results may be off until `kefu index` rebuilds it"
            );
        }
        let embedder = match (generation.has_vectors(), &generation.manifest.embedder) {
            (true, Some(fp)) if config.vector.enabled => {
                match previous.and_then(|p| p.embedder.clone()) {
                    Some(e) if e.fingerprint() == fp => Some(e),
                    _ => Self::query_embedder(&config, fp),
                }
            }
            _ => None,
        };
        let reranker = match previous {
            Some(p) if p.config.rerank == config.rerank => p.reranker.clone(),
            _ => rerank::Reranker::from_config(&config)?.map(Arc::new),
        };
        let calibration = match previous {
            Some(p) => p.calibration.clone(),
            None => Arc::new(answer::Calibrations::builtin()?),
        };
        let llm = config
            .answer
            .llm
            .as_ref()
            .map(|l| Arc::new(answer::llm::LlmClient::new(l)));
        let answers = answers::AnswerCache::new(config.answer.cache);
        let terms = load_terms(&config);
        Ok(Engine {
            terms,
            config,
            catalogue: Catalogues::of(&generation),
            generation,
            embedder,
            reranker,
            calibration,
            llm,
            observers: previous.map(|p| p.observers.clone()).unwrap_or_default(),
            answers,
        })
    }

    /// An engine over a generation held in memory (evaluation, training, tests), with the
    /// given query embedder, reranker and answer calibration.
    pub fn in_memory(
        config: Config,
        generation: Generation,
        embedder: Option<Arc<dyn embed::Embedder>>,
        reranker: Option<Arc<rerank::Reranker>>,
        calibration: Arc<answer::Calibrations>,
    ) -> Engine {
        Engine {
            terms: load_terms(&config),
            config,
            catalogue: Catalogues::of(&generation),
            generation,
            embedder,
            reranker,
            calibration,
            llm: None,
            observers: Vec::new(),
            // evaluation and training measure the work, not the cache
            answers: None,
        }
    }

    /// This engine over `generation` instead (everything else shared).
    pub fn with_generation(&self, generation: Generation) -> Engine {
        Engine {
            config: self.config.clone(),
            catalogue: Catalogues::of(&generation),
            generation,
            embedder: self.embedder.clone(),
            reranker: self.reranker.clone(),
            calibration: self.calibration.clone(),
            llm: self.llm.clone(),
            observers: self.observers.clone(),
            answers: answers::AnswerCache::new(self.config.answer.cache),
            terms: load_terms(&self.config),
        }
    }

    fn query_embedder(config: &Config, fingerprint: &str) -> Option<Arc<dyn embed::Embedder>> {
        let Some(files) = models::find(config) else {
            tracing::warn!("the embedding model is not in the cache (run `kefu models fetch`); answering from BM25");
            return None;
        };
        match embed::E5Embedder::load(&files, embed::E5Options::for_queries(&config.vector)) {
            Ok(e) if e.fingerprint() == fingerprint => {
                let e: Arc<dyn embed::Embedder> = Arc::new(e);
                Some(match config.vector.query_cache {
                    0 => e,
                    n => Arc::new(embed::cache::CachedQueries::new(e, n)),
                })
            }
            Ok(_) => {
                tracing::warn!("the index was embedded with another model version; answering from BM25 until `kefu index` rebuilds it");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "the embedding model could not be loaded; answering from BM25");
                None
            }
        }
    }

    /// This engine with another answer calibration (everything else shared).
    pub fn with_calibration(&self, calibration: Arc<answer::Calibrations>) -> Engine {
        Engine {
            config: self.config.clone(),
            generation: self.generation.clone(),
            embedder: self.embedder.clone(),
            reranker: self.reranker.clone(),
            calibration,
            llm: self.llm.clone(),
            observers: self.observers.clone(),
            catalogue: self.catalogue.clone(),
            // another calibration gives other answers
            answers: None,
            terms: self.terms.clone(),
        }
    }

    /// The answer calibration.
    pub fn calibration(&self) -> &answer::Calibrations {
        &self.calibration
    }

    /// Adds an observer told of every answered turn.
    pub fn observe(&mut self, observer: Arc<dyn TurnObserver>) {
        self.observers.push(observer);
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The live generation.
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// The index, as the stages read it.
    pub fn index(&self) -> &dyn Backend {
        &self.generation
    }

    /// The query embedder, when vectors are available.
    pub fn embedder(&self) -> Option<&dyn embed::Embedder> {
        self.embedder.as_deref()
    }

    /// Whether vector and hybrid retrieval are available.
    pub fn has_vectors(&self) -> bool {
        self.embedder.is_some() && self.generation.has_vectors()
    }

    /// The question analysed once for every stage.
    pub fn analyse(&self, text: &str) -> Query {
        Query::new(self.generation.analyzer(), text)
    }

    /// Embeds the question ahead of retrieval (so that several searches share one embedding);
    /// the milliseconds it took, or `None` without an embedder or vectors.
    pub fn embed_query(&self, query: &mut Query) -> Result<Option<f64>> {
        let Some(e) = self.embedder.as_deref().filter(|_| self.has_vectors()) else {
            return Ok(None);
        };
        let t = std::time::Instant::now();
        query.vector = e.embed_queries(&[query.text.as_str()])?.pop();
        Ok(Some(t.elapsed().as_secs_f64() * 1e3))
    }

    /// What searches run on.
    fn retriever(&self) -> retrieve::Retriever<'_> {
        retrieve::Retriever {
            index: &self.generation,
            embedder: self.embedder.as_deref(),
            reranker: self.reranker.as_deref(),
            config: &self.config,
        }
    }

    /// The order of a search's passages, without loading those past the reranked ones.
    pub fn order(&self, query: &Query, req: &SearchRequest) -> Result<retrieve::Ordered> {
        self.retriever().order(query, req)
    }

    /// The first `n` hybrid candidates of an unfiltered search for `query` and their reranking
    /// features, in fused order (what reranker training learns from); `query` must carry its
    /// vector.
    pub fn rerank_candidates(
        &self,
        query: &Query,
        n: usize,
    ) -> Result<(Vec<rerank::Candidate>, Vec<Vec<f32>>)> {
        let Some(q) = query.vector.as_deref() else {
            return Err(crate::Error::Internal(
                "reranking candidates need the question's vector".into(),
            ));
        };
        let req = SearchRequest {
            query: query.text.clone(),
            top_k: n.max(1),
            mode: Mode::Hybrid,
            filters: Filters::default(),
            scope: Scope::All,
            fusion: None,
            rerank: false,
            cancel: Default::default(),
        };
        let lists = self.retriever().hybrid_lists(query, q, &req, n)?;
        let ctx = rerank::Context::now(
            &self.generation,
            self.config.search.boost.for_lang(query.lang),
            Stats::All,
        );
        let cands = rerank::candidates(
            &ctx,
            &lists.fused,
            &lists.lexical,
            &lists.vector,
            Some(q),
            n,
        )?;
        let features =
            rerank::features::extract(&ctx, query, &rerank::Question::new(query), &cands)?;
        Ok((cands, features))
    }

    /// Searches the live generation.
    pub fn search(&self, req: &SearchRequest) -> Result<retrieve::SearchOutcome> {
        let query = self.analyse(&req.query);
        self.retriever().search(&query, req)
    }

    /// Answers a question from the live generation: hybrid retrieval, reranking, and the
    /// extractive composer with citations (or the LLM composer when `[answer.llm]` is set), or
    /// an abstention.
    pub fn answer(&self, req: &AnswerRequest) -> Result<Answer> {
        self.answer_streaming(req, &mut |_| true)
    }

    /// [`Engine::answer`], telling `sink` each sentence as soon as it is checked.
    pub fn answer_streaming(&self, req: &AnswerRequest, sink: answer::Sink<'_>) -> Result<Answer> {
        let mut turn = turn::Turn::start();
        let query = turn.stage("analyse", || self.analyse(&req.question));
        // an extractive answer given before is given again
        let cache = self
            .answers
            .as_ref()
            .filter(|_| !(req.use_llm && self.llm.is_some()))
            .map(|c| (c, answers::AnswerCache::key(req)));
        if let Some((c, key)) = &cache {
            if let Some(hit) = turn.stage("cache", || c.get(key)) {
                answer::Composer::emit_all(&hit.composed, sink);
                let mut again = (*hit).clone();
                again.question = req.question.clone();
                again.timings = Timings::of(turn.finish(), None, None);
                return Ok(self.observed(&query, req.scope, again));
            }
        }
        let stats = Stats::of(req.scope);
        let verdict = turn.stage("scope", || self.scope(&query, req.scope))?;
        let (models, categories) = match verdict {
            Verdict::InScope { models, categories } => (models, categories),
            Verdict::OutOfScope { why } => {
                return Ok(self.abstain_early(req, &query, turn, answer::Reason::OutOfScope, why));
            }
            Verdict::NeedsAccount { why } => {
                return Ok(self.abstain_early(
                    req,
                    &query,
                    turn,
                    answer::Reason::NeedsAccount,
                    why,
                ));
            }
        };
        let narrowed = !models.is_empty() || !categories.is_empty();
        let ranked = turn.stage("retrieve", || self.retrieve(&query, req, narrowed))?;
        let boosts = self.config.search.boost.for_lang(query.lang);
        let index = self.index();
        let evidence = turn.stage("evidence", || {
            answer::Evidence::gather(
                index,
                boosts,
                &query,
                ranked
                    .items
                    .iter()
                    .filter(|r| scope_check::Scope::may_cite(&models, &categories, &r.chunk.meta))
                    .take(req.passages.max(1))
                    .map(|r| (r.chunk.clone(), r.cosine, r.score))
                    .collect(),
                stats,
            )
        })?;
        req.cancel.check("answering")?;
        let composer = answer::Composer {
            index,
            embedder: self.embedder.as_deref(),
            calibrations: &self.calibration,
            options: self.config.answer.extract_options(),
        };
        let composed = turn.stage("compose", || -> Result<answer::Composed> {
            let background = answer::Background {
                known_share: index.known_share(&query, boosts, stats)?,
                centroid_cosine: match (&ranked.query_vector, index.centroid(stats)) {
                    (Some(q), Some(c)) => Some(vector::dot(q, c)),
                    _ => None,
                },
            };
            composer.compose(
                &query,
                ranked.query_vector.as_deref(),
                &evidence,
                background,
            )
        })?;
        let composed = turn.stage("write", || match (&self.llm, &self.config.answer.llm) {
            (Some(client), Some(limits)) if req.use_llm => {
                composer.compose_llm(client, limits, &query, &evidence, composed, sink)
            }
            _ => {
                answer::Composer::emit_all(&composed, sink);
                composed
            }
        });
        let answer = Answer {
            question: req.question.clone(),
            composed,
            mode: ranked.mode,
            warnings: ranked.warnings,
            timings: Timings::of(turn.finish(), ranked.embed_ms, ranked.rerank_ms),
            evidence: evidence.into_iter().map(|e| e.chunk).collect(),
        };
        if let Some((c, key)) = cache {
            let mut kept = answer.clone();
            // the weighed candidates are for training, not for asking again
            kept.composed.candidates = Vec::new();
            c.put(key, kept);
        }
        Ok(self.observed(&query, req.scope, answer))
    }

    /// Tells the observers of a finished turn.
    fn observed(&self, query: &Query, scope: Scope, answer: Answer) -> Answer {
        let record = TurnRecord {
            query,
            scope,
            answer: &answer,
        };
        for o in &self.observers {
            o.observe(&record);
        }
        answer
    }

    /// Whether the question is one the knowledge base may answer (as `scope` sees it).
    pub fn scope(&self, query: &Query, scope: Scope) -> Result<Verdict> {
        scope_check::Scope {
            catalogue: self.catalogue.for_scope(scope),
            lexicon: answer::scope::Lexicon::builtin(),
            index: &self.generation,
            stats: Stats::of(scope),
        }
        .check(query)
    }

    /// The policies' typed terms decisions are taken with.
    pub fn terms(&self) -> &crate::customer::terms::Terms {
        &self.terms
    }

    /// The catalogue models a text names (by name, alias or shorthand), whatever else it asks.
    pub fn models_named(&self, text: &str, scope: Scope) -> Vec<String> {
        let query = self.analyse(text);
        scope_check::Scope {
            catalogue: self.catalogue.for_scope(scope),
            lexicon: answer::scope::Lexicon::builtin(),
            index: &self.generation,
            stats: Stats::of(scope),
        }
        .models_named(&query)
        .map(|(models, _)| models.into_iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default()
    }

    /// The models of a category in the catalogue.
    pub fn models_of(&self, category: &str, scope: Scope) -> Vec<String> {
        self.catalogue
            .for_scope(scope)
            .models
            .iter()
            .filter(|m| m.category.as_deref() == Some(category))
            .map(|m| m.name.clone())
            .collect()
    }

    /// The answer to a question the scope check turned away.
    fn abstain_early(
        &self,
        req: &AnswerRequest,
        query: &Query,
        turn: turn::Turn,
        reason: answer::Reason,
        why: String,
    ) -> Answer {
        let answer = Answer {
            question: req.question.clone(),
            composed: answer::Composed::abstention(query.lang, reason, why),
            mode: if self.has_vectors() {
                Mode::Hybrid
            } else {
                Mode::Bm25
            },
            warnings: Vec::new(),
            timings: Timings::of(turn.finish(), None, None),
            evidence: Vec::new(),
        };
        self.observed(query, req.scope, answer)
    }

    /// An answer's retrieval: hybrid, reranked; the top `passages` (the evidence), or more
    /// when the question is `narrowed` to some models or kinds of product (the passages about
    /// others are left out after).
    pub fn retrieve(
        &self,
        query: &Query,
        req: &AnswerRequest,
        narrowed: bool,
    ) -> Result<retrieve::RankedOutcome> {
        let depth = if narrowed {
            req.passages.saturating_mul(3)
        } else {
            req.passages
        };
        let sreq = SearchRequest {
            query: req.question.clone(),
            top_k: depth.clamp(1, self.config.search.max_top_k),
            mode: Mode::Hybrid,
            filters: req.filters.clone(),
            scope: req.scope,
            fusion: None,
            rerank: true,
            cancel: req.cancel.clone(),
        };
        self.retriever().rank(query, &sreq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::memory;

    /// An engine over two small documents held in memory (no model, BM25 only).
    fn engine() -> Engine {
        let config = Config::default();
        let analyzer = Arc::new(Analyzer::new(&config.analysis).expect("analyzer"));
        let docs = [
            (
                "warranty.md",
                "---\nid: warranty\naudience: public\n---\n# Warranty\n\nThe X9 Pro battery is covered for 12 months from delivery.\n",
            ),
            (
                "goodwill.md",
                "---\nid: goodwill\naudience: internal\n---\n# Goodwill\n\nAgents may extend the X9 Pro battery warranty by 3 months once.\n",
            ),
        ];
        let mut chunks = Vec::new();
        for (rel, src) in docs {
            let ing = crate::ingest::parse_bytes(
                src.as_bytes(),
                crate::ingest::Format::Markdown,
                std::path::Path::new(rel),
                rel,
                &config,
            )
            .expect("parses");
            for d in &ing.documents {
                chunks.extend(crate::chunk::chunk_document(d, &config.chunk));
            }
        }
        let hnsw = vector::HnswParams::of(&config.vector);
        let (generation, _) =
            memory::build(&analyzer, &chunks, None, hnsw, 64, &mut |_, _| {}).expect("builds");
        let calibration = Arc::new(answer::Calibrations::builtin().expect("calibration"));
        Engine::in_memory(config, generation, None, None, calibration)
    }

    fn search(engine: &Engine, query: &str, scope: Scope) -> retrieve::SearchOutcome {
        engine
            .search(&SearchRequest {
                query: query.into(),
                top_k: 5,
                mode: Mode::Hybrid,
                filters: Filters::default(),
                scope,
                fusion: None,
                rerank: true,
                cancel: Default::default(),
            })
            .expect("search")
    }

    #[test]
    fn a_search_without_vectors_answers_from_bm25_and_says_so() {
        let out = search(&engine(), "X9 Pro battery warranty", Scope::All);
        assert_eq!(out.mode, Mode::Bm25);
        assert!(out.warnings.iter().any(|w| w.contains("BM25")));
        assert_eq!(out.hits.len(), 2);
    }

    #[test]
    fn a_public_caller_never_receives_an_internal_passage() {
        let out = search(&engine(), "X9 Pro battery warranty", Scope::Public);
        assert!(!out.hits.is_empty());
        assert!(
            out.hits.iter().all(|h| h.audience == "public"),
            "{:?}",
            out.hits
        );
    }

    #[test]
    fn an_answer_runs_every_stage_of_the_turn_and_tells_the_observers() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl TurnObserver for Count {
            fn observe(&self, turn: &TurnRecord<'_>) {
                assert_eq!(turn.query.text, turn.answer.question);
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let mut engine = engine();
        let count = Arc::new(Count(Default::default()));
        engine.observe(count.clone());
        let answer = engine
            .answer(&AnswerRequest {
                question: "How long is the X9 Pro battery covered?".into(),
                filters: Filters::default(),
                scope: Scope::Public,
                passages: 5,
                use_llm: false,
                cancel: Default::default(),
            })
            .expect("answer");
        let stages: Vec<&str> = answer.timings.stages.iter().map(|s| s.stage).collect();
        assert_eq!(
            stages,
            ["analyse", "scope", "retrieve", "evidence", "compose", "write"]
        );
        assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(answer
            .evidence
            .iter()
            .all(|c| c.meta.audience == crate::domain::Audience::Public));
    }
}
