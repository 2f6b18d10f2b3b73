//! `POST /v1/chat` (a turn of a conversation) and `GET /v1/sessions/{id}` (its transcript).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::converse::session::SessionError;
use crate::domain::{Channel, Role};
use crate::http::admission::Lane;
use crate::http::dto::answer::{AnswerResponse, Event};
use crate::http::dto::chat::{ChatBody, ChatResponse, SessionView};
use crate::http::dto::{AuthErrors, BodyErrors, BusyErrors, ErrorBody};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Body, Json, Reader};
use crate::http::State;
use crate::retrieve::Scope;
use crate::service::chat::{TurnInput, TurnOutput, TurnRefused};

use super::answer::{composer, passages_asked, sse};

impl Body for ChatBody {}

pub(super) fn refused(r: TurnRefused) -> ApiError {
    match r {
        TurnRefused::Session(SessionError::NotFound)
        | TurnRefused::Session(SessionError::NotYours) => {
            // another caller's session is not revealed to exist
            ApiError::new(
                StatusCode::NOT_FOUND,
                "session_not_found",
                "no such session",
            )
        }
        TurnRefused::Session(SessionError::Expired) => ApiError::new(
            StatusCode::GONE,
            "session_expired",
            "the session has expired (chat.idle_minutes); start a new one without session_id",
        ),
        TurnRefused::CustomerNotFound(id) => ApiError::new(
            StatusCode::NOT_FOUND,
            "customer_not_found",
            format!("no customer `{}`", crate::error::printable(&id)),
        ),
        TurnRefused::OtherCustomer => ApiError::new(
            StatusCode::CONFLICT,
            "other_customer",
            "the session belongs to another customer",
        ),
    }
}

pub(super) fn response(out: TurnOutput, generation: u64, warnings: &[String]) -> ChatResponse {
    let TurnOutput {
        session,
        turn,
        reply,
        as_of,
    } = out;
    ChatResponse {
        session_id: session.id,
        turn: turn.n,
        resolved_question: turn.resolved,
        resolved_how: turn.how,
        as_of,
        customer: reply.customer.as_ref().map(Into::into),
        decision: reply.decision.as_ref().map(Into::into),
        no_decision: reply.no_decision,
        answer: {
            let mut a = AnswerResponse::new(reply.answer, Some(generation));
            a.warnings.extend_from_slice(warnings);
            a
        },
    }
}

