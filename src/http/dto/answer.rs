//! `POST /v1/answer`: the request body, the answer with its citations, and the events of a
//! streamed answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::search::Mode;
use super::{span, FilterMap, Span};
use crate::answer;

/// A question to answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    pub question: String,
    /// As in SearchBody.
    #[serde(default)]
    #[schema(inline)]
    pub filters: FilterMap,
    /// Passages retrieved as evidence (default answer.passages).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 50)]
    pub passages: Option<usize>,
    /// Server-sent events: `sentence` (each checked sentence with its citations), `reset`
    /// (the LLM reply was dropped; the extractive sentences follow), then `answer` (the whole
    /// AnswerResponse) or `error`.
    #[serde(default)]
    pub stream: bool,
    /// `llm` (the default when [answer.llm] is configured) or `extractive`.
    #[serde(default)]
    #[schema(value_type = Option<ComposerChoice>)]
    pub composer: Option<String>,
}

/// The composers a request may ask for.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ComposerChoice {
    Extractive,
    Llm,
}

/// Why kefu did not answer.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Nothing in the knowledge base matched.
    NoEvidence,
    /// Related passages exist but do not answer the question well enough.
    LowConfidence,
    /// The best passages disagree.
    ConflictingSources,
    /// The question is about a product, brand or subject the knowledge base does not cover.
    OutOfScope,
    /// The question is about the customer's own order, repair or account.
    NeedsAccount,
}

impl From<answer::Reason> for Reason {
    fn from(r: answer::Reason) -> Reason {
        match r {
            answer::Reason::NoEvidence => Reason::NoEvidence,
            answer::Reason::LowConfidence => Reason::LowConfidence,
            answer::Reason::ConflictingSources => Reason::ConflictingSources,
            answer::Reason::OutOfScope => Reason::OutOfScope,
            answer::Reason::NeedsAccount => Reason::NeedsAccount,
        }
    }
}

/// A cited source of one sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct Citation {
    /// The `[n]` marker: index into `passages` (1-based).
    pub n: usize,
    pub chunk_id: String,
    pub doc_id: String,
    pub title: String,
    pub heading_path: Vec<String>,
    pub source: String,
    /// Byte range of the supporting text in the source file.
    pub span: Span,
    /// The supporting text as the passage has it.
    pub quote: String,
}

/// One sentence of an answer and what supports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sentence {
    pub text: String,
    pub citations: Vec<Citation>,
}

/// A passage an answer cites, numbered as in its `[n]` markers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Passage {
    pub n: usize,
    pub chunk_id: String,
    pub doc_id: String,
    pub title: String,
    pub heading_path: Vec<String>,
    pub doc_type: String,
    pub language: String,
    pub audience: String,
    pub source: String,
    /// Byte range of the passage in the source file.
    pub span: Span,
    pub text: String,
}

/// What to tell the customer when kefu hands the question to a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Handoff {
    pub message: String,
}

/// Milliseconds spent in each stage of answering.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timings {
    /// Embedding the question (part of `retrieve_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_ms: Option<f64>,
    /// Reranking the candidates (part of `retrieve_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_ms: Option<f64>,
    pub retrieve_ms: f64,
    pub compose_ms: f64,
    pub total_ms: f64,
}

/// An answer with a citation for every sentence, or an abstention with its reason and a
/// hand-off.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerResponse {
    /// The index generation that answered (absent on the command line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    pub question: String,
    /// The language of the question (`en` or `zh`).
    pub language: String,
    /// The answer with `[n]` markers, or the hand-off message when abstaining.
    pub text: String,
    pub sentences: Vec<Sentence>,
    pub passages: Vec<Passage>,
    /// Calibrated probability that the evidence answers the question.
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f32,
    pub abstained: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Handoff>,
    /// `extractive`, `llm`, or `extractive_fallback` (the LLM reply was not usable).
    pub composer: String,
    /// Remarks for the reader (evidence only in another language, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The retrieval mode used (bm25 when the embedding model is unavailable).
    pub mode: Mode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub timings: Timings,
}

fn citation(c: answer::Citation) -> Citation {
    Citation {
        n: c.n,
        chunk_id: c.chunk_id,
        doc_id: c.doc_id,
        title: c.title,
        heading_path: c.heading_path,
        source: c.source,
        span: span(c.span),
        quote: c.quote,
    }
}

impl From<answer::AnswerSentence> for Sentence {
    fn from(s: answer::AnswerSentence) -> Sentence {
        Sentence {
            text: s.text,
            citations: s.citations.into_iter().map(citation).collect(),
        }
    }
}

fn passage(p: answer::CitedPassage) -> Passage {
    Passage {
        n: p.n,
        chunk_id: p.chunk_id,
        doc_id: p.doc_id,
        title: p.title,
        heading_path: p.heading_path,
        doc_type: p.doc_type,
        language: p.language,
        audience: p.audience,
        source: p.source,
        span: span(p.span),
        text: p.text,
    }
}

impl AnswerResponse {
    /// The response for `a`, answered by `generation` when there is one to say.
    pub fn new(a: crate::Answer, generation: Option<u64>) -> AnswerResponse {
        let c = a.composed;
        AnswerResponse {
            generation,
            question: a.question,
            language: c.language,
            text: c.text,
            sentences: c.sentences.into_iter().map(Sentence::from).collect(),
            passages: c.passages.into_iter().map(passage).collect(),
            confidence: c.confidence,
            abstained: c.abstained,
            reason: c.reason.map(Reason::from),
            handoff: c.handoff.map(|h| Handoff { message: h.message }),
            composer: c.composer,
            notes: c.notes,
            mode: a.mode.into(),
            warnings: a.warnings,
            timings: Timings {
                embed_ms: a.timings.embed_ms,
                rerank_ms: a.timings.rerank_ms,
                retrieve_ms: a.timings.retrieve_ms,
                compose_ms: a.timings.compose_ms,
                total_ms: a.timings.total_ms,
            },
        }
    }
}

/// What a streaming caller is told as the answer forms (the `data` of a server-sent event
/// named after `event`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A sentence, checked, with its citations.
    Sentence { sentence: Sentence },
    /// Forget the sentences sent so far: the LLM reply was not usable and the extractive
    /// answer follows.
    Reset { reason: String },
}

impl Event {
    /// The server-sent event's name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Sentence { .. } => "sentence",
            Event::Reset { .. } => "reset",
        }
    }
}

impl From<answer::AnswerEvent> for Event {
    fn from(e: answer::AnswerEvent) -> Event {
        match e {
            answer::AnswerEvent::Sentence { sentence } => Event::Sentence {
                sentence: sentence.into(),
            },
            answer::AnswerEvent::Reset { reason } => Event::Reset { reason },
        }
    }
}
