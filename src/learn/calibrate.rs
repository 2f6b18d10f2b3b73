//! Answer calibration: the confidence of answers fitted per question language on pairs of
//! data sets — each set's own questions answerable, the other set's not — through the
//! product's engine, and the abstention threshold chosen.

use std::path::Path;
use std::sync::Arc;

use crate::answer::{confidence, Calibration, Calibrations};
use crate::config::Config;
use crate::engine::{AnswerRequest, Engine};
use crate::error::{Error, Result};
use crate::eval::exam::{self, Exam, Expect};
use crate::eval::{self, Dataset};
use crate::text::Lang;

/// Labelled confidence signals of `pairs` (`SET:NEGATIVES`, folders of `eval_dir`): each
/// set's own questions answerable, the other set's not, asked of the engine over the set's
/// corpus. A pair whose questions are in another language than its corpus is cross-lingual.
/// `say` is told each pair's answer figures.
pub fn pair_groups(
    config: &Config,
    eval_dir: &Path,
    pairs: &[String],
    say: &mut dyn FnMut(&str),
) -> Result<Vec<Group>> {
    let analyzer = crate::analyzer(config)?;
    let reranker = Arc::new(crate::rerank::Reranker::builtin(config.rerank.candidates)?);
    let current = Calibrations::builtin()?;
    let mut out = Vec::new();
    for pair in pairs {
        let (a, b) = pair
            .split_once(':')
            .ok_or_else(|| Error::InvalidRequest(format!("pair `{pair}` is not SET:NEGATIVES")))?;
        let load = |name: &str| Dataset::load(&eval_dir.join(name));
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
        out.push(Group {
            name: pair.clone(),
            lang,
            cross: ds.corpus_language() != lang,
            in_domain: false,
            rows: signals,
        });
    }
    Ok(out)
}

/// Fits the calibration on `groups` (pairs of data sets, [`pair_groups`], and questions asked
/// of the knowledge base kefu serves, [`in_domain`]): a logistic fit per question language, and
/// one for questions whose evidence is all in the other language, over every group's
/// questions, each group weighing the same and no signal weighing against the answer; then the
/// lowest threshold whose abstention has at least `min_precision` and `min_recall` on the
/// in-domain questions (on all of them when there are none). `say` is told each calibration's
/// threshold and each group's abstention under the result.
pub fn calibrate(
    groups: &[Group],
    min_precision: f64,
    min_recall: f64,
    say: &mut dyn FnMut(&str),
) -> Result<Calibrations> {
    // English, Chinese (each over evidence in its own language), and cross-lingual questions
    let kinds = [
        ("en", Some(Lang::En)),
        ("zh", Some(Lang::Zh)),
        ("cross-lingual", None),
    ];
    let mut fitted = Vec::new();
    for (name, lang) in kinds {
        let of_kind: Vec<&Group> = groups
            .iter()
            .filter(|g| {
                !g.rows.is_empty()
                    && match lang {
                        Some(l) => g.lang == l && !g.cross,
                        None => g.cross,
                    }
            })
            .collect();
        fitted.push(fit_kind(name, &of_kind, min_precision, min_recall, say)?);
    }
    let (Some(cross), Some(Some(zh)), Some(Some(en))) = (fitted.pop(), fitted.pop(), fitted.pop())
    else {
        return Err(Error::InvalidRequest(
            "calibration needs English and Chinese questions".into(),
        ));
    };
    let cal = Calibrations {
        version: confidence::VERSION,
        en,
        zh,
        cross,
    };
    let mut all = Vec::new();
    for g in groups {
        let c = cal.pick(g.lang, !g.cross);
        let scored: Vec<(f32, bool)> = g
            .rows
            .iter()
            .map(|(x, y)| (c.confidence(x) - c.threshold, *y))
            .collect();
        let (p, r) = confidence::abstention(&scored, 0.0);
        let answered = scored.iter().filter(|(c, y)| *y && *c >= 0.0).count() as f64
            / scored.iter().filter(|(_, y)| *y).count().max(1) as f64;
        say(&format!(
            "  {:<40} precision {p:.3} recall {r:.3}; answerable answered {answered:.3}",
            g.name
        ));
        all.extend(scored);
    }
    let (p, r) = confidence::abstention(&all, 0.0);
    say(&format!(
        "all groups: abstention precision {p:.3}, recall {r:.3}"
    ));
    Ok(cal)
}