/// One turn of a conversation: the message resolved against the session's earlier turns
/// (「那电池呢」), answered with citations, and — for a known customer who asks whether
/// something is covered, returnable or exchangeable — a decision computed from their purchase
/// and the policies' terms, said first. A bot may continue only the sessions it created.
#[utoipa::path(
    post,
    path = "/v1/chat",
    request_body = ChatBody,
    responses(
        (status = 200, description = "the turn (or, with `stream`, server-sent events: `resolved`, `sentence`…, then `chat` with the whole ChatResponse)", body = ChatResponse),
        (status = 404, description = "no such session or customer", body = ErrorBody),
        (status = 409, description = "the session belongs to another customer", body = ErrorBody),
        (status = 410, description = "the session has expired", body = ErrorBody),
        AuthErrors,
        BodyErrors,
        BusyErrors
    )
)]
pub async fn chat(
    state: web::Data<State>,
    Reader(mut call): Reader,
    Json(body): Json<ChatBody>,
) -> ApiResult<HttpResponse> {
    let cfg = state.config();
    let passages = passages_asked(body.passages, cfg, &call)?;
    crate::retrieve::check_query_text("message", &body.message, cfg)?;
    let channel = match body.channel.as_deref() {
        None => Channel::Web,
        Some(c) => Channel::parse(c).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown channel `{}` (web, sms, voice, app or wechat)",
                crate::error::printable(c)
            ))
        })?,
    };
    for (name, id) in [
        ("session_id", &body.session_id),
        ("customer_id", &body.customer_id),
    ] {
        if let Some(id) = id {
            let ok = if name == "session_id" {
                crate::domain::SessionId::parse(id).is_ok()
            } else {
                crate::domain::CustomerId::parse(id).is_ok()
            };
            if !ok {
                return Err(ApiError::bad_request(format!(
                    "`{name}` must be 1 to 64 letters, digits, `-` or `_`"
                )));
            }
        }
    }
    let as_of = match body.as_of.as_deref() {
        None => None,
        Some(d) => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                ApiError::bad_request(format!(
                    "`as_of` must be a date written YYYY-MM-DD, not `{}`",
                    crate::error::printable(d)
                ))
            })?,
        ),
    };
    let (asked_llm, warnings) = composer(body.composer.as_deref(), cfg.answer.llm.is_some())?;
    let use_llm = asked_llm && cfg.answer.llm.is_some();
    state
        .admission
        .enter(&mut call, if use_llm { Lane::Llm } else { Lane::Heavy })?;
    let input = TurnInput {
        session_id: body.session_id,
        create_named: false,
        stateless_history: None,
        customer_id: body.customer_id,
        channel,
        message: body.message,
        as_of,
        caller: call.key.clone(),
        any_session: call.role != Role::Bot,
        scope: Scope::of_role(call.role),
        passages,
        use_llm,
        cancel: call.cancel.clone(),
    };
    let engine = state.engine()?;
    let desk = state.service.desk().clone();
    if body.stream {
        return Ok(state.stream(call, move |_, tx| {
            let generation = engine.generation().number;
            let last = match desk.take_turn(&engine, &input) {
                Ok(Ok(out)) => {
                    let _ = tx.blocking_send(sse(
                        "resolved",
                        &serde_json::json!({"session_id": out.session.id, "turn": out.turn.n, "resolved_question": out.turn.resolved}),
                    ));
                    for s in out.reply.answer.composed.sentences.clone() {
                        let ev = Event::Sentence { sentence: s.into() };
                        if tx.blocking_send(sse(ev.name(), &ev)).is_err() {
                            return;
                        }
                    }
                    sse("chat", &response(out, generation, &warnings))
                }
                Ok(Err(r)) => sse("error", &refused(r).body()),
                Err(e) => sse("error", &ApiError::from(e).body()),
            };
            let _ = tx.blocking_send(last);
        }));
    }
    let (out, generation) = state
        .run(call, move |_| {
            (desk.take_turn(&engine, &input), engine.generation().number)
        })
        .await?;
    match out? {
        Ok(out) => Ok(HttpResponse::Ok().json(response(out, generation, &warnings))),
        Err(r) => Err(refused(r)),
    }
}

/// A session's transcript: its turns, each with the question searched, the answer and the
/// decision (agents; a bot only for the sessions it created).
#[utoipa::path(
    get,
    path = "/v1/sessions/{id}",
    operation_id = "get_session",
    params(("id" = String, Path, description = "the session id")),
    responses(
        (status = 200, description = "the transcript", body = SessionView),
        (status = 404, description = "no such session (or another bot's)", body = ErrorBody),
        AuthErrors
    )
)]
pub async fn session(
    state: web::Data<State>,
    Reader(call): Reader,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "session_not_found",
            "no such session",
        )
    };
    if crate::domain::SessionId::parse(&id).is_err() {
        return Err(not_found());
    }
    let desk = state.service.desk().clone();
    let (role, key) = (call.role, call.key.clone());
    let found = state
        .run(call, move |_| desk.sessions.transcript(&id))
        .await??;
    let Some((s, turns)) = found else {
        return Err(not_found());
    };
    if role == Role::Bot && s.created_by != key {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(SessionView {
        session_id: s.id,
        created_by: s.created_by,
        customer_id: s.customer_id,
        channel: s.channel.as_str().to_string(),
        created_at: s.created_at,
        updated_at: s.updated_at,
        turns: turns.into_iter().map(Into::into).collect(),
    }))
}
