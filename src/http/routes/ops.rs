//! Operations: health, readiness, Prometheus metrics and the OpenAPI document (no key needed).

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::dto::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::metrics::Gauges;
use crate::http::State;

/// The process is up.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    status: &'static str,
}

/// An index generation is loaded.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// `ready`
    status: &'static str,
    /// The live index generation.
    generation: u64,
    /// Whether it has a vector index.
    vectors: bool,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "up", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// An index generation is loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    security(()),
    responses(
        (status = 200, description = "ready", body = Ready),
        (status = 503, description = "not ready yet", body = ErrorBody)
    )
)]
pub async fn readyz(state: web::Data<State>) -> ApiResult<HttpResponse> {
    let engine = state.engine()?;
    Ok(HttpResponse::Ok().json(Ready {
        status: "ready",
        generation: engine.generation().number,
        vectors: engine.has_vectors(),
    }))
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    security(()),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(state: web::Data<State>) -> HttpResponse {
    let engine = state.service.engine();
    let gauges = Gauges {
        ready: engine.is_some(),
        generation: engine.as_ref().map_or(0, |e| e.generation().number),
        documents: engine
            .as_ref()
            .map_or(0, |e| e.generation().manifest.documents()),
        passages: engine
            .as_ref()
            .map_or(0, |e| e.generation().manifest.passages()),
        inflight: state.admission.light.in_use()
            + state.admission.heavy.in_use()
            + state.admission.llm.in_use(),
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&gauges))
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    security(()),
    responses((status = 200, description = "OpenAPI 3", body = Object))
)]
pub async fn openapi() -> HttpResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| {
        serde_json::to_string(&super::document(&super::table()))
            .unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}).to_string())
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.as_str())
}
