//! The optional LLM composer: an OpenAI-compatible chat-completions server writes the answer
//! from numbered passages; kefu checks every sentence of the reply before anyone sees it.
//!
//! A sentence is kept only when it cites at least one passage `[n]` that exists and its words
//! (or, across languages, its meaning) are found in the cited passage; the citation then points
//! at the passage sentence that supports it best, with that sentence's byte span. When too
//! little of the reply survives (uncited text, wrong numbers, garbage, a timeout, a reply cut
//! off before any sentence ended), the extractive answer is returned instead, marked
//! `extractive_fallback`.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::{json, Value};

use crate::analyze::Query;
use crate::config::LlmConfig;
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::index::Backend;
use crate::text::{split_sentences, Lang};

use super::{extract, AnswerSentence, Citation, Evidence};

/// A chat-completions client.
pub struct LlmClient {
    agent: ureq::Agent,
    config: LlmConfig,
    api_key: Option<String>,
}

/// How a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The model finished (`finish_reason` `stop`).
    Complete,
    /// It hit `max_tokens` or the stream broke off: the last sentence may be unfinished.
    CutOff,
}

impl LlmClient {
    /// A client for `[answer.llm]`; the API key is read from the environment variable it names.
    pub fn new(config: &LlmConfig) -> LlmClient {
        let api_key = (!config.api_key_env.is_empty())
            .then(|| std::env::var(&config.api_key_env).ok())
            .flatten()
            .filter(|k| !k.is_empty());
        let agent = ureq::builder()
            .timeout_connect(Duration::from_millis(config.connect_timeout_ms))
            .timeout_read(Duration::from_millis(config.timeout_ms))
            .build();
        LlmClient {
            agent,
            config: config.clone(),
            api_key,
        }
    }

    /// Streams a completion, calling `on_text` with each piece of text; stops early when it
    /// returns false. Returns how the reply ended. Errors: the server unreachable, an HTTP
    /// error, a read timeout, or a stream that is not chat-completion chunks.
    pub fn stream(
        &self,
        messages: &Value,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Ending> {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let mut req = self
            .agent
            .post(&url)
            .timeout(Duration::from_millis(self.config.total_timeout_ms));
        if let Some(k) = &self.api_key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let body = json!({
            "model": self.config.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self.config.max_tokens,
            "stream": true,
        });
        let resp = match req.send_json(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                return Err(Error::NotAvailable(format!(
                    "the LLM server answered {code}: {}",
                    text.chars().take(200).collect::<String>()
                )));
            }
            Err(e) => {
                return Err(Error::NotAvailable(format!(
                    "the LLM server is unreachable: {e}"
                )))
            }
        };
        let mut ending = Ending::CutOff;
        let mut got_chunk = false;
        for line in BufReader::new(resp.into_reader()).lines() {
            let line =
                line.map_err(|e| Error::NotAvailable(format!("reading the LLM reply: {e}")))?;
            let line = line.trim_end_matches('\r');
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let data = data.trim_start();
            if data == "[DONE]" {
                break;
            }
            let v: Value = serde_json::from_str(data).map_err(|_| {
                Error::NotAvailable(
                    "the LLM reply is not a stream of chat-completion chunks".into(),
                )
            })?;
            let choice = &v["choices"][0];
            if choice.is_null() {
                return Err(Error::NotAvailable("the LLM reply has no choices".into()));
            }
            got_chunk = true;
            if let Some(t) = choice["delta"]["content"].as_str() {
                if !on_text(t) {
                    return Ok(Ending::CutOff);
                }
            }
            match choice["finish_reason"].as_str() {
                Some("stop") => ending = Ending::Complete,
                Some(_) => ending = Ending::CutOff,
                None => {}
            }
        }
        if !got_chunk {
            return Err(Error::NotAvailable("the LLM reply was empty".into()));
        }
        Ok(ending)
    }
}

