//! `/v1/documents/{id}`: read a document, upload one, remove an upload.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::config::Config;
use crate::domain::DocId;
use crate::error::Error;
use crate::http::admission::Lane;
use crate::http::dto::documents::{Document, UploadBody};
use crate::http::dto::jobs::Job;
use crate::http::dto::{AuthErrors, BodyErrors, BusyErrors, ErrorBody};
use crate::http::error::ApiResult;
use crate::http::extract::{Body, Json, NewDocId, Reader, Writer};
use crate::http::State;
use crate::retrieve::Scope;

impl Body for UploadBody {
    /// JSON escaping can double a document's size.
    fn limit(config: &Config) -> usize {
        (config.corpus.max_file_bytes as usize).saturating_mul(2) + 64 * 1024
    }

    const UPLOAD: bool = true;
}

/// 202 with the job to poll.
pub(super) fn accepted(job: crate::service::JobStatus) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/jobs/{}", job.id)))
        .json(Job::from(job))
}

/// A document and its passages (bots: public documents only).
#[utoipa::path(
    get,
    path = "/v1/documents/{id}",
    operation_id = "get_document",
    params(("id" = String, Path, description = "the document id: a letter or digit, then up to 127 of letters, digits, `.`, `_`, `-`")),
    responses(
        (status = 200, description = "the document", body = Document),
        (status = 404, description = "no such document (or not visible to this key)", body = ErrorBody),
        AuthErrors,
        BusyErrors
    )
)]
pub async fn get(
    state: web::Data<State>,
    Reader(mut call): Reader,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state.admission.enter(&mut call, Lane::Light)?;
    let id = DocId::parse(&path.into_inner())?;
    let engine = state.engine()?;
    let scope = Scope::of_role(call.role);
    let wanted = id.clone();
    let doc = state
        .run(call, move |_| {
            crate::retrieve::document(engine.generation(), &wanted, scope)
        })
        .await??;
    match doc {
        Some(d) => Ok(HttpResponse::Ok().json(Document::from(d))),
        None => Err(Error::NotFound(format!("document `{id}`")).into()),
    }
}

/// Create or replace an uploaded document (writer).
#[utoipa::path(
    put,
    path = "/v1/documents/{id}",
    operation_id = "put_document",
    params(("id" = String, Path, description = "the document id")),
    request_body = UploadBody,
    responses(
        (status = 202, description = "written and queued; poll the job", body = Job),
        (status = 409, description = "the id belongs to a corpus file", body = ErrorBody),
        (status = 422, description = "the document does not parse", body = ErrorBody),
        AuthErrors,
        BodyErrors,
        BusyErrors
    )
)]
pub async fn put(
    state: web::Data<State>,
    Writer(mut call): Writer,
    NewDocId(id): NewDocId,
    Json(upload): Json<UploadBody>,
) -> ApiResult<HttpResponse> {
    state.admission.enter(&mut call, Lane::Heavy)?;
    let service = state.service.clone();
    let upload = upload.into();
    // the work checks the deadline itself before it writes: waited for to the end, so the
    // answer says what happened (written and queued, or not written at all)
    let job = state
        .run_until(
            &mut call,
            move |cancel| service.put_document(&id, &upload, cancel),
            None,
        )
        .await??;
    Ok(accepted(job))
}

/// Remove an uploaded document (writer).
#[utoipa::path(
    delete,
    path = "/v1/documents/{id}",
    operation_id = "delete_document",
    params(("id" = String, Path, description = "the document id")),
    responses(
        (status = 202, description = "removed and queued; poll the job", body = Job),
        (status = 404, description = "no such uploaded document", body = ErrorBody),
        (status = 409, description = "the document comes from a corpus file", body = ErrorBody),
        AuthErrors,
        BusyErrors
    )
)]
pub async fn delete(
    state: web::Data<State>,
    Writer(mut call): Writer,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state.admission.enter(&mut call, Lane::Light)?;
    let id = DocId::parse(&path.into_inner())?;
    let service = state.service.clone();
    let job = state
        .run_until(
            &mut call,
            move |cancel| service.delete_document(&id, cancel),
            None,
        )
        .await??;
    Ok(accepted(job))
}
