//! Incremental indexing, bad input files, and a process killed in the middle of indexing.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use crate::{doc_ids, text, Workspace};

fn write(ws: &Workspace, rel: &str, content: &[u8]) {
    let p = ws.corpus.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, content).expect("write");
}

fn index_json(ws: &Workspace) -> (bool, serde_json::Value) {
    let out = ws.run(&["index", "--json"]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("JSON report: {}", text(&out)));
    (out.status.success(), v)
}

#[test]
fn incremental_reindex_adds_changes_and_removes() {
    let ws = Workspace::with_own_corpus();
    write(
        &ws,
        "a.md",
        b"---\nid: doc-a\ntitle: Alpha\n---\n# Alpha\n\nThe pelican manual explains feeding.\n",
    );
    write(&ws, "b.md", "# 保修\n\n鹈鹕保修十二个月。\n".as_bytes());
    write(
        &ws,
        "c.txt",
        b"Gamma notes\n\nThe flamingo stands on one leg.\n",
    );
    let (ok, r) = index_json(&ws);
    assert!(ok, "{r}");
    assert_eq!(
        (
            r["added"].as_u64(),
            r["changed"].as_u64(),
            r["removed"].as_u64()
        ),
        (Some(3), Some(0), Some(0))
    );
    let gen1 = r["generation"].as_u64().expect("generation");

    // nothing changed: no new generation
    let (_, r) = index_json(&ws);
    assert_eq!(r["unchanged"].as_u64(), Some(3));
    assert_eq!(r["built"].as_bool(), Some(false));
    assert_eq!(r["generation"].as_u64(), Some(gen1));

    // change a, delete c, add d
    write(
        &ws,
        "a.md",
        b"---\nid: doc-a\ntitle: Alpha\n---\n# Alpha\n\nThe albatross manual explains gliding.\n",
    );
    std::fs::remove_file(ws.corpus.join("c.txt")).expect("rm");
    write(
        &ws,
        "sub/d.md",
        b"# Delta\n\nThe heron waits in the shallows.\n",
    );
    let (ok, r) = index_json(&ws);
    assert!(ok, "{r}");
    assert_eq!(
        (
            r["added"].as_u64(),
            r["changed"].as_u64(),
            r["removed"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["full_rebuild"].as_bool(), Some(false));
    assert!(r["generation"].as_u64() > Some(gen1));

    assert_eq!(doc_ids(&ws.search("albatross gliding", &[])), vec!["doc-a"]);
    assert!(doc_ids(&ws.search("pelican", &[])).is_empty());
    assert!(doc_ids(&ws.search("flamingo", &[])).is_empty());
    assert_eq!(doc_ids(&ws.search("heron", &[])), vec!["sub/d"]);
    assert_eq!(doc_ids(&ws.search("鹈鹕保修", &[])), vec!["b"]);
}

#[test]
fn bad_files_are_reported_and_skipped_and_good_ones_indexed() {
    let ws = Workspace::with_own_corpus();
    write(
        &ws,
        "good.md",
        b"# Good\n\nThe kingfisher dives for fish.\n",
    );
    write(&ws, "latin1.md", b"# Caf\xe9\n\nbad bytes\n");
    write(&ws, "binary.txt", b"abc\x00\x01\x02def");
    write(&ws, "empty.md", b"");
    write(&ws, "big.txt", &vec![b'a'; 5000]);
    write(
        &ws,
        "bad-front.md",
        b"---\ntitle: [unclosed\n---\n# X\n\ntext\n",
    );
    write(&ws, "tickets.jsonl", b"{\"id\":\"T1\",\"messages\":[{\"role\":\"customer\",\"text\":\"The cormorant charger broke\"}]}\n{broken json\n");
    write(&ws, "notes.bin", b"ignored type");
    let out = ws
        .cmd(&["index", "--json"])
        .env("KEFU__CORPUS__MAX_FILE_BYTES", "4000")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let failed: Vec<(String, String)> = r["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_string(),
                f["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let reason = |p: &str| {
        failed
            .iter()
            .find(|(path, _)| path == p)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    assert!(reason("latin1.md").contains("UTF-8"), "{failed:?}");
    assert!(reason("binary.txt").contains("binary"), "{failed:?}");
    assert!(reason("empty.md").contains("empty"), "{failed:?}");
    assert!(reason("big.txt").contains("limit"), "{failed:?}");
    assert!(
        reason("bad-front.md").contains("front matter"),
        "{failed:?}"
    );
    assert!(reason("tickets.jsonl").contains("line 2"), "{failed:?}");
    assert_eq!(r["ignored"].as_u64(), Some(1));
    // the human summary names each failed file with its reason
    let human = ws
        .cmd(&["index"])
        .env("KEFU__CORPUS__MAX_FILE_BYTES", "4000")
        .output()
        .expect("run");
    let s = String::from_utf8_lossy(&human.stdout);
    assert!(s.contains("latin1.md: invalid UTF-8 at byte"), "{s}");
    // good content is searchable, including the good ticket of a file with a bad line
    assert_eq!(doc_ids(&ws.search("kingfisher", &[])), vec!["good"]);
    assert_eq!(doc_ids(&ws.search("cormorant", &[])), vec!["T1"]);
}

#[test]
fn a_broken_edit_keeps_the_previous_good_version() {
    let ws = Workspace::with_own_corpus();
    write(
        &ws,
        "p.md",
        b"---\ntitle: Policy\n---\n# Policy\n\nReturns within seven days.\n",
    );
    assert!(index_json(&ws).0);
    write(
        &ws,
        "p.md",
        b"---\ntitle: [oops\n---\n# Policy\n\nReturns within thirty days.\n",
    );
    let (ok, r) = index_json(&ws);
    assert!(!ok);
    assert_eq!(r["failed"][0]["path"], "p.md");
    assert_eq!(doc_ids(&ws.search("returns seven days", &[])), vec!["p"]);
}

/// Makes a corpus large enough that indexing takes a while.
fn big_corpus(ws: &Workspace) {
    let words = [
        "warranty", "screen", "battery", "charger", "repair", "return", "shipping", "drum",
        "filter", "remote",
    ];
    for f in 0..60 {
        let mut s = format!("# Document {f}\n\n");
        for sec in 0..40 {
            s.push_str(&format!("## Section {sec}\n\n"));
            for k in 0..12 {
                s.push_str(&format!(
                    "Sentence {k} of section {sec} talks about the {} and the {} of model ZX-{f}{sec}. 第{k}句讲{}的保修。 ",
                    words[(f + k) % 10],
                    words[(sec + k) % 10],
                    words[k % 10]
                ));
            }
            s.push_str("\n\n");
        }
        write(ws, &format!("docs/doc-{f:03}.md"), s.as_bytes());
    }
    write(
        ws,
        "marker.md",
        b"# Marker\n\nThe marker passage mentions the capybara.\n",
    );
}

#[test]
fn killed_mid_index_leaves_previous_generation_searchable() {
    let ws = Workspace::with_own_corpus();
    big_corpus(&ws);
    let (ok, r) = index_json(&ws);
    assert!(ok, "{r}");
    let gen1 = r["generation"].as_u64().expect("gen");
    assert_eq!(doc_ids(&ws.search("capybara", &[])), vec!["marker"]);

    // A full rebuild (the chunk budget changed) killed at different moments after it started
    // building: every time, search answers from the previous generation.
    for delay_ms in [0u64, 40, 150, 400] {
        let mut child = ws
            .cmd(&["index"])
            .env("KEFU__CHUNK__MAX_TOKENS", "100")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let mut reader = BufReader::new(stderr);
        let started = Instant::now();
        let mut line = String::new();
        let mut saw_build = false;
        while started.elapsed() < Duration::from_secs(60) {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if line.contains("parsing changed files") {
                saw_build = true;
                break;
            }
        }
        assert!(saw_build, "the index run never started building");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished_already = child.try_wait().ok().flatten().is_some();
        let _ = child.kill();
        let _ = child.wait();
        let r = ws.search("capybara", &[]);
        assert_eq!(
            doc_ids(&r),
            vec!["marker"],
            "after a kill at +{delay_ms} ms"
        );
        if !finished_already {
            assert_eq!(
                r["generation"].as_u64(),
                Some(gen1),
                "a killed build must not become live"
            );
        }
    }
    // the next run completes and cleans up
    let out = ws
        .cmd(&["index", "--json"])
        .env("KEFU__CHUNK__MAX_TOKENS", "100")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(r["generation"].as_u64() > Some(gen1));
    assert_eq!(doc_ids(&ws.search("capybara", &[])), vec!["marker"]);
    let leftovers: Vec<String> = std::fs::read_dir(ws.index_dir())
        .expect("read index dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn config_errors_name_the_key() {
    let ws = Workspace::with_own_corpus();
    let out = ws
        .cmd(&["index"])
        .env("KEFU__CHUNK__MAX_TOKNS", "10")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("max_tokns"),
        "{}",
        text(&out)
    );
    std::fs::write(ws.config(), "[search]\ntop_k = 0\n").expect("write");
    let out = ws.run(&["index"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("search.top_k"),
        "{}",
        text(&out)
    );
}
