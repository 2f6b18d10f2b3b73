//! Grounded answers: from the reranked passages of a question, an answer in which every
//! sentence cites the passage (and the exact source bytes) it comes from — or an abstention
//! with a reason and a hand-off. The default composer is extractive ([`extract`]): offline and
//! deterministic. How sure an answer is comes from [`confidence`].

pub mod asked;
pub mod confidence;
pub mod extract;
pub mod llm;
pub mod metrics;
pub mod render;
pub mod scope;
pub mod weigh;

use crate::analyze::Query;
use crate::chunk::Chunk;
use crate::embed::{cosine, Embedder};
use crate::error::Result;
use crate::index::Backend;
use crate::text::Lang;

pub use confidence::{Calibration, Calibrations};
pub use extract::ExtractOptions;

/// A passage offered as evidence, with what retrieval knew of it.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub chunk: Chunk,
    /// Cosine similarity of the passage to the question, when known.
    pub cosine: Option<f32>,
    /// Share of the question's ideal BM25 score the passage reaches (0..1).
    pub coverage: f32,
    /// Its final retrieval score.
    pub score: f32,
}

impl Evidence {
    /// Evidence from ranked passages — (passage, cosine, score), best first — with each
    /// passage's share of the question's ideal BM25 score (`boosts`: the profile of the
    /// question's language).
    pub fn gather(
        index: &dyn Backend,
        boosts: &crate::config::FieldBoosts,
        question: &Query,
        ranked: Vec<(Chunk, Option<f32>, f32)>,
        stats: crate::index::lexical::Stats,
    ) -> Result<Vec<Evidence>> {
        let ids: Vec<_> = ranked.iter().map(|r| r.0.id).collect();
        let fields = index.field_scores(question, boosts, &ids, stats)?;
        Ok(ranked
            .into_iter()
            .zip(&fields)
            .map(|((chunk, cosine, score), f)| Evidence {
                chunk,
                cosine,
                coverage: f.iter().sum(),
                score,
            })
            .collect())
    }
}

/// Why kefu did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Nothing in the knowledge base matched.
    NoEvidence,
    /// Related passages exist but do not answer the question well enough.
    LowConfidence,
    /// The best passages disagree (different figures for the same statement).
    ConflictingSources,
    /// The question is far from anything the knowledge base covers.
    OutOfScope,
    /// The question is about the customer's own order, repair or account, which no document
    /// answers.
    NeedsAccount,
}

impl Reason {
    /// The reason's name on the wire and in reports (`no_evidence`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoEvidence => "no_evidence",
            Reason::LowConfidence => "low_confidence",
            Reason::ConflictingSources => "conflicting_sources",
            Reason::OutOfScope => "out_of_scope",
            Reason::NeedsAccount => "needs_account",
        }
    }
}

/// A cited source of one sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Citation {
    /// The passage number shown as `[n]` (1-based, into `passages`).
    pub n: usize,
    pub chunk_id: String,
    pub doc_id: String,
    pub title: String,
    pub heading_path: Vec<String>,
    pub source: String,
    /// Byte range of the supporting text in the source file.
    pub span: (usize, usize),
    /// The supporting text as the passage has it.
    pub quote: String,
}

/// One sentence of an answer and what supports it.
#[derive(Debug, Clone)]
pub struct AnswerSentence {
    pub text: String,
    pub citations: Vec<Citation>,
}

/// A passage an answer cites, numbered as in the answer's `[n]` markers.
#[derive(Debug, Clone)]
pub struct CitedPassage {
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
    pub span: (usize, usize),
    pub text: String,
}

/// What to tell the customer when kefu hands the question to a person.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub message: String,
}

/// A composed answer (before timings are added).
#[derive(Debug, Clone)]
pub struct Composed {
    /// The language of the question (`en` or `zh`).
    pub language: String,
    /// The answer with `[n]` markers (the hand-off message when abstaining).
    pub text: String,
    pub sentences: Vec<AnswerSentence>,
    pub passages: Vec<CitedPassage>,
    /// Calibrated probability that the evidence answers the question.
    pub confidence: f32,
    pub abstained: bool,
    pub reason: Option<Reason>,
    pub handoff: Option<Handoff>,
    /// `extractive`, `llm`, or `extractive_fallback` (the LLM reply was not usable).
    pub composer: String,
    /// Remarks for the reader (evidence only in another language, say).
    pub notes: Vec<String>,
    /// The confidence signals, for tuning and calibration.
    pub signals: Vec<f32>,
    /// No candidate sentence was in the question's language (the cross-lingual calibration
    /// applies).
    pub cross_lingual: bool,
    /// The candidate sentences weighed, with their features (for training the sentence model).
    pub candidates: Vec<extract::Scored>,
}

