//! Grounded answers end to end: `POST /v1/answer` on the real server (with the embedding model)
//! over part of the demo corpus, and `kefu ask`. Every citation is checked against the source
//! file itself: the cited bytes must hold the quoted sentence.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::llm::{Script, StandIn};
use crate::support::server::{code, Server, AGENT, BOT};
use crate::{text, Workspace};

const FILES: &[&str] = &[
    "manuals/x9-pro-en.md",
    "manuals/x9-pro-zh.md",
    "manuals/wm-6008-zh.md",
    "policies/warranty-en.md",
    "policies/warranty-zh.md",
    "policies/agent-known-issues-en.md",
];

/// The six files, indexed with vectors (a copy of one index built per test run).
fn subset() -> Workspace {
    Workspace::with_files_indexed(FILES, &[("KEFU__VECTOR__ENABLED", "true")])
}

/// A server over [`subset`] whose LLM composer talks to the stand-in.
struct World {
    ws: Workspace,
    llm: StandIn,
    server: Server,
}

impl World {
    fn start() -> World {
        let ws = subset();
        let llm = StandIn::start();
        let mut config = std::fs::read_to_string(ws.config()).expect("config");
        config.push_str(&format!(
            "[answer.llm]\nbase_url = {:?}\nmodel = \"stand-in\"\ntimeout_ms = 1000\ntotal_timeout_ms = 3000\n",
            llm.base
        ));
        std::fs::write(ws.config(), config).expect("write config");
        let server = Server::start(&ws, &[("KEFU__VECTOR__ENABLED", "true")]);
        World { ws, llm, server }
    }

    /// The answer to `body` (extractive unless it names a composer).
    fn ask(&self, key: &str, mut body: Value) -> Value {
        if body.get("composer").is_none() {
            body["composer"] = json!("extractive");
        }
        let (status, v) = self
            .server
            .call("POST", "/v1/answer", Some(key), Some(&body));
        assert_eq!(status, 200, "{v}");
        v
    }

    /// The LLM composer's answer to [`Q`] with the stand-in playing `script`.
    fn ask_llm(&self, script: Script) -> Value {
        self.llm.set(script);
        let started = Instant::now();
        let a = self.ask(AGENT, json!({"question": Q, "composer": "llm"}));
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{script:?} took too long"
        );
        a
    }

    /// The event names and data of a streamed answer to [`Q`] with the stand-in playing
    /// `script`.
    fn stream(&self, script: Script) -> (Vec<String>, Vec<Value>) {
        self.llm.set(script);
        let body = json!({"question": Q, "composer": "llm", "stream": true}).to_string();
        let (status, events) = self
            .server
            .raw_with_type("POST", "/v1/answer", Some(AGENT), body);
        assert_eq!(status, 200, "{events}");
        let names = events
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .map(str::to_string)
            .collect();
        let data = events
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).expect("json"))
            .collect();
        (names, data)
    }
}

const Q: &str = "How long is the standard warranty on the X9 Pro?";

/// Letters, digits and CJK characters only, lowercased (markup and spacing dropped).
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// An LLM answer: every sentence is cited, and each citation's span holds the passage sentence
/// that supports it (the sentence itself is the model's wording).
fn check_citations_llm(ws: &Workspace, a: &Value) {
    assert_eq!(a["abstained"], false, "{a}");
    let passages = a["passages"].as_array().expect("passages");
    for s in a["sentences"].as_array().expect("sentences") {
        let cits = s["citations"].as_array().expect("citations");
        assert!(!cits.is_empty(), "{a}");
        for c in cits {
            let n = c["n"].as_u64().expect("n") as usize;
            assert!(n >= 1 && n <= passages.len(), "{a}");
            assert_eq!(passages[n - 1]["chunk_id"], c["chunk_id"], "{a}");
            let span = c["span"].as_array().expect("span");
            let (from, to) = (
                span[0].as_u64().expect("from") as usize,
                span[1].as_u64().expect("to") as usize,
            );
            let bytes = std::fs::read(ws.corpus.join(c["source"].as_str().expect("source")))
                .expect("source file");
            let cited = std::str::from_utf8(&bytes[from..to]).expect("utf-8 boundaries");
            assert_eq!(
                norm(cited),
                norm(c["quote"].as_str().expect("quote")),
                "{a}"
            );
        }
    }
}

/// Whether `shown` is `quote` as an answer shows it: the same sentence without its list or
/// clause marker and end punctuation (in any letter case), or a table row's cells with their
/// headers.
fn renders(quote: &str, shown: &str) -> bool {
    let core = |t: &str| {
        t.trim()
            .trim_end_matches(|c: char| "。.；;，,".contains(c))
            .to_lowercase()
    };
    if quote.contains(" | ") {
        return quote
            .split(" | ")
            .map(|c| c.trim().trim_end_matches(|c: char| "。.；;，,".contains(c)))
            .filter(|c| !c.is_empty())
            .all(|c| shown.contains(c));
    }
    core(quote).ends_with(&core(shown))
}