/// The chat messages: a system prompt in the question's language, then the numbered passages,
/// the question, and how to write and cite the answer, with an example. Small local models
/// (checked with Qwen2.5-1.5B and SmolLM2, `benches/llm_e2e.py`) follow instructions placed
/// after the passages far better than ones only in the system prompt, and answer with a bare
/// "[1]" or an uncited fragment otherwise. The example is about something no knowledge base
/// of ours holds: a model that copies it (they do, when it is about the question's subject or
/// a placeholder) then writes a sentence the checks remove.
pub fn messages(question: &str, lang: Lang, evidence: &[Evidence]) -> Value {
    let (system, passages, asked, rules) = match lang {
        Lang::Zh => (
            "你是客服助手。请只用用户给出的资料回答问题，用中文回答。资料里没有的内容不要写；如果资料不能回答问题，就说不知道。",
            "资料：\n",
            "问题：",
            "\n\n要求：用一到三个完整的句子回答，不要用列表。每句话末尾用方括号写上依据的资料编号。格式示例（与本题无关）：博物馆早上 9 点开门[1]。门票 5 欧元[2]。",
        ),
        Lang::En => (
            "You are a customer-service assistant. Answer the question using only the passages the user gives, in English. Do not add anything the passages do not say; if they do not answer the question, say you don't know.",
            "Passages:\n",
            "Question: ",
            "\n\nInstructions: answer in one to three complete sentences, not a list. End every sentence with the number of the passage it comes from in square brackets. An example of the form (about something else): The museum opens at 9 am [1]. Tickets cost 5 euros [2].",
        ),
    };
    let mut user = String::from(passages);
    for (i, e) in evidence.iter().enumerate() {
        let c = &e.chunk;
        let mut title = c.meta.title.clone();
        for h in &c.heading_path {
            title.push_str(" › ");
            title.push_str(h);
        }
        user.push_str(&format!("[{}] {}\n{}\n\n", i + 1, title, c.text));
    }
    user.push_str(asked);
    user.push_str(question);
    user.push_str(rules);
    json!([
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ])
}

/// Whether a reply sentence, its markers removed, is no statement but a label for them
/// ("Source: [1]", "资料编号：[1]", "(from [3])") or a list item's number ("1."): its markers then
/// belong to the sentences before it, and it is not itself part of the answer.
pub fn is_label(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "from",
        "source",
        "sources",
        "see",
        "ref",
        "reference",
        "references",
        "passage",
        "passages",
        "来源",
        "资料",
        "资料编号",
        "出处",
        "参见",
        "参考资料",
        "依据",
    ];
    let t = text.trim();
    let bare = t.trim_matches(|c: char| {
        c.is_whitespace() || c.is_ascii_punctuation() || "：。，（）、".contains(c)
    });
    bare.is_empty()
        || bare.chars().all(|c| c.is_ascii_digit())
        || WORDS.contains(&bare.to_lowercase().as_str())
        || ((t.ends_with(':') || t.ends_with('：')) && bare.chars().count() <= 16)
}

/// A finished sentence of a streamed reply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplySentence {
    pub text: String,
    /// A blank line (or the reply's end) follows: a citation after it no longer covers it.
    pub ends_block: bool,
}

impl ReplySentence {
    fn new(raw: &str, ends_block: bool) -> Self {
        ReplySentence {
            text: raw.trim().to_string(),
            ends_block: ends_block || raw.chars().filter(|&c| c == '\n').count() >= 2,
        }
    }
}

/// Why a sentence of a reply was dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// No `[n]` marker.
    Uncited,
    /// A marker for a passage that was not given.
    UnknownCitation(usize),
    /// The cited passages do not say it.
    Unsupported,
}

