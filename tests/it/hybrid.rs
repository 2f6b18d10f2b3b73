//! Vector and hybrid search end to end on part of the demo corpus (a few manuals and policies
//! in both languages, so that embedding stays quick), and the BM25 fallback without a model.

use crate::{doc_ids, text, Workspace};

const FILES: &[&str] = &[
    "manuals/wm-8012-en.md",
    "manuals/wm-8012-zh.md",
    "manuals/x9-pro-en.md",
    "policies/warranty-en.md",
    "policies/warranty-zh.md",
];

fn subset() -> Workspace {
    Workspace::with_files(FILES)
}

#[test]
fn every_mode_works_and_a_chinese_question_finds_an_english_passage() {
    let ws = subset();
    let out = ws
        .cmd(&["index", "--json"])
        .env("KEFU__VECTOR__ENABLED", "true")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["vectors"], true, "{r}");
    let search = |q: &str, mode: &str, extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["search", q, "--json", "--mode", mode];
        args.extend_from_slice(extra);
        let out = ws
            .cmd(&args)
            .env("KEFU__VECTOR__ENABLED", "true")
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    // Chinese question, English passages only: BM25 has no words in common, vectors do
    let q = "洗衣机的运输螺栓怎么拆";
    for mode in ["vector", "hybrid"] {
        let r = search(q, mode, &["--filter", "lang=en", "--top-k", "3"]);
        assert_eq!(r["mode"], mode, "{r}");
        let hits = r["hits"].as_array().expect("hits");
        assert!(
            hits.iter().any(|h| h["doc_id"] == "manual-wm-8012-en"
                && h["heading_path"].to_string().contains("transit bolts")),
            "{mode}: {r}"
        );
        for h in hits {
            assert_eq!(h["language"], "en");
        }
    }
    let r = search(q, "bm25", &["--filter", "lang=en", "--top-k", "3"]);
    assert!(
        !r["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|h| h["heading_path"].to_string().contains("transit bolts")),
        "{r}"
    );
    // hybrid hits carry the stage scores
    let r = search(
        "is a cracked screen covered by the warranty",
        "hybrid",
        &["--top-k", "5"],
    );
    let first = &r["hits"][0];
    assert!(first["scores"]["fused"].is_number(), "{first}");
    assert!(
        doc_ids(&r).iter().any(|d| d.starts_with("policy-warranty")),
        "{r}"
    );

    // touching one file re-embeds only that file's passages
    let p = ws.corpus.join("manuals/x9-pro-en.md");
    let mut s = std::fs::read_to_string(&p).expect("read");
    s.push_str("\n## Added section\n\nA brand new paragraph about the capybara charger.\n");
    std::fs::write(&p, s).expect("write");
    let out = ws
        .cmd(&["index", "--json"])
        .env("KEFU__VECTOR__ENABLED", "true")
        .output()
        .expect("run");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let embedded = r["embedded"].as_u64().unwrap_or(0);
    assert!(embedded > 0 && embedded < 30, "{r}");
}

#[test]
fn without_the_model_search_answers_from_bm25_with_a_warning() {
    let ws = subset();
    let empty = ws.dir.path().join("empty-cache");
    let run = |args: &[&str]| {
        ws.cmd(args)
            .env("KEFU__VECTOR__ENABLED", "true")
            .env("KEFU__MODELS__CACHE_DIR", &empty)
            .env("KEFU__MODELS__PYTHON", "/nonexistent/python3")
            .output()
            .expect("run")
    };
    let out = run(&["index", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["vectors"], false, "{r}");
    assert!(
        r["warnings"][0].as_str().unwrap_or("").contains("python"),
        "{r}"
    );
    let out = run(&["search", "transit bolts", "--json", "--mode", "hybrid"]);
    assert!(out.status.success(), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["mode"], "bm25");
    assert!(!r["warnings"].as_array().expect("warnings").is_empty());
    assert!(
        doc_ids(&r).contains(&"manual-wm-8012-en".to_string()),
        "{r}"
    );
}
