//! A customer-question exam over a knowledge base (`kefu eval --exam FILE`): questions as
//! customers write them, each with the expected outcome (answer, or abstain with a reason), the
//! facts an answer must contain and the documents that state them. Every question is asked of
//! the product's [`Engine`] as a customer would ask it (public scope, the configured evidence
//! depth, extractive unless told otherwise), and graded:
//!
//! - **automated**: answerable, answered, every fact group present, and at least one citation
//!   from an expected document;
//! - **wrong**: answered although a fact is missing, or answered although unanswerable (the
//!   wrong-answer rate is over all answered questions);
//! - **abstained on answerable**, and **correct abstention** on the unanswerable (with whether
//!   the reason given was the expected one).
//!
//! A fact is a group of accepted strings; one of them must appear in the answer's text. Both
//! sides are normalised first ([`normalise`]), so "12 个月" matches "12个月" and "¥1,299"
//! matches "1299".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::engine::{AnswerRequest, Engine};
use crate::error::{Error, Result};

use super::quantile;

/// What a question should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Answer,
    Abstain,
}

/// One exam question (a line of the exam file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub lang: String,
    pub area: String,
    pub question: String,
    pub expect: Expect,
    /// For abstentions: the reason expected (`out_of_scope`, `needs_account`, …).
    #[serde(default)]
    pub reason: Option<String>,
    /// Groups of accepted strings; every group must be present in an answer.
    #[serde(default)]
    pub facts: Vec<Vec<String>>,
    /// Documents that state the facts; an automated answer cites one of them.
    #[serde(default)]
    pub docs: Vec<String>,
    /// The writer's justification (not graded).
    #[serde(default)]
    pub note: Option<String>,
}

/// The reasons an exam may expect for an abstention.
const REASONS: [&str; 5] = [
    "out_of_scope",
    "needs_account",
    "low_confidence",
    "no_evidence",
    "conflicting_sources",
];

/// An exam: its questions, in file order.
#[derive(Debug, Clone)]
pub struct Exam {
    pub path: PathBuf,
    pub questions: Vec<Question>,
}

impl Exam {
    /// Reads and checks an exam file (JSON Lines); an error names the line and what is wrong.
    pub fn load(path: &Path) -> Result<Exam> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Parses and checks exam text read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Exam> {
        let mut questions: Vec<Question> = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |why: String| Error::bad_file(path, format!("line {}: {why}", n + 1));
            let q: Question = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            if !ids.insert(q.id.clone()) {
                return Err(bad(format!("duplicate id `{}`", q.id)));
            }
            check(&q).map_err(bad)?;
            questions.push(q);
        }
        if questions.is_empty() {
            return Err(Error::bad_file(path, "the exam has no questions"));
        }
        Ok(Exam {
            path: path.to_path_buf(),
            questions,
        })
    }
}

fn check(q: &Question) -> std::result::Result<(), String> {
    if !matches!(q.lang.as_str(), "zh" | "en") {
        return Err(format!("`lang` is `{}`, not zh or en", q.lang));
    }
    if q.question.trim().is_empty() {
        return Err("`question` is empty".into());
    }
    match q.expect {
        Expect::Answer => {
            if q.facts.is_empty() || q.facts.len() > 3 {
                return Err(format!(
                    "an answerable question needs 1 to 3 fact groups, not {}",
                    q.facts.len()
                ));
            }
            if q.facts
                .iter()
                .any(|g| g.is_empty() || g.iter().any(|s| normalise(s).is_empty()))
            {
                return Err("a fact group is empty or holds an empty string".into());
            }
            if q.docs.is_empty() {
                return Err("an answerable question needs the documents that state it".into());
            }
        }
        Expect::Abstain => match q.reason.as_deref() {
            Some(r) if REASONS.contains(&r) => {}
            Some(r) => {
                return Err(format!(
                    "unknown abstention reason `{r}` (one of {})",
                    REASONS.join(", ")
                ))
            }
            None => return Err("an abstention needs its `reason`".into()),
        },
    }
    Ok(())
}

/// Text as facts are compared: NFKC (full-width forms to ASCII), lower case, no white space,
/// and no thousands separators between digits.
pub fn normalise(s: &str) -> String {
    let chars: Vec<char> = s
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if c == ',' && between_digits {
            continue;
        }
        out.push(c);
    }
    out
}