/// What is known of the question beyond its evidence.
#[derive(Debug, Clone, Copy, Default)]
pub struct Background {
    /// The idf-weighted share of the question's terms found anywhere in the knowledge base.
    pub known_share: f32,
    /// Cosine of the question with the centroid of all passages, when vectors exist.
    pub centroid_cosine: Option<f32>,
}

/// What the composer needs besides the evidence.
pub struct Composer<'a> {
    /// The index the evidence comes from: its analyzer, and its precomputed sentence vectors.
    pub index: &'a dyn Backend,
    /// Scores sentences by similarity when present (by word overlap alone otherwise);
    /// embeds the sentences the index has no vectors of.
    pub embedder: Option<&'a dyn Embedder>,
    pub calibrations: &'a Calibrations,
    pub options: ExtractOptions,
}

fn lang_name(l: Lang) -> &'static str {
    l.as_str()
}

fn handoff(lang: Lang, reason: Reason) -> Handoff {
    let message = match (lang, reason) {
        (Lang::Zh, Reason::ConflictingSources) => {
            "资料中的说法不一致，我不能确定答案。已为您转接人工客服核实。"
        }
        (Lang::Zh, Reason::NeedsAccount) => {
            "这个问题需要查看您的订单或账户信息，我这里查不到。已为您转接人工客服，请准备好订单号或维修单号。"
        }
        (Lang::Zh, Reason::OutOfScope) => {
            "抱歉，这个问题不在我们的服务资料范围内，我无法回答。如需帮助，已为您转接人工客服。"
        }
        (Lang::Zh, _) => "抱歉，知识库中没有找到能回答这个问题的内容。已为您转接人工客服。",
        (_, Reason::ConflictingSources) => {
            "Our documents disagree on this, so I can't give a sure answer. Let me connect you with an agent who can check."
        }
        (_, Reason::NeedsAccount) => {
            "I can't see your orders or account from here, so I can't check that for you. Let me connect you with an agent; please have your order or repair number ready."
        }
        (_, Reason::OutOfScope) => {
            "Sorry, that's outside what our service documents cover, so I can't answer it. Let me connect you with an agent if you need help."
        }
        _ => "Sorry, I couldn't find this in our knowledge base. Let me connect you with an agent.",
    };
    Handoff {
        message: message.to_string(),
    }
}

/// `out` turned into an abstention for `reason`, with the hand-off message in `lang`.
fn abstained(mut out: Composed, lang: Lang, reason: Reason) -> Composed {
    let h = handoff(lang, reason);
    out.text = h.message.clone();
    out.abstained = true;
    out.reason = Some(reason);
    out.handoff = Some(h);
    out.sentences.clear();
    out
}

impl Composed {
    /// An abstention decided before any evidence was gathered (the question is out of scope,
    /// or needs the customer's account); `note` says what showed it.
    pub fn abstention(lang: Lang, reason: Reason, note: String) -> Composed {
        let mut out = Composed::unanswered(lang, Vec::new());
        out.notes.push(note);
        abstained(out, lang, reason)
    }

    /// Nothing composed yet: no sentences, no confidence, the signals known so far.
    fn unanswered(lang: Lang, signals: Vec<f32>) -> Composed {
        Composed {
            language: lang_name(lang).to_string(),
            text: String::new(),
            sentences: Vec::new(),
            passages: Vec::new(),
            confidence: 0.0,
            abstained: true,
            reason: None,
            handoff: None,
            composer: "extractive".into(),
            notes: Vec::new(),
            signals,
            cross_lingual: false,
            candidates: Vec::new(),
        }
    }
}

