//! Fusion of ranked lists (lexical and vector candidates) into one ranking. Pure functions:
//! the result depends only on the lists and their weights, not on the order the lists are
//! given in, and ties are broken by key so the output is deterministic.
//!
//! - [`rrf`]: reciprocal-rank fusion, `Σ wᵢ / (k + rankᵢ)` with ranks from 1; robust to
//!   incomparable score scales.
//! - [`weighted`]: each list's scores min-max normalised to [0, 1], then `Σ wᵢ · normᵢ`
//!   (a missing document contributes 0); keeps how much better the best hits are.

use std::collections::HashMap;
use std::hash::Hash;

/// A ranked list, best first, with its weight.
#[derive(Debug, Clone, Copy)]
pub struct Ranked<'a, K> {
    pub hits: &'a [(K, f32)],
    pub weight: f32,
    /// For [`weighted`]: min-max normalise this list's scores (false: they are already on a
    /// comparable 0–1 scale and are used as they are).
    pub minmax: bool,
}

/// Why inputs were refused.
#[derive(Debug, Clone, PartialEq)]
pub enum FusionError {
    /// A weight is negative or not finite.
    BadWeight(f32),
    /// The RRF constant is not a positive finite number.
    BadK(f32),
    /// A score is not finite.
    BadScore(f32),
}

impl std::fmt::Display for FusionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FusionError::BadWeight(w) => write!(f, "fusion weight {w} must be finite and >= 0"),
            FusionError::BadK(k) => write!(f, "RRF k {k} must be finite and > 0"),
            FusionError::BadScore(s) => write!(f, "score {s} is not finite"),
        }
    }
}

