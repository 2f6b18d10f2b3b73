//! `POST /v1/chat/completions` driven by the official `openai` Python package, as a chatbot
//! builder plugs kefu in as "an OpenAI-compatible model": sessions from `user`, a stateless
//! client's history from its messages, streaming chunks, and the client's own error for a bad key.

use std::process::Command;

use serde_json::Value;

use crate::support::server::{Server, BOT};
use crate::support::tools::openai_package;
use crate::{repo, Workspace};

#[test]
fn the_official_openai_client_talks_to_kefu() {
    // over the embedding model, as kefu is served
    let env = [
        ("KEFU__VECTOR__ENABLED", "true"),
        ("KEFU__VECTOR__SENTENCE_VECTORS", "false"),
    ];
    let ws = Workspace::demo_with(&env);
    let server = Server::start(&ws, &env);
    let out = Command::new("python3")
        .arg(repo().join("tests/it/scripts/openai_client.py"))
        .arg(server.base())
        .arg(BOT)
        .env("PYTHONPATH", openai_package())
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).expect("the script's JSON");

    let first = &v["first"];
    assert_eq!(first["finish"], "stop");
    let content = first["content"].as_str().unwrap_or_default();
    assert!(
        content.contains("[1]") && content.contains("Sources:"),
        "{content}"
    );
    let sid = first["kefu"]["session_id"].as_str().unwrap_or_default();
    assert!(sid.starts_with("oa-"), "{first}");
    assert_eq!(first["kefu"]["turn"], 1);

    // the same `user`: the same session, the follow-up resolved against it
    let second = &v["second"]["kefu"];
    assert_eq!(second["session_id"], sid);
    assert_eq!(second["turn"], 2);
    let resolved = second["resolved_question"].as_str().unwrap_or_default();
    assert!(
        resolved.contains("X9 Pro") && resolved.contains("charger"),
        "{resolved}"
    );

    // no `user`: the request's own messages are the history, and nothing is kept
    let stateless = &v["stateless"]["kefu"];
    let resolved = stateless["resolved_question"].as_str().unwrap_or_default();
    assert!(
        resolved.contains("X9 Pro") && resolved.contains("电池"),
        "{resolved}"
    );
    assert_eq!(stateless["session_id"], "");

    // streamed as OpenAI's chunks, sentence by sentence, ending with `stop` and kefu's turn
    let stream = &v["stream"];
    assert_eq!(stream["finish"], "stop");
    assert!(stream["pieces"].as_u64().unwrap_or(0) >= 2, "{stream}");
    let streamed = stream["content"].as_str().unwrap_or_default();
    let text = stream["kefu"]["text"].as_str().unwrap_or("missing");
    assert!(streamed.starts_with(text), "{streamed}\nvs\n{text}");

    assert_eq!(v["bad_key"], 401);
}
