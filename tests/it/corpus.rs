//! The demo corpus: index it, then search it in both languages, by model number, with filters.

use crate::{doc_ids, repo, text, Workspace};

fn demo() -> Workspace {
    let ws = Workspace::new(&repo().join("corpus"));
    let out = ws.run(&["index", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(
        report["failed"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert!(report["documents"].as_u64().unwrap_or(0) >= 40, "{report}");
    assert!(report["passages"].as_u64().unwrap_or(0) >= 1000, "{report}");
    ws
}

#[test]
fn demo_corpus_indexes_and_answers_in_both_languages() {
    let ws = demo();

    // Chinese: an error code question finds the washer manual's E21 section
    let r = ws.search("洗衣机显示E21是什么意思", &["--top-k", "5"]);
    let ids = doc_ids(&r);
    assert!(
        ids.iter().take(5).any(|d| d == "manual-wm-8012-zh"),
        "{ids:?}"
    );

    // Chinese warranty question finds the Chinese warranty policy among public documents
    let r = ws.search(
        "屏幕碎了保修吗",
        &["--filter", "type=policy", "--top-k", "3"],
    );
    let ids = doc_ids(&r);
    assert!(
        ids.iter()
            .any(|d| d.starts_with("policy-warranty") || d.starts_with("policy-extended-warranty")),
        "{ids:?}"
    );

    // English: a how-to question finds the right manual section
    let r = ws.search(
        "how do I remove the transit bolts before first use",
        &["--top-k", "3"],
    );
    let hits = r["hits"].as_array().expect("hits");
    assert!(
        hits.iter()
            .any(|h| h["doc_id"] == "manual-wm-8012-en" || h["doc_id"] == "manual-wm-6008-en"),
        "{r}"
    );
    let first = &hits[0];
    assert!(
        first["snippet"]["highlights"]
            .as_array()
            .is_some_and(|h| !h.is_empty()),
        "{first}"
    );
    let span = first["span"].as_array().expect("span");
    assert!(span[0].as_u64() < span[1].as_u64());

    // the span points at the passage in its source file
    let source = repo()
        .join("corpus")
        .join(first["source"].as_str().expect("source"));
    let bytes = std::fs::read(&source).expect("read source");
    let (s, e) = (
        span[0].as_u64().unwrap_or(0) as usize,
        span[1].as_u64().unwrap_or(0) as usize,
    );
    let src = String::from_utf8_lossy(&bytes[s..e]).to_string();
    let first_word = first["text"]
        .as_str()
        .expect("text")
        .split_whitespace()
        .next()
        .expect("word")
        .to_string();
    assert!(
        src.contains(&first_word),
        "span text {src:?} lacks {first_word:?}"
    );
}

#[test]
fn model_numbers_are_found_whole_and_by_parts() {
    let ws = demo();
    for q in ["WM-8012 E30", "wm8012 door lock", "AC-3500 F0"] {
        let r = ws.search(q, &["--top-k", "3"]);
        let ids = doc_ids(&r);
        let want = if q.to_lowercase().contains("ac-3500") {
            "ac-3500"
        } else {
            "wm-8012"
        };
        assert!(ids.iter().take(3).any(|d| d.contains(want)), "{q}: {ids:?}");
    }
    // filters: product, language, type, audience
    let r = ws.search(
        "warranty",
        &[
            "--filter",
            "product=X9 Pro",
            "--filter",
            "lang=en",
            "--top-k",
            "20",
        ],
    );
    let hits = r["hits"].as_array().expect("hits");
    assert!(!hits.is_empty());
    for h in hits {
        assert!(
            h["products"]
                .as_array()
                .expect("products")
                .iter()
                .any(|p| p == "X9 Pro"),
            "{h}"
        );
        assert_eq!(h["language"], "en");
    }
    let r = ws.search("退货", &["--filter", "audience=public", "--top-k", "50"]);
    for h in r["hits"].as_array().expect("hits") {
        assert_eq!(h["audience"], "public", "{h}");
    }
}

#[test]
fn tickets_are_redacted_and_internal() {
    let ws = demo();
    let r = ws.search(
        "手机号 订单号 身份证",
        &["--filter", "type=ticket", "--top-k", "50"],
    );
    let hits = r["hits"].as_array().expect("hits");
    assert!(!hits.is_empty());
    let phone = regex::Regex::new(r"1[3-9]\d{9}").expect("regex");
    for h in hits {
        assert_eq!(h["audience"], "internal");
        let t = h["text"].as_str().expect("text");
        assert!(!phone.is_match(t), "unredacted mobile number in {t}");
    }
    assert!(hits
        .iter()
        .any(|h| h["text"].as_str().is_some_and(|t| t.contains("[PHONE]"))));
}

#[test]
fn human_output_and_errors() {
    let ws = demo();
    let out = ws.run(&["search", "X9 Pro battery", "--top-k", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("1. ") && s.contains("2 passages"), "{s}");
    let out = ws.run(&["search", "x", "--filter", "colour=red"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("colour"),
        "{}",
        text(&out)
    );
    // this workspace indexes without vectors: hybrid answers from BM25 and says so
    let out = ws.run(&["search", "battery", "--mode", "hybrid"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("answered from BM25"),
        "{}",
        text(&out)
    );
    let out = ws.run(&["search", "x", "--mode", "semantic"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("semantic") && err.contains("possible values: bm25, vector, hybrid"),
        "{}",
        text(&out)
    );
}