/// The `[n]` markers of a sentence and the sentence without them.
pub fn citations_of(sentence: &str) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(sentence.len());
    let mut numbers = Vec::new();
    let mut rest = sentence;
    while let Some(open) = rest.find(['[', '【']) {
        let bracket = rest[open..].chars().next().map_or(1, char::len_utf8);
        let after = &rest[open + bracket..];
        let close = after.find([']', '】']);
        let inner = close.map(|c| &after[..c]);
        let parsed: Option<Vec<usize>> = inner.and_then(|inner| {
            inner
                .split([',', '，', ' '])
                .filter(|p| !p.is_empty())
                .map(|p| p.trim().parse::<usize>().ok())
                .collect()
        });
        match (parsed, close) {
            (Some(ns), Some(c)) if !ns.is_empty() => {
                text.push_str(&rest[..open]);
                numbers.extend(ns);
                let closing = after[c..].chars().next().map_or(1, char::len_utf8);
                rest = &after[c + closing..];
                // "12 months [1]." reads "12 months."
                if rest.starts_with(|c: char| ".,;:!?。，；：！？".contains(c)) {
                    let kept = text.trim_end().len();
                    text.truncate(kept);
                }
            }
            _ => {
                text.push_str(&rest[..open + bracket]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    numbers.dedup();
    (text.trim().to_string(), numbers)
}

/// Checks reply sentences against the passages they cite.
pub struct Validator<'a> {
    /// The index the evidence comes from (its analyzer and sentence vectors).
    pub index: &'a dyn Backend,
    pub embedder: Option<&'a dyn Embedder>,
    /// The numbered passages (`[n]` is `evidence[n - 1]`).
    pub evidence: &'a [Evidence],
    /// Least share of a sentence's words found in the cited passage.
    pub min_overlap: f32,
    /// Least similarity to a passage sentence when the words differ (another language).
    pub min_similarity: f32,
}

impl Validator<'_> {
    /// The sentence with its citations, or why it cannot be kept.
    pub fn check(&self, raw: &str) -> std::result::Result<AnswerSentence, Rejection> {
        let (text, numbers) = citations_of(raw);
        if numbers.is_empty() {
            return Err(Rejection::Uncited);
        }
        if let Some(&bad) = numbers.iter().find(|&&n| n == 0 || n > self.evidence.len()) {
            return Err(Rejection::UnknownCitation(bad));
        }
        let analyzer = self.index.analyzer();
        let terms = Query::new(analyzer, &text).overlap_terms().to_vec();
        if terms.is_empty() {
            // nothing stated ("1.", "See:"): nothing to support
            return Err(Rejection::Unsupported);
        }
        let vector = match self.embedder {
            Some(e) => e
                .embed_passages(&[text.as_str()])
                .ok()
                .and_then(|mut v| v.pop()),
            None => None,
        };
        let mut citations = Vec::new();
        for &n in &numbers {
            let e = &self.evidence[n - 1];
            let c = &e.chunk;
            let overlap = extract::overlap(analyzer, &terms, &c.text);
            // the passage sentence that supports it best: by similarity when vectors exist,
            // else by shared characters
            let mut best: Option<((usize, usize), f32)> = None;
            for range in crate::text::quotable_ranges(&c.text) {
                let sim = match &vector {
                    Some(v) => match self.index.sentence_cosine(c.id, range, v) {
                        Some(s) => s,
                        None => extract::dice(&text, &c.text[range.0..range.1]),
                    },
                    None => extract::dice(&text, &c.text[range.0..range.1]),
                };
                if best.is_none_or(|b| sim > b.1) {
                    best = Some((range, sim));
                }
            }
            let Some((range, sim)) = best else {
                continue;
            };
            let similar = vector.is_some() && sim >= self.min_similarity;
            if overlap >= self.min_overlap
                || (similar && overlap >= self.min_overlap / 2.0)
                || (similar && sim >= self.min_similarity + 0.05)
            {
                citations.push(Citation {
                    n,
                    chunk_id: c.id.to_string(),
                    doc_id: c.meta.id.clone(),
                    title: c.meta.title.clone(),
                    heading_path: c.heading_path.clone(),
                    source: c.meta.source.clone(),
                    span: c.source_span(range.0, range.1),
                    quote: c.text[range.0..range.1].to_string(),
                });
            }
        }
        if citations.is_empty() {
            return Err(Rejection::Unsupported);
        }
        Ok(AnswerSentence { text, citations })
    }
}

/// Splits streamed text into finished sentences as it arrives.
#[derive(Default)]
pub struct SentenceBuffer {
    pending: String,
}

impl SentenceBuffer {
    /// Adds text; returns the sentences it finished (a sentence is finished once the text after
    /// its end has started, so a trailing `[n]` stays with its sentence).
    pub fn push(&mut self, piece: &str) -> Vec<ReplySentence> {
        self.pending.push_str(piece);
        let ranges = split_sentences(&self.pending);
        if ranges.len() < 2 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let keep_from = ranges[ranges.len() - 1].start;
        for r in &ranges[..ranges.len() - 1] {
            out.push(ReplySentence::new(&self.pending[r.clone()], false));
        }
        self.pending = self.pending[keep_from..].to_string();
        out.retain(|s| !s.text.is_empty());
        out
    }

    /// The rest at the end of the reply (`complete`: the model finished, so the rest is a
    /// whole sentence; else it was cut off: only the citation markers it starts with, which
    /// belong to the sentence before, are kept).
    pub fn finish(&mut self, complete: bool) -> Option<ReplySentence> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim();
        if complete {
            return (!rest.is_empty()).then(|| ReplySentence::new(rest, true));
        }
        let mut markers = String::new();
        let mut t = rest;
        while let Some(after) = t.strip_prefix('[') {
            let Some(close) = after.find(']') else { break };
            let inner = &after[..close];
            if inner.is_empty()
                || !inner
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == ' ')
            {
                break;
            }
            markers.push_str(&t[..close + 2]);
            t = after[close + 1..].trim_start();
        }
        (!markers.is_empty()).then(|| ReplySentence::new(&markers, true))
    }
}

