//! A linear ranking model trained with the pairwise logistic loss (RankNet with a linear
//! scorer): for every pair of candidates of one question where `a` is more relevant than `b`,
//! loss = log(1 + exp(−(s_a − s_b))), plus an L2 penalty. Features are standardised with the
//! training set's mean and spread, stored in the model. Training is full-batch gradient descent
//! with a backtracking line search: deterministic, no tuning of a learning rate.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file format version of [`LinearModel`].
pub const MODEL_VERSION: u32 = 1;

/// One question's candidates: (features, graded relevance).
pub type Group = Vec<(Vec<f32>, f32)>;

/// A trained model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinearModel {
    pub version: u32,
    /// Feature names, in the order of the feature vectors.
    pub features: Vec<String>,
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    pub weights: Vec<f32>,
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// L2 penalty on the weights.
    pub l2: f64,
    /// Gradient steps at most.
    pub iterations: usize,
    /// Pairs kept per question at most (the most informative: largest relevance gaps first).
    pub max_pairs_per_group: usize,
    /// A feature whose weight is not penalised: the first stage's verdict, so that a strong
    /// penalty leaves the first-stage order and the other features only correct it.
    pub unpenalised: Option<usize>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            l2: 1e-3,
            iterations: 300,
            max_pairs_per_group: 400,
            unpenalised: None,
        }
    }
}

