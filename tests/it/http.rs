//! The real server (`kefu serve --bind 127.0.0.1:0`) over real sockets: every route's success
//! and error paths, roles, limits, documents written while searches run, a failing reindex job,
//! saturation and shutdown.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::server::{code, Server, ADMIN, AGENT, BOT, WRITER};
use crate::{repo, Workspace};

fn audiences(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|x| x["audience"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A server over a copy of the demo index.
fn demo_server() -> (Workspace, Server) {
    let ws = Workspace::demo();
    let s = Server::start(&ws, &[]);
    (ws, s)
}

#[test]
fn search_answers_an_english_and_a_chinese_question() {
    let (_ws, s) = demo_server();
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
    let en = s.search(
        BOT,
        json!({"query": "How long is the warranty of the X9 Pro battery?", "mode": "bm25"}),
    );
    assert!(!en["hits"].as_array().expect("hits").is_empty(), "{en}");
    let zh = s.search(BOT, json!({"query": "洗衣机显示E21怎么办", "top_k": 3}));
    assert_eq!(zh["hits"].as_array().expect("hits").len(), 3);
    assert!(zh["hits"][0]["scores"]["bm25"].is_number(), "{zh}");
    let rrf = s.search(
        BOT,
        json!({"query": "warranty", "fusion": {"method": "rrf", "rrf_k": 10}}),
    );
    assert!(rrf["hits"].as_array().is_some_and(|h| !h.is_empty()));
}

#[test]
fn a_bot_never_sees_an_internal_passage_or_document() {
    let (_ws, s) = demo_server();
    let q = json!({"query": "escalation rules queues time limits legal threat media", "top_k": 20});
    let agent = s.search(AGENT, q.clone());
    let internal: Vec<&Value> = agent["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter(|h| h["audience"] == "internal")
        .collect();
    assert!(
        !internal.is_empty(),
        "agents see internal passages: {agent}"
    );
    let bot = s.search(BOT, q);
    assert!(audiences(&bot).iter().all(|a| a == "public"), "{bot}");
    let asked = s.search(
        BOT,
        json!({"query": "escalation", "filters": {"audience": "internal"}}),
    );
    assert_eq!(asked["hits"], json!([]), "{asked}");
    let note = internal[0]["doc_id"].as_str().expect("doc id");
    let (st, _) = s.call("GET", &format!("/v1/documents/{note}"), Some(BOT), None);
    assert_eq!(st, 404, "a bot cannot read an internal document by id");
    let (st, doc) = s.call("GET", &format!("/v1/documents/{note}"), Some(AGENT), None);
    assert_eq!(st, 200);
    assert_eq!(doc["audience"], "internal");
    assert!(!doc["passages"].as_array().expect("passages").is_empty());
    let (st, doc) = s.call("GET", "/v1/documents/faq-general-zh", Some(BOT), None);
    assert_eq!((st, doc["audience"].as_str()), (200, Some("public")));
}

#[test]
fn keys_and_roles_are_required() {
    let (_ws, s) = demo_server();
    let body = json!({"query": "warranty"});
    let (st, v) = s.call("POST", "/v1/search", None, Some(&body));
    assert_eq!((st, code(&v)), (401, "unauthorized"));
    let (st, _) = s.call("POST", "/v1/search", Some("not-a-key-at-all"), Some(&body));
    assert_eq!(st, 401);
    for (m, p) in [
        ("POST", "/v1/reindex"),
        ("GET", "/v1/jobs/1"),
        ("DELETE", "/v1/documents/x"),
    ] {
        let (st, v) = s.call(m, p, Some(BOT), None);
        assert_eq!((st, code(&v)), (403, "forbidden"), "{m} {p}");
        assert_eq!(s.call(m, p, Some(AGENT), None).0, 403, "{m} {p}");
    }
    let up = json!({"format": "markdown", "content": "# T\n\nText."});
    assert_eq!(
        s.call("PUT", "/v1/documents/x", Some(BOT), Some(&up)).0,
        403
    );
}

#[test]
fn bad_requests_get_clear_errors_and_serving_goes_on() {
    let (_ws, s) = demo_server();
    let big = json!({"query": "a".repeat(70_000)});
    let (st, v) = s.call("POST", "/v1/search", Some(BOT), Some(&big));
    assert_eq!((st, code(&v)), (413, "body_too_large"));
    let (st, text) = s.raw("POST", "/v1/search", Some(BOT), Some("{\"query\": ".into()));
    assert_eq!(st, 400, "{text}");
    assert!(text.contains("invalid_json"), "{text}");
    let deep = format!(
        "{{\"query\": \"x\", \"filters\": {}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let (st, text) = s.raw("POST", "/v1/search", Some(BOT), Some(deep));
    assert_eq!(st, 400);
    assert!(text.contains("max_json_depth"), "{text}");
    for (bad, why) in [
        (json!({"query": ""}), "empty"),
        (json!({"query": "x", "top_k": 0}), "top_k"),
        (json!({"query": "x", "top_k": 100000}), "top_k"),
        (json!({"query": "x".repeat(5000)}), "bytes"),
        (json!({"query": "x", "mode": "psychic"}), "mode"),
        (
            json!({"query": "x", "filters": {"colour": "red"}}),
            "filter",
        ),
        (json!({"query": "x", "extra": 1}), "extra"),
        (json!({"query": "x", "fusion": {"rrf_k": -1}}), "rrf_k"),
        (json!(["query"]), "JSON object"),
    ] {
        let (st, v) = s.call("POST", "/v1/search", Some(BOT), Some(&bad));
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap_or("").contains(why) || why == "object",
            "{bad}: {v}"
        );
    }
    let (st, v) = s.call("GET", "/nowhere", None, None);
    assert_eq!((st, code(&v)), (404, "no_route"));
    let (st, v) = s.call("GET", "/v1/search", Some(BOT), None);
    assert_eq!((st, code(&v)), (405, "method_not_allowed"));
    s.search(BOT, json!({"query": "still serving"}));
}

#[test]
fn every_operation_the_openapi_document_lists_is_routed() {
    let (_ws, s) = demo_server();
    let (st, api) = s.call("GET", "/openapi.json", None, None);
    assert_eq!(st, 200);
    assert!(api["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
    let paths = api["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let concrete = path.replace(
                "{id}",
                if path.contains("jobs") {
                    "1"
                } else {
                    "faq-general-zh"
                },
            );
            let (st, v) = s.call(
                &method.to_uppercase(),
                &concrete,
                Some(ADMIN),
                Some(&json!({})),
            );
            assert!(
                st != 405 && code(&v) != "no_route",
                "{method} {path}: {st} {v}"
            );
        }
    }
    assert_eq!(operations, 15);
    let (st, _) = s.call("OPTIONS", "/v1/documents/faq-general-zh", None, None);
    assert_eq!(st, 204);
}

#[test]
fn metrics_pass_promtool_and_count_the_requests() {
    let (_ws, s) = demo_server();
    s.search(BOT, json!({"query": "warranty"}));
    let (st, _) = s.call("POST", "/v1/search", None, Some(&json!({"query": "x"})));
    assert_eq!(st, 401);
    let (st, text) = s.raw("GET", "/metrics", None, None);
    assert_eq!(st, 200);
    for needle in [
        "kefu_http_requests_total{route=\"/v1/search\",method=\"POST\",status=\"200\"} 1",
        "kefu_http_requests_total{route=\"/v1/search\",method=\"POST\",status=\"401\"} 1",
        "kefu_http_request_duration_seconds_bucket{route=\"/v1/search\"",
        "kefu_index_generation 1",
        "kefu_passages ",
        "kefu_documents ",
        "kefu_query_embedding_seconds_count",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
    let mut check = std::process::Command::new(crate::support::tools::promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    {
        use std::io::Write as _;
        let mut stdin = check.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write metrics");
    }
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn documents_change_while_searches_run_and_roles_hold() {
    let ws = Workspace::new(&repo().join("corpus"));
    let s = Server::start(&ws, &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // searches run the whole time, from four threads: every one must succeed
    let searchers: Vec<_> = (0..4)
        .map(|i| {
            let base = s.base().to_string();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let q = ["warranty battery", "屏幕 保修", "E21 washer", "退货 七天"][i];
                    let r = ureq::post(&format!("{base}/v1/search"))
                        .set("Authorization", &format!("Bearer {BOT}"))
                        .send_json(json!({"query": q, "top_k": 5}));
                    match r {
                        Ok(r) => assert_eq!(r.status(), 200),
                        Err(e) => panic!("search failed during a reindex: {e}"),
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();

    let doc = json!({
        "format": "markdown",
        "content": "# Zorblax cleaning guide\n\nClean the zorblax filter every month with warm water.\n",
        "metadata": {"doc_type": "faq", "products": ["WM-8012"], "tags": ["cleaning"]}
    });
    let (st, job) = s.call(
        "PUT",
        "/v1/documents/zorblax-guide",
        Some(WRITER),
        Some(&doc),
    );
    assert_eq!(st, 202, "{job}");
    let done = s.wait_job(job["id"].as_u64().expect("job id"));
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["report"]["added"], 1, "{done}");
    let found = s.search(BOT, json!({"query": "zorblax filter", "mode": "bm25"}));
    assert_eq!(found["hits"][0]["doc_id"], "zorblax-guide", "{found}");
    assert_eq!(found["hits"][0]["source"], "@managed/zorblax-guide.md");

    // an internal upload: agents find it, bots never, not even by id
    let secret = json!({
        "format": "text",
        "content": "Quuxcode override\n\nAgents may waive the quuxcode fee once per customer.\n",
        "metadata": {"audience": "internal", "doc_type": "note"}
    });
    let (st, job) = s.call(
        "PUT",
        "/v1/documents/quux-note",
        Some(WRITER),
        Some(&secret),
    );
    assert_eq!(st, 202, "{job}");
    assert_eq!(
        s.wait_job(job["id"].as_u64().expect("id"))["state"],
        "succeeded"
    );
    let a = s.search(AGENT, json!({"query": "quuxcode fee", "mode": "bm25"}));
    assert_eq!(a["hits"][0]["doc_id"], "quux-note");
    let b = s.search(BOT, json!({"query": "quuxcode fee", "mode": "bm25"}));
    assert!(
        b["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .all(|h| h["doc_id"] != "quux-note"),
        "{b}"
    );
    assert_eq!(
        s.call("GET", "/v1/documents/quux-note", Some(BOT), None).0,
        404
    );
    assert_eq!(
        s.call("GET", "/v1/documents/quux-note", Some(AGENT), None)
            .0,
        200
    );

    // a reindex job meanwhile
    let (st, job) = s.call("POST", "/v1/reindex", Some(ADMIN), None);
    assert_eq!(st, 202);
    assert_eq!(
        s.wait_job(job["id"].as_u64().expect("id"))["state"],
        "succeeded"
    );

    // refused uploads: nothing written, nothing queued
    let corpus_owned = json!({"format": "markdown", "content": "# Mine now\n\nText."});
    let (st, v) = s.call(
        "PUT",
        "/v1/documents/faq-general-zh",
        Some(WRITER),
        Some(&corpus_owned),
    );
    assert_eq!((st, code(&v)), (409, "conflict"), "{v}");
    let (st, v) = s.call(
        "PUT",
        "/v1/documents/bad-1",
        Some(WRITER),
        Some(&json!({"format": "pdf", "content": "x"})),
    );
    assert_eq!((st, code(&v)), (400, "invalid_json"), "{v}");
    let bad_meta =
        json!({"format": "markdown", "content": "# X\n\nY.", "metadata": {"audience": "everyone"}});
    let (st, v) = s.call("PUT", "/v1/documents/bad-2", Some(WRITER), Some(&bad_meta));
    assert_eq!(st, 422, "{v}");
    let (st, _) = s.call(
        "PUT",
        "/v1/documents/..%2Fescape",
        Some(WRITER),
        Some(&corpus_owned),
    );
    assert_eq!(st, 400);
    assert!(!ws.dir.path().join("managed/bad-2.md").exists());

    // deleting
    let (st, job) = s.call("DELETE", "/v1/documents/zorblax-guide", Some(WRITER), None);
    assert_eq!(st, 202);
    assert_eq!(
        s.wait_job(job["id"].as_u64().expect("id"))["state"],
        "succeeded"
    );
    let gone = s.search(BOT, json!({"query": "zorblax filter", "mode": "bm25"}));
    assert!(gone["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .all(|h| h["doc_id"] != "zorblax-guide"));
    assert_eq!(
        s.call("DELETE", "/v1/documents/zorblax-guide", Some(WRITER), None)
            .0,
        404
    );
    assert_eq!(
        s.call("DELETE", "/v1/documents/faq-general-zh", Some(WRITER), None)
            .0,
        409
    );
    assert_eq!(s.call("GET", "/v1/jobs/999999", Some(WRITER), None).0, 404);

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: usize = searchers
        .into_iter()
        .map(|t| t.join().expect("searcher"))
        .sum();
    assert!(total > 0);
}

#[test]
fn not_ready_until_an_index_exists() {
    let ws = Workspace::with_own_corpus();
    let moved = ws.dir.path().join("later");
    std::fs::rename(&ws.corpus, &moved).expect("hide the corpus");
    let s = Server::spawn(&ws, &[]);
    // the startup job fails (no corpus): alive, not ready, searches get 503 not_ready
    let first = s.wait_job(1);
    assert_eq!(first["state"], "failed", "{first}");
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
    let (st, v) = s.call("GET", "/readyz", None, None);
    assert_eq!((st, code(&v)), (503, "not_ready"));
    let (st, v) = s.call(
        "POST",
        "/v1/search",
        Some(BOT),
        Some(&json!({"query": "returns"})),
    );
    assert_eq!((st, code(&v)), (503, "not_ready"), "{v}");
    std::fs::rename(&moved, &ws.corpus).expect("restore");
    std::fs::write(ws.corpus.join("a.md"), "# Returns\n\nSeven days.\n").expect("write");
    let (st, job) = s.call("POST", "/v1/reindex", Some(WRITER), None);
    assert_eq!(st, 202);
    assert_eq!(
        s.wait_job(job["id"].as_u64().expect("id"))["state"],
        "succeeded"
    );
    assert_eq!(s.call("GET", "/readyz", None, None).0, 200);
    assert_eq!(
        s.search(BOT, json!({"query": "returns"}))["hits"][0]["source"],
        "a.md"
    );
}

#[test]
fn a_failing_reindex_job_leaves_search_untouched() {
    let ws = Workspace::with_own_corpus();
    std::fs::write(
        ws.corpus.join("returns.md"),
        "# Returns\n\nYou can return any product within seven days of delivery.\n",
    )
    .expect("write");
    let s = Server::start(
        &ws,
        &[("KEFU__HTTP__CORS_ORIGINS", "[\"https://help.example.com\"]")],
    );
    // CORS: the configured origin may call from a browser, another may not
    let preflight =
        |origin: &str| match ureq::request("OPTIONS", &format!("{}/v1/search", s.base()))
            .set("Origin", origin)
            .set("Access-Control-Request-Method", "POST")
            .set(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .call()
        {
            Ok(r) => (
                r.status(),
                r.header("access-control-allow-origin").map(str::to_string),
            ),
            Err(ureq::Error::Status(c, r)) => (
                c,
                r.header("access-control-allow-origin").map(str::to_string),
            ),
            Err(e) => panic!("preflight: {e}"),
        };
    let (st, allow) = preflight("https://help.example.com");
    assert_eq!(
        (st, allow.as_deref()),
        (200, Some("https://help.example.com"))
    );
    let (_, allow) = preflight("https://evil.example.net");
    assert_eq!(allow, None);
    let before = s.search(AGENT, json!({"query": "return within seven days"}));
    assert_eq!(before["hits"].as_array().map(Vec::len), Some(1));
    let moved = ws.dir.path().join("corpus-away");
    std::fs::rename(&ws.corpus, &moved).expect("move the corpus away");
    let (st, job) = s.call("POST", "/v1/reindex", Some(WRITER), None);
    assert_eq!(st, 202);
    let done = s.wait_job(job["id"].as_u64().expect("id"));
    assert_eq!(done["state"], "failed", "{done}");
    assert!(
        done["error"].as_str().unwrap_or("").contains("corpus"),
        "{done}"
    );
    let after = s.search(AGENT, json!({"query": "return within seven days"}));
    assert_eq!(after["hits"], before["hits"]);
    assert_eq!(after["generation"], before["generation"]);
    assert_eq!(s.call("GET", "/readyz", None, None).0, 200);
    std::fs::rename(&moved, &ws.corpus).expect("move back");
}

#[test]
fn saturation_gets_quick_503s_then_normal_service_and_sigterm_stops_cleanly() {
    let ws = Workspace::new(&repo().join("corpus"));
    let mut s = Server::start(
        &ws,
        &[
            ("KEFU__HTTP__MAX_INFLIGHT", "1"),
            ("KEFU__HTTP__CPU_THREADS", "1"),
            ("KEFU__HTTP__RATE_LIMIT_PER_S", "0"),
        ],
    );
    let long_query = "warranty battery screen repair 保修 电池 屏幕 维修 ".repeat(20);
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let base = s.base().to_string();
            let q = long_query.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for _ in 0..5 {
                    let r = ureq::post(&format!("{base}/v1/search"))
                        .set("Authorization", &format!("Bearer {BOT}"))
                        .send_json(json!({"query": q, "top_k": 50, "mode": "bm25"}));
                    match r {
                        Ok(r) => seen.push((r.status(), None)),
                        Err(ureq::Error::Status(c, r)) => {
                            seen.push((c, r.header("Retry-After").map(str::to_string)))
                        }
                        Err(e) => panic!("connection failed: {e}"),
                    }
                }
                seen
            })
        })
        .collect();
    let all: Vec<(u16, Option<String>)> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client"))
        .collect();
    let busy = all.iter().filter(|(c, _)| *c == 503).count();
    assert!(all.iter().all(|(c, _)| *c == 200 || *c == 503), "{all:?}");
    assert!(busy > 0, "no request was refused with max_inflight = 1");
    assert!(all
        .iter()
        .filter(|(c, _)| *c == 503)
        .all(|(_, ra)| ra.as_deref() == Some("1")));
    s.search(BOT, json!({"query": "warranty"}));

    // SIGTERM: the server stops by itself, successfully
    let pid = s.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = s.child.try_wait().expect("wait") {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
