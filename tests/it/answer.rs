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

fn subset() -> Workspace {
    Workspace::with_files(FILES)
}

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
            assert_eq!(c["quote"], s["text"], "{a}");
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
fn answers_cite_sources_abstain_respect_audiences_and_check_llm_replies() {
    let ws = subset();
    let llm = StandIn::start();
    let mut config = std::fs::read_to_string(ws.config()).expect("config");
    config.push_str(&format!(
        "[answer.llm]\nbase_url = {:?}\nmodel = \"stand-in\"\ntimeout_ms = 1000\ntotal_timeout_ms = 3000\n",
        llm.base
    ));
    std::fs::write(ws.config(), config).expect("write config");
    let server = Server::start(&ws, &[("KEFU__VECTOR__ENABLED", "true")]);
    // extractive unless a test says otherwise
    let ask = |key: &str, mut body: Value| -> Value {
        if body.get("composer").is_none() {
            body["composer"] = json!("extractive");
        }
        let (status, v) = server.call("POST", "/v1/answer", Some(key), Some(&body));
        assert_eq!(status, 200, "{v}");
        v
    };

    // English
    let a = ask(
        AGENT,
        json!({"question": "How long is the standard warranty on the X9 Pro?"}),
    );
    assert_eq!(a["language"], "en", "{a}");
    assert_eq!(a["composer"], "extractive", "{a}");
    let passages = check_citations(&ws, &a);
    assert!(a["text"].as_str().unwrap_or("").contains("12"), "{a}");
    assert!(passages
        .iter()
        .all(|p| p["language"] == "en" && p["doc_id"].as_str().unwrap_or("").ends_with("-en")));
    let c = a["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&c), "{a}");
    for stage in ["retrieve_ms", "compose_ms", "total_ms"] {
        assert!(a["timings"][stage].as_f64().is_some(), "{a}");
    }

    // Chinese: answered in Chinese from Chinese passages
    let a = ask(AGENT, json!({"question": "X9 Pro 的标准保修期是多久？"}));
    assert_eq!(a["language"], "zh", "{a}");
    let passages = check_citations(&ws, &a);
    assert!(a["text"].as_str().unwrap_or("").contains("12"), "{a}");
    assert!(passages.iter().all(|p| p["language"] == "zh"), "{a}");

    // unanswerable: abstains with a reason and a hand-off
    for q in [
        "What is the boiling point of liquid nitrogen in Kelvin?",
        "红烧肉怎么做才好吃？",
    ] {
        let a = ask(BOT, json!({"question": q}));
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

    // the internal service bulletin answers an agent, never a bot
    let q = json!({"question": "Which X9 Pro serial numbers does service bulletin SB-2026-07 cover for the green line?"});
    let a = ask(AGENT, q.clone());
    let internal_cited = a["passages"]
        .as_array()
        .expect("passages")
        .iter()
        .any(|p| p["audience"] == "internal");
    assert!(internal_cited, "the agent should get the bulletin: {a}");
    let a = ask(BOT, q);
    for p in a["passages"].as_array().expect("passages") {
        assert_eq!(p["audience"], "public", "{a}");
    }
    assert!(!a.to_string().contains("X9P2405A"), "{a}");

    // bad requests
    for (body, want) in [
        (json!({"question": ""}), 400),
        (json!({"question": "x", "colour": 1}), 400),
        (json!({"question": "warranty", "passages": 0}), 400),
        (
            json!({"question": "warranty", "filters": {"colour": "red"}}),
            400,
        ),
    ] {
        let (status, v) = server.call("POST", "/v1/answer", Some(AGENT), Some(&body));
        assert_eq!(status, want, "{body}: {v}");
        assert!(!code(&v).is_empty(), "{v}");
    }
    let (status, _) = server.call("POST", "/v1/answer", None, Some(&json!({"question": "x"})));
    assert_eq!(status, 401);

    // the LLM composer against the stand-in, in every scripted case
    let q = "How long is the standard warranty on the X9 Pro?";
    let llm_ask = |script: Script| -> Value {
        llm.set(script);
        let started = Instant::now();
        let a = ask(AGENT, json!({"question": q, "composer": "llm"}));
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{script:?} took too long"
        );
        a
    };
    let a = llm_ask(Script::Good);
    assert_eq!(a["composer"], "llm", "{a}");
    check_citations_llm(&ws, &a);
    let prompt = llm.last_prompt();
    assert_eq!(prompt["temperature"], 0, "{prompt}");
    let user = prompt["messages"][1]["content"].as_str().unwrap_or("");
    assert!(user.contains(q), "{prompt}");
    assert!(
        user.contains("[1]") && user.contains("square brackets"),
        "{prompt}"
    );
    // a Chinese question gets a Chinese system prompt
    llm.set(Script::Good);
    ask(
        AGENT,
        json!({"question": "X9 Pro 的标准保修期是多久？", "composer": "llm"}),
    );
    let prompt = llm.last_prompt();
    assert!(
        prompt["messages"][0]["content"]
            .as_str()
            .unwrap_or("")
            .contains("资料"),
        "{prompt}"
    );

    let a = llm_ask(Script::HalfTrue);
    assert_eq!(a["composer"], "llm", "{a}");
    assert_eq!(a["sentences"].as_array().map(Vec::len), Some(1), "{a}");
    assert!(!a["text"].as_str().unwrap_or("").contains("moon"), "{a}");
    assert!(a["notes"].to_string().contains("removed"), "{a}");
    check_citations_llm(&ws, &a);

    let a = llm_ask(Script::CutOff);
    assert_eq!(a["composer"], "llm", "{a}");
    assert_eq!(a["sentences"].as_array().map(Vec::len), Some(1), "{a}");
    assert!(!a["text"].as_str().unwrap_or("").contains("war\""), "{a}");
    check_citations_llm(&ws, &a);

    // a citation on the line below covers the sentence above it; after a blank line it does not
    let a = llm_ask(Script::CitedBelow);
    assert_eq!(a["composer"], "llm", "{a}");
    assert_eq!(a["sentences"].as_array().map(Vec::len), Some(1), "{a}");
    assert!(!a["text"].as_str().unwrap_or("").contains("Source"), "{a}");
    check_citations_llm(&ws, &a);

    for script in [
        Script::CitedAfterBlank,
        Script::Uncited,
        Script::WrongCitation,
        Script::Garbage,
        Script::Slow,
    ] {
        let a = llm_ask(script);
        assert_eq!(a["composer"], "extractive_fallback", "{script:?}: {a}");
        assert!(
            a["notes"].to_string().contains("LLM reply was not used"),
            "{a}"
        );
        check_citations(&ws, &a);
    }

    // streamed: checked sentences as events, then the whole answer
    llm.set(Script::Good);
    let body = json!({"question": q, "composer": "llm", "stream": true}).to_string();
    let (status, events) = server.raw_with_type("POST", "/v1/answer", Some(AGENT), body);
    assert_eq!(status, 200);
    let names: Vec<&str> = events
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"sentence"), "{events}");
    assert_eq!(names.last(), Some(&"answer"), "{events}");
    let last = events
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("data");
    let a: Value = serde_json::from_str(last).expect("json");
    assert_eq!(a["composer"], "llm", "{a}");
    let first = events
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next()
        .expect("data");
    let ev: Value = serde_json::from_str(first).expect("json");
    assert_eq!(ev["sentence"]["citations"][0]["n"], 1, "{ev}");
    // streamed fallback: a reset, then the extractive sentences
    llm.set(Script::Uncited);
    let body = json!({"question": q, "composer": "llm", "stream": true}).to_string();
    let (_, events) = server.raw_with_type("POST", "/v1/answer", Some(AGENT), body);
    let names: Vec<&str> = events
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"reset"), "{events}");
    assert!(
        names.contains(&"sentence") && names.last() == Some(&"answer"),
        "{events}"
    );

    // the command line gives the same kind of answer from the same index
    let out = ws
        .cmd(&[
            "ask",
            "How long is the standard warranty on the X9 Pro?",
            "--json",
            "--extractive",
        ])
        .env("KEFU__VECTOR__ENABLED", "true")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let a: Value = serde_json::from_slice(&out.stdout).expect("json");
    check_citations(&ws, &a);
}