/// The calibration of one kind of question fitted on its groups (`None` without any).
fn fit_kind(
    name: &str,
    groups: &[&Group],
    min_precision: f64,
    min_recall: f64,
    say: &mut dyn FnMut(&str),
) -> Result<Option<Calibration>> {
    if groups.is_empty() {
        return Ok(None);
    }
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let mut weights = Vec::new();
    for g in groups {
        for (x, y) in &g.rows {
            xs.push(x.clone());
            ys.push(*y);
            weights.push(1.0 / g.rows.len() as f64);
        }
    }
    let mut cal = Calibration::fit_weighted(&xs, &ys, &weights, true)?;
    let any_in_domain = groups.iter().any(|g| g.in_domain);
    let scored: Vec<(f32, bool)> = groups
        .iter()
        .filter(|g| g.in_domain || !any_in_domain)
        .flat_map(|g| g.rows.iter())
        .map(|(x, y)| (cal.confidence(x), *y))
        .collect();
    cal.threshold = confidence::choose_threshold(&scored, min_precision, min_recall);
    let (p, r) = confidence::abstention(&scored, cal.threshold);
    say(&format!(
        "{name}: threshold {:.3}: abstention precision {p:.3}, recall {r:.3}",
        cal.threshold
    ));
    Ok(Some(cal))
}

/// Labelled confidence signals from one source of questions in one language.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Group {
    /// The pair, exam file or outside file the questions come from.
    pub name: String,
    pub lang: Lang,
    /// Asked of evidence all in the other language.
    #[serde(default)]
    pub cross: bool,
    /// Asked of the knowledge base kefu serves (the threshold is chosen on these).
    pub in_domain: bool,
    pub rows: Vec<crate::eval::Labelled>,
}

/// Questions asked of `engine` (the knowledge base kefu serves) as a customer asks them, as
/// calibration groups per source and language: the questions of each exam file in `exams`
/// (an answerable one labelled answerable when the extractive answer holds every fact it
/// should, an unanswerable one not), and the rows of each outside file (`PATH:LABEL`: the rows
/// of a JSON Lines file of `{"text", "label"}` whose label is LABEL, all unanswerable).
/// Questions the scope check turns away never reach the confidence and are left out.
pub fn in_domain(
    engine: &Engine,
    exams: &[std::path::PathBuf],
    outside: &[String],
    say: &mut dyn FnMut(&str),
) -> Result<Vec<Group>> {
    let engine = engine.with_calibration(Arc::new(engine.calibration().never_abstaining()));
    // per source: its name and its questions, each with its facts when answerable
    type Asked = (String, Option<Vec<Vec<String>>>);
    let mut sources: Vec<(String, Vec<Asked>)> = Vec::new();
    for path in exams {
        let exam = Exam::load(path)?;
        let rows = exam
            .questions
            .into_iter()
            .map(|q| {
                let facts = (q.expect == Expect::Answer).then_some(q.facts);
                (q.question, facts)
            })
            .collect();
        sources.push((path.display().to_string(), rows));
    }
    for spec in outside {
        let (path, label) = spec.rsplit_once(':').ok_or_else(|| {
            Error::InvalidRequest(format!("outside questions `{spec}` are not PATH:LABEL"))
        })?;
        let rows = read_labelled(Path::new(path), label)?
            .into_iter()
            .map(|t| (t, None))
            .collect();
        sources.push((spec.clone(), rows));
    }
    let mut groups = Vec::new();
    for (name, rows) in sources {
        let mut by_lang: Vec<Group> = [
            (Lang::En, false),
            (Lang::Zh, false),
            (Lang::En, true),
            (Lang::Zh, true),
        ]
        .into_iter()
        .map(|(lang, cross)| Group {
            name: format!(
                "{name} ({}{})",
                lang.as_str(),
                if cross { ", cross-lingual" } else { "" }
            ),
            lang,
            cross,
            in_domain: true,
            rows: Vec::new(),
        })
        .collect();
        let mut turned_away = 0;
        for (question, facts) in rows {
            let answer = engine.answer(&AnswerRequest::as_bot(&engine, question, false))?;
            let c = &answer.composed;
            if c.signals.is_empty() {
                turned_away += 1;
                continue;
            }
            let good = facts.is_some_and(|f| exam::holds_facts(&f, c));
            let lang = crate::text::Lang::detect(&answer.question);
            if let Some(g) = by_lang
                .iter_mut()
                .find(|g| g.lang == lang && g.cross == c.cross_lingual)
            {
                g.rows.push((c.signals.clone(), good));
            }
        }
        say(&format!(
            "{name}: {} questions reach the confidence ({} answerable), {turned_away} turned away by the scope check",
            by_lang.iter().map(|g| g.rows.len()).sum::<usize>(),
            by_lang
                .iter()
                .flat_map(|g| g.rows.iter())
                .filter(|r| r.1)
                .count()
        ));
        groups.extend(by_lang.into_iter().filter(|g| !g.rows.is_empty()));
    }
    Ok(groups)
}

/// The texts of the rows of a JSON Lines file whose `label` is `label`.
fn read_labelled(path: &Path, label: &str) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Row {
        text: String,
        label: serde_json::Value,
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line)
            .map_err(|e| Error::bad_file(path, format!("line {}: {e}", n + 1)))?;
        if row.label.as_str() == Some(label) {
            out.push(row.text);
        }
    }
    if out.is_empty() {
        return Err(Error::bad_file(
            path,
            format!("no row has the label `{label}`"),
        ));
    }
    Ok(out)
}
