//! Answer figures of a data set: how often kefu answers, whether it cites a gold passage,
//! ROUGE-L against reference answers or containment of answer spans, and — with a set of
//! unanswerable questions — the precision and recall of abstaining. Every answer is the
//! engine's own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::answer::{metrics, Calibrations, CitedPassage};
use crate::config::Config;
use crate::domain::ChunkId;
use crate::engine::{AnswerRequest, Engine};
use crate::error::{Error, Result};
use crate::index::sentences::{PassageSentences, SentenceVectors};
use crate::rerank::Reranker;
use crate::retrieve::{Filters, Scope};

use super::{quantile, Dataset};

/// Passages retrieved as an answer's evidence.
const EVIDENCE: usize = 5;

/// Answer quality on a data set (and, with negatives, abstention).
#[derive(Debug, Clone, Serialize)]
pub struct AnswerEval {
    pub dataset: String,
    pub questions: usize,
    /// Share of answered questions.
    pub answered: f64,
    /// Share of answers (abstention aside) whose citations include a gold passage.
    pub cited_gold: f64,
    /// Share of questions with a gold passage among the evidence (the ceiling of `cited_gold`).
    pub gold_in_evidence: f64,
    /// Mean ROUGE-L of the answer against the reference answer, and of the top passage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rouge_l: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rouge_l_top_passage: Option<f64>,
    /// Share of answers containing the gold answer span, and of top passages containing it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_contained: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_top_passage: Option<f64>,
    /// With negatives: the data set the unanswerable questions come from, and the precision and
    /// recall of abstaining on them at the calibration's threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negatives: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abstention_precision: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abstention_recall: Option<f64>,
    /// Median time to answer one question (retrieval, reranking, composing).
    pub p50_ms: f64,
}

/// A question's confidence signals and whether it was answerable.
pub type Labelled = (Vec<f32>, bool);

/// Answers every judged question of `ds` (retrieval, reranking, the extractive composer, as
/// [`Engine::answer`] does) and, with `negatives`, that set's questions against `ds`'s corpus
/// (unanswerable). Returns the figures and, per question, its confidence signals and whether it
/// was answerable. The sentence vectors of the evidence are embedded first, as the indexer
/// would (not timed: the product computes them when indexing); quality is measured on every
/// answer, and abstention from the confidence afterwards.
pub fn evaluate_answers(
    ds: &Dataset,
    negatives: Option<&Dataset>,
    config: &Config,
    analyzer: &Arc<crate::analyze::Analyzer>,
    reranker: Arc<Reranker>,
    calibrations: &Calibrations,
    progress: bool,
) -> Result<(AnswerEval, Vec<Labelled>)> {
    let mut questions: Vec<(&str, &str, bool)> = ds
        .queries
        .iter()
        .filter(|(id, _)| ds.qrels.contains_key(id))
        .map(|(id, t)| (id.as_str(), t.as_str(), true))
        .collect();
    if let Some(neg) = negatives {
        questions.extend(
            neg.queries
                .iter()
                .filter(|(id, _)| neg.qrels.contains_key(id))
                .map(|(id, t)| (id.as_str(), t.as_str(), false)),
        );
    }
    // the engine never abstains: the confidence is computed here, with the real calibration
    let never = Arc::new(calibrations.never_abstaining());
    let prep = super::prepare(ds, config, analyzer, progress, true, Some(reranker), never)?;
    let request = |text: &str| AnswerRequest {
        question: text.to_string(),
        filters: Filters::default(),
        scope: Scope::All,
        passages: EVIDENCE,
        use_llm: false,
        cancel: Default::default(),
    };
    let engine = with_sentence_vectors(&prep.engine, &questions, &request)?;
    let mut tally = Tally::default();
    let mut signals = Vec::new();
    let mut confidences = Vec::new();
    let mut times = Vec::new();
    for (i, (qid, text, answerable)) in questions.iter().enumerate() {
        let t = Instant::now();
        let answer = engine.answer(&request(text))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        let composed = &answer.composed;
        let calibration =
            calibrations.pick(crate::text::Lang::detect(text), !composed.cross_lingual);
        // a question the scope check turned away never reaches the confidence: it abstains
        let confidence = if composed.signals.is_empty() {
            f32::NEG_INFINITY
        } else {
            signals.push((composed.signals.clone(), *answerable));
            calibration.confidence(&composed.signals)
        };
        confidences.push((confidence, *answerable, calibration.threshold));
        if progress && (i + 1) % 100 == 0 {
            eprint!("\r{}: {}/{} questions", ds.name, i + 1, questions.len());
        }
        if *answerable {
            let answered = confidence >= calibration.threshold && !composed.abstained;
            tally.add(ds, qid, answered, &answer);
        }
    }
    if progress {
        eprintln!("\r{}: {} questions", ds.name, questions.len());
    }
    let (ap, ar) = if negatives.is_some() {
        // each question against its own language's threshold
        let shifted: Vec<(f32, bool)> = confidences.iter().map(|(c, a, t)| (c - t, *a)).collect();
        let (p, r) = crate::answer::confidence::abstention(&shifted, 0.0);
        (Some(p), Some(r))
    } else {
        (None, None)
    };
    times.sort_by(f64::total_cmp);
    Ok((
        tally.figures(ds, negatives, ap, ar, quantile(&times, 0.5)),
        signals,
    ))
}

