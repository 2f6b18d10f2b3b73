//! The CRM connector against a real HTTP server on port 0 (`support/crm.rs`): a CRM with its
//! own field names, tier words and date-times; slow, failing, refusing and malformed replies;
//! the retry budget and the breaker; and `kefu serve` answering from the knowledge base, with
//! a warning, when the CRM is down — without personal data in its log.

use std::time::{Duration, Instant};

use kefu::customer::crm::CrmDirectory;
use kefu::customer::{CustomerDirectory, Tier};
use kefu::domain::CustomerId;
use serde_json::{json, Value};

use crate::support::crm::{env_for, Crm, Reply};
use crate::support::server::{code, Server, BOT};
use crate::Workspace;

/// The connector as `kefu serve` would build it for the stand-in, with the credential read
/// from `auth_env` (a variable cargo sets for every test, so that none needs setting here).
fn connector(crm: &Crm, auth_env: &str) -> CrmDirectory {
    let mut env = env_for(&crm.base);
    env.retain(|(k, _)| k != "KEFU__CRM__AUTH_ENV");
    env.push(("KEFU__CRM__AUTH_ENV".into(), auth_env.into()));
    let config = kefu::Config::load_with_env(None, &env).expect("config");
    CrmDirectory::new(config.crm.as_ref().expect("[crm]")).expect("connector")
}

fn c0001() -> CustomerId {
    CustomerId::parse("C0001").expect("id")
}

#[test]
fn customers_are_read_from_the_crm_in_its_own_shape() {
    let crm = Crm::start(env!("CARGO_PKG_NAME"));
    let d = connector(&crm, "CARGO_PKG_NAME");
    let c = d.by_id(&c0001()).expect("lookup").expect("found");
    assert_eq!(c.name, "王晓明");
    assert_eq!(c.tier, Tier::Gold);
    let p = &c.purchases[0];
    assert_eq!(p.order, "TL20261028-248716");
    assert_eq!(
        p.delivered.map(|d| d.to_string()).as_deref(),
        Some("2026-10-30")
    );
    // the same customer by phone number (any writing) and by order number
    let by_phone = d.by_phone("138-0013-5721").expect("lookup").expect("found");
    assert_eq!(by_phone.id, c.id);
    let by_order = d.by_order(" TL20261028-248716").expect("lookup");
    assert_eq!(by_order.map(|c| c.id), Some(c.id.clone()));
    assert!(d
        .by_id(&CustomerId::parse("C9999").expect("id"))
        .expect("lookup")
        .is_none());
    let seen = crm.seen();
    assert_eq!(seen[0].path, "/api/customers/C0001");
    assert_eq!(seen[1].path, "/api/customers?phone=%2B8613800135721");
    assert_eq!(seen[2].path, "/api/orders/TL20261028%2D248716/customer");
    assert!(seen
        .iter()
        .all(|s| s.auth.as_deref() == Some(env!("CARGO_PKG_NAME"))));
}