/// How one question went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered with every fact and a citation from an expected document.
    Automated,
    /// Answered with every fact, but citing none of the expected documents.
    AnsweredOtherSource,
    /// Answered with a fact missing, or answered although unanswerable.
    Wrong,
    /// Abstained although answerable.
    AbstainedOnAnswerable,
    /// Abstained on an unanswerable question.
    CorrectAbstention,
}

/// The figures of a group of questions (all, a language, an area).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    pub questions: usize,
    pub answerable: usize,
    pub unanswerable: usize,
    pub answered: usize,
    pub automated: usize,
    pub wrong: usize,
    /// Automated share of the answerable questions.
    pub automation: f64,
    /// Wrong answers over all answered questions.
    pub wrong_rate: f64,
    /// Abstentions over the answerable questions.
    pub abstained_on_answerable: f64,
    /// Abstentions over the unanswerable questions.
    pub correct_abstention: f64,
    /// Correct abstentions that gave the expected reason, over the unanswerable questions.
    pub reason_correct: f64,
    /// Answers abstaining as `conflicting_sources`.
    pub conflicting_sources: usize,
}

/// A question that was not automated or correctly abstained.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub id: String,
    pub lang: String,
    pub area: String,
    pub question: String,
    pub outcome: Outcome,
    /// `answered`, or the abstention's reason.
    pub got: String,
    pub confidence: f32,
    /// The fact groups (their first string) not found in the answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// The documents the answer cites.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cited: Vec<String>,
    /// The answer's text.
    pub answer: String,
}

/// An exam's results.
#[derive(Debug, Clone, Serialize)]
pub struct ExamReport {
    pub exam: String,
    pub composer: String,
    #[serde(flatten)]
    pub all: Figures,
    pub by_lang: BTreeMap<String, Figures>,
    pub by_area: BTreeMap<String, Figures>,
    /// Median and 99th percentile time to answer one question.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failures: Vec<Failure>,
}

/// One question's grade and what the engine said.
pub(crate) struct Graded {
    pub(crate) outcome: Outcome,
    pub(crate) abstained_with: Option<String>,
    pub(crate) failure: Option<Failure>,
}

