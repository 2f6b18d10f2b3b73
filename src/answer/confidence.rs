//! How sure an answer is: a logistic model over a few evidence signals, calibrated by
//! `kefu answer calibrate` on questions asked against their own corpus (answerable) and against
//! another set's corpus (unanswerable), with the abstention threshold chosen there. The
//! calibration ships in `data/confidence.json` and is built into the binary.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The calibration shipped with kefu.
pub const BUILTIN: &str = include_str!("../../data/confidence.json");

/// The file format version.
pub const VERSION: u32 = 1;

/// Signal names, in the order of a signal vector.
pub const SIGNALS: [&str; 7] = [
    "top_cosine",
    "top_coverage",
    "sentence_cosine",
    "sentence_overlap",
    "cosine_margin",
    "known_share",
    "centroid_gap",
];

/// The calibrations shipped with kefu: one per question language (the same evidence means
/// different things for a Chinese question over English passages and an English question).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Calibrations {
    pub version: u32,
    pub en: Calibration,
    pub zh: Calibration,
    /// For a question whose evidence is all in the other language (a Chinese question over
    /// English passages shares no words with them), when fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross: Option<Calibration>,
}

impl Calibrations {
    /// The built-in calibrations.
    pub fn builtin() -> Result<Calibrations> {
        Self::from_json(BUILTIN)
    }

    /// Reads and checks calibrations.
    pub fn from_json(text: &str) -> Result<Calibrations> {
        let c: Calibrations = serde_json::from_str(text).map_err(|e| {
            Error::config("answer.calibration", format!("unreadable calibration: {e}"))
        })?;
        for one in [Some(&c.en), Some(&c.zh), c.cross.as_ref()]
            .into_iter()
            .flatten()
        {
            one.check()?;
        }
        if c.version != VERSION {
            return Err(Error::config(
                "answer.calibration",
                "the calibration file is of another version; run `kefu answer calibrate`",
            ));
        }
        Ok(c)
    }

    /// These calibrations with no threshold: every answer is composed (so its facts can be
    /// checked, or its confidence weighed afterwards).
    pub fn never_abstaining(&self) -> Calibrations {
        Calibrations {
            en: Calibration {
                threshold: f32::NEG_INFINITY,
                ..self.en.clone()
            },
            zh: Calibration {
                threshold: f32::NEG_INFINITY,
                ..self.zh.clone()
            },
            cross: self.cross.as_ref().map(|c| Calibration {
                threshold: f32::NEG_INFINITY,
                ..c.clone()
            }),
            ..self.clone()
        }
    }

    /// The calibration for a question in `lang` whose evidence is (`same_language`) or is not
    /// in its language.
    pub fn pick(&self, lang: crate::text::Lang, same_language: bool) -> &Calibration {
        match (&self.cross, same_language) {
            (Some(c), false) => c,
            _ => self.for_lang(lang),
        }
    }

    /// The calibration for questions in `lang`.
    pub fn for_lang(&self, lang: crate::text::Lang) -> &Calibration {
        match lang {
            crate::text::Lang::Zh => &self.zh,
            crate::text::Lang::En => &self.en,
        }
    }
}

/// A fitted calibration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    pub version: u32,
    pub signals: Vec<String>,
    pub weights: Vec<f32>,
    pub bias: f32,
    /// Below this confidence kefu abstains.
    pub threshold: f32,
}