/// Moves `[n]` markers that start a sentence (written after the previous sentence's full stop,
/// as models often do: "… 12 months. [1] The …") back onto the previous sentence.
pub fn reattach(sentences: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in sentences {
        let mut rest = s.as_str();
        let mut lead = String::new();
        loop {
            let t = rest.trim_start();
            if let Some(after) = t.strip_prefix('[') {
                if let Some(close) = after.find(']') {
                    if after[..close]
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == ',' || c == ' ')
                        && !after[..close].trim().is_empty()
                    {
                        lead.push_str(&t[..close + 2]);
                        rest = &after[close + 1..];
                        continue;
                    }
                }
            }
            break;
        }
        if !lead.is_empty() {
            match out.last_mut() {
                Some(prev) => prev.push_str(&lead),
                None => {
                    let mut s2 = lead.clone();
                    s2.push_str(rest);
                    out.push(s2);
                    continue;
                }
            }
        }
        let rest = rest.trim();
        if !rest.is_empty() {
            out.push(rest.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citation_markers_are_read_and_removed() {
        assert_eq!(
            citations_of("The warranty lasts 12 months [1]."),
            ("The warranty lasts 12 months.".to_string(), vec![1])
        );
        assert_eq!(citations_of("保修 12 个月【2】。").1, vec![2]);
        assert_eq!(citations_of("Both [1, 3] say so.").1, vec![1, 3]);
        assert_eq!(citations_of("No citation here.").1, Vec::<usize>::new());
        // brackets that are not citations stay in the text
        let (t, n) = citations_of("Press [Menu] then [OK] [2]");
        assert_eq!(n, vec![2]);
        assert!(t.contains("[Menu]") && t.contains("[OK]"), "{t}");
    }

    #[test]
    fn streamed_text_becomes_sentences() {
        let texts = |v: Vec<ReplySentence>| v.into_iter().map(|s| s.text).collect::<Vec<_>>();
        let mut b = SentenceBuffer::default();
        let mut got = Vec::new();
        for piece in [
            "The warr",
            "anty is 12 months [1]. Char",
            "gers get 6 months [2]. Th",
        ] {
            got.extend(b.push(piece));
        }
        assert_eq!(
            texts(got),
            vec![
                "The warranty is 12 months [1].",
                "Chargers get 6 months [2]."
            ]
        );
        // cut off: the unfinished rest is dropped; complete: kept
        assert_eq!(b.finish(false), None);
        let mut b = SentenceBuffer::default();
        assert_eq!(
            texts(b.push("It lasts 12 months. [1] In addition, the war")),
            vec!["It lasts 12 months."]
        );
        assert_eq!(b.finish(false).map(|s| s.text).as_deref(), Some("[1]"));
        let mut b = SentenceBuffer::default();
        b.push("Only one sentence [1]");
        assert_eq!(
            b.finish(true),
            Some(ReplySentence {
                text: "Only one sentence [1]".into(),
                ends_block: true
            })
        );
        // a blank line ends a block; a single line break does not
        let mut b = SentenceBuffer::default();
        let got = b.push("Steps:\n1. Loosen the bolts.\n2. Pull them out.\n\nKeep them [3]. Then");
        let ends: Vec<(&str, bool)> = got
            .iter()
            .map(|s| (s.text.as_str(), s.ends_block))
            .collect();
        assert_eq!(
            ends,
            vec![
                ("Steps:", false),
                ("1.", false),
                ("Loosen the bolts.", false),
                ("2.", false),
                ("Pull them out.", true),
                ("Keep them [3].", false)
            ]
        );
    }

    #[test]
    fn labels_only_carry_markers() {
        for label in [
            "",
            "资料编号：",
            "Source:",
            "Sources: ",
            ".",
            "(from )",
            "1.",
            "12)",
        ] {
            assert!(is_label(label), "{label:?}");
        }
        for text in [
            "The warranty lasts 12 months.",
            "To remove the transit bolts from the WM-8012, follow these steps:",
            "保修期是 12 个月。",
        ] {
            assert!(!is_label(text), "{text:?}");
        }
    }

    #[test]
    fn markers_after_a_sentence_move_back() {
        assert_eq!(
            reattach(vec![
                "It lasts 12 months.".into(),
                "[1] Chargers 6 months. [2]".into()
            ]),
            vec!["It lasts 12 months.[1]", "Chargers 6 months. [2]"]
        );
    }
}
