//! Second-stage reranking of the fused candidates: features of each (question, passage) pair
//! ([`features`]) scored by a learned linear model ([`linear::LinearModel`], pairwise logistic
//! loss, trained by `kefu rerank train` on the dev sets; the trained model ships in
//! `data/rerank.json` and is built into the binary), or by a user-supplied cross-encoder
//! ([`cross`]) when the configuration names one.

pub mod cross;
pub mod features;
pub mod linear;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::analyze::Query;
use crate::config::{Config, FieldBoosts};
use crate::domain::ChunkId;
use crate::error::{Error, Result};
use crate::index::lexical::LexicalHit;
use crate::index::vector::dot;
use crate::index::Backend;
use crate::text::Lang;

pub use features::{Candidate, Question};
pub use linear::LinearModel;

/// The trained model shipped with kefu (`kefu rerank train` writes it).
pub const BUILTIN_MODEL: &str = include_str!("../../data/rerank.json");

/// The model file: one linear model per question language (Chinese questions are short and
/// colloquial; the same evidence weighs differently), and one for questions asked of passages
/// mostly in the other language (trained on the cross-lingual sets; absent when there were
/// none, and those questions then get their language's model).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ModelFile {
    pub version: u32,
    pub en: LinearModel,
    pub zh: LinearModel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross: Option<LinearModel>,
}

impl ModelFile {
    /// The model for questions in `lang`, over candidates mostly in another language or not.
    pub fn choose(&self, lang: Lang, cross_lingual: bool) -> &LinearModel {
        match (&self.cross, cross_lingual, lang) {
            (Some(m), true, _) => m,
            (_, _, Lang::Zh) => &self.zh,
            (_, _, Lang::En) => &self.en,
        }
    }

    /// The model for one question's candidates (their feature vectors).
    pub fn for_question(&self, lang: Lang, features: &[Vec<f32>]) -> &LinearModel {
        self.choose(lang, features::mostly_other_language(features))
    }
}

/// What scores the candidates.
enum Scorer {
    Linear(Box<ModelFile>),
    Cross(Arc<cross::CrossEncoder>),
}

/// A second-stage ranker.
pub struct Reranker {
    scorer: Scorer,
    /// How many fused candidates are reranked.
    pub candidates: usize,
}

impl Reranker {
    /// The built-in linear model.
    pub fn builtin(candidates: usize) -> Result<Reranker> {
        Self::from_json(BUILTIN_MODEL, "the built-in reranker model", candidates)
    }

    /// A linear model from its JSON form (`what` names it in errors).
    pub fn from_json(json: &str, what: &str, candidates: usize) -> Result<Reranker> {
        let model: ModelFile = serde_json::from_str(json)
            .map_err(|e| Error::config("rerank.model", format!("{what} is unreadable: {e}")))?;
        Self::linear(model, candidates)
    }

    /// A reranker scoring with `model`.
    pub fn linear(model: ModelFile, candidates: usize) -> Result<Reranker> {
        for m in [Some(&model.en), Some(&model.zh), model.cross.as_ref()]
            .into_iter()
            .flatten()
        {
            m.check(&features::NAMES)
                .map_err(|e| Error::config("rerank.model", e.to_string()))?;
        }
        Ok(Reranker {
            scorer: Scorer::Linear(Box::new(model)),
            candidates: candidates.max(1),
        })
    }

    /// The reranker the configuration describes: `None` when reranking is off; the
    /// cross-encoder when `[rerank.cross_encoder]` names one, else the linear model from
    /// `rerank.model` or the built-in one.
    pub fn from_config(config: &Config) -> Result<Option<Reranker>> {
        let r = &config.rerank;
        if !r.enabled {
            return Ok(None);
        }
        if let Some(ce) = &r.cross_encoder {
            let model = cross::CrossEncoder::load(ce, config)?;
            return Ok(Some(Reranker {
                scorer: Scorer::Cross(Arc::new(model)),
                candidates: r.candidates.max(1),
            }));
        }
        if r.model.as_os_str().is_empty() {
            return Self::builtin(r.candidates).map(Some);
        }
        let text = std::fs::read_to_string(&r.model).map_err(|e| Error::io(&r.model, e))?;
        Self::from_json(&text, &r.model.display().to_string(), r.candidates).map(Some)
    }

    /// A short name of the scorer, for reports.
    pub fn kind(&self) -> &'static str {
        match self.scorer {
            Scorer::Linear(_) => "linear",
            Scorer::Cross(_) => "cross-encoder",
        }
    }

    /// Scores the candidates of one question and sorts them, best first (ties keep the first
    /// stage's order). Returns the candidates with their scores.
    pub fn rerank(
        &self,
        ctx: &Context<'_>,
        query: &Query,
        candidates: Vec<Candidate>,
    ) -> Result<Vec<(Candidate, f32)>> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let scores: Vec<f32> = match &self.scorer {
            Scorer::Linear(models) => {
                let q = Question::new(query);
                let x = features::extract(ctx, query, &q, &candidates)?;
                let model = models.for_question(q.lang, &x);
                x.iter().map(|x| model.score(x)).collect()
            }
            Scorer::Cross(model) => {
                let texts: Vec<&str> = candidates.iter().map(|c| c.chunk.text.as_str()).collect();
                model.score(&query.text, &texts)?
            }
        };
        let mut out: Vec<(Candidate, f32)> = candidates.into_iter().zip(scores).collect();
        out.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(a.0.fused_rank.cmp(&b.0.fused_rank))
        });
        Ok(out)
    }
}