/// The engine over the same generation with the sentence vectors of every passage that is
/// evidence for some question (embedded once per passage, as the indexer embeds them).
fn with_sentence_vectors(
    engine: &Engine,
    questions: &[(&str, &str, bool)],
    request: &dyn Fn(&str) -> AnswerRequest,
) -> Result<Engine> {
    let Some(embedder) = engine.embedder() else {
        return Err(Error::Internal("no vectors prepared".into()));
    };
    let mut memo: HashMap<ChunkId, PassageSentences> = HashMap::new();
    for (_, text, _) in questions {
        let query = engine.analyse(text);
        for r in engine.retrieve(&query, &request(text), false)?.items {
            if memo.contains_key(&r.chunk.id) {
                continue;
            }
            let ranges = crate::text::quotable_ranges(&r.chunk.text);
            let texts: Vec<&str> = ranges.iter().map(|(a, b)| &r.chunk.text[*a..*b]).collect();
            let vecs = embedder.embed_passages(&texts)?;
            memo.insert(r.chunk.id, ranges.into_iter().zip(vecs).collect());
        }
    }
    let sentences = SentenceVectors::build(embedder.dim(), memo.into_iter().collect())?;
    Ok(engine.with_generation(engine.generation().with_sentences(sentences)))
}

/// Counts over the answerable questions.
#[derive(Default)]
struct Tally {
    own: usize,
    answered: usize,
    cited: usize,
    in_evidence: usize,
    rouge: f64,
    rouge_top: f64,
    n_ref: usize,
    span: usize,
    span_top: usize,
    n_span: usize,
}

impl Tally {
    fn add(&mut self, ds: &Dataset, qid: &str, answered: bool, answer: &crate::engine::Answer) {
        let composed = &answer.composed;
        self.own += 1;
        self.answered += usize::from(answered);
        let gold = &ds.qrels[qid];
        let corpus_id = |chunk_id: &str| -> String {
            chunk_id
                .parse::<ChunkId>()
                .ok()
                .and_then(|k| ds.corpus.get(k.0 as usize))
                .map(|x| x.0.clone())
                .unwrap_or_default()
        };
        let cited_gold = |p: &CitedPassage| gold.contains(&corpus_id(&p.chunk_id));
        self.cited += usize::from(composed.passages.iter().any(cited_gold));
        let evidence = &answer.evidence;
        self.in_evidence += usize::from(
            evidence
                .iter()
                .any(|c| gold.contains(&corpus_id(&c.id.to_string()))),
        );
        let plain: String = composed
            .sentences
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let top_text = evidence.first().map_or("", |c| c.text.as_str());
        if let Some(reference) = ds.answers.get(qid) {
            // long reference answers are scored with ROUGE-L, short ones as spans
            if reference.chars().count() > 40 {
                self.n_ref += 1;
                self.rouge += metrics::rouge_l(&plain, reference);
                self.rouge_top += metrics::rouge_l(top_text, reference);
            } else {
                self.n_span += 1;
                self.span += usize::from(metrics::contains_span(&plain, reference));
                self.span_top += usize::from(metrics::contains_span(top_text, reference));
            }
        }
    }

    fn figures(
        &self,
        ds: &Dataset,
        negatives: Option<&Dataset>,
        abstention_precision: Option<f64>,
        abstention_recall: Option<f64>,
        p50_ms: f64,
    ) -> AnswerEval {
        let own = self.own.max(1) as f64;
        let (n_ref, n_span) = (self.n_ref, self.n_span);
        AnswerEval {
            dataset: ds.name.clone(),
            questions: self.own,
            answered: self.answered as f64 / own,
            cited_gold: self.cited as f64 / own,
            gold_in_evidence: self.in_evidence as f64 / own,
            rouge_l: (n_ref > 0).then(|| self.rouge / n_ref as f64),
            rouge_l_top_passage: (n_ref > 0).then(|| self.rouge_top / n_ref as f64),
            span_contained: (n_span > 0).then(|| self.span as f64 / n_span as f64),
            span_top_passage: (n_span > 0).then(|| self.span_top as f64 / n_span as f64),
            negatives: negatives.map(|n| n.name.clone()),
            abstention_precision,
            abstention_recall,
            p50_ms,
        }
    }
}
