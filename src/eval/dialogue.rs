//! Grading conversations (`exams/dialogues.jsonl`): each conversation's turns are taken in
//! order through the engine's turn pipeline, as a customer's bot would (public scope, the
//! conversation's customer when it names one), and every turn is graded like a single exam
//! question (its facts stated, one of its documents cited, or the expected abstention).
//! Beside it, in the same run, the same turns are asked with no rewriting (each message
//! alone) and with the previous user message prepended (what Rasa does).
//!
//! The line format: `id`, `lang`, `customer` (optional), `as_of` (optional, the day decisions
//! are taken on; default today), `turns` [{`question`, `kind`, `resolved`, `area`, `expect`,
//! `reason`, `facts`, `docs`}].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::exam::{grade_one, tally, Expect, Figures, Graded, Question};
use crate::customer::directory::RecordsDirectory;
use crate::customer::{import_jsonl, Customer, CustomerDirectory};
use crate::domain::CustomerId;
use crate::engine::chat::{ChatRequest, History};
use crate::error::{Error, Result};
use crate::retrieve::Scope;
use crate::store::records::MemoryRecords;
use crate::{AnswerRequest, Engine};

#[derive(Debug, Deserialize)]
struct Conversation {
    id: String,
    lang: String,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    as_of: Option<NaiveDate>,
    turns: Vec<Turn>,
}

#[derive(Debug, Deserialize)]
struct Turn {
    question: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    resolved: Option<String>,
    area: String,
    expect: Expect,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    facts: Vec<Vec<String>>,
    #[serde(default)]
    docs: Vec<String>,
}

/// Whether a file is a dialogue exam (its first line has `turns`).
pub fn is_dialogue_file(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .is_some_and(|v| v.get("turns").is_some())
}

/// One system's figures on the turns.
#[derive(Debug, Clone, Serialize)]
pub struct SystemFigures {
    /// Every turn.
    pub all: Figures,
    /// First turns.
    pub first_turns: Figures,
    /// Turns 2 and later (the ones that lean on earlier turns).
    pub later_turns: Figures,
    /// Turns 2 and later, per language.
    pub later_by_lang: BTreeMap<String, Figures>,
}

/// A turn kefu did not get right.
#[derive(Debug, Clone, Serialize)]
pub struct TurnFailure {
    pub conversation: String,
    pub turn: usize,
    pub kind: String,
    pub question: String,
    pub searched: String,
    pub reference: String,
    #[serde(flatten)]
    pub failure: super::exam::Failure,
}

/// A dialogue exam's results.
#[derive(Debug, Serialize)]
pub struct DialogueReport {
    pub exam: String,
    pub conversations: usize,
    pub turns: usize,
    pub kefu: SystemFigures,
    pub baselines: BTreeMap<String, SystemFigures>,
    /// Median time of one turn through the pipeline.
    pub p50_ms: f64,
    pub failures: Vec<TurnFailure>,
}

fn load_customers(corpus: &Path) -> Result<RecordsDirectory> {
    let dir = RecordsDirectory::new(Arc::new(MemoryRecords::new()));
    let folder = corpus.join(crate::index::build::CUSTOMERS_DIR);
    if let Ok(entries) = std::fs::read_dir(&folder) {
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "jsonl") {
                import_jsonl(&dir, &e.path())?;
            }
        }
    }
    Ok(dir)
}

fn question_of(conv: &Conversation, n: usize, t: &Turn) -> Question {
    Question {
        id: format!("{}#{}", conv.id, n + 1),
        lang: conv.lang.clone(),
        area: t.area.clone(),
        question: t.question.clone(),
        expect: t.expect,
        reason: t.reason.clone(),
        facts: t.facts.clone(),
        docs: t.docs.clone(),
        note: None,
    }
}