fn check<K>(lists: &[Ranked<'_, K>]) -> Result<(), FusionError> {
    for l in lists {
        if !l.weight.is_finite() || l.weight < 0.0 {
            return Err(FusionError::BadWeight(l.weight));
        }
        if let Some((_, s)) = l.hits.iter().find(|(_, s)| !s.is_finite()) {
            return Err(FusionError::BadScore(*s));
        }
    }
    Ok(())
}

fn finish<K: Ord + Clone>(acc: HashMap<K, f64>, limit: usize) -> Vec<(K, f32)> {
    let mut out: Vec<(K, f64)> = acc.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.truncate(limit);
    out.into_iter().map(|(k, s)| (k, s as f32)).collect()
}

/// Reciprocal-rank fusion with constant `k` (60 is customary), keeping the `limit` best.
/// A key repeated within one list counts at its best rank only.
pub fn rrf<K: Ord + Hash + Clone>(
    lists: &[Ranked<'_, K>],
    k: f32,
    limit: usize,
) -> Result<Vec<(K, f32)>, FusionError> {
    if !k.is_finite() || k <= 0.0 {
        return Err(FusionError::BadK(k));
    }
    check(lists)?;
    let mut acc: HashMap<K, f64> = HashMap::new();
    for l in lists {
        let mut seen = std::collections::HashSet::new();
        for (rank, (key, _)) in l.hits.iter().enumerate() {
            if seen.insert(key) {
                *acc.entry(key.clone()).or_default() +=
                    l.weight as f64 / (k as f64 + rank as f64 + 1.0);
            }
        }
    }
    Ok(finish(acc, limit))
}

/// Weighted sum of min-max normalised scores, keeping the `limit` best. A list whose scores are
/// all equal normalises to 1 for each of its hits.
pub fn weighted<K: Ord + Hash + Clone>(
    lists: &[Ranked<'_, K>],
    limit: usize,
) -> Result<Vec<(K, f32)>, FusionError> {
    check(lists)?;
    let mut acc: HashMap<K, f64> = HashMap::new();
    for l in lists {
        if l.hits.is_empty() {
            continue;
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (_, s) in l.hits {
            lo = lo.min(*s as f64);
            hi = hi.max(*s as f64);
        }
        if !l.minmax {
            lo = 0.0;
            hi = 1.0;
        }
        let span = hi - lo;
        let mut best: HashMap<&K, f64> = HashMap::new();
        for (key, s) in l.hits {
            let norm = if span > 0.0 {
                (*s as f64 - lo) / span
            } else {
                1.0
            };
            let e = best.entry(key).or_insert(norm);
            *e = e.max(norm);
        }
        for (key, norm) in best {
            *acc.entry(key.clone()).or_default() += l.weight as f64 * norm;
        }
    }
    Ok(finish(acc, limit))
}

/// The lexical candidates as fusion input: raw scores for RRF and min-max scaling, coverage
/// for coverage scaling.
pub fn lexical_input(
    hits: &[crate::index::lexical::LexicalHit],
    f: &crate::config::FusionConfig,
) -> Vec<(crate::domain::ChunkId, f32)> {
    hits.iter()
        .map(|h| {
            (
                h.key,
                if f.lexical_scale == crate::config::LexicalScale::Coverage {
                    h.coverage
                } else {
                    h.score
                },
            )
        })
        .collect()
}

/// Fuses lexical and vector candidates as configured.
pub fn fuse(
    lexical: &[(crate::domain::ChunkId, f32)],
    vector: &[(crate::domain::ChunkId, f32)],
    f: &crate::config::FusionConfig,
    limit: usize,
) -> crate::error::Result<Vec<(crate::domain::ChunkId, f32)>> {
    let lists = [
        Ranked {
            hits: lexical,
            weight: f.lexical_weight,
            minmax: f.lexical_scale == crate::config::LexicalScale::Minmax,
        },
        Ranked {
            hits: vector,
            weight: f.vector_weight,
            minmax: true,
        },
    ];
    match f.method {
        crate::config::FusionMethod::Rrf => rrf(&lists, f.rrf_k, limit),
        crate::config::FusionMethod::Weighted => weighted(&lists, limit),
    }
    .map_err(|e| crate::error::Error::InvalidRequest(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(v: &[(u32, f32)]) -> Vec<(u32, f32)> {
        v.to_vec()
    }

    #[test]
    fn rrf_rewards_agreement() {
        let a = list(&[(1, 9.0), (2, 8.0), (3, 7.0)]);
        let b = list(&[(3, 0.9), (1, 0.8), (4, 0.7)]);
        let f = rrf(
            &[
                Ranked {
                    hits: &a,
                    weight: 1.0,
                    minmax: true,
                },
                Ranked {
                    hits: &b,
                    weight: 1.0,
                    minmax: true,
                },
            ],
            60.0,
            10,
        )
        .expect("fuse");
        assert_eq!(f[0].0, 1); // ranks 1 and 2
        assert_eq!(f[1].0, 3); // ranks 3 and 1
        assert_eq!(f.len(), 4);
        assert!((f[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-6);
    }

    #[test]
    fn weighted_normalises_each_list() {
        let a = list(&[(1, 20.0), (2, 10.0)]);
        let b = list(&[(2, 0.9), (3, 0.8), (1, 0.7)]);
        let f = weighted(
            &[
                Ranked {
                    hits: &a,
                    weight: 0.5,
                    minmax: true,
                },
                Ranked {
                    hits: &b,
                    weight: 0.5,
                    minmax: true,
                },
            ],
            10,
        )
        .expect("fuse");
        // 1: 0.5·1 + 0.5·0 = 0.5 ; 2: 0.5·0 + 0.5·1 = 0.5 ; 3: 0.5·0.5 = 0.25 → tie broken by key
        assert_eq!(f.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!((f[2].1 - 0.25).abs() < 1e-6);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let a = list(&[(1, f32::NAN)]);
        assert!(matches!(
            weighted(
                &[Ranked {
                    hits: &a,
                    weight: 1.0,
                    minmax: true
                }],
                5
            ),
            Err(FusionError::BadScore(_))
        ));
        let b = list(&[(1, 1.0)]);
        assert_eq!(
            rrf(
                &[Ranked {
                    hits: &b,
                    weight: -1.0,
                    minmax: true
                }],
                60.0,
                5
            ),
            Err(FusionError::BadWeight(-1.0))
        );
        assert_eq!(
            rrf(
                &[Ranked {
                    hits: &b,
                    weight: 1.0,
                    minmax: true
                }],
                0.0,
                5
            ),
            Err(FusionError::BadK(0.0))
        );
        assert_eq!(rrf::<u32>(&[], 60.0, 5), Ok(vec![]));
    }

    fn ranked_list() -> impl Strategy<Value = Vec<(u32, f32)>> {
        proptest::collection::vec((0u32..40, 0.0f32..100.0), 0..30).prop_map(|mut v| {
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v
        })
    }

    proptest! {
        /// Fusing [a, b] or [b, a] (with their weights) gives the same ranking.
        #[test]
        fn fusion_is_order_independent(a in ranked_list(), b in ranked_list(), wa in 0.0f32..2.0, wb in 0.0f32..2.0) {
            let ab = [Ranked { hits: &a, weight: wa, minmax: true }, Ranked { hits: &b, weight: wb, minmax: true }];
            let ba = [Ranked { hits: &b, weight: wb, minmax: true }, Ranked { hits: &a, weight: wa, minmax: true }];
            let keys = |v: Vec<(u32, f32)>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
            prop_assert_eq!(keys(rrf(&ab, 60.0, 100).expect("ok")), keys(rrf(&ba, 60.0, 100).expect("ok")));
            prop_assert_eq!(keys(weighted(&ab, 100).expect("ok")), keys(weighted(&ba, 100).expect("ok")));
        }

        /// With one list, fusion keeps that list's order of distinct keys.
        #[test]
        fn a_single_list_keeps_its_order(a in ranked_list()) {
            let mut seen = std::collections::HashSet::new();
            let distinct: Vec<u32> = a.iter().map(|x| x.0).filter(|k| seen.insert(*k)).collect();
            let f = rrf(&[Ranked { hits: &a, weight: 1.0, minmax: true }], 60.0, 100).expect("ok");
            prop_assert_eq!(f.into_iter().map(|x| x.0).collect::<Vec<_>>(), distinct);
        }
    }
}
