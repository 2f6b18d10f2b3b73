//! Reranker training: for every judged question of a data set, the engine's hybrid candidates
//! with their features and relevance; nDCG@10 of a scorer over them; training on several sets
//! (and leaving one out, to see what an unseen knowledge base gets).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analyze::Analyzer;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::eval::{self, Dataset};
use crate::rerank::features;
use crate::rerank::linear::{Group, LinearModel, TrainOptions};
use crate::rerank::ModelFile;
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

/// The candidates and features of every data set named in `sets` (every BEIR-layout folder of
/// `eval_dir` when empty; at least two), `n` per question; with `cache`, each set's are kept
/// there and reused while their feature names and the text analysis match.
pub fn collect_sets(
    config: &Config,
    eval_dir: &Path,
    sets: &[String],
    n: usize,
    cache: Option<&Path>,
) -> Result<Vec<SetData>> {
    let names: Vec<String> = if sets.is_empty() {
        let mut v: Vec<String> = std::fs::read_dir(eval_dir)
            .map_err(|e| Error::io(eval_dir, e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("qrels.tsv").exists())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    } else {
        sets.to_vec()
    };
    if names.len() < 2 {
        return Err(Error::InvalidRequest(format!(
            "training needs at least two data sets (found {} in {})",
            names.len(),
            eval_dir.display()
        )));
    }
    let analyzer = crate::analyzer(config)?;
    let mut data = Vec::new();
    for name in &names {
        // features depend on how text is analysed: a changed analyzer makes a new file
        let analysis = blake3::hash(analyzer.fingerprint().as_bytes()).to_hex();
        let cached = cache.map(|c| c.join(format!("{name}-{n}-{}.json", &analysis[..12])));
        if let Some(set) = cached
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<SetData>(&b).ok())
            .filter(|s| {
                s.features
                    .iter()
                    .map(String::as_str)
                    .eq(crate::rerank::features::NAMES)
            })
        {
            data.push(set);
            continue;
        }
        let dir = eval_dir.join(name);
        let ds = Dataset::load(&dir)?;
        let set = collect(&ds, config, &analyzer, n, true)?;
        if let Some(p) = &cached {
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            }
            let bytes = serde_json::to_vec(&set).map_err(|e| Error::Internal(e.to_string()))?;
            std::fs::write(p, bytes).map_err(|e| Error::io(p, e))?;
        }
        data.push(set);
    }
    Ok(data)
}

/// One model per question language and one cross-lingual, each with the L2 penalty among
/// `l2` that gives its sets the best mean cross-validated nDCG@10; `say` is told each
/// penalty's figures and the table of hybrid, cross-validated, left-out and trained nDCG@10.
pub fn train_models(data: &[SetData], l2: &[f64], say: &mut dyn FnMut(&str)) -> Result<ModelFile> {
    // one model per question language (trained on every set of questions in it) and one for
    // questions over passages mostly in the other language (the cross-lingual sets), each with
    // the penalty that gives its sets the
    // best mean 4-fold cross-validated nDCG@10 (new questions of known sets); the left-out
    // figure is the model trained on the group's other sets (a set never seen)
    let mut trained: Vec<(&str, crate::rerank::LinearModel)> = Vec::new();
    let mut table: Vec<Row> = Vec::new();
    for (group, lang, cross) in [
        ("en", Lang::En, false),
        ("zh", Lang::Zh, false),
        ("cross", Lang::Zh, true),
    ] {
        let sets: Vec<&SetData> = data
            .iter()
            .filter(|s| {
                if cross {
                    s.cross_lingual()
                } else {
                    s.language == lang
                }
            })
            .collect();
        if sets.is_empty() {
            if cross {
                say("no cross-lingual data set: no cross-lingual model");
                continue;
            }
            return Err(Error::InvalidRequest(format!(
                "no data set with {} questions to train on",
                lang.as_str()
            )));
        }
        let (penalty, cv, left_out) = choose_penalty(&sets, l2, group, say)?;
        let opts = crate::rerank::linear::TrainOptions {
            l2: penalty,
            ..Default::default()
        };
        let model = train(&sets, opts)?;
        say(&format!("{group}: chosen l2 {penalty}"));
        for ((set, cv), lo) in sets.iter().zip(cv).zip(left_out) {
            let row = (
                set.name.clone(),
                set.queries.len(),
                ndcg(set, None),
                cv,
                lo,
                ndcg(set, Some(&model)),
            );
            // a cross-lingual set is ranked by the cross-lingual model; left out of it too, it
            // would get its question language's model trained without it (computed above)
            match table.iter_mut().find(|r| r.0 == row.0) {
                Some(r) => *r = (row.0, row.1, row.2, row.3, row.4.or(r.4), row.5),
                None => table.push(row),
            }
        }
        trained.push((group, model));
    }
    report(&table, &trained, say);
    let mut take = |g: &str| {
        trained
            .iter()
            .position(|(name, _)| *name == g)
            .map(|i| trained.swap_remove(i).1)
    };
    let (Some(en), Some(zh)) = (take("en"), take("zh")) else {
        return Err(Error::Internal("a language has no model".into()));
    };
    Ok(ModelFile {
        version: 1,
        en,
        zh,
        cross: take("cross"),
    })
}

