//! `POST /v1/answer`, whole or streamed as server-sent events.

use std::time::Duration;

use actix_web::{web, HttpResponse};

use crate::http::admission::Lane;
use crate::http::dto::answer::{AnswerBody, AnswerResponse, Event};
use crate::http::dto::{filter_pairs, AuthErrors, BodyErrors, BusyErrors};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Body, Json, Reader};
use crate::http::State;
use crate::retrieve::{Filters, Scope};

impl Body for AnswerBody {}

/// One server-sent event.
pub(super) fn sse(event: &str, data: &impl serde::Serialize) -> web::Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    web::Bytes::from(format!("event: {event}\ndata: {json}\n\n"))
}

/// The evidence passages a request asks for (the configured number when it names none),
/// within 1 and the caller's cap.
pub(super) fn passages_asked(
    asked: Option<usize>,
    cfg: &crate::config::Config,
    call: &crate::http::admission::Call,
) -> ApiResult<usize> {
    let passages = asked.unwrap_or(cfg.answer.passages);
    let most = 50.min(call.max_top_k);
    if passages == 0 || passages > most {
        return Err(ApiError::bad_request(format!(
            "passages must be between 1 and {most}"
        )));
    }
    Ok(passages)
}

/// Whether to let the LLM compose, and the warnings that choice brings.
pub(super) fn composer(
    choice: Option<&str>,
    llm_configured: bool,
) -> ApiResult<(bool, Vec<String>)> {
    match choice {
        None => Ok((true, Vec::new())),
        Some("llm") if !llm_configured => Ok((
            false,
            vec!["composer `llm` was asked for, but no LLM is configured ([answer.llm]); the answer is extractive".to_string()],
        )),
        Some("llm") => Ok((true, Vec::new())),
        Some("extractive") => Ok((false, Vec::new())),
        Some(other) => Err(ApiError::bad_request(format!(
            "unknown composer `{}` (extractive or llm)",
            crate::error::printable(other)
        ))),
    }
}

/// Answer a question with a citation for every sentence, or abstain with a reason and a
/// hand-off (bots cite public passages only).
#[utoipa::path(
    post,
    path = "/v1/answer",
    request_body = AnswerBody,
    responses(
        (status = 200, description = "the answer (or, with `stream`, server-sent events whose data are Event, then AnswerResponse)", body = AnswerResponse),
        AuthErrors,
        BodyErrors,
        BusyErrors
    )
)]
pub async fn answer(
    state: web::Data<State>,
    Reader(mut call): Reader,
    Json(body): Json<AnswerBody>,
) -> ApiResult<HttpResponse> {
    let cfg = state.config();
    let passages = passages_asked(body.passages, cfg, &call)?;
    crate::retrieve::check_query_text("question", &body.question, cfg)?;
    let (use_llm, mut warnings) = composer(body.composer.as_deref(), cfg.answer.llm.is_some())?;
    // an answer written by an LLM mostly waits for the LLM: it runs on a pool of its own, so
    // that a slow or hanging LLM never holds the threads searches need
    let llm = cfg.answer.llm.as_ref().filter(|_| use_llm);
    let lane = if llm.is_some() {
        Lane::Llm
    } else {
        Lane::Heavy
    };
    state.admission.enter(&mut call, lane)?;
    // and may take its own time limit
    if let Some(l) = llm {
        call.extend(Duration::from_millis(
            cfg.http.request_timeout_ms.max(l.total_timeout_ms + 2000),
        ));
    }
    let areq = crate::AnswerRequest {
        question: body.question,
        filters: Filters::parse(&filter_pairs(body.filters)?)?,
        scope: Scope::of_role(call.role),
        passages,
        use_llm,
        cancel: call.cancel.clone(),
    };
    let engine = state.engine()?;
    if body.stream {
        let metrics = state.metrics.clone();
        return Ok(state.stream(call, move |_, tx| {
            let generation = engine.generation().number;
            let mut sink = |ev: crate::answer::AnswerEvent| {
                let ev = Event::from(ev);
                tx.blocking_send(sse(ev.name(), &ev)).is_ok()
            };
            let last = match engine.answer_streaming(&areq, &mut sink) {
                Ok(mut answer) => {
                    if let Some(ms) = answer.timings.embed_ms {
                        metrics.embedding(ms / 1e3);
                    }
                    answer.warnings.append(&mut warnings);
                    sse("answer", &AnswerResponse::new(answer, Some(generation)))
                }
                Err(e) => sse("error", &ApiError::from(e).body()),
            };
            let _ = tx.blocking_send(last);
        }));
    }
    let (answer, generation) = state
        .run(call, move |_| {
            (engine.answer(&areq), engine.generation().number)
        })
        .await?;
    let mut answer = answer?;
    answer.warnings.append(&mut warnings);
    if let Some(ms) = answer.timings.embed_ms {
        state.metrics.embedding(ms / 1e3);
    }
    Ok(HttpResponse::Ok().json(AnswerResponse::new(answer, Some(generation))))
}
