//! Answer calibration: the confidence of answers fitted per question language on pairs of
//! data sets — each set's own questions answerable, the other set's not — through the
//! product's engine, and the abstention threshold chosen.

use std::path::Path;
use std::sync::Arc;

use crate::answer::{confidence, Calibration, Calibrations};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::eval::{self, Dataset};
use crate::text::Lang;

/// Fits the calibration on `pairs` (`SET:NEGATIVES`, folders of `eval_dir`): a logistic fit
/// per language over every pair's questions, and the lowest threshold whose abstention has at
/// least `min_precision` and `min_recall`. `say` is told each pair's answer figures, each
/// language's threshold and each pair's abstention under the result.
pub fn calibrate(
    config: &Config,
    eval_dir: &Path,
    pairs: &[String],
    min_precision: f64,
    min_recall: f64,
    say: &mut dyn FnMut(&str),
) -> Result<Calibrations> {
    let analyzer = crate::analyzer(config)?;
    let reranker = Arc::new(crate::rerank::Reranker::builtin(config.rerank.candidates)?);
    let current = Calibrations::builtin()?;
    // per pair: its language and each question's (signals, answerable)
    let mut per_pair = Vec::new();
    for pair in pairs {
        let (a, b) = pair
            .split_once(':')
            .ok_or_else(|| Error::InvalidRequest(format!("pair `{pair}` is not SET:NEGATIVES")))?;
        let load = |name: &str| {
            let dir = eval_dir.join(name);
            Dataset::load(&dir)
        };
        let (ds, neg) = (load(a)?, load(b)?);
        let lang = ds.language();
        let (figures, signals) = eval::evaluate_answers(
            &ds,
            Some(&neg),
            config,
            &analyzer,
            reranker.clone(),
            &current,
            true,
        )?;
        say(&serde_json::to_string(&figures).map_err(|e| Error::Internal(e.to_string()))?);
        per_pair.push((pair.clone(), lang, signals));
    }
    let mut fitted = Vec::new();
    for lang in [Lang::En, Lang::Zh] {
        let (xs, ys): (Vec<Vec<f32>>, Vec<bool>) = per_pair
            .iter()
            .filter(|(_, l, _)| *l == lang)
            .flat_map(|(_, _, s)| s.iter().cloned())
            .unzip();
        if xs.is_empty() {
            return Err(Error::InvalidRequest(format!(
                "no pair with {} questions to calibrate on",
                lang.as_str()
            )));
        }
        let mut cal = Calibration::fit(&xs, &ys)?;
        let scored: Vec<(f32, bool)> = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (cal.confidence(x), *y))
            .collect();
        cal.threshold = confidence::choose_threshold(&scored, min_precision, min_recall);
        let (p, r) = confidence::abstention(&scored, cal.threshold);
        say(&format!(
            "{}: threshold {:.3}: abstention precision {p:.3}, recall {r:.3}",
            lang.as_str(),
            cal.threshold
        ));
        fitted.push(cal);
    }
    let (Some(zh), Some(en)) = (fitted.pop(), fitted.pop()) else {
        return Err(Error::Internal("a language has no calibration".into()));
    };
    let cal = Calibrations {
        version: confidence::VERSION,
        en,
        zh,
    };
    let mut all = Vec::new();
    for (pair, lang, s) in &per_pair {
        let c = cal.for_lang(*lang);
        let scored: Vec<(f32, bool)> = s
            .iter()
            .map(|(x, y)| (c.confidence(x) - c.threshold, *y))
            .collect();
        let (p, r) = confidence::abstention(&scored, 0.0);
        let answered = scored.iter().filter(|(c, y)| *y && *c >= 0.0).count() as f64
            / scored.iter().filter(|(_, y)| *y).count().max(1) as f64;
        say(&format!(
            "  {pair:<28} precision {p:.3} recall {r:.3}; answerable answered {answered:.3}"
        ));
        all.extend(scored);
    }
    let (p, r) = confidence::abstention(&all, 0.0);
    say(&format!(
        "all pairs: abstention precision {p:.3}, recall {r:.3}"
    ));
    Ok(cal)
}
