//! `POST /v1/chat/completions`: `/v1/chat` behind OpenAI's chat-completions shape, for chatbot
//! builders that plug in "an OpenAI-compatible model" (Dify, FastGPT, LibreChat, any OpenAI
//! SDK). The last user message is the turn; the session is the request's `user` (or the
//! `X-Kefu-Session` header), kept by kefu; without either, the earlier messages of the request
//! are the history (nothing is kept). The reply's content is kefu's answer with its `[n]`
//! markers and a list of the sources; the whole `/v1/chat` response rides along as `kefu`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::{Channel, Role};
use crate::engine::chat::History;
use crate::http::admission::Lane;
use crate::http::dto::chat::ChatResponse;
use crate::http::dto::{AuthErrors, BodyErrors, BusyErrors, ErrorBody};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Body, Json, Reader};
use crate::http::State;
use crate::retrieve::Scope;
use crate::service::chat::{TurnInput, TurnOutput};

/// One message of the conversation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Message {
    /// `system`, `user` or `assistant` (others are ignored).
    pub role: String,
    /// The text (a string, or OpenAI's list of `{type: text, text}` parts).
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
}

/// OpenAI's chat-completions request (the fields kefu reads; others are accepted and ignored).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CompletionBody {
    #[serde(default)]
    pub model: Option<String>,
    pub messages: Vec<Message>,
    #[serde(default)]
    pub stream: bool,
    /// The end user: kefu keeps one session per user and key.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyMessage {
    pub role: &'static str,
    pub content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: ReplyMessage,
    pub finish_reason: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

/// OpenAI's chat completion, with kefu's whole turn as `kefu`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Completion {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: Usage,
    pub kefu: ChatResponse,
}

impl Body for CompletionBody {}

