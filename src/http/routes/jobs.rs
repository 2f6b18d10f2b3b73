//! `POST /v1/reindex` and `/v1/jobs/{id}`: background indexing and its jobs.

use actix_web::{web, HttpResponse};

use super::documents::accepted;
use crate::http::dto::jobs::Job;
use crate::http::dto::{AuthErrors, ErrorBody};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Writer;
use crate::http::State;

fn job_id(raw: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "job id `{}` is not a number",
            crate::error::printable(raw)
        ))
    })
}

/// Reindex the corpus in the background (writer).
#[utoipa::path(
    post,
    path = "/v1/reindex",
    responses((status = 202, description = "queued; poll the job", body = Job), AuthErrors)
)]
pub async fn reindex(state: web::Data<State>, _writer: Writer) -> ApiResult<HttpResponse> {
    Ok(accepted(state.service.reindex()?))
}

/// A job's state, progress, counts and errors (writer).
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    operation_id = "get_job",
    params(("id" = u64, Path, minimum = 1, description = "the job id")),
    responses(
        (status = 200, description = "the job", body = Job),
        (status = 400, description = "the id is not a number", body = ErrorBody),
        (status = 404, description = "no such job", body = ErrorBody),
        AuthErrors
    )
)]
pub async fn get(
    state: web::Data<State>,
    _writer: Writer,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = job_id(&path.into_inner())?;
    Ok(HttpResponse::Ok().json(Job::from(state.service.job(id)?)))
}

/// Cancel a job that has not finished (writer); a running job stops at its next check and
/// the live index is unchanged.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{id}",
    operation_id = "cancel_job",
    params(("id" = u64, Path, minimum = 1, description = "the job id")),
    responses(
        (status = 200, description = "the cancelled job", body = Job),
        (status = 400, description = "the id is not a number", body = ErrorBody),
        (status = 404, description = "no such job", body = ErrorBody),
        (status = 409, description = "the job has already finished", body = ErrorBody),
        AuthErrors
    )
)]
pub async fn cancel(
    state: web::Data<State>,
    _writer: Writer,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = job_id(&path.into_inner())?;
    Ok(HttpResponse::Ok().json(Job::from(state.service.cancel_job(id)?)))
}