impl Calibration {
    /// Reads and checks a calibration.
    pub fn from_json(text: &str) -> Result<Calibration> {
        let c: Calibration = serde_json::from_str(text).map_err(|e| {
            Error::config("answer.calibration", format!("unreadable calibration: {e}"))
        })?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<()> {
        if self.version != VERSION
            || self.signals.iter().map(String::as_str).ne(SIGNALS)
            || self.weights.len() != SIGNALS.len()
        {
            return Err(Error::config(
                "answer.calibration",
                "the calibration was made for other signals; run `kefu answer calibrate`",
            ));
        }
        Ok(())
    }

    /// The probability that the question is answered by the evidence.
    pub fn confidence(&self, x: &[f32]) -> f32 {
        let z: f32 = self.bias + x.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }

    /// Fits a logistic regression (labels 1 = answerable) with a small L2 penalty by gradient
    /// descent on standardised signals, then folds the standardisation into the weights.
    pub fn fit(xs: &[Vec<f32>], ys: &[bool]) -> Result<Calibration> {
        Self::fit_weighted(xs, ys, &vec![1.0; xs.len()], false)
    }

    /// [`Calibration::fit`] with a weight per example (normalised to a mean of 1) and, with
    /// `nonnegative`, every signal's weight kept at zero or above: each signal means "more
    /// evidence", so none may lower the confidence as it grows (projected gradient descent;
    /// standardising divides by a positive deviation, so the sign survives folding).
    pub fn fit_weighted(
        xs: &[Vec<f32>],
        ys: &[bool],
        weights: &[f64],
        nonnegative: bool,
    ) -> Result<Calibration> {
        if xs.iter().any(|x| x.len() != SIGNALS.len()) {
            return Err(Error::InvalidRequest(
                "calibration needs one signal vector and one weight per label".into(),
            ));
        }
        let (weights, bias) = logistic(xs, ys, weights, &[nonnegative; SIGNALS.len()])?;
        Ok(Calibration {
            version: VERSION,
            signals: SIGNALS.iter().map(|s| s.to_string()).collect(),
            weights,
            bias,
            threshold: 0.5,
        })
    }
}

/// A weighted logistic regression of `ys` on the feature vectors `xs` (one weight per example,
/// normalised to a mean of 1; a small L2 penalty), on standardised features, folded back to
/// weights and a bias over the raw features. The weight of each feature marked in
/// `nonnegative` is kept at zero or above (projected gradient descent; standardising divides
/// by a positive deviation, so the sign survives folding).
pub fn logistic(
    xs: &[Vec<f32>],
    ys: &[bool],
    weights: &[f64],
    nonnegative: &[bool],
) -> Result<(Vec<f32>, f32)> {
    let d = xs.first().map_or(0, Vec::len);
    if xs.is_empty()
        || d == 0
        || xs.len() != ys.len()
        || xs.len() != weights.len()
        || nonnegative.len() != d
        || xs.iter().any(|x| x.len() != d)
    {
        return Err(Error::InvalidRequest(
            "a logistic fit needs one feature vector of the same length and one weight per label"
                .into(),
        ));
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || weights.iter().sum::<f64>() <= 0.0 {
        return Err(Error::InvalidRequest(
            "calibration weights must be finite, non-negative and not all zero".into(),
        ));
    }
    let total: f64 = weights.iter().sum();
    let weights: Vec<f64> = weights
        .iter()
        .map(|w| w * xs.len() as f64 / total)
        .collect();
    let n = xs.len() as f64;
    let mut mean = vec![0f64; d];
    for x in xs {
        for (m, v) in mean.iter_mut().zip(x) {
            *m += *v as f64 / n;
        }
    }
    let mut sd = vec![0f64; d];
    for x in xs {
        for ((s, v), m) in sd.iter_mut().zip(x).zip(&mean) {
            *s += (*v as f64 - m).powi(2) / n;
        }
    }
    for s in &mut sd {
        *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
    }
    let zs: Vec<Vec<f64>> = xs
        .iter()
        .map(|x| {
            x.iter()
                .zip(&mean)
                .zip(&sd)
                .map(|((v, m), s)| (*v as f64 - m) / s)
                .collect()
        })
        .collect();
    let (mut w, mut b) = (vec![0f64; d], 0f64);
    let l2 = 1e-3;
    let rate = 0.5;
    for _ in 0..2000 {
        let mut gw: Vec<f64> = w.iter().map(|v| l2 * v).collect();
        let mut gb = 0.0;
        for ((z, y), wt) in zs.iter().zip(ys).zip(&weights) {
            let s: f64 = b + z.iter().zip(&w).map(|(a, c)| a * c).sum::<f64>();
            let p = 1.0 / (1.0 + (-s).exp());
            let g = wt * (p - if *y { 1.0 } else { 0.0 }) / n;
            for (gk, zk) in gw.iter_mut().zip(z) {
                *gk += g * zk;
            }
            gb += g;
        }
        for ((wk, g), nonneg) in w.iter_mut().zip(&gw).zip(nonnegative) {
            *wk -= rate * g;
            if *nonneg && *wk < 0.0 {
                *wk = 0.0;
            }
        }
        b -= rate * gb;
    }
    let weights: Vec<f32> = w.iter().zip(&sd).map(|(w, s)| (w / s) as f32).collect();
    let bias = (b - w
        .iter()
        .zip(&mean)
        .zip(&sd)
        .map(|((w, m), s)| w * m / s)
        .sum::<f64>()) as f32;
    Ok((weights, bias))
}

/// Abstention quality at a threshold: (precision, recall) of abstaining on the unanswerable.
pub fn abstention(scores: &[(f32, bool)], threshold: f32) -> (f64, f64) {
    let abstained: Vec<&(f32, bool)> = scores.iter().filter(|(c, _)| *c < threshold).collect();
    let right = abstained.iter().filter(|(_, ans)| !ans).count();
    let unanswerable = scores.iter().filter(|(_, ans)| !ans).count();
    let precision = if abstained.is_empty() {
        1.0
    } else {
        right as f64 / abstained.len() as f64
    };
    let recall = if unanswerable == 0 {
        0.0
    } else {
        right as f64 / unanswerable as f64
    };
    (precision, recall)
}

/// The threshold to abstain below. Among thresholds whose abstention precision is at least
/// `min_precision` and recall at least `min_recall`, the lowest (it answers the most answerable
/// questions); failing that, the highest recall at `min_precision`; failing that, the best
/// precision.
pub fn choose_threshold(scores: &[(f32, bool)], min_precision: f64, min_recall: f64) -> f32 {
    let mut cuts: Vec<f32> = scores.iter().map(|(c, _)| *c).collect();
    cuts.sort_by(f32::total_cmp);
    cuts.dedup();
    let mut lowest: Option<f32> = None;
    let mut best: Option<(f64, f32)> = None;
    let mut fallback: Option<(f64, f32)> = None;
    for w in cuts.windows(2) {
        let t = (w[0] + w[1]) / 2.0;
        let (p, r) = abstention(scores, t);
        if p >= min_precision && r >= min_recall && lowest.is_none() {
            lowest = Some(t);
        }
        if p >= min_precision && best.is_none_or(|b| r > b.0) {
            best = Some((r, t));
        }
        if fallback.is_none_or(|f| p > f.0) {
            fallback = Some((p, t));
        }
    }
    lowest
        .or(best.map(|b| b.1))
        .or(fallback.map(|f| f.1))
        .unwrap_or(0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_separates_and_the_threshold_meets_the_precision() {
        // answerable questions have high similarity; unanswerable low, with some overlap
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..200 {
            let t = i as f32 / 200.0;
            let answerable = i % 2 == 0;
            let base = if answerable { 0.85 } else { 0.75 };
            xs.push(vec![
                base + 0.1 * t,
                if answerable { 0.5 } else { 0.2 } + 0.2 * t,
                base,
                0.5,
                0.01,
                1.0,
                0.05,
            ]);
            ys.push(answerable);
        }
        let mut c = Calibration::fit(&xs, &ys).expect("fits");
        let scores: Vec<(f32, bool)> = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (c.confidence(x), *y))
            .collect();
        let mean = |want: bool| {
            let v: Vec<f32> = scores.iter().filter(|s| s.1 == want).map(|s| s.0).collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        assert!(
            mean(true) > 0.7 && mean(false) < 0.3,
            "{} {}",
            mean(true),
            mean(false)
        );
        c.threshold = choose_threshold(&scores, 0.9, 0.7);
        let (p, r) = abstention(&scores, c.threshold);
        assert!(p >= 0.9 && r >= 0.7, "precision {p} recall {r}");
        // the lowest such threshold: a lower one would miss the recall
        let lower = c.threshold - 0.02;
        let (p2, r2) = abstention(&scores, lower);
        assert!(r2 < 0.7 || p2 < 0.9 || lower < 0.0, "{p2} {r2}");
        // round trip through JSON
        let back =
            Calibration::from_json(&serde_json::to_string(&c).expect("json")).expect("reads");
        assert_eq!(back, c);
        assert!(Calibration::from_json("{}").is_err());
    }

    #[test]
    fn abstention_counts() {
        let s = [(0.1, false), (0.2, true), (0.8, true), (0.3, false)];
        assert_eq!(abstention(&s, 0.25), (0.5, 0.5));
        assert_eq!(abstention(&s, 0.0), (1.0, 0.0));
    }

    #[test]
    fn a_constrained_fit_never_weighs_a_signal_against_the_answer() {
        // the first signal separates; the known share runs against the labels (short
        // colloquial answerable questions share fewer words with the knowledge base)
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..200 {
            let answerable = i % 2 == 0;
            let t = (i % 10) as f32 / 10.0;
            let known = if answerable {
                0.3 + 0.1 * t
            } else {
                0.7 + 0.1 * t
            };
            xs.push(vec![
                if answerable { 0.9 } else { 0.7 } + 0.05 * t,
                0.5,
                0.8,
                0.5,
                0.01,
                known,
                0.05,
            ]);
            ys.push(answerable);
        }
        let free = Calibration::fit(&xs, &ys).expect("fits");
        assert!(free.weights[5] < 0.0, "{:?}", free.weights);
        let weights = vec![1.0; xs.len()];
        let bound = Calibration::fit_weighted(&xs, &ys, &weights, true).expect("fits");
        assert!(
            bound.weights.iter().all(|w| *w >= 0.0),
            "{:?}",
            bound.weights
        );
        assert!(bound.weights[0] > 0.0);
    }

    #[test]
    fn example_weights_shift_the_fit_towards_their_examples() {
        let xs: Vec<Vec<f32>> = (0..40)
            .map(|i| vec![(i % 2) as f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
            .collect();
        // labels agree with the signal on the first half only
        let ys: Vec<bool> = (0..40)
            .map(|i| if i < 20 { i % 2 == 1 } else { i % 2 == 0 })
            .collect();
        let first: Vec<f64> = (0..40).map(|i| if i < 20 { 1.0 } else { 0.01 }).collect();
        let second: Vec<f64> = (0..40).map(|i| if i < 20 { 0.01 } else { 1.0 }).collect();
        let a = Calibration::fit_weighted(&xs, &ys, &first, false).expect("fits");
        let b = Calibration::fit_weighted(&xs, &ys, &second, false).expect("fits");
        assert!(
            a.weights[0] > 0.0 && b.weights[0] < 0.0,
            "{:?} {:?}",
            a.weights,
            b.weights
        );
        assert!(Calibration::fit_weighted(&xs, &ys, &vec![0.0; 40], false).is_err());
    }
}