fn softplus(x: f64) -> f64 {
    // log(1 + e^x) without overflow
    if x > 30.0 {
        x
    } else if x < -30.0 {
        x.exp()
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl LinearModel {
    /// The score of a feature vector (higher ranks first).
    pub fn score(&self, x: &[f32]) -> f32 {
        x.iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .zip(&self.weights)
            .map(|(((v, m), s), w)| (v - m) / s * w)
            .sum()
    }

    /// Checks that the model is of this version and computes over `names`, in that order.
    pub fn check(&self, names: &[&str]) -> Result<()> {
        if self.version != MODEL_VERSION {
            return Err(Error::InvalidRequest(format!(
                "reranker model version {} (this kefu reads {MODEL_VERSION}); retrain it",
                self.version
            )));
        }
        let n = self.features.len();
        if self
            .features
            .iter()
            .map(String::as_str)
            .ne(names.iter().copied())
            || [self.mean.len(), self.scale.len(), self.weights.len()] != [n, n, n]
        {
            return Err(Error::InvalidRequest(format!(
                "the reranker model's features ({}) are not kefu's ({}); retrain it",
                self.features.join(", "),
                names.join(", ")
            )));
        }
        Ok(())
    }

    /// Trains on question groups; feature vectors must all have `names.len()` values.
    pub fn train(names: &[&str], groups: &[Group], opts: TrainOptions) -> Result<LinearModel> {
        let d = names.len();
        let rows: Vec<&Vec<f32>> = groups.iter().flatten().map(|(x, _)| x).collect();
        if rows.iter().any(|x| x.len() != d) {
            return Err(Error::InvalidRequest(format!(
                "every feature vector must have {d} values"
            )));
        }
        // standardisation
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0f64; d];
        for x in &rows {
            for (m, v) in mean.iter_mut().zip(x.iter()) {
                *m += *v as f64 / n;
            }
        }
        let mut var = vec![0f64; d];
        for x in &rows {
            for ((s, v), m) in var.iter_mut().zip(x.iter()).zip(&mean) {
                *s += (*v as f64 - m).powi(2) / n;
            }
        }
        let scale: Vec<f64> = var
            .iter()
            .map(|v| if *v > 1e-12 { v.sqrt() } else { 1.0 })
            .collect();
        let z = |x: &[f32]| -> Vec<f64> {
            x.iter()
                .zip(&mean)
                .zip(&scale)
                .map(|((v, m), s)| (*v as f64 - m) / s)
                .collect()
        };
        // pairs as feature differences (preferred minus other)
        let mut diffs: Vec<Vec<f64>> = Vec::new();
        for g in groups {
            let zs: Vec<Vec<f64>> = g.iter().map(|(x, _)| z(x)).collect();
            let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
            for i in 0..g.len() {
                for j in 0..g.len() {
                    if g[i].1 > g[j].1 {
                        pairs.push((g[i].1 - g[j].1, i, j));
                    }
                }
            }
            pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
            pairs.truncate(opts.max_pairs_per_group);
            for (_, i, j) in pairs {
                diffs.push(zs[i].iter().zip(&zs[j]).map(|(a, b)| a - b).collect());
            }
        }
        let mut w = vec![0f64; d];
        let penalty: Vec<f64> = (0..d)
            .map(|i| {
                if opts.unpenalised == Some(i) {
                    0.0
                } else {
                    opts.l2
                }
            })
            .collect();
        if !diffs.is_empty() {
            let np = diffs.len() as f64;
            let loss = |w: &[f64]| -> f64 {
                let data: f64 = diffs
                    .iter()
                    .map(|x| softplus(-x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>()))
                    .sum::<f64>()
                    / np;
                data + 0.5 * w.iter().zip(&penalty).map(|(v, p)| p * v * v).sum::<f64>()
            };
            let mut current = loss(&w);
            let mut step = 1.0;
            for _ in 0..opts.iterations {
                let mut grad: Vec<f64> = w.iter().zip(&penalty).map(|(v, p)| p * v).collect();
                for x in &diffs {
                    let m: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
                    let g = -sigmoid(-m) / np;
                    for (gk, xk) in grad.iter_mut().zip(x) {
                        *gk += g * xk;
                    }
                }
                let norm2: f64 = grad.iter().map(|g| g * g).sum();
                if norm2 < 1e-14 {
                    break;
                }
                // backtracking (Armijo) line search
                step *= 2.0;
                loop {
                    let trial: Vec<f64> = w.iter().zip(&grad).map(|(v, g)| v - step * g).collect();
                    let l = loss(&trial);
                    if l <= current - 0.5 * step * norm2 || step < 1e-10 {
                        w = trial;
                        current = l;
                        break;
                    }
                    step *= 0.5;
                }
            }
        }
        Ok(LinearModel {
            version: MODEL_VERSION,
            features: names.iter().map(|s| s.to_string()).collect(),
            mean: mean.iter().map(|v| *v as f32).collect(),
            scale: scale.iter().map(|v| *v as f32).collect(),
            weights: w.iter().map(|v| *v as f32).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["useful", "noise", "harmful"];

    /// Groups where relevance rises with feature 0 and falls with feature 2; feature 1 is noise.
    fn groups() -> Vec<Group> {
        let mut x: u64 = 7;
        let mut rnd = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 40) as f32 / (1u64 << 24) as f32
        };
        (0..40)
            .map(|_| {
                (0..8)
                    .map(|_| {
                        let (a, b, c) = (rnd(), rnd(), rnd());
                        let rel = if a - c > 0.3 {
                            2.0
                        } else if a - c > 0.0 {
                            1.0
                        } else {
                            0.0
                        };
                        (vec![a * 10.0, b, c + 5.0], rel)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn learns_the_direction_of_each_feature_and_ranks_pairs_right() {
        let g = groups();
        let m = LinearModel::train(&NAMES, &g, TrainOptions::default()).expect("train");
        assert!(m.weights[0] > 0.5, "{:?}", m.weights);
        assert!(m.weights[2] < -0.5, "{:?}", m.weights);
        assert!(
            m.weights[1].abs() < m.weights[0].abs() / 4.0,
            "{:?}",
            m.weights
        );
        let (mut right, mut all) = (0, 0);
        for group in &g {
            for a in group {
                for b in group {
                    if a.1 > b.1 {
                        all += 1;
                        right += (m.score(&a.0) > m.score(&b.0)) as usize;
                    }
                }
            }
        }
        assert!(right as f32 / all as f32 > 0.9, "{right}/{all}");
    }

    #[test]
    fn round_trips_and_refuses_other_features_or_versions() {
        let m = LinearModel::train(&NAMES, &groups(), TrainOptions::default()).expect("train");
        let text = serde_json::to_string(&m).expect("json");
        let back: LinearModel = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, m);
        assert!(back.check(&NAMES).is_ok());
        assert!(back.check(&["useful", "noise"]).is_err());
        let old = LinearModel { version: 0, ..back };
        assert!(old.check(&NAMES).is_err());
        assert!(
            LinearModel::train(&NAMES, &[vec![(vec![1.0], 1.0)]], TrainOptions::default()).is_err()
        );
    }

    #[test]
    fn no_pairs_give_zero_weights() {
        let flat: Vec<Group> = vec![vec![(vec![1.0, 2.0, 3.0], 1.0), (vec![2.0, 1.0, 0.0], 1.0)]];
        let m = LinearModel::train(&NAMES, &flat, TrainOptions::default()).expect("train");
        assert!(m.weights.iter().all(|w| *w == 0.0));
    }
}