impl Composer<'_> {
    /// The confidence signals of a question's evidence and its best sentence.
    fn signals(
        evidence: &[Evidence],
        best: Option<&extract::Scored>,
        background: Background,
    ) -> Vec<f32> {
        let cos: Vec<f32> = evidence.iter().filter_map(|e| e.cosine).collect();
        let top_cos = cos.iter().copied().fold(0f32, f32::max);
        let rest: Vec<f32> = cos.iter().skip(1).copied().collect();
        let margin = if rest.is_empty() {
            0.0
        } else {
            cos.first().copied().unwrap_or(0.0) - rest.iter().sum::<f32>() / rest.len() as f32
        };
        let top_cov = evidence.iter().map(|e| e.coverage).fold(0f32, f32::max);
        vec![
            top_cos,
            top_cov,
            best.map_or(0.0, |s| s.cosine),
            best.map_or(0.0, |s| s.overlap),
            margin,
            background.known_share,
            background.centroid_cosine.map_or(0.0, |c| top_cos - c),
        ]
    }

    /// Cosine of each sentence with the question: from the precomputed vectors, the rest
    /// embedded now (in one batch); empty when neither is available.
    fn sentence_cosines(
        &self,
        q: &[f32],
        evidence: &[Evidence],
        sents: &[extract::Scored],
    ) -> Result<Vec<f32>> {
        let mut out: Vec<Option<f32>> = sents
            .iter()
            .map(|s| {
                self.index
                    .sentence_cosine(evidence[s.passage].chunk.id, s.range, q)
            })
            .collect();
        let missing: Vec<usize> = (0..sents.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            let Some(e) = self.embedder else {
                if missing.len() == sents.len() {
                    return Ok(Vec::new());
                }
                // some vectors but not all: the others count as unrelated
                return Ok(out.into_iter().map(|c| c.unwrap_or(0.0)).collect());
            };
            let texts: Vec<&str> = missing.iter().map(|&i| sents[i].text.as_str()).collect();
            for (&i, v) in missing.iter().zip(e.embed_passages(&texts)?) {
                out[i] = Some(cosine(q, &v));
            }
        }
        Ok(out.into_iter().map(|c| c.unwrap_or(0.0)).collect())
    }

    /// Composes the answer to `question` from `evidence` (best first); `qvec` is the question's
    /// vector when one was made.
    pub fn compose(
        &self,
        question: &Query,
        qvec: Option<&[f32]>,
        evidence: &[Evidence],
        background: Background,
    ) -> Result<Composed> {
        let lang = question.lang;
        let opts = &self.options;
        let mut sents = extract::sentences(evidence, opts);
        let cosines = match qvec {
            Some(q) if !sents.is_empty() => self.sentence_cosines(q, evidence, &sents)?,
            _ => Vec::new(),
        };
        let asked = asked::Asked::of(&question.text);
        extract::score(
            self.index.analyzer(),
            question.overlap_terms(),
            &asked,
            weigh::SentenceModel::builtin(),
            &mut sents,
            &cosines,
        );
        let best = sents.iter().max_by(|a, b| a.score.total_cmp(&b.score));
        let signals = Self::signals(evidence, best, background);
        let mut out = Composed::unanswered(lang, signals.clone());
        let abstain = |out: Composed, reason: Reason| abstained(out, lang, reason);
        if evidence.is_empty() || sents.is_empty() {
            return Ok(abstain(out, Reason::NoEvidence));
        }
        // answer in the question's language when there is evidence in it
        let same_language = sents.iter().any(|s| s.language == lang);
        out.cross_lingual = !same_language;
        let calibration = self.calibrations.pick(lang, same_language);
        out.confidence = calibration.confidence(&signals);
        let picked = extract::select(&sents, same_language.then_some(lang), &asked, opts);
        out.candidates = sents.clone();
        if !same_language {
            out.notes.push(match lang {
                Lang::Zh => "只找到英文资料，以下按原文引用。".to_string(),
                Lang::En => {
                    "Only Chinese sources were found; they are quoted as written.".to_string()
                }
            });
        }
        // number the cited passages in order of first citation
        let mut numbered: Vec<usize> = Vec::new();
        for s in &picked {
            if !numbered.contains(&s.passage) {
                numbered.push(s.passage);
            }
        }
        out.passages = numbered
            .iter()
            .enumerate()
            .map(|(i, &p)| cited_passage(i + 1, &evidence[p].chunk))
            .collect();
        let mut parts = Vec::new();
        for s in &picked {
            let n = numbered.iter().position(|p| *p == s.passage).unwrap_or(0) + 1;
            let c = &evidence[s.passage].chunk;
            out.sentences.push(AnswerSentence {
                text: s.shown.clone(),
                citations: vec![Citation {
                    n,
                    chunk_id: c.id.to_string(),
                    doc_id: c.meta.id.clone(),
                    title: c.meta.title.clone(),
                    heading_path: c.heading_path.clone(),
                    source: c.meta.source.clone(),
                    span: c.source_span(s.range.0, s.range.1),
                    quote: s.text.clone(),
                }],
            });
            parts.push(format!("{}[{n}]", s.shown));
        }
        out.text = parts.join(if lang == Lang::Zh { "" } else { " " });
        if out.confidence < calibration.threshold {
            let reason = if out.confidence < calibration.threshold / 2.0 {
                Reason::OutOfScope
            } else {
                Reason::LowConfidence
            };
            return Ok(abstain(out, reason));
        }
        // conflicts: two documents the answer cites stating the same thing with other figures
        // (among the strong sentences of the cited passages: a conflicting one is often
        // dropped from the answer as a near-repeat of the lead, so look before that). A
        // ticket quotes the documents and yields to them.
        let top = picked.iter().map(|s| s.score).fold(0f32, f32::max);
        let strong: Vec<&extract::Scored> = sents
            .iter()
            .filter(|s| {
                s.score >= opts.keep_ratio * top
                    && !s.ticket
                    && numbered.contains(&s.passage)
                    && (!same_language || s.language == lang)
            })
            .collect();
        for (i, a) in strong.iter().enumerate() {
            for b in &strong[i + 1..] {
                let (da, db) = (
                    &evidence[a.passage].chunk.meta.id,
                    &evidence[b.passage].chunk.meta.id,
                );
                if da != db && extract::conflicting(&a.text, &b.text) {
                    tracing::debug!(a = %a.text, b = %b.text, "conflicting sources");
                    return Ok(abstain(out, Reason::ConflictingSources));
                }
            }
        }
        out.abstained = false;
        Ok(out)
    }
}