/// Checks an answer's shape and that every citation points at bytes of its source file that
/// hold the quoted sentence; returns the cited passages.
fn check_citations(ws: &Workspace, a: &Value) -> Vec<Value> {
    assert_eq!(a["abstained"], false, "{a}");
    let passages = a["passages"].as_array().expect("passages").clone();
    let sentences = a["sentences"].as_array().expect("sentences");
    assert!(!sentences.is_empty(), "{a}");
    let text = a["text"].as_str().expect("text");
    for s in sentences {
        let cits = s["citations"].as_array().expect("citations");
        assert!(!cits.is_empty(), "uncited sentence in {a}");
        assert!(text.contains(s["text"].as_str().expect("sentence")), "{a}");
        for c in cits {
            let n = c["n"].as_u64().expect("n") as usize;
            assert!(n >= 1 && n <= passages.len(), "{a}");
            assert!(text.contains(&format!("[{n}]")), "{a}");
            let p = &passages[n - 1];
            assert_eq!(p["chunk_id"], c["chunk_id"], "{a}");
            // the citation quotes the source as it is; the sentence shows it rendered
            assert!(
                renders(
                    c["quote"].as_str().expect("quote"),
                    s["text"].as_str().expect("sentence")
                ),
                "{a}"
            );
            // the span lies in the passage and its bytes hold the quote
            let span = c["span"].as_array().expect("span");
            let (from, to) = (
                span[0].as_u64().expect("from") as usize,
                span[1].as_u64().expect("to") as usize,
            );
            let pspan = p["span"].as_array().expect("passage span");
            assert!(
                from >= pspan[0].as_u64().unwrap_or(0) as usize
                    && to <= pspan[1].as_u64().unwrap_or(0) as usize
                    && from < to,
                "{a}"
            );
            let source = c["source"].as_str().expect("source");
            let bytes = std::fs::read(ws.corpus.join(source)).expect("source file");
            let cited = std::str::from_utf8(&bytes[from..to]).expect("utf-8 boundaries");
            assert_eq!(
                norm(cited),
                norm(c["quote"].as_str().expect("quote")),
                "{source} {from}..{to}: {cited:?} vs {}",
                c["quote"]
            );
        }
    }
    passages
}

