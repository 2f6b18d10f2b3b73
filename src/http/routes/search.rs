//! `POST /v1/search`.

use std::time::Instant;

use actix_web::{web, HttpResponse};

use crate::http::admission::Lane;
use crate::http::dto::search::{SearchBody, SearchResponse};
use crate::http::dto::{AuthErrors, BodyErrors, BusyErrors};
use crate::http::error::ApiResult;
use crate::http::extract::{Body, Json, Reader};
use crate::http::State;
use crate::retrieve::{Mode, Scope};

impl Body for SearchBody {}

/// Search the knowledge base (bots see public passages only).
#[utoipa::path(
    post,
    path = "/v1/search",
    request_body = SearchBody,
    responses(
        (status = 200, description = "ranked passages", body = SearchResponse),
        AuthErrors,
        BodyErrors,
        BusyErrors
    )
)]
pub async fn search(
    state: web::Data<State>,
    Reader(mut call): Reader,
    Json(body): Json<SearchBody>,
) -> ApiResult<HttpResponse> {
    let cfg = state.config();
    let mut sreq = body.into_request(cfg, Scope::of_role(call.role), call.max_top_k)?;
    // a search that embeds the query is heavy work; BM25 alone is light
    let lane = if sreq.mode == Mode::Bm25 {
        Lane::Light
    } else {
        Lane::Heavy
    };
    state.admission.enter(&mut call, lane)?;
    sreq.cancel = call.cancel.clone();
    let engine = state.engine()?;
    let started = Instant::now();
    let (outcome, generation) = state
        .run(call, move |_| {
            (engine.search(&sreq), engine.generation().number)
        })
        .await?;
    let outcome = outcome?;
    if let Some(ms) = outcome.embed_ms {
        state.metrics.embedding(ms / 1e3);
    }
    let took_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(HttpResponse::Ok().json(SearchResponse::new(outcome, generation, took_ms)))
}