/// A line of the training report: set, questions, nDCG@10 of hybrid, cross-validated,
/// left out, and with the trained model.
type Row = (String, usize, f64, f64, Option<f64>, f64);

/// The L2 penalty among `l2` that gives `sets` the best mean 4-fold cross-validated nDCG@10,
/// with each set's cross-validated figure and its figure when left out of training.
fn choose_penalty(
    sets: &[&SetData],
    l2: &[f64],
    group: &str,
    say: &mut dyn FnMut(&str),
) -> Result<(f64, Vec<f64>, Vec<Option<f64>>)> {
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|v| format!("{v:.4}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // (penalty, mean cross-validated nDCG, per set: cross-validated, left out)
    type Tried = (f64, f64, Vec<f64>, Vec<Option<f64>>);
    let mut best: Option<Tried> = None;
    for &penalty in l2 {
        let opts = crate::rerank::linear::TrainOptions {
            l2: penalty,
            ..Default::default()
        };
        let (cv, left_out) = rayon::join(
            || cross_validate(sets, 4, opts),
            || -> crate::Result<Vec<Option<f64>>> {
                use rayon::prelude::*;
                (0..sets.len())
                    .into_par_iter()
                    .map(|i| {
                        let others: Vec<&SetData> = sets
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != i)
                            .map(|(_, s)| *s)
                            .collect();
                        if others.is_empty() {
                            return Ok(None);
                        }
                        Ok(Some(ndcg(sets[i], Some(&train(&others, opts)?))))
                    })
                    .collect()
            },
        );
        let (cv, left_out) = (cv?, left_out?);
        let mean = cv.iter().sum::<f64>() / cv.len() as f64;
        say(&format!(
            "{group} l2 {penalty:<8} cross-validated: {} (mean {mean:.4})",
            fmt(&cv)
        ));
        if best.as_ref().is_none_or(|b| mean > b.1) {
            best = Some((penalty, mean, cv, left_out));
        }
    }
    best.map(|(penalty, _, cv, left_out)| (penalty, cv, left_out))
        .ok_or_else(|| Error::InvalidRequest("no L2 penalty given".into()))
}

/// Says the per-set table and each model's largest weights.
fn report(
    table: &[Row],
    trained: &[(&str, crate::rerank::LinearModel)],
    say: &mut dyn FnMut(&str),
) {
    say(&format!(
        "{:<18} {:>7} {:>8} {:>14} {:>9} {:>9}",
        "dataset", "queries", "hybrid", "cross-valid.", "left-out", "trained"
    ));
    for (name, n, hybrid, cv, lo, trained) in table {
        say(&format!(
            "{:<18} {:>7} {:>8.4} {:>14.4} {:>9} {:>9.4}",
            name,
            n,
            hybrid,
            cv,
            lo.map_or("-".to_string(), |v| format!("{v:.4}")),
            trained
        ));
    }
    for (group, model) in trained {
        let mut weights: Vec<(&String, f32)> = model
            .features
            .iter()
            .zip(model.weights.iter().copied())
            .collect();
        weights.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        say(&format!(
            "{group} weights (standardised features, largest first):"
        ));
        for (f, w) in weights.iter().take(12) {
            say(&format!("  {f:<18} {w:+.4}"));
        }
    }
}