#[test]
fn an_english_question_is_answered_in_english_with_every_citation_in_its_source_bytes() {
    let w = World::start();
    let a = w.ask(AGENT, json!({ "question": Q }));
    assert_eq!(a["language"], "en", "{a}");
    assert_eq!(a["composer"], "extractive", "{a}");
    let passages = check_citations(&w.ws, &a);
    assert!(a["text"].as_str().unwrap_or("").contains("12"), "{a}");
    assert!(passages
        .iter()
        .all(|p| p["language"] == "en" && p["doc_id"].as_str().unwrap_or("").ends_with("-en")));
    let c = a["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&c), "{a}");
    for stage in ["retrieve_ms", "compose_ms", "total_ms"] {
        assert!(a["timings"][stage].as_f64().is_some(), "{a}");
    }
}

#[test]
fn a_chinese_question_is_answered_in_chinese_from_chinese_passages() {
    let w = World::start();
    let a = w.ask(AGENT, json!({"question": "X9 Pro 的标准保修期是多久？"}));
    assert_eq!(a["language"], "zh", "{a}");
    let passages = check_citations(&w.ws, &a);
    assert!(a["text"].as_str().unwrap_or("").contains("12"), "{a}");
    assert!(passages.iter().all(|p| p["language"] == "zh"), "{a}");
}

#[test]
fn kefu_ask_gives_the_same_kind_of_answer_from_the_same_index() {
    let ws = subset();
    let out = ws
        .cmd(&["ask", Q, "--json", "--extractive"])
        .env("KEFU__VECTOR__ENABLED", "true")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let a: Value = serde_json::from_slice(&out.stdout).expect("json");
    check_citations(&ws, &a);
    assert!(a.get("generation").is_none(), "{a}");
}

#[test]
fn an_unanswerable_question_abstains_with_a_reason_and_a_handoff() {
    let w = World::start();
    for q in [
        "What is the boiling point of liquid nitrogen in Kelvin?",
        "红烧肉怎么做才好吃？",
    ] {
        let a = w.ask(BOT, json!({ "question": q }));
        assert_eq!(a["abstained"], true, "{q}: {a}");
        let reason = a["reason"].as_str().unwrap_or("");
        assert!(
            ["out_of_scope", "low_confidence", "no_evidence"].contains(&reason),
            "{q}: {a}"
        );
        assert!(
            !a["handoff"]["message"].as_str().unwrap_or("").is_empty(),
            "{a}"
        );
        assert!(
            a["sentences"].as_array().expect("sentences").is_empty(),
            "{a}"
        );
    }
}

#[test]
fn an_internal_bulletin_answers_an_agent_and_never_a_bot() {
    let w = World::start();
    let q = json!({"question": "Which X9 Pro serial numbers does service bulletin SB-2026-07 cover for the green line?"});
    let a = w.ask(AGENT, q.clone());
    let internal_cited = a["passages"]
        .as_array()
        .expect("passages")
        .iter()
        .any(|p| p["audience"] == "internal");
    assert!(internal_cited, "the agent should get the bulletin: {a}");
    let a = w.ask(BOT, q);
    for p in a["passages"].as_array().expect("passages") {
        assert_eq!(p["audience"], "public", "{a}");
    }
    assert!(!a.to_string().contains("X9P2405A"), "{a}");
}

#[test]
fn a_bad_answer_request_is_refused_with_a_code() {
    let w = World::start();
    for body in [
        json!({"question": ""}),
        json!({"question": "x", "colour": 1}),
        json!({"question": "warranty", "passages": 0}),
        json!({"question": "warranty", "filters": {"colour": "red"}}),
        json!({"question": "warranty", "composer": "poet"}),
    ] {
        let (status, v) = w
            .server
            .call("POST", "/v1/answer", Some(AGENT), Some(&body));
        assert_eq!(status, 400, "{body}: {v}");
        assert!(!code(&v).is_empty(), "{v}");
    }
    let (status, _) = w
        .server
        .call("POST", "/v1/answer", None, Some(&json!({"question": "x"})));
    assert_eq!(status, 401);
}

#[test]
fn the_llm_is_asked_with_numbered_passages_in_the_question_language() {
    let w = World::start();
    let a = w.ask_llm(Script::Good);
    assert_eq!(a["composer"], "llm", "{a}");
    check_citations_llm(&w.ws, &a);
    let prompt = w.llm.last_prompt();
    assert_eq!(prompt["temperature"], 0, "{prompt}");
    let user = prompt["messages"][1]["content"].as_str().unwrap_or("");
    assert!(user.contains(Q), "{prompt}");
    assert!(
        user.contains("[1]") && user.contains("square brackets"),
        "{prompt}"
    );
    w.llm.set(Script::Good);
    w.ask(
        AGENT,
        json!({"question": "X9 Pro 的标准保修期是多久？", "composer": "llm"}),
    );
    let prompt = w.llm.last_prompt();
    assert!(
        prompt["messages"][0]["content"]
            .as_str()
            .unwrap_or("")
            .contains("资料"),
        "{prompt}"
    );
}

#[test]
fn an_llm_sentence_the_passages_do_not_support_is_removed() {
    let w = World::start();
    let a = w.ask_llm(Script::HalfTrue);
    assert_eq!(a["composer"], "llm", "{a}");
    assert_eq!(a["sentences"].as_array().map(Vec::len), Some(1), "{a}");
    assert!(!a["text"].as_str().unwrap_or("").contains("moon"), "{a}");
    assert!(a["notes"].to_string().contains("removed"), "{a}");
    check_citations_llm(&w.ws, &a);
    let a = w.ask_llm(Script::CutOff);
    assert_eq!(a["composer"], "llm", "{a}");
    assert_eq!(a["sentences"].as_array().map(Vec::len), Some(1), "{a}");
    assert!(!a["text"].as_str().unwrap_or("").contains("war\""), "{a}");
    check_citations_llm(&w.ws, &a);
}

#[test]
fn a_citation_on_the_line_below_covers_the_sentence_above_it() {
    let w = World::start();
    let a = w.ask_llm(Script::CitedBelow);
    assert_eq!(a["composer"], "llm", "{a}");
    assert_eq!(a["sentences"].as_array().map(Vec::len), Some(1), "{a}");
    assert!(!a["text"].as_str().unwrap_or("").contains("Source"), "{a}");
    check_citations_llm(&w.ws, &a);
}

#[test]
fn an_unusable_llm_reply_falls_back_to_the_extractive_answer() {
    let w = World::start();
    for script in [
        Script::CitedAfterBlank,
        Script::Uncited,
        Script::WrongCitation,
        Script::Garbage,
        Script::Slow,
    ] {
        let a = w.ask_llm(script);
        assert_eq!(a["composer"], "extractive_fallback", "{script:?}: {a}");
        assert!(
            a["notes"].to_string().contains("LLM reply was not used"),
            "{a}"
        );
        check_citations(&w.ws, &a);
    }
}

#[test]
fn a_streamed_answer_sends_checked_sentences_then_the_whole_answer() {
    let w = World::start();
    let (names, data) = w.stream(Script::Good);
    assert_eq!(
        names.first().map(String::as_str),
        Some("sentence"),
        "{names:?}"
    );
    assert_eq!(
        names.last().map(String::as_str),
        Some("answer"),
        "{names:?}"
    );
    assert_eq!(data[0]["event"], "sentence", "{}", data[0]);
    assert_eq!(data[0]["sentence"]["citations"][0]["n"], 1, "{}", data[0]);
    let last = data.last().expect("the answer");
    assert_eq!(last["composer"], "llm", "{last}");
    assert!(last["generation"].is_u64(), "{last}");
}

#[test]
fn a_streamed_fallback_resets_then_sends_the_extractive_sentences() {
    let w = World::start();
    let (names, _) = w.stream(Script::Uncited);
    assert_eq!(
        names.first().map(String::as_str),
        Some("reset"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n == "sentence") && names.last().map(String::as_str) == Some("answer"),
        "{names:?}"
    );
}
