//! Reranker training: for every judged question of a data set, the engine's hybrid candidates
//! with their features and relevance; nDCG@10 of a scorer over them; training on several sets
//! (and leaving one out, to see what an unseen knowledge base gets).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analyze::Analyzer;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::eval::{self, Dataset};
use crate::rerank::features;
use crate::rerank::linear::{Group, LinearModel, TrainOptions};
use crate::text::Lang;

/// One question's candidates.
#[derive(Serialize, Deserialize)]
pub struct QueryData {
    pub qid: String,
    /// Corpus ids of the candidates, in fused order.
    pub ids: Vec<String>,
    pub features: Vec<Vec<f32>>,
    pub labels: Vec<f32>,
    /// Relevant passages of the question in the whole corpus.
    pub relevant: usize,
}

/// The candidates of every judged question of a data set.
#[derive(Serialize, Deserialize)]
pub struct SetData {
    pub name: String,
    /// The feature names the vectors follow.
    pub features: Vec<String>,
    /// The language of most of its questions.
    pub language: Lang,
    pub queries: Vec<QueryData>,
}

impl SetData {
    /// Whether most of its questions are asked of passages mostly in another language (it
    /// then trains the cross-lingual model).
    pub fn cross_lingual(&self) -> bool {
        let other = self
            .queries
            .iter()
            .filter(|q| features::mostly_other_language(&q.features))
            .count();
        other * 2 > self.queries.len()
    }
}

/// Retrieves `n` hybrid candidates for every judged question of `ds` (the engine's own
/// first stage over the set indexed in memory) and computes their features.
pub fn collect(
    ds: &Dataset,
    config: &Config,
    analyzer: &Arc<Analyzer>,
    n: usize,
    progress: bool,
) -> Result<SetData> {
    let calibration = Arc::new(crate::answer::Calibrations::builtin()?);
    let prep = eval::prepare(ds, config, analyzer, progress, true, None, calibration)?;
    let engine = &prep.engine;
    let mut queries = Vec::new();
    let judged: Vec<&(String, String)> = ds
        .queries
        .iter()
        .filter(|(id, _)| ds.qrels.contains_key(id))
        .collect();
    for (i, (qid, text)) in judged.iter().enumerate() {
        let mut query = engine.analyse(text);
        if engine.embed_query(&mut query)?.is_none() {
            return Err(Error::Internal("no vectors prepared".into()));
        }
        let (cands, feats) = engine.rerank_candidates(&query, n)?;
        let rel = &ds.qrels[qid.as_str()];
        let ids: Vec<String> = cands
            .iter()
            .map(|c| {
                ds.corpus
                    .get(c.chunk.id.0 as usize)
                    .map(|x| x.0.clone())
                    .unwrap_or_default()
            })
            .collect();
        queries.push(QueryData {
            qid: qid.clone(),
            labels: ids
                .iter()
                .map(|id| if rel.contains(id) { 1.0 } else { 0.0 })
                .collect(),
            ids,
            features: feats,
            relevant: rel.len(),
        });
        if progress && (i + 1) % 100 == 0 {
            eprint!("\r{}: {}/{} questions", ds.name, i + 1, judged.len());
        }
    }
    if progress {
        eprintln!("\r{}: {} questions", ds.name, judged.len());
    }
    Ok(SetData {
        name: ds.name.clone(),
        features: features::NAMES.iter().map(|s| s.to_string()).collect(),
        language: ds.language(),
        queries,
    })
}

/// Mean nDCG@10 over the set's questions when candidates are ordered by `model` (by the fused
/// order without one). Relevant passages beyond the candidates count as missed.
pub fn ndcg(set: &SetData, model: Option<&LinearModel>) -> f64 {
    let mut total = 0.0;
    for q in &set.queries {
        let mut order: Vec<(usize, f32)> = q
            .features
            .iter()
            .enumerate()
            .map(|(i, x)| (i, model.map_or(-(i as f32), |m| m.score(x))))
            .collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let ranked: Vec<&str> = order
            .iter()
            .map(|(i, _)| q.ids[*i].as_str())
            .filter(|id| *id != q.qid)
            .collect();
        let rel: std::collections::HashSet<String> = q
            .ids
            .iter()
            .zip(&q.labels)
            .filter(|(_, l)| **l > 0.0)
            .map(|(id, _)| id.clone())
            .collect();
        // the ideal counts every relevant passage, found or not
        let dcg = eval::ndcg_at(&ranked, &rel, 10) * ideal(rel.len().min(10));
        let best = ideal(q.relevant.min(10));
        if best > 0.0 {
            total += dcg / best;
        }
    }
    total / set.queries.len().max(1) as f64
}

fn ideal(n: usize) -> f64 {
    (0..n).map(|i| 1.0 / ((i + 2) as f64).log2()).sum()
}

/// Trains a model on the questions of `sets`; the fused rank is the unpenalised feature (with a
/// strong penalty the model keeps the hybrid order).
pub fn train(sets: &[&SetData], mut opts: TrainOptions) -> Result<LinearModel> {
    opts.unpenalised = features::NAMES.iter().position(|n| *n == "fused_rank_log");
    let groups: Vec<Group> = sets
        .iter()
        .flat_map(|s| s.queries.iter())
        .filter(|q| q.labels.iter().any(|l| *l > 0.0))
        .map(|q| {
            q.features
                .iter()
                .cloned()
                .zip(q.labels.iter().copied())
                .collect()
        })
        .collect();
    LinearModel::train(&features::NAMES, &groups, opts)
}

/// `folds`-fold cross-validation over questions (every set split the same way): each set's
/// mean nDCG@10 when every question is scored by a model trained without its fold. What a
/// model trained on all of these sets is expected to give on new questions of the same sets.
pub fn cross_validate(sets: &[&SetData], folds: usize, opts: TrainOptions) -> Result<Vec<f64>> {
    use rayon::prelude::*;
    let folds = folds.max(2);
    let per_fold: Vec<Vec<f64>> = (0..folds)
        .into_par_iter()
        .map(|f| -> Result<Vec<f64>> {
            let split = |held: bool| -> Vec<SetData> {
                sets.iter()
                    .map(|s| SetData {
                        name: s.name.clone(),
                        features: s.features.clone(),
                        language: s.language,
                        queries: s
                            .queries
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| (i % folds == f) == held)
                            .map(|(_, q)| QueryData {
                                qid: q.qid.clone(),
                                ids: q.ids.clone(),
                                features: q.features.clone(),
                                labels: q.labels.clone(),
                                relevant: q.relevant,
                            })
                            .collect(),
                    })
                    .collect()
            };
            let (train_sets, test_sets) = (split(false), split(true));
            let model = train(&train_sets.iter().collect::<Vec<_>>(), opts)?;
            Ok(test_sets
                .iter()
                .map(|t| ndcg(t, Some(&model)) * t.queries.len() as f64)
                .collect())
        })
        .collect::<Result<_>>()?;
    let mut sums = vec![0.0; sets.len()];
    for fold in per_fold {
        for (s, v) in sums.iter_mut().zip(fold) {
            *s += v;
        }
    }
    Ok(sums
        .iter()
        .zip(sets)
        .map(|(s, set)| s / set.queries.len().max(1) as f64)
        .collect())
}
