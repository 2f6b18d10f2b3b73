//! Conversations over the real server (`POST /v1/chat`, `GET /v1/sessions/{id}`): the seed's
//! flagship for scripted demo customers in both languages — each turn's decision computed from
//! the customer's purchase and cited from the policy — follow-ups resolved against the session,
//! and sessions kept to the caller that created them.

use serde_json::{json, Value};

use crate::support::server::{code, Server, AGENT, BOT};
use crate::Workspace;

const OTHER_BOT: &str = "test-bot-key-2";

fn server() -> (Workspace, Server) {
    let ws = Workspace::demo();
    let keys = format!("bot:{BOT},bot:{OTHER_BOT},agent:{AGENT}");
    let server = Server::start(&ws, &[("KEFU_API_KEYS", keys.as_str())]);
    (ws, server)
}

fn chat(server: &Server, key: &str, body: Value) -> Value {
    let (status, v) = server.call("POST", "/v1/chat", Some(key), Some(&body));
    assert_eq!(status, 200, "{body}: {v}");
    v
}

/// The first sentence's citations: the clauses the decision applied.
fn decision_quotes(v: &Value) -> Vec<(String, String)> {
    v["sentences"][0]["citations"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c["doc_id"].as_str().unwrap_or_default().to_string(),
                        c["quote"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One scripted customer, on a day, asking in both languages.
struct Case {
    customer: &'static str,
    as_of: &'static str,
    zh: &'static str,
    en: &'static str,
    decision: &'static str,
    reason: &'static str,
}

const CASES: &[Case] = &[
    Case {
        customer: "C0001",
        as_of: "2026-12-07",
        zh: "我刚买的手机屏幕碎了怎么办",
        en: "I dropped my new phone and the screen cracked, what now?",
        decision: "not_covered",
        reason: "accidental_damage",
    },
    Case {
        customer: "C0002",
        as_of: "2026-12-07",
        zh: "我的手机摔了，屏幕裂了，能保吗",
        en: "I dropped my phone and cracked the screen, is it covered?",
        decision: "covered",
        reason: "tiancare_accidental_repair",
    },
    Case {
        customer: "C0003",
        as_of: "2026-12-07",
        zh: "手机老是自己重启，还在保修吗",
        en: "my phone keeps restarting by itself, is it still under warranty?",
        decision: "expired",
        reason: "warranty_expired",
    },
    Case {
        customer: "C0008",
        as_of: "2026-12-07",
        zh: "笔记本开不了机了，能免费修吗",
        en: "my laptop does not turn on any more, is the repair free?",
        decision: "covered",
        reason: "defect_in_warranty",
    },
    Case {
        customer: "C0004",
        as_of: "2026-11-27",
        zh: "耳机还没拆封，想退货",
        en: "the earbuds are still sealed, I want to return them",
        decision: "return_eligible",
        reason: "within_return_window",
    },
    Case {
        customer: "C0004",
        as_of: "2026-11-28",
        zh: "耳机还没拆封，想退货",
        en: "the earbuds are still sealed, I want to return them",
        decision: "expired",
        reason: "return_window_passed",
    },
    Case {
        customer: "C0005",
        as_of: "2026-11-08",
        zh: "笔记本我想退货",
        en: "I want to return my laptop",
        decision: "return_eligible",
        reason: "within_return_window",
    },
    Case {
        customer: "C0005",
        as_of: "2026-11-09",
        zh: "笔记本我想退货",
        en: "I want to return my laptop",
        decision: "expired",
        reason: "return_window_passed",
    },
    Case {
        customer: "C0010",
        as_of: "2026-11-16",
        zh: "洗衣机才用几天就不排水了，想换新的",
        en: "the washer stopped draining after a few days, I want an exchange",
        decision: "exchange_eligible",
        reason: "within_exchange_window",
    },
    Case {
        customer: "C0010",
        as_of: "2026-11-17",
        zh: "洗衣机才用几天就不排水了，想换新的",
        en: "the washer stopped draining after a few days, I want an exchange",
        decision: "expired",
        reason: "exchange_window_passed",
    },
    Case {
        customer: "C0009",
        as_of: "2026-12-01",
        zh: "耳机拆封了，还能退货吗",
        en: "I opened the earbuds, can I still return them?",
        decision: "not_covered",
        reason: "opened_earbuds",
    },
    Case {
        customer: "C0006",
        as_of: "2026-11-19",
        zh: "空调已经装好了，我想退货",
        en: "the air conditioner is installed, can I return it?",
        decision: "not_covered",
        reason: "installed_air_conditioner",
    },
    Case {
        customer: "C0007",
        as_of: "2026-12-07",
        zh: "电视屏幕出现一条竖线，能免费修吗",
        en: "a vertical line appeared on the TV screen, is it repaired for free?",
        decision: "covered",
        reason: "part_term",
    },
    Case {
        customer: "C0011",
        as_of: "2026-11-20",
        zh: "手机又自己重启了，已经修过两次，能换新机吗",
        en: "my phone restarts by itself again after two repairs, can I get an exchange?",
        decision: "exchange_eligible",
        reason: "third_repair_exchange",
    },
    Case {
        customer: "C0012",
        as_of: "2026-12-07",
        zh: "手机屏幕上有一条绿线",
        en: "there is a green line on my phone screen",
        decision: "covered",
        reason: "known_issue_bulletin",
    },
];

#[test]
fn the_flagship_decides_for_scripted_customers_in_both_languages() {
    let (_ws, server) = server();
    let mut wrong = Vec::new();
    for c in CASES {
        for message in [c.zh, c.en] {
            let v = chat(
                &server,
                BOT,
                json!({"customer_id": c.customer, "as_of": c.as_of, "message": message}),
            );
            let got = (
                v["decision"]["decision"].as_str(),
                v["decision"]["reason"].as_str(),
            );
            if got != (Some(c.decision), Some(c.reason)) {
                wrong.push(format!(
                    "{} {} «{message}»: {got:?}, resolved «{}»",
                    c.customer, c.as_of, v["resolved_question"]
                ));
                continue;
            }
            // the decision is said first, in the customer's language, and cited
            let first = v["sentences"][0]["text"].as_str().unwrap_or_default();
            assert_eq!(
                first,
                v["decision"]["text"].as_str().unwrap_or_default(),
                "{message}"
            );
            let zh = message
                .chars()
                .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch));
            assert_eq!(
                first
                    .chars()
                    .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                zh,
                "{message}: {first}"
            );
            let quotes = decision_quotes(&v);
            assert!(!quotes.is_empty(), "{message}: the decision cites nothing");
            // a bot never sees the agents' note, even when the decision applied it
            for p in v["passages"].as_array().into_iter().flatten() {
                assert_eq!(p["audience"], "public", "{message}: {p}");
            }
            assert_eq!(v["customer"]["customer_id"], c.customer);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_follow_up_is_resolved_against_the_session_and_the_transcript_is_kept() {
    let (_ws, server) = server();
    let first = chat(
        &server,
        BOT,
        json!({"customer_id": "C0001", "as_of": "2026-12-07", "message": "我刚买的手机屏幕碎了怎么办"}),
    );
    let sid = first["session_id"]
        .as_str()
        .expect("a session is created")
        .to_string();
    assert_eq!(first["turn"], 1);
    assert_eq!(first["decision"]["cost"]["amount"], 1299.0);
    // the accidental-damage clause of the warranty policy, in Chinese, is what decided it
    let quotes = decision_quotes(&first);
    assert!(
        quotes
            .iter()
            .any(|(doc, q)| doc == "policy-warranty-zh" && q.contains("摔落")),
        "{quotes:?}"
    );
    let second = chat(
        &server,
        BOT,
        json!({"session_id": sid, "as_of": "2026-12-07", "message": "那电池呢"}),
    );
    assert_eq!(second["turn"], 2);
    assert_eq!(second["resolved_how"], "ellipsis");
    let resolved = second["resolved_question"].as_str().unwrap_or_default();
    assert!(
        resolved.contains("X9 Pro") && resolved.contains("电池"),
        "{resolved}"
    );
    assert_eq!(second["decision"]["decision"], "covered", "{second}");
    assert_eq!(second["decision"]["expires"], "2027-10-29");
    // a question that stands on its own is not rewritten
    let third = chat(
        &server,
        BOT,
        json!({"session_id": sid, "message": "你们的客服热线是多少"}),
    );
    assert_eq!(third["resolved_how"], "unchanged", "{third}");

    // the agent reads the transcript; the bot that made it too; another bot does not
    let (status, t) = server.call("GET", &format!("/v1/sessions/{sid}"), Some(AGENT), None);
    assert_eq!(status, 200, "{t}");
    let turns = t["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[1]["resolved_question"], second["resolved_question"]);
    assert_eq!(turns[0]["decision"]["reason"], "accidental_damage");
    assert_eq!(t["customer_id"], "C0001");
    let (status, _) = server.call("GET", &format!("/v1/sessions/{sid}"), Some(BOT), None);
    assert_eq!(status, 200);
    let (status, v) = server.call("GET", &format!("/v1/sessions/{sid}"), Some(OTHER_BOT), None);
    assert_eq!((status, code(&v)), (404, "session_not_found"));
    let (status, v) = server.call(
        "POST",
        "/v1/chat",
        Some(OTHER_BOT),
        Some(&json!({"session_id": sid, "message": "hi"})),
    );
    assert_eq!((status, code(&v)), (404, "session_not_found"));
}

#[test]
fn bad_chat_requests_are_refused_with_what_is_wrong() {
    let (_ws, server) = server();
    let cases = [
        (
            json!({"message": "hi", "customer_id": "C9999"}),
            404,
            "customer_not_found",
        ),
        (
            json!({"message": "hi", "session_id": "s-0000"}),
            404,
            "session_not_found",
        ),
        (
            json!({"message": "hi", "channel": "fax"}),
            400,
            "invalid_request",
        ),
        (
            json!({"message": "hi", "as_of": "2026-13-40"}),
            400,
            "invalid_request",
        ),
        (
            json!({"message": "hi", "session_id": "../etc"}),
            400,
            "invalid_request",
        ),
        (json!({"message": ""}), 400, "invalid_request"),
    ];
    for (body, status, want) in cases {
        let (got, v) = server.call("POST", "/v1/chat", Some(BOT), Some(&body));
        assert_eq!((got, code(&v)), (status, want), "{body}: {v}");
    }
    // the session's customer stays its customer
    let first = chat(
        &server,
        BOT,
        json!({"message": "hello", "customer_id": "C0001"}),
    );
    let sid = first["session_id"].as_str().unwrap_or_default();
    let (status, v) = server.call(
        "POST",
        "/v1/chat",
        Some(BOT),
        Some(&json!({"session_id": sid, "customer_id": "C0002", "message": "hi"})),
    );
    assert_eq!((status, code(&v)), (409, "other_customer"));
}

/// Without a customer, a question about cover states the rule and asks for the order number
/// (over the embedding model: BM25 alone turns this question away).
#[test]
fn without_a_customer_the_rule_is_stated_and_the_order_asked_for() {
    let env = [
        ("KEFU__VECTOR__ENABLED", "true"),
        ("KEFU__VECTOR__SENTENCE_VECTORS", "false"),
    ];
    let ws = Workspace::demo_with(&env);
    let server = Server::start(&ws, &env);
    for (message, ask) in [
        ("X9 Pro 手机屏幕碎了，在保修范围内吗", "订单号"),
        (
            "my X9 Pro screen cracked when I dropped it, is that covered?",
            "order number",
        ),
    ] {
        let v = chat(&server, BOT, json!({ "message": message }));
        assert!(v["decision"].is_null(), "{v}");
        assert_eq!(v["abstained"], false, "{message}: {v}");
        let text = v["text"].as_str().unwrap_or_default();
        assert!(text.contains(ask), "{message}: {text}");
    }
}

#[test]
fn the_console_shows_the_customer_panel_and_the_decision() {
    let ws = Workspace::demo();
    let mut cmd = ws.cmd(&["chat", "--customer", "C0001", "--as-of", "2026-12-07"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("kefu chat");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "我刚买的手机屏幕碎了怎么办\n那电池呢\n/quit").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("customer C0001 · gold"), "{text}");
    assert!(text.contains("X9 Pro · delivered 2026-10-30"), "{text}");
    assert!(
        text.contains("decision: not_covered (accidental_damage)"),
        "{text}"
    );
    assert!(
        text.contains("searched: X9 Pro") && text.contains("(ellipsis)"),
        "{text}"
    );
    assert!(
        text.contains("decision: covered (defect_in_warranty)"),
        "{text}"
    );
}