/// What the features are computed against.
pub struct Context<'a> {
    pub index: &'a dyn Backend,
    /// The BM25 profile of the question's language.
    pub boosts: &'a FieldBoosts,
    /// Freshness is measured up to this day.
    pub today: NaiveDate,
    /// The passages the BM25 statistics are computed over (the caller's scope).
    pub stats: crate::index::lexical::Stats,
}

impl<'a> Context<'a> {
    /// The context of a request answered now.
    pub fn now(
        index: &'a dyn Backend,
        boosts: &'a FieldBoosts,
        stats: crate::index::lexical::Stats,
    ) -> Context<'a> {
        Context {
            index,
            boosts,
            today: chrono::Utc::now().date_naive(),
            stats,
        }
    }
}

/// The first `n` fused passages as rerank candidates, with what each list knew of them: the
/// lexical hits (ranks), the vector hits (ranks) and the question's vector
/// (the cosine of passages the vector list did not reach is computed from the stored vectors).
pub fn candidates(
    ctx: &Context<'_>,
    fused: &[(ChunkId, f32)],
    lexical: &[LexicalHit],
    vector: &[(ChunkId, f32)],
    qvec: Option<&[f32]>,
    n: usize,
) -> Result<Vec<Candidate>> {
    let lex: HashMap<ChunkId, (usize, &LexicalHit)> = lexical
        .iter()
        .enumerate()
        .map(|(i, h)| (h.key, (i, h)))
        .collect();
    let vec: HashMap<ChunkId, (usize, f32)> = vector
        .iter()
        .enumerate()
        .map(|(i, (k, s))| (*k, (i, *s)))
        .collect();
    let first: Vec<ChunkId> = fused.iter().take(n).map(|(k, _)| *k).collect();
    let chunks = ctx.index.passages(&first)?;
    let mut out = Vec::with_capacity(first.len());
    for (rank, (key, chunk)) in first.iter().zip(chunks).enumerate() {
        let Some(chunk) = chunk else { continue };
        let cosine = match vec.get(key) {
            Some((_, s)) => Some(*s),
            None => match (qvec, ctx.index.vector(*key)) {
                (Some(q), Some(v)) if q.len() == v.len() => Some(dot(q, v)),
                _ => None,
            },
        };
        out.push(Candidate {
            chunk,
            cosine,
            lex_rank: lex.get(key).map(|(i, _)| *i),
            vec_rank: vec.get(key).map(|(i, _)| *i),
            fused_rank: rank,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(weight: f32) -> LinearModel {
        let n = features::NAMES.len();
        LinearModel {
            version: linear::MODEL_VERSION,
            features: features::NAMES.iter().map(|s| s.to_string()).collect(),
            mean: vec![0.0; n],
            scale: vec![1.0; n],
            weights: vec![weight; n],
        }
    }

    #[test]
    fn questions_over_other_language_passages_get_the_cross_lingual_model() {
        let k = features::NAMES
            .iter()
            .position(|n| *n == "lang_match")
            .expect("lang_match");
        let with_match = |m: &[f32]| -> Vec<Vec<f32>> {
            m.iter()
                .map(|v| {
                    let mut x = vec![0.0; features::NAMES.len()];
                    x[k] = *v;
                    x
                })
                .collect()
        };
        let other = with_match(&[0.0, 0.0, 1.0]);
        let same = with_match(&[1.0, 0.0, 1.0]);
        assert!(features::mostly_other_language(&other));
        assert!(!features::mostly_other_language(&same));
        assert!(!features::mostly_other_language(&[]));

        let mut file = ModelFile {
            version: 1,
            en: model(1.0),
            zh: model(2.0),
            cross: Some(model(3.0)),
        };
        assert_eq!(file.for_question(Lang::Zh, &same).weights[0], 2.0);
        assert_eq!(file.for_question(Lang::En, &same).weights[0], 1.0);
        assert_eq!(file.for_question(Lang::Zh, &other).weights[0], 3.0);
        assert_eq!(file.for_question(Lang::En, &other).weights[0], 3.0);
        // a file without the cross-lingual model (written before it existed) still reads, and
        // such questions get their language's model
        file.cross = None;
        let json = serde_json::to_string(&file).expect("json");
        assert!(!json.contains("cross"));
        let back: ModelFile = serde_json::from_str(&json).expect("reads");
        assert_eq!(back.for_question(Lang::Zh, &other).weights[0], 2.0);
        // the shipped model has all three
        let shipped: ModelFile = serde_json::from_str(BUILTIN_MODEL).expect("built-in model");
        assert!(shipped.cross.is_some());
        assert!(Reranker::builtin(50).is_ok());
    }
}