/// What a streaming caller is told as the answer forms.
#[derive(Debug, Clone)]
pub enum AnswerEvent {
    /// A sentence, checked, with its citations.
    Sentence { sentence: AnswerSentence },
    /// Forget the sentences sent so far: the LLM reply was not usable and the extractive
    /// answer follows.
    Reset { reason: String },
}

/// Where events go (`false` back: the caller is gone, stop).
pub type Sink<'a> = &'a mut dyn FnMut(AnswerEvent) -> bool;

impl Composer<'_> {
    /// Sends an answer's sentences to a streaming caller.
    pub fn emit_all(composed: &Composed, sink: Sink<'_>) {
        for s in &composed.sentences {
            if !sink(AnswerEvent::Sentence {
                sentence: s.clone(),
            }) {
                return;
            }
        }
    }

    /// The answer written by the LLM from `evidence` (all of it numbered), each sentence
    /// checked as it arrives and sent to `sink`; the extractive answer (`extractive`, already
    /// composed: its confidence and abstention stand) when the reply is not usable.
    pub fn compose_llm(
        &self,
        client: &llm::LlmClient,
        limits: &crate::config::LlmConfig,
        question: &Query,
        evidence: &[Evidence],
        extractive: Composed,
        sink: Sink<'_>,
    ) -> Composed {
        if extractive.abstained {
            return extractive;
        }
        let lang = question.lang;
        let validator = llm::Validator {
            index: self.index,
            embedder: self.embedder,
            evidence,
            min_overlap: limits.min_overlap,
            min_similarity: limits.min_similarity,
        };
        let messages = llm::messages(&question.text, lang, evidence);
        let mut run = LlmRun {
            validator: &validator,
            held: None,
            waiting: Vec::new(),
            kept: Vec::new(),
            dropped: Vec::new(),
            sink,
            gone: false,
        };
        let mut buffer = llm::SentenceBuffer::default();
        let result = client.stream(&messages, &mut |piece| {
            for s in buffer.push(piece) {
                run.take(s);
            }
            !run.gone
        });
        let failure = match result {
            Ok(ending) => {
                if let Some(rest) = buffer.finish(ending == llm::Ending::Complete) {
                    run.take(rest);
                }
                run.finish();
                if ending == llm::Ending::CutOff {
                    run.dropped
                        .push(("(cut off)".into(), llm::Rejection::Unsupported));
                }
                let total = run.kept.len() + run.dropped.len();
                let needed = ((total as f32) * limits.min_kept).ceil() as usize;
                if run.kept.is_empty() || run.kept.len() < needed.max(1) {
                    Some(format!(
                        "{} of {} sentences of the LLM reply were cited and supported",
                        run.kept.len(),
                        total
                    ))
                } else {
                    None
                }
            }
            Err(e) => Some(e.to_string()),
        };
        let (kept, dropped, sink) = (run.kept, run.dropped, run.sink);
        if let Some(reason) = failure {
            tracing::warn!(%reason, ?dropped, "the LLM reply was not used; answering extractively");
            let mut out = extractive;
            out.composer = "extractive_fallback".into();
            out.notes
                .push(format!("the LLM reply was not used: {reason}"));
            if sink(AnswerEvent::Reset {
                reason: reason.clone(),
            }) {
                Self::emit_all(&out, sink);
            }
            return out;
        }
        let mut out = extractive;
        out.composer = "llm".into();
        out.passages = evidence
            .iter()
            .enumerate()
            .map(|(i, e)| cited_passage(i + 1, &e.chunk))
            .collect();
        out.text = kept
            .iter()
            .map(|s| {
                let marks: String = s.citations.iter().map(|c| format!("[{}]", c.n)).collect();
                format!("{}{marks}", s.text)
            })
            .collect::<Vec<_>>()
            .join(if lang == Lang::Zh { "" } else { " " });
        out.sentences = kept;
        if !dropped.is_empty() {
            out.notes.push(format!(
                "{} sentence(s) of the LLM reply were removed (uncited, citing a passage not given, or not supported by the cited passage)",
                dropped.len()
            ));
        }
        out
    }
}

