//! Grounded answers end to end: `POST /v1/answer` on the real server (with the embedding model)
//! over part of the demo corpus, and `kefu ask`. Every citation is checked against the source
//! file itself: the cited bytes must hold the quoted sentence.

use serde_json::{json, Value};

use crate::http::{code, Server, AGENT, BOT};
use crate::{repo, text, Workspace};

const FILES: &[&str] = &[
    "manuals/x9-pro-en.md",
    "manuals/x9-pro-zh.md",
    "manuals/wm-6008-zh.md",
    "policies/warranty-en.md",
    "policies/warranty-zh.md",
    "policies/agent-known-issues-en.md",
];

fn subset() -> Workspace {
    let ws = Workspace::with_own_corpus();
    for f in FILES {
        let to = ws.corpus.join(f);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo().join("corpus").join(f), to).expect("copy");
    }
    ws
}

/// Letters, digits and CJK characters only, lowercased (markup and spacing dropped).
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
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
fn answers_cite_their_sources_abstain_when_unanswerable_and_respect_audiences() {
    let ws = subset();
    let server = Server::start(&ws, &[("KEFU__VECTOR__ENABLED", "true")]);
    let ask = |key: &str, body: Value| -> Value {
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
        "明天上海的天气怎么样？",
    ] {
        let a = ask(BOT, json!({"question": q}));
        assert_eq!(a["abstained"], true, "{q}: {a}");
        let reason = a["reason"].as_str().unwrap_or("");
        assert!(
            ["out_of_scope", "low_confidence", "no_evidence"].contains(&reason),
            "{q}: {a}"
        );
        assert!(!a["handoff"]["message"].as_str().unwrap_or("").is_empty(), "{a}");
        assert!(a["sentences"].as_array().expect("sentences").is_empty(), "{a}");
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
        (json!({"question": "warranty", "filters": {"colour": "red"}}), 400),
    ] {
        let (status, v) = server.call("POST", "/v1/answer", Some(AGENT), Some(&body));
        assert_eq!(status, want, "{body}: {v}");
        assert!(!code(&v).is_empty(), "{v}");
    }
    let (status, _) = server.call("POST", "/v1/answer", None, Some(&json!({"question": "x"})));
    assert_eq!(status, 401);

    // the command line gives the same kind of answer from the same index
    let out = ws
        .cmd(&["ask", "How long is the standard warranty on the X9 Pro?", "--json"])
        .env("KEFU__VECTOR__ENABLED", "true")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let a: Value = serde_json::from_slice(&out.stdout).expect("json");
    check_citations(&ws, &a);
}