fn figures(rows: &[(Question, Graded, usize)]) -> SystemFigures {
    let pick = |f: &dyn Fn(&Question, usize) -> bool| -> Figures {
        let picked: Vec<(&Question, &Graded)> = rows
            .iter()
            .filter(|(q, _, n)| f(q, *n))
            .map(|(q, g, _)| (q, g))
            .collect();
        tally(&picked)
    };
    let mut later_by_lang = BTreeMap::new();
    for (q, _, _) in rows {
        if !later_by_lang.contains_key(&q.lang) {
            let lang = q.lang.clone();
            later_by_lang.insert(lang.clone(), pick(&|x, n| n > 0 && x.lang == lang));
        }
    }
    SystemFigures {
        all: pick(&|_, _| true),
        first_turns: pick(&|_, n| n == 0),
        later_turns: pick(&|_, n| n > 0),
        later_by_lang,
    }
}

/// Grades every conversation of `file` on `engine`.
pub fn grade(
    engine: &Engine,
    file: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<DialogueReport> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let mut convs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let c: Conversation = serde_json::from_str(line)
            .map_err(|e| Error::bad_file(file, format!("line {}: {e}", n + 1)))?;
        if c.turns.is_empty() {
            return Err(Error::bad_file(
                file,
                format!("line {}: `{}` has no turns", n + 1, c.id),
            ));
        }
        convs.push(c);
    }
    let customers = load_customers(&engine.config().corpus.dir)?;
    let today = chrono::Utc::now().date_naive();
    let passages = engine.config().answer.passages;
    let mut ours = Vec::new();
    let mut none = Vec::new();
    let mut prepend = Vec::new();
    let mut failures = Vec::new();
    let mut ms = Vec::new();
    for (ci, conv) in convs.iter().enumerate() {
        let customer: Option<Customer> = match &conv.customer {
            None => None,
            Some(id) => {
                let cid = CustomerId::parse(id)?;
                Some(customers.by_id(&cid)?.ok_or_else(|| {
                    Error::bad_file(
                        file,
                        format!("`{}`: no customer `{id}` in the corpus", conv.id),
                    )
                })?)
            }
        };
        let mut history = History::default();
        for (n, t) in conv.turns.iter().enumerate() {
            let q = question_of(conv, n, t);
            let started = Instant::now();
            let reply = engine.chat(&ChatRequest {
                message: t.question.clone(),
                history: &history,
                customer: customer.as_ref(),
                as_of: conv.as_of.unwrap_or(today),
                scope: Scope::Public,
                passages,
                use_llm: false,
                cancel: Default::default(),
            })?;
            ms.push(started.elapsed().as_secs_f64() * 1e3);
            let g = grade_one(&q, &reply.answer.composed);
            if let Some(f) = g.failure.clone() {
                failures.push(TurnFailure {
                    conversation: conv.id.clone(),
                    turn: n + 1,
                    kind: t.kind.clone().unwrap_or_default(),
                    question: t.question.clone(),
                    searched: reply.resolved.text.clone(),
                    reference: t.resolved.clone().unwrap_or_default(),
                    failure: f,
                });
            }
            ours.push((q.clone(), g, n));
            history.turns.push(t.question.clone());
            history.turns.push(reply.answer.composed.text.clone());
            history.previous = Some(reply.resolved.text.clone());
            history.product = reply.resolved.product.clone().or(history.product.take());
            // the baselines: the message alone, and after the previous user message
            let alone = engine.answer(&AnswerRequest::as_bot(engine, t.question.clone(), false))?;
            none.push((q.clone(), grade_one(&q, &alone.composed), n));
            let joined = match n {
                0 => t.question.clone(),
                _ => format!("{} {}", conv.turns[n - 1].question, t.question),
            };
            let after = engine.answer(&AnswerRequest::as_bot(engine, joined, false))?;
            prepend.push((q.clone(), grade_one(&q, &after.composed), n));
        }
        progress(ci + 1, convs.len());
    }
    ms.sort_by(f64::total_cmp);
    let mut baselines = BTreeMap::new();
    baselines.insert("no_rewrite".to_string(), figures(&none));
    baselines.insert("prepend_previous".to_string(), figures(&prepend));
    Ok(DialogueReport {
        exam: file.display().to_string(),
        conversations: convs.len(),
        turns: ours.len(),
        kefu: figures(&ours),
        baselines,
        p50_ms: super::quantile(&ms, 0.5),
        failures,
    })
}
