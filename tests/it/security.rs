//! Regression tests for the findings of the hostile-client probe of 82967c7
//! (`../shared/reports/security-probe-82967c7.md`), one per finding, named after it, against
//! the real server over real sockets. Findings 3 (linear HTML parsing) and the property of
//! finding 1 are pinned by unit tests beside the code (`ingest::html`, `service::documents`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::server::{code, Server, ADMIN, AGENT, BOT, WRITER};
use crate::{repo, Workspace};

/// A workspace over a few demo files: public policies and FAQs, internal tickets and notes.
fn small_world() -> Workspace {
    Workspace::with_files(&[
        "policies/warranty-en.md",
        "policies/returns-en.md",
        "policies/agent-goodwill-en.md",
        "manuals/faq-general-en.md",
        "tickets/tickets-en.jsonl",
        "tickets/tickets-zh.jsonl",
    ])
}

fn put(s: &Server, id: &str, body: &Value) -> (u16, Value) {
    s.call(
        "PUT",
        &format!("/v1/documents/{id}"),
        Some(WRITER),
        Some(body),
    )
}

fn put_and_wait(s: &Server, id: &str, body: &Value) -> Value {
    let (st, job) = put(s, id, body);
    assert_eq!(st, 202, "{job}");
    s.wait_job(job["id"].as_u64().expect("job id"))
}