#[test]
fn slow_and_failing_replies_are_retried_within_the_budget() {
    let crm = Crm::start(env!("CARGO_PKG_NAME"));
    let d = connector(&crm, "CARGO_PKG_NAME");
    // slower than one attempt's 400 ms, then good: the retry finds the customer
    crm.plan(&[Reply::Slow(Duration::from_millis(900))], Reply::Good);
    assert!(d.by_id(&c0001()).expect("lookup").is_some());
    assert_eq!(crm.seen().len(), 2);
    // a 503, then good
    crm.plan(&[Reply::Status(503)], Reply::Good);
    assert!(d.by_id(&c0001()).expect("lookup").is_some());
    assert_eq!(crm.seen().len(), 4);
    // always 502: three attempts (retries = 2), then an error naming the cause
    crm.plan(&[], Reply::Status(502));
    let err = d.by_id(&c0001()).expect_err("down").to_string();
    assert!(err.contains("502") && err.contains("3 attempts"), "{err}");
    assert_eq!(crm.seen().len(), 7);
    // hanging: the lookup ends with the time budget (1.5 s), not with the CRM
    crm.plan(&[], Reply::Slow(Duration::from_secs(20)));
    let started = Instant::now();
    let err = d.by_id(&c0001()).expect_err("hangs").to_string();
    assert!(err.contains("timed out"), "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(1500 + 1000),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn refused_and_malformed_replies_are_not_retried_and_name_no_personal_data() {
    let crm = Crm::start(env!("CARGO_PKG_NAME"));
    // the wrong credential: 401, said as such, asked once
    let wrong = connector(&crm, "CARGO_PKG_VERSION");
    let err = wrong.by_id(&c0001()).expect_err("refused").to_string();
    assert!(err.contains("credentials"), "{err}");
    assert_eq!(crm.seen().len(), 1);
    let d = connector(&crm, "CARGO_PKG_NAME");
    crm.plan(&[Reply::NotJson], Reply::Good);
    let err = d.by_id(&c0001()).expect_err("not JSON").to_string();
    assert!(err.contains("not JSON"), "{err}");
    assert_eq!(crm.seen().len(), 2);
    crm.plan(&[Reply::BadDate], Reply::Good);
    let err = d.by_id(&c0001()).expect_err("a bad date").to_string();
    assert!(err.contains("purchases[0].delivered"), "{err}");
    for private in [
        "C0001",
        "王晓明",
        "13800135721",
        "TL20261028",
        "next Tuesday",
    ] {
        assert!(!err.contains(private), "{private} in {err}");
    }
    assert_eq!(crm.seen().len(), 3);
}

#[test]
fn after_failures_in_a_row_the_crm_is_left_alone() {
    let crm = Crm::start(env!("CARGO_PKG_NAME"));
    let d = connector(&crm, "CARGO_PKG_NAME");
    crm.plan(&[], Reply::NotJson);
    for _ in 0..3 {
        assert!(d.by_id(&c0001()).is_err());
    }
    assert_eq!(crm.seen().len(), 3);
    // the breaker is open (breaker_open_ms is long here): not asked, answered at once
    crm.plan(&[], Reply::Good);
    let err = d.by_id(&c0001()).expect_err("breaker open").to_string();
    assert!(err.contains("not asked"), "{err}");
    assert_eq!(crm.seen().len(), 3);
}

#[test]
fn the_retry_budget_bounds_retries_against_a_failing_crm() {
    let crm = Crm::start(env!("CARGO_PKG_NAME"));
    let mut env = env_for(&crm.base);
    env.retain(|(k, _)| !k.starts_with("KEFU__CRM__BREAKER") && k != "KEFU__CRM__AUTH_ENV");
    env.push(("KEFU__CRM__AUTH_ENV".into(), "CARGO_PKG_NAME".into()));
    env.push(("KEFU__CRM__BREAKER_FAILURES".into(), "1000".into()));
    env.push(("KEFU__CRM__BACKOFF_MS".into(), "1".into()));
    let config = kefu::Config::load_with_env(None, &env).expect("config");
    let d = CrmDirectory::new(config.crm.as_ref().expect("[crm]")).expect("connector");
    crm.plan(&[], Reply::Status(500));
    let lookups = 40;
    for _ in 0..lookups {
        assert!(d.by_id(&c0001()).is_err());
    }
    // without a budget: 40 × 3 requests; with one: 40 first attempts, a reserve of 10
    // retries and 0.2 of a retry per lookup
    let sent = crm.seen().len();
    assert!(sent <= lookups + 10 + 8 + 1, "{sent} requests");
    assert!(sent > lookups, "{sent} requests: no retry at all");
}

/// `kefu serve` with the stand-in as its CRM: the flagship decided from the CRM's record, and
/// the knowledge base still answering — with a warning — when the CRM fails.
#[test]
fn the_service_answers_from_the_crm_and_without_it() {
    let crm = Crm::start("Bearer s3cret-token");
    let mut env: Vec<(String, String)> = vec![
        ("KEFU__VECTOR__ENABLED".into(), "true".into()),
        ("KEFU__VECTOR__SENTENCE_VECTORS".into(), "false".into()),
    ];
    let ws = Workspace::demo_with(&[
        ("KEFU__VECTOR__ENABLED", "true"),
        ("KEFU__VECTOR__SENTENCE_VECTORS", "false"),
    ]);
    env.extend(env_for(&crm.base));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start(&ws, &env_refs);
    let chat = |body: Value| server.call("POST", "/v1/chat", Some(BOT), Some(&body));

    let (status, v) = chat(json!({
        "customer_id": "C0001", "as_of": "2026-12-07",
        "message": "我刚买的手机屏幕碎了怎么办"
    }));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["decision"]["decision"], "not_covered", "{v}");
    assert_eq!(v["customer"]["customer_id"], "C0001", "{v}");
    assert!(v["warnings"].is_null(), "no warning expected: {v}");
    let seen = crm.seen();
    assert_eq!(seen[0].path, "/api/customers/C0001");
    assert_eq!(seen[0].auth.as_deref(), Some("Bearer s3cret-token"));

    let (status, v) = chat(json!({"customer_id": "C9999", "message": "is my phone covered?"}));
    assert_eq!((status, code(&v)), (404, "customer_not_found"), "{v}");

    // the CRM fails: the question is still answered from the knowledge base, with a warning
    crm.plan(&[], Reply::Status(503));
    let message = "How long is the warranty on the X9 Pro phone?";
    let (status, v) = chat(json!({"customer_id": "C0002", "message": message}));
    assert_eq!(status, 200, "{v}");
    assert!(v["customer"].is_null() && v["decision"].is_null(), "{v}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("could not be read") && warnings.contains("503"),
        "{v}"
    );
    assert!(
        v["sentences"].as_array().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    let session = v["session_id"].as_str().expect("session").to_string();
    // two more failures open the breaker: the next turn does not wait for the CRM
    for _ in 0..2 {
        let (status, _) = chat(json!({"session_id": session, "message": message}));
        assert_eq!(status, 200);
    }
    let asked = crm.seen().len();
    let (status, v) = chat(json!({"session_id": session, "message": "and the battery?"}));
    assert_eq!(status, 200, "{v}");
    assert!(v["warnings"].to_string().contains("not asked"), "{v}");
    assert_eq!(crm.seen().len(), asked);

    drop(server);
    let log = std::fs::read_to_string(ws.dir.path().join("server.log")).expect("server log");
    assert!(log.contains("customer lookup failed"), "{log}");
    for private in [
        "王晓明",
        "Oliver Bennett",
        "13800135721",
        "7700900861",
        "TL20261028",
        "s3cret",
    ] {
        assert!(!log.contains(private), "{private} is in the server log");
    }
}
