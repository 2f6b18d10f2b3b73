//! Training the sentence model ([`crate::answer::weigh`]): customer questions whose answers'
//! facts are known are asked of the knowledge base; every candidate sentence the composer
//! weighs is an example, good when it holds one of the question's facts. A linear ranker is
//! trained to put each question's good sentences above its others, and its score is mapped to a
//! probability ([`train`]). The ranker's weights are not constrained: a feature may weigh
//! against a sentence when the training questions say so (the shipped model weighs a section
//! title sharing the question's words slightly against, as the passage's coverage carries it).

use std::path::PathBuf;
use std::sync::Arc;

use crate::answer::confidence::logistic;
use crate::answer::weigh::{SentenceModel, FEATURES, VERSION};
use crate::engine::{AnswerRequest, Engine};
use crate::error::{Error, Result};
use crate::eval::exam::{normalise, Exam, Expect};
use crate::rerank::linear::{Group, LinearModel, TrainOptions};

/// One question's candidate sentences: their features and whether each holds a fact.
pub struct Weighed {
    pub features: Vec<Vec<f32>>,
    pub good: Vec<bool>,
}

/// The candidates of every answerable question of `exams` that has at least one good one
/// (when none holds a fact the evidence missed it, and no weighing of sentences can help).
pub fn weighed(
    engine: &Engine,
    exams: &[PathBuf],
    say: &mut dyn FnMut(&str),
) -> Result<Vec<Weighed>> {
    let engine = engine.with_calibration(Arc::new(engine.calibration().never_abstaining()));
    let mut out = Vec::new();
    for path in exams {
        let exam = Exam::load(path)?;
        let (mut asked, mut missed) = (0, 0);
        for q in exam.questions.iter().filter(|q| q.expect == Expect::Answer) {
            asked += 1;
            let answer =
                engine.answer(&AnswerRequest::as_bot(&engine, q.question.clone(), false))?;
            let facts: Vec<String> = q.facts.iter().flatten().map(|f| normalise(f)).collect();
            let cands = &answer.composed.candidates;
            let good: Vec<bool> = cands
                .iter()
                .map(|c| {
                    let shown = normalise(&c.shown);
                    facts.iter().any(|f| shown.contains(f.as_str()))
                })
                .collect();
            if !good.contains(&true) {
                missed += 1;
                continue;
            }
            out.push(Weighed {
                features: cands.iter().map(|c| c.features.clone()).collect(),
                good,
            });
        }
        say(&format!(
            "{}: {asked} answerable questions, {missed} with no candidate sentence holding a fact",
            path.display()
        ));
    }
    Ok(out)
}

/// Share of questions whose best-weighed sentence under `model` holds a fact.
pub fn lead_accuracy(model: &SentenceModel, questions: &[Weighed]) -> f64 {
    if questions.is_empty() {
        return 0.0;
    }
    let right = questions
        .iter()
        .filter(|q| {
            q.features
                .iter()
                .map(|x| model.score(x))
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .is_some_and(|(i, _)| q.good[i])
        })
        .count();
    right as f64 / questions.len() as f64
}

/// Fits the sentence model on weighed questions: a linear ranker trained to put each
/// question's good sentences above its others (the pairwise logistic loss of
/// [`crate::rerank::linear`]), then its scores mapped to the probability that a sentence is
/// good (a one-feature logistic fit, each question weighing the same and its good and other
/// sentences half each).
pub fn train(questions: &[Weighed], about: &str) -> Result<SentenceModel> {
    let groups: Vec<Group> = questions
        .iter()
        .map(|q| {
            q.features
                .iter()
                .zip(&q.good)
                .map(|(x, g)| (x.clone(), f32::from(u8::from(*g))))
                .collect()
        })
        .collect();
    if groups.is_empty() {
        return Err(Error::InvalidRequest(
            "no question had a candidate sentence holding one of its facts".into(),
        ));
    }
    let ranker = LinearModel::train(&FEATURES, &groups, TrainOptions::default())?;
    // the ranker over raw features: Σ w (x − mean) / scale
    let raw: Vec<f32> = ranker
        .weights
        .iter()
        .zip(&ranker.scale)
        .map(|(w, s)| w / s)
        .collect();
    let offset: f32 = -raw
        .iter()
        .zip(&ranker.mean)
        .map(|(w, m)| w * m)
        .sum::<f32>();
    let (mut xs, mut ys, mut ws) = (Vec::new(), Vec::new(), Vec::new());
    for q in questions {
        let n_good = q.good.iter().filter(|g| **g).count();
        let n_other = q.good.len() - n_good;
        for (x, g) in q.features.iter().zip(&q.good) {
            xs.push(vec![ranker.score(x)]);
            ys.push(*g);
            let share = if *g { n_good } else { n_other };
            ws.push(if n_other == 0 { 1.0 } else { 0.5 } / share.max(1) as f64);
        }
    }
    let (scale, bias) = logistic(&xs, &ys, &ws, &[true])?;
    let a = scale.first().copied().unwrap_or(0.0);
    Ok(SentenceModel {
        version: VERSION,
        about: about.to_string(),
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
        weights: raw.iter().map(|w| a * w).collect(),
        bias: a * offset + bias,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_learns_which_feature_marks_the_good_sentences() {
        // good sentences have high overlap; similarity says nothing
        let mut questions = Vec::new();
        for i in 0..40 {
            let mut features = Vec::new();
            let mut good = Vec::new();
            for j in 0..6 {
                let mut x = vec![0.0; FEATURES.len()];
                x[0] = ((i * 7 + j * 3) % 10) as f32 / 10.0;
                let is_good = j == i % 6;
                x[1] = if is_good { 0.8 } else { 0.2 };
                features.push(x);
                good.push(is_good);
            }
            questions.push(Weighed { features, good });
        }
        let model = train(&questions, "test").expect("fits");
        assert!(model.weights[1] > 0.0);
        assert_eq!(lead_accuracy(&model, &questions), 1.0);
        assert!(lead_accuracy(&SentenceModel::hand_set(), &questions) < 1.0);
    }
}