/// Raw HTTP/1.1 over a socket: the status code of the reply (0 if none came).
fn raw_status(stream: &mut TcpStream) -> u16 {
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn connect(s: &Server) -> TcpStream {
    let addr = s.base().trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
}

#[test]
fn finding_01_content_never_overrides_an_uploads_declared_metadata() {
    let ws = small_world();
    let s = Server::start(&ws, &[]);
    let upload = json!({
        "format": "html",
        "metadata": {"audience": "internal", "doc_type": "note", "products": ["WM-8012"]},
        "content": "<html><head><META NAME=\"Audience\" CONTENT=\"Public\"><meta name=\"kefu:doc_type\" content=\"faq\"><meta name=\"products\" content=\"X9 Pro\"><title>Staff only: refund override codes</title></head><body><h1>Override</h1><p>Staff override code for refunds is ZEBRA-7731-OVR. Never tell customers.</p></body></html>"
    });
    let job = put_and_wait(&s, "probe-internal-html", &upload);
    assert_eq!(job["state"], "succeeded", "{job}");
    let (st, _) = s.call("GET", "/v1/documents/probe-internal-html", Some(BOT), None);
    assert_eq!(st, 404, "a bot must not read a document declared internal");
    let (st, doc) = s.call(
        "GET",
        "/v1/documents/probe-internal-html",
        Some(AGENT),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(
        (doc["audience"].as_str(), doc["doc_type"].as_str()),
        (Some("internal"), Some("note")),
        "{doc}"
    );
    assert_eq!(doc["products"], json!(["WM-8012"]));
    let hits = s.search(
        BOT,
        json!({"query": "refund override code ZEBRA-7731-OVR", "mode": "bm25"}),
    );
    assert!(
        !hits.to_string().contains("ZEBRA"),
        "a bot search found the internal upload: {hits}"
    );
    let (_, answer) = s.call(
        "POST",
        "/v1/answer",
        Some(BOT),
        Some(&json!({"question": "What is the staff override code for refunds?"})),
    );
    assert!(!answer.to_string().contains("ZEBRA"), "{answer}");
}

#[test]
fn finding_02_a_public_callers_confidence_does_not_depend_on_internal_only_terms() {
    let ws = small_world();
    let s = Server::start(&ws, &[]);
    // ticket ids and a code name that only internal tickets contain, beside made-up ones
    let tickets =
        std::fs::read_to_string(repo().join("corpus/tickets/tickets-en.jsonl")).expect("tickets");
    let first: Value =
        serde_json::from_str(tickets.lines().next().expect("a ticket")).expect("ticket json");
    let existing = first["id"].as_str().expect("ticket id").to_string();
    assert!(tickets.contains(&existing));
    for (known, made_up) in [
        (existing.as_str(), "TK-2026-99991"),
        ("TK-2026-10001", "TK-2026-10999"),
    ] {
        let ask = |q: &str| {
            let (st, a) = s.call(
                "POST",
                "/v1/answer",
                Some(BOT),
                Some(&json!({"question": q})),
            );
            assert_eq!(st, 200, "{a}");
            (
                a["abstained"].clone(),
                a["confidence"].as_f64().unwrap_or(-1.0),
            )
        };
        let (a1, c1) = ask(known);
        let (a2, c2) = ask(made_up);
        assert_eq!(a1, a2, "{known} vs {made_up}: abstention differs");
        assert!(
            (c1 - c2).abs() < 1e-6,
            "{known} got confidence {c1}, {made_up} got {c2}"
        );
    }
    // and BM25 scores of public passages are the same whatever internal passages contain
    let q = |t: &str| {
        s.search(
            BOT,
            json!({"query": format!("warranty {t}"), "mode": "bm25", "top_k": 3}),
        )["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["score"].as_f64().unwrap_or(0.0))
            .collect::<Vec<_>>()
    };
    assert_eq!(q(&existing), q("TK-2026-99991"));
}

#[test]
fn finding_04_timed_out_work_is_stopped_bots_have_a_top_k_cap_and_keys_a_rate_limit() {
    let ws = small_world();
    let s = Server::start(
        &ws,
        &[
            ("KEFU__HTTP__RATE_LIMIT_PER_S", "2"),
            ("KEFU__HTTP__RATE_LIMIT_BURST", "3"),
            ("KEFU__HTTP__BOT_MAX_TOP_K", "20"),
        ],
    );
    let (st, v) = s.call(
        "POST",
        "/v1/search",
        Some(AGENT),
        Some(&json!({"query": "warranty", "top_k": 21, "mode": "bm25"})),
    );
    assert_eq!(st, 200, "agents are not capped: {v}");
    let (st, v) = s.call(
        "POST",
        "/v1/search",
        Some(BOT),
        Some(&json!({"query": "warranty", "top_k": 21, "mode": "bm25"})),
    );
    assert_eq!(st, 400, "{v}");
    assert!(v.to_string().contains("bot_max_top_k"), "{v}");
    // the bot key has used 1 of its burst of 3; the next requests run out
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = ureq::post(&format!("{}/v1/search", s.base()))
            .set("Authorization", &format!("Bearer {BOT}"))
            .send_string(r#"{"query": "warranty", "mode": "bm25"}"#);
        match r {
            Ok(r) => statuses.push((r.status(), None)),
            Err(ureq::Error::Status(c, r)) => {
                statuses.push((c, r.header("retry-after").map(str::to_string)))
            }
            Err(e) => panic!("{e}"),
        }
    }
    let limited: Vec<_> = statuses.iter().filter(|(c, _)| *c == 429).collect();
    assert!(!limited.is_empty(), "{statuses:?}");
    assert!(
        limited.iter().all(|(_, ra)| ra.is_some()),
        "429 without Retry-After"
    );
    // other keys have their own buckets
    assert_eq!(
        s.call(
            "POST",
            "/v1/search",
            Some(AGENT),
            Some(&json!({"query": "warranty", "mode": "bm25"}))
        )
        .0,
        200
    );
    drop(s);

    // a request over its time limit is answered 503 timeout, and its work stops: the pool is
    // free again at once (one place, one thread)
    let s = Server::start(
        &ws,
        &[
            ("KEFU__HTTP__REQUEST_TIMEOUT_MS", "1"),
            ("KEFU__HTTP__LIGHT_THREADS", "1"),
            ("KEFU__HTTP__MAX_INFLIGHT", "1"),
        ],
    );
    let long = "warranty battery screen repair refund ".repeat(50);
    let mut timeouts = 0;
    for _ in 0..5 {
        let (st, v) = s.call(
            "POST",
            "/v1/search",
            Some(AGENT),
            Some(&json!({"query": long, "mode": "bm25", "top_k": 100})),
        );
        assert!(st == 503 || st == 200, "{st} {v}");
        if st == 503 {
            assert!(
                code(&v) == "timeout" || code(&v) == "overloaded" || code(&v) == "cancelled",
                "{v}"
            );
            timeouts += 1;
        }
    }
    assert!(timeouts > 0, "a 1 ms limit never timed out");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, text) = s.raw("GET", "/metrics", None, None);
        if text
            .lines()
            .any(|l| l.starts_with("kefu_http_inflight") && l.ends_with(" 0"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "work that timed out still holds its place: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn finding_05_bodies_have_a_deadline_and_are_read_only_after_admission() {
    let ws = small_world();
    let s = Server::start(
        &ws,
        &[
            ("KEFU__HTTP__BODY_TIMEOUT_MS", "700"),
            ("KEFU__HTTP__MAX_UPLOADS_RECEIVING", "1"),
        ],
    );
    // a search whose body stops halfway is cut with 408
    let mut slow = connect(&s);
    let started = Instant::now();
    write!(
        slow,
        "POST /v1/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {BOT}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"query\": \"war"
    )
    .expect("write");
    assert_eq!(raw_status(&mut slow), 408);
    assert!(started.elapsed() < Duration::from_secs(10));
    // one upload being received takes the only place: a second is refused at once
    let mut stalled = connect(&s);
    write!(
        stalled,
        "PUT /v1/documents/slow-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {WRITER}\r\nContent-Length: 4000000\r\n\r\n{{\"format\":\"text\",\"content\":\"aaaa"
    )
    .expect("write");
    std::thread::sleep(Duration::from_millis(150));
    let (st, v) = put(
        &s,
        "slow-2",
        &json!({"format": "text", "content": "Title\n\nShort text."}),
    );
    assert_eq!((st, code(&v)), (503, "overloaded"), "{v}");
    assert_eq!(raw_status(&mut stalled), 408, "the stalled upload is cut");
    let (st, v) = put(
        &s,
        "slow-2",
        &json!({"format": "text", "content": "Title\n\nShort text."}),
    );
    assert_eq!(st, 202, "the place is free again: {v}");
}

#[test]
fn finding_06_documents_have_passage_limits_and_jobs_can_be_cancelled() {
    let ws = small_world();
    let s = Server::start(&ws, &[("KEFU__CORPUS__MAX_PASSAGES_PER_DOCUMENT", "20")]);
    let body: String = (0..400)
        .map(|i| {
            format!("## Section {i}\n\nThe widget section {i} explains step {i} in detail.\n\n")
        })
        .collect();
    let (st, v) = put(
        &s,
        "probe-many",
        &json!({"format": "markdown", "content": body}),
    );
    assert_eq!(st, 422, "{v}");
    assert!(
        v.to_string().contains("max_passages_per_document"),
        "the message names the limit: {v}"
    );
    // a queued job can be cancelled; a newer change of a document supersedes the older job
    let mut ids = Vec::new();
    for i in 0..3 {
        let (st, job) = put(
            &s,
            "probe-small",
            &json!({"format": "markdown", "content": format!("# Small\n\nVersion {i} of the glimmerfrost text.")}),
        );
        assert_eq!(st, 202, "{job}");
        ids.push(job["id"].as_u64().expect("id"));
    }
    let last = s.wait_job(ids[2]);
    assert_eq!(last["state"], "succeeded", "{last}");
    assert_eq!(last["document"]["indexed"], true, "{last}");
    for id in &ids[..2] {
        let j = s.wait_job(*id);
        assert!(
            j["state"] == "cancelled" || j["state"] == "succeeded",
            "{j}"
        );
    }
    let (st, done) = s.call(
        "DELETE",
        &format!("/v1/jobs/{}", ids[2]),
        Some(WRITER),
        None,
    );
    assert_eq!((st, code(&done)), (409, "conflict"), "{done}");
    let (st, _) = s.call("DELETE", "/v1/jobs/999999999", Some(WRITER), None);
    assert_eq!(st, 404);
    let doc = s
        .call("GET", "/v1/documents/probe-small", Some(BOT), None)
        .1;
    assert!(doc.to_string().contains("Version 2"), "{doc}");
}

#[test]
fn finding_07_metadata_lists_are_limited() {
    let ws = small_world();
    let s = Server::start(&ws, &[]);
    let products: Vec<String> = (0..5000).map(|i| format!("P{i:05}")).collect();
    let (st, v) = put(
        &s,
        "probe-amp",
        &json!({"format": "markdown", "content": "# Amp\n\nThe vorpalite widget.", "metadata": {"products": products}}),
    );
    assert_eq!(st, 422, "{v}");
    assert!(v.to_string().contains("max_list_items"), "{v}");
    let (st, v) = put(
        &s,
        "probe-amp",
        &json!({"format": "markdown", "content": "# Amp\n\nThe vorpalite widget.", "metadata": {"tags": ["x".repeat(500)]}}),
    );
    assert_eq!(st, 422, "{v}");
    assert!(v.to_string().contains("max_value_chars"), "{v}");
}

#[test]
fn finding_08_an_upload_answered_as_failed_is_never_written() {
    let ws = small_world();
    let s = Server::start(&ws, &[("KEFU__HTTP__REQUEST_TIMEOUT_MS", "1")]);
    let big: String = (0..300)
        .map(|i| format!("<p>The glimmerfrost procedure, paragraph {i}.</p>"))
        .collect();
    let (st, v) = put(
        &s,
        "probe-late",
        &json!({"format": "html", "content": format!("<title>Late write</title>{big}")}),
    );
    if st == 202 {
        // written before the deadline: then it is indexed, as acknowledged
        assert!(
            s.wait_job(v["id"].as_u64().expect("id"))["state"] == "succeeded",
            "{v}"
        );
        return;
    }
    assert_eq!(st, 503, "{v}");
    assert!(v.to_string().contains("nothing was written"), "{v}");
    std::thread::sleep(Duration::from_millis(500));
    let managed = ws.dir.path().join("managed");
    let written = std::fs::read_dir(&managed)
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    assert_eq!(written, 0, "a failed PUT wrote a file");
}

#[test]
fn finding_09_and_10_reindexes_coalesce_and_job_ids_survive_a_restart() {
    let ws = small_world();
    let s = Server::start(&ws, &[("KEFU__HTTP__RATE_LIMIT_PER_S", "0")]);
    let (st, job) = put(
        &s,
        "probe-flood",
        &json!({"format": "markdown", "content": "# Flood\n\nSome text to embed."}),
    );
    assert_eq!(st, 202);
    let put_id = job["id"].as_u64().expect("id");
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let (st, j) = s.call("POST", "/v1/reindex", Some(WRITER), None);
        assert_eq!(st, 202, "{j}");
        ids.insert(j["id"].as_u64().expect("id"));
    }
    assert!(ids.len() < 50, "200 reindexes made {} jobs", ids.len());
    let (st, j) = s.call("GET", &format!("/v1/jobs/{put_id}"), Some(WRITER), None);
    assert_eq!(st, 200, "the acknowledged upload's job is kept: {j}");
    let last = *ids.iter().last().expect("a job");
    s.wait_job(last);
    s.kill();
    let s = Server::start(&ws, &[]);
    let (st, j) = s.call("GET", &format!("/v1/jobs/{put_id}"), Some(WRITER), None);
    assert_eq!((st, j["kind"].as_str()), (200, Some("put_document")), "{j}");
    let (st, next) = s.call("POST", "/v1/reindex", Some(WRITER), None);
    assert_eq!(st, 202);
    assert!(
        next["id"].as_u64().expect("id") > last,
        "ids continue after a restart: {next}"
    );
}

#[test]
fn finding_11_to_18_protocol_details() {
    let ws = small_world();
    let s = Server::start(&ws, &[]);
    let search = |headers: &[(&str, &str)], body: &str| {
        let mut r = ureq::post(&format!("{}/v1/search", s.base()));
        for (k, v) in headers {
            r = r.set(k, v);
        }
        match r.send_string(body) {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    };
    let q = r#"{"query": "warranty", "mode": "bm25"}"#;
    // 11: the scheme is case-insensitive; a malformed header never falls back
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme} {BOT}");
        assert_eq!(search(&[("Authorization", &auth)], q).0, 200, "{scheme}");
    }
    let (st, text) = search(&[("Authorization", "bearer"), ("X-Api-Key", AGENT)], q);
    assert_eq!(st, 401, "{text}");
    assert!(text.contains("malformed"), "{text}");
    // 12: unknown filter values, empty lists and duplicate keys are 400 naming the key
    for (body, key) in [
        (
            r#"{"query": "warranty", "filters": {"type": "manaul"}}"#,
            "type",
        ),
        (
            r#"{"query": "warranty", "filters": {"audience": "internl"}}"#,
            "audience",
        ),
        (r#"{"query": "warranty", "filters": {"type": []}}"#, "type"),
        (
            r#"{"query": "warranty", "filters": {"audience": "internal", "audience": "public"}}"#,
            "audience",
        ),
    ] {
        let (st, text) = search(&[("Authorization", &format!("Bearer {AGENT}"))], body);
        assert_eq!(st, 400, "{body}: {text}");
        assert!(text.contains(key), "{body}: {text}");
    }
    let (st, v) = put(
        &s,
        "probe-dup",
        &json!({"format": "markdown", "content": "# Dup\n\nText.", "metadata": {"audience": "internal"}}),
    );
    assert_eq!(st, 202, "{v}");
    let (st, text) = s.raw(
        "PUT",
        "/v1/documents/probe-dup2",
        Some(WRITER),
        Some(r#"{"format": "text", "content": "Text.", "metadata": {"audience": "internal", "audience": "public"}}"#.into()),
    );
    assert_eq!(st, 400, "{text}");
    // 13: HEAD on GET routes, Allow on 405 and OPTIONS
    let head = ureq::head(&format!("{}/healthz", s.base()))
        .call()
        .expect("HEAD");
    assert_eq!(head.status(), 200);
    match ureq::post(&format!("{}/healthz", s.base())).call() {
        Err(ureq::Error::Status(405, r)) => {
            let allow = r.header("allow").unwrap_or("").to_string();
            assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
        }
        other => panic!("POST /healthz: {other:?}"),
    }
    let opt = ureq::request("OPTIONS", &format!("{}/v1/search", s.base()))
        .call()
        .expect("OPTIONS");
    assert!(opt.header("allow").unwrap_or("").contains("POST"));
    // 14: what is not JSON is 415
    let auth = format!("Bearer {BOT}");
    for (k, v) in [
        ("Content-Type", "text/plain"),
        ("Content-Type", "application/xml"),
        ("Content-Encoding", "gzip"),
    ] {
        let (st, text) = search(&[("Authorization", &auth), (k, v)], q);
        assert_eq!(st, 415, "{k}: {v}: {text}");
    }
    // 15: messages say what happened
    let (_, text) = search(&[("Authorization", &auth)], r#"{"query": "\ud800"}"#);
    assert!(text.contains("surrogate"), "{text}");
    let (st, v) = s.call("POST", "/v1/reindex", Some(AGENT), None);
    assert_eq!(st, 403);
    assert!(v.to_string().contains("an agent key"), "{v}");
    // 16: queries of control characters only are refused
    for body in [
        r#"{"query": "\u0000"}"#,
        r#"{"query": "\u0000\u0001 \u001b"}"#,
    ] {
        assert_eq!(search(&[("Authorization", &auth)], body).0, 400, "{body}");
    }
    let (st, v) = s.call(
        "POST",
        "/v1/answer",
        Some(BOT),
        Some(&json!({"question": "\u{0}\u{1}"})),
    );
    assert_eq!(st, 400, "{v}");
    let (st, v) = put(
        &s,
        "probe-ansi",
        &json!({"format": "text", "content": "Red \u{1b}[31malert\u{1b}[0m text."}),
    );
    assert_eq!(st, 422, "{v}");
    let (st, _) = put(
        &s,
        "probe-nel",
        &json!({"format": "markdown", "content": "# T\n\nText.", "metadata": {"title": "a\u{85}b"}}),
    );
    assert_eq!(st, 202);
    // 17: look-alike ids are refused
    let corpus_doc = "faq-general-en";
    for (id, want) in [("FAQ-General-En", 409), ("probe-x.", 400), ("aux.md", 400)] {
        let (st, v) = put(&s, id, &json!({"format": "text", "content": "Text."}));
        assert_eq!(st, want, "{id}: {v}");
    }
    assert_eq!(
        s.call(
            "GET",
            &format!("/v1/documents/{corpus_doc}"),
            Some(BOT),
            None
        )
        .0,
        200
    );
    // 18: an LLM asked for without one configured says so
    let (st, a) = s.call(
        "POST",
        "/v1/answer",
        Some(BOT),
        Some(&json!({"question": "How long is the warranty?", "composer": "llm"})),
    );
    assert_eq!(st, 200, "{a}");
    assert!(
        a["warnings"].to_string().contains("no LLM is configured"),
        "{a}"
    );
    let _ = ADMIN;
}

#[test]
fn finding_16_a_title_with_nel_round_trips_and_finding_20_reports_the_document() {
    let ws = small_world();
    let s = Server::start(&ws, &[]);
    let body = json!({"format": "markdown", "content": "# T\n\nText about the frobnicator.", "metadata": {"title": "a\u{85}b\u{2028}c"}});
    let first = put_and_wait(&s, "probe-twice", &body);
    assert_eq!(first["document"]["indexed"], true, "{first}");
    let (_, doc) = s.call("GET", "/v1/documents/probe-twice", Some(AGENT), None);
    assert_eq!(doc["title"], "a\u{85}b\u{2028}c", "{doc}");
    // the same upload again: the run changes nothing, the document is still reported indexed
    let again = put_and_wait(&s, "probe-twice", &body);
    assert_eq!(again["document"]["indexed"], true, "{again}");
    assert!(
        again["document"]["passages"].as_u64().unwrap_or(0) > 0,
        "{again}"
    );
}

#[test]
fn finding_19_onnx_runtime_keeps_no_usage_store_under_home() {
    let ws = Workspace::with_files(&["policies/warranty-en.md"]);
    let home = ws.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    // the shared model cache, wherever HOME points for the run
    let cache = std::path::PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
        .join(".cache/kefu");
    let out = ws
        .cmd(&[
            "search",
            "how long is the warranty",
            "--json",
            "--mode",
            "hybrid",
        ])
        .env("KEFU__VECTOR__ENABLED", "true")
        .env("KEFU__MODELS__CACHE_DIR", &cache)
        .env("HOME", &home)
        .env_remove("ORT_DISABLE_TELEMETRY")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", crate::text(&out));
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["mode"], "hybrid", "the model ran: {r}");
    assert!(
        !home.join(".cache/Microsoft").exists(),
        "ONNX Runtime wrote its usage store under HOME"
    );
}

#[test]
fn finding_15_client_protocol_errors_are_not_logged_as_server_errors() {
    let ws = small_world();
    let s = Server::start(&ws, &[]);
    for raw in [
        "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n".to_string(),
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\n\r\n", "a".repeat(40_000)),
        "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_string(),
    ] {
        let mut c = connect(&s);
        let _ = c.write_all(raw.as_bytes());
        let st = raw_status(&mut c);
        assert!(st < 500, "{st}");
    }
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
    std::thread::sleep(Duration::from_millis(200));
    let log = std::fs::read_to_string(ws.dir.path().join("server.log")).expect("log");
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "client errors were logged as server errors:\n{log}"
    );
}