fn text_of(content: &serde_json::Value) -> String {
    match content {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The answer as a chat message: the text with its markers, then the sources.
fn content(r: &ChatResponse) -> String {
    let a = &r.answer;
    let cited: std::collections::BTreeSet<usize> = a
        .sentences
        .iter()
        .flat_map(|s| s.citations.iter().map(|c| c.n))
        .collect();
    let mut out = a.text.clone();
    let sources: Vec<String> = a
        .passages
        .iter()
        .filter(|p| cited.contains(&p.n))
        .map(|p| format!("[{}] {} — {}", p.n, p.title, p.source))
        .collect();
    if !sources.is_empty() {
        let head = if a.language == "zh" {
            "来源"
        } else {
            "Sources"
        };
        out.push_str(&format!("\n\n{head}:\n{}", sources.join("\n")));
    }
    out
}

fn tokens(s: &str) -> usize {
    crate::text::count_tokens(s)
}

fn chunk(
    id: &str,
    created: i64,
    model: &str,
    delta: serde_json::Value,
    finish: Option<&str>,
) -> web::Bytes {
    let v = serde_json::json!({
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    web::Bytes::from(format!("data: {v}\n\n"))
}

/// kefu as an OpenAI-compatible chat model: the last user message answered as a turn of
/// `/v1/chat` (its session from `user` or `X-Kefu-Session`; the customer from
/// `X-Kefu-Customer`), the answer and its sources as the message, the whole turn as `kefu`.
/// `stream`: OpenAI's `chat.completion.chunk` events, one per sentence, then `[DONE]`.
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    request_body = CompletionBody,
    responses(
        (status = 200, description = "the completion (or, with `stream`, OpenAI's server-sent chunks and `[DONE]`)", body = Completion),
        (status = 404, description = "no such customer", body = ErrorBody),
        AuthErrors,
        BodyErrors,
        BusyErrors
    )
)]
pub async fn completions(
    state: web::Data<State>,
    req: HttpRequest,
    Reader(mut call): Reader,
    Json(body): Json<CompletionBody>,
) -> ApiResult<HttpResponse> {
    let cfg = state.config();
    let mut users: Vec<String> = body
        .messages
        .iter()
        .filter(|m| m.role == "user" || m.role == "assistant")
        .map(|m| format!("{}\u{0}{}", m.role, text_of(&m.content)))
        .collect();
    let last = users
        .pop()
        .filter(|m| m.starts_with("user\u{0}"))
        .ok_or_else(|| ApiError::bad_request("`messages` must end with a `user` message"))?;
    let message = last["user\u{0}".len()..].to_string();
    crate::retrieve::check_query_text("messages", &message, cfg)?;
    let header = |name: &str| -> Option<String> {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let customer_id = header("x-kefu-customer");
    if let Some(c) = &customer_id {
        if crate::domain::CustomerId::parse(c).is_err() {
            return Err(ApiError::bad_request(
                "`X-Kefu-Customer` is not a customer id",
            ));
        }
    }
    // the session: named by the client, scoped to the key (two keys' "alice" are two people)
    let named = header("x-kefu-session").or(body.user.clone()).map(|u| {
        let digest = Sha256::digest(format!("{}\u{0}{u}", call.key).as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("oa-{hex}")
    });
    let engine = state.engine()?;
    let scope = Scope::of_role(call.role);
    // a stateless client sends the conversation itself: its turns, its last question and the
    // last model it named
    let stateless = named.is_none().then(|| {
        let mut h = History::default();
        for m in &users {
            let (role, text) = m.split_once('\u{0}').unwrap_or(("user", m));
            h.turns.push(text.to_string());
            if role == "user" {
                h.previous = Some(text.to_string());
                if let Some(model) = engine.models_named(text, scope).into_iter().next() {
                    h.product = Some(model);
                }
            }
        }
        h
    });
    let kept = stateless.is_none();
    let use_llm = cfg.answer.llm.is_some();
    state
        .admission
        .enter(&mut call, if use_llm { Lane::Llm } else { Lane::Heavy })?;
    let input = TurnInput {
        session_id: named,
        create_named: true,
        stateless_history: stateless,
        customer_id,
        channel: Channel::Web,
        message,
        as_of: None,
        caller: call.key.clone(),
        any_session: call.role != Role::Bot,
        scope,
        passages: cfg.answer.passages,
        use_llm,
        cancel: call.cancel.clone(),
    };
    let model = body.model.clone().unwrap_or_else(|| "kefu".into());
    let desk = state.service.desk().clone();
    let prompt_tokens: usize = body
        .messages
        .iter()
        .map(|m| tokens(&text_of(&m.content)))
        .sum();
    let created = chrono::Utc::now().timestamp();
    let turn = move |out: TurnOutput, generation: u64| -> ChatResponse {
        let mut r = super::chat::response(out, generation, &[]);
        if !kept {
            // nothing was kept: there is no session to name
            r.session_id = String::new();
        }
        r
    };
    if body.stream {
        return Ok(state.stream(call, move |_, tx| {
            let generation = engine.generation().number;
            let id = format!("chatcmpl-{created:x}{:x}", generation);
            let send = |b: web::Bytes| tx.blocking_send(b).is_ok();
            match desk.take_turn(&engine, &input) {
                Ok(Ok(out)) => {
                    let r = turn(out, generation);
                    if !send(chunk(&id, created, &model, serde_json::json!({"role": "assistant", "content": ""}), None)) {
                        return;
                    }
                    let sep = if r.answer.language == "zh" { "" } else { " " };
                    for (i, s) in r.answer.sentences.iter().enumerate() {
                        let markers: String = s.citations.iter().map(|c| format!("[{}]", c.n)).collect();
                        let piece = format!("{}{}{markers}", if i == 0 { "" } else { sep }, s.text);
                        if !send(chunk(&id, created, &model, serde_json::json!({"content": piece}), None)) {
                            return;
                        }
                    }
                    let whole = content(&r);
                    let tail = whole.get(r.answer.text.len()..).unwrap_or("").to_string();
                    let tail = if r.answer.sentences.is_empty() { whole.clone() } else { tail };
                    if !tail.is_empty() && !send(chunk(&id, created, &model, serde_json::json!({"content": tail}), None)) {
                        return;
                    }
                    let mut last = serde_json::json!({
                        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    });
                    if let Ok(k) = serde_json::to_value(&r) {
                        last["kefu"] = k;
                    }
                    let _ = send(web::Bytes::from(format!("data: {last}\n\n")));
                }
                Ok(Err(refused)) => {
                    let e = super::chat::refused(refused).body();
                    let _ = send(web::Bytes::from(format!("data: {}\n\n", serde_json::to_string(&e).unwrap_or_default())));
                }
                Err(e) => {
                    let e = ApiError::from(e).body();
                    let _ = send(web::Bytes::from(format!("data: {}\n\n", serde_json::to_string(&e).unwrap_or_default())));
                }
            }
            let _ = send(web::Bytes::from("data: [DONE]\n\n"));
        }));
    }
    let (out, generation) = state
        .run(call, move |_| {
            (desk.take_turn(&engine, &input), engine.generation().number)
        })
        .await?;
    let out = match out? {
        Ok(o) => o,
        Err(r) => return Err(super::chat::refused(r)),
    };
    let r = turn(out, generation);
    let text = content(&r);
    let completion_tokens = tokens(&text);
    Ok(HttpResponse::build(StatusCode::OK).json(Completion {
        id: format!("chatcmpl-{created:x}{:x}{}", generation, r.turn),
        object: "chat.completion",
        created,
        model,
        choices: vec![Choice {
            index: 0,
            message: ReplyMessage {
                role: "assistant",
                content: text,
            },
            finish_reason: "stop",
        }],
        usage: Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        },
        kefu: r,
    }))
}