/// A reply being checked sentence by sentence. One sentence is held back until the next one
/// starts, because models often put the `[n]` after the full stop, at the start of what
/// follows. Uncited sentences wait for the next citation in the same block (paragraph or
/// list), because models often cite a list or paragraph once, at its end ("… 4. Keep the
/// bolts. [3]") or on a line of its own ("资料编号：[1]"); the citation then covers them, and each
/// is still checked against the passage it names. At a blank line or the reply's end, what is
/// still uncited is dropped.
struct LlmRun<'a, 'b> {
    validator: &'a llm::Validator<'a>,
    held: Option<llm::ReplySentence>,
    waiting: Vec<String>,
    kept: Vec<AnswerSentence>,
    dropped: Vec<(String, llm::Rejection)>,
    sink: Sink<'b>,
    gone: bool,
}

impl LlmRun<'_, '_> {
    fn take(&mut self, sentence: llm::ReplySentence) {
        let held = self.held.take().unwrap_or_default();
        let mut parts = llm::reattach(vec![held.text, sentence.text]);
        // `parts` is the held sentence (now with any markers moved onto it) and the new one,
        // or one sentence when the new one was only markers
        let new = parts.pop();
        if let Some(prev) = parts.pop() {
            self.held = Some(llm::ReplySentence {
                text: prev,
                ends_block: held.ends_block,
            });
            self.flush();
            self.held = new.map(|text| llm::ReplySentence {
                text,
                ends_block: sentence.ends_block,
            });
        } else {
            self.held = new.map(|text| llm::ReplySentence {
                text,
                ends_block: held.ends_block || sentence.ends_block,
            });
        }
    }

    fn flush(&mut self) {
        let Some(s) = self.held.take() else {
            return;
        };
        let (text, numbers) = llm::citations_of(&s.text);
        if !numbers.is_empty() {
            let marks: String = numbers.iter().map(|n| format!("[{n}]")).collect();
            for w in std::mem::take(&mut self.waiting) {
                self.check(format!("{w}{marks}"));
            }
        }
        if !llm::is_label(&text) {
            if numbers.is_empty() {
                self.waiting.push(s.text);
            } else {
                self.check(s.text);
            }
        }
        if s.ends_block {
            self.end_block();
        }
    }

    /// Flushes the held sentence and drops what is still uncited.
    fn finish(&mut self) {
        self.flush();
        self.end_block();
    }

    fn end_block(&mut self) {
        for w in std::mem::take(&mut self.waiting) {
            self.dropped.push((w, llm::Rejection::Uncited));
        }
    }

    fn check(&mut self, s: String) {
        match self.validator.check(&s) {
            Ok(sentence) => {
                if !self.gone
                    && !(self.sink)(AnswerEvent::Sentence {
                        sentence: sentence.clone(),
                    })
                {
                    self.gone = true;
                }
                self.kept.push(sentence);
            }
            Err(why) => self.dropped.push((s, why)),
        }
    }
}

fn cited_passage(n: usize, c: &Chunk) -> CitedPassage {
    CitedPassage {
        n,
        chunk_id: c.id.to_string(),
        doc_id: c.meta.id.clone(),
        title: c.meta.title.clone(),
        heading_path: c.heading_path.clone(),
        doc_type: c.meta.doc_type.as_str().to_string(),
        language: c.language.as_str().to_string(),
        audience: c.meta.audience.as_str().to_string(),
        source: c.meta.source.clone(),
        span: c.span,
        text: c.text.clone(),
    }
}