/// Asks every question of `engine` as a customer (public scope) and grades the answers; with
/// `use_llm` the LLM composer writes them when one is configured. `progress` is told each
/// question's number as it is done.
pub fn grade(
    engine: &Engine,
    exam: &Exam,
    use_llm: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ExamReport> {
    let total = exam.questions.len();
    let mut graded = Vec::with_capacity(total);
    let mut ms = Vec::with_capacity(total);
    for (i, q) in exam.questions.iter().enumerate() {
        let started = Instant::now();
        let answer = engine.answer(&AnswerRequest::as_bot(engine, q.question.clone(), use_llm))?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        graded.push(grade_one(q, &answer.composed));
        progress(i + 1, total);
    }
    ms.sort_by(f64::total_cmp);
    let figures = |pick: &dyn Fn(&Question) -> bool| -> Figures {
        let rows: Vec<(&Question, &Graded)> = exam
            .questions
            .iter()
            .zip(&graded)
            .filter(|(q, _)| pick(q))
            .collect();
        tally(&rows)
    };
    let mut by_lang = BTreeMap::new();
    let mut by_area = BTreeMap::new();
    for q in &exam.questions {
        if !by_lang.contains_key(&q.lang) {
            by_lang.insert(q.lang.clone(), figures(&|x| x.lang == q.lang));
        }
        if !by_area.contains_key(&q.area) {
            by_area.insert(q.area.clone(), figures(&|x| x.area == q.area));
        }
    }
    Ok(ExamReport {
        exam: exam.path.display().to_string(),
        composer: if use_llm && engine.config().answer.llm.is_some() {
            "llm".into()
        } else {
            "extractive".into()
        },
        all: figures(&|_| true),
        by_lang,
        by_area,
        p50_ms: quantile(&ms, 0.5),
        p99_ms: quantile(&ms, 0.99),
        failures: graded.into_iter().filter_map(|g| g.failure).collect(),
    })
}

pub(crate) fn tally(rows: &[(&Question, &Graded)]) -> Figures {
    let mut f = Figures {
        questions: rows.len(),
        ..Figures::default()
    };
    let mut abstained_answerable = 0;
    let mut right_reason = 0;
    let mut abstained_unanswerable = 0;
    for (q, g) in rows {
        match q.expect {
            Expect::Answer => f.answerable += 1,
            Expect::Abstain => f.unanswerable += 1,
        }
        match g.outcome {
            Outcome::Automated => f.automated += 1,
            Outcome::Wrong => f.wrong += 1,
            Outcome::AbstainedOnAnswerable => abstained_answerable += 1,
            Outcome::CorrectAbstention => {
                abstained_unanswerable += 1;
                if g.abstained_with == q.reason {
                    right_reason += 1;
                }
            }
            Outcome::AnsweredOtherSource => {}
        }
        if g.abstained_with.is_none() {
            f.answered += 1;
        }
        if g.abstained_with.as_deref() == Some("conflicting_sources") {
            f.conflicting_sources += 1;
        }
    }
    let share = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    f.automation = share(f.automated, f.answerable);
    f.wrong_rate = share(f.wrong, f.answered);
    f.abstained_on_answerable = share(abstained_answerable, f.answerable);
    f.correct_abstention = share(abstained_unanswerable, f.unanswerable);
    f.reason_correct = share(right_reason, f.unanswerable);
    f
}

/// The sentences of an answer, without citation markers.
fn answer_text(c: &crate::answer::Composed) -> String {
    c.sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fact groups (their first string) none of whose strings `text` contains.
fn missing_facts(facts: &[Vec<String>], text: &str) -> Vec<String> {
    let said = normalise(text);
    facts
        .iter()
        .filter(|g| !g.iter().any(|s| said.contains(&normalise(s))))
        .map(|g| g.first().cloned().unwrap_or_default())
        .collect()
}

/// Whether an answer (not an abstention) states every fact group.
pub fn holds_facts(facts: &[Vec<String>], c: &crate::answer::Composed) -> bool {
    !c.abstained && missing_facts(facts, &answer_text(c)).is_empty()
}

/// Grades one answer against its question.
pub(crate) fn grade_one(q: &Question, c: &crate::answer::Composed) -> Graded {
    let abstained_with = c
        .abstained
        .then(|| c.reason.map_or("abstained", |r| r.as_str()).to_string());
    let text = answer_text(c);
    let missing = missing_facts(&q.facts, &text);
    let mut cited: Vec<String> = Vec::new();
    for s in &c.sentences {
        for cit in &s.citations {
            if !cited.contains(&cit.doc_id) {
                cited.push(cit.doc_id.clone());
            }
        }
    }
    let outcome = match (q.expect, &abstained_with) {
        (Expect::Answer, Some(_)) => Outcome::AbstainedOnAnswerable,
        (Expect::Abstain, Some(_)) => Outcome::CorrectAbstention,
        (Expect::Abstain, None) => Outcome::Wrong,
        (Expect::Answer, None) if !missing.is_empty() => Outcome::Wrong,
        (Expect::Answer, None) if cited.iter().any(|d| q.docs.contains(d)) => Outcome::Automated,
        (Expect::Answer, None) => Outcome::AnsweredOtherSource,
    };
    let failed = match outcome {
        Outcome::Automated => false,
        Outcome::CorrectAbstention => abstained_with != q.reason,
        _ => true,
    };
    let failure = failed.then(|| Failure {
        id: q.id.clone(),
        lang: q.lang.clone(),
        area: q.area.clone(),
        question: q.question.clone(),
        outcome,
        got: abstained_with
            .clone()
            .unwrap_or_else(|| "answered".to_string()),
        confidence: c.confidence,
        missing: if abstained_with.is_none() {
            missing
        } else {
            Vec::new()
        },
        cited,
        answer: c.text.clone(),
    });
    Graded {
        outcome,
        abstained_with,
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_folds_width_case_spaces_and_thousands_separators() {
        assert_eq!(normalise("¥1,299 / US$189"), "¥1299/us$189");
        assert_eq!(normalise("１２ 个月"), "12个月");
        assert_eq!(normalise("E21: Drain"), "e21:drain");
        // a comma that is not between digits stays
        assert_eq!(normalise("a, b"), "a,b");
        assert_eq!(normalise("a,b"), "a,b");
    }

    fn line(extra: &str) -> String {
        format!(
            r#"{{"id":"q1","lang":"zh","area":"warranty","question":"保修多久","expect":"answer","facts":[["12个月"]],"docs":["policy-warranty-zh"]{extra}}}"#
        )
    }

    #[test]
    fn an_exam_line_with_an_unknown_key_is_refused_with_its_line_number() {
        let err = Exam::parse(Path::new("x.jsonl"), &format!("\n{}", line(r#","oops":1"#)))
            .expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.contains("line 2") && msg.contains("oops"), "{msg}");
    }

    #[test]
    fn an_answerable_question_without_facts_or_documents_is_refused() {
        let no_facts = line("").replace(r#"[["12个月"]]"#, "[]");
        assert!(Exam::parse(Path::new("x"), &no_facts).is_err());
        let no_docs = line("").replace(r#"["policy-warranty-zh"]"#, "[]");
        assert!(Exam::parse(Path::new("x"), &no_docs).is_err());
        assert!(Exam::parse(Path::new("x"), &line("")).is_ok());
    }

    #[test]
    fn an_abstention_needs_a_known_reason() {
        let base = r#"{"id":"q","lang":"en","area":"out_of_scope","question":"iphone?","expect":"abstain""#;
        assert!(Exam::parse(Path::new("x"), &format!("{base}}}")).is_err());
        assert!(Exam::parse(Path::new("x"), &format!(r#"{base},"reason":"because"}}"#)).is_err());
        assert!(Exam::parse(
            Path::new("x"),
            &format!(r#"{base},"reason":"out_of_scope"}}"#)
        )
        .is_ok());
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let two = format!("{}\n{}", line(""), line(""));
        let err = Exam::parse(Path::new("x"), &two).expect_err("duplicate");
        assert!(err.to_string().contains("duplicate id"), "{err}");
    }

    fn composed(
        text: &str,
        doc: &str,
        abstained: Option<crate::answer::Reason>,
    ) -> crate::answer::Composed {
        use crate::answer::{AnswerSentence, Citation, Composed};
        Composed {
            language: "zh".into(),
            text: text.into(),
            sentences: if abstained.is_some() {
                vec![]
            } else {
                vec![AnswerSentence {
                    text: text.into(),
                    citations: vec![Citation {
                        n: 1,
                        chunk_id: "c".into(),
                        doc_id: doc.into(),
                        title: String::new(),
                        heading_path: vec![],
                        source: String::new(),
                        span: (0, 0),
                        quote: text.into(),
                    }],
                }]
            },
            passages: vec![],
            confidence: 0.5,
            abstained: abstained.is_some(),
            reason: abstained,
            handoff: None,
            composer: "extractive".into(),
            notes: vec![],
            signals: vec![],
            cross_lingual: false,
            candidates: Vec::new(),
        }
    }

    fn question() -> Question {
        Exam::parse(Path::new("x"), &line(""))
            .expect("parses")
            .questions
            .remove(0)
    }

    #[test]
    fn an_answer_with_every_fact_citing_an_expected_document_is_automated() {
        let g = grade_one(
            &question(),
            &composed("手机整机保修 12 个月。", "policy-warranty-zh", None),
        );
        assert_eq!(g.outcome, Outcome::Automated);
        assert!(g.failure.is_none());
    }

    #[test]
    fn an_answer_missing_a_fact_is_wrong_and_names_the_fact() {
        let g = grade_one(
            &question(),
            &composed("手机整机保修。", "policy-warranty-zh", None),
        );
        assert_eq!(g.outcome, Outcome::Wrong);
        assert_eq!(
            g.failure.expect("failure").missing,
            vec!["12个月".to_string()]
        );
    }

    #[test]
    fn the_right_facts_from_another_document_are_not_automated() {
        let g = grade_one(
            &question(),
            &composed("保修 12个月。", "faq-general-zh", None),
        );
        assert_eq!(g.outcome, Outcome::AnsweredOtherSource);
    }

    #[test]
    fn abstentions_are_graded_by_what_was_expected() {
        use crate::answer::Reason;
        let g = grade_one(&question(), &composed("", "", Some(Reason::OutOfScope)));
        assert_eq!(g.outcome, Outcome::AbstainedOnAnswerable);
        let mut q = question();
        q.expect = Expect::Abstain;
        q.reason = Some("out_of_scope".into());
        let g = grade_one(&q, &composed("", "", Some(Reason::OutOfScope)));
        assert_eq!(g.outcome, Outcome::CorrectAbstention);
        assert!(g.failure.is_none());
        // the wrong reason is still an abstention, but listed
        let g = grade_one(&q, &composed("", "", Some(Reason::LowConfidence)));
        assert_eq!(g.outcome, Outcome::CorrectAbstention);
        assert!(g.failure.is_some());
        // answering an unanswerable question is wrong
        let g = grade_one(&q, &composed("保修 12个月。", "policy-warranty-zh", None));
        assert_eq!(g.outcome, Outcome::Wrong);
    }
}
