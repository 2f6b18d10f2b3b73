//! Extractors: what a handler takes instead of reading the request itself. [`Reader`] and
//! [`Writer`] are the caller, admitted (key, role and rate limit checked); [`Json`] is the body,
//! read within the limits of its kind ([`Body`]). A handler lists the caller before the body,
//! so a request without a valid key is refused before a byte of its body is read.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::admission::Call;
use super::auth::Need;
use super::error::{ApiError, ApiResult};
use super::State;
use crate::config::Config;

fn state(req: &HttpRequest) -> ApiResult<web::Data<State>> {
    req.app_data::<web::Data<State>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("the server's state is not registered"))
}

fn admit(req: &HttpRequest, need: Need) -> ApiResult<Call> {
    state(req)?.admission.admit(req, need)
}

/// A caller with any valid key (bots see public passages only).
pub struct Reader(pub Call);

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<ApiResult<Reader>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admit(req, Need::Reader).map(Reader))
    }
}

/// A caller with a writer or admin key.
pub struct Writer(pub Call);

impl FromRequest for Writer {
    type Error = ApiError;
    type Future = Ready<ApiResult<Writer>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admit(req, Need::Writer).map(Writer))
    }
}

/// A request body type and its limits.
pub trait Body: serde::de::DeserializeOwned + 'static {
    /// The most bytes the body may have.
    fn limit(config: &Config) -> usize {
        config.http.max_body_bytes
    }

    /// Whether the body is an upload (counted against `http.max_uploads_receiving`).
    const UPLOAD: bool = false;
}

/// A JSON body of type `T`, read as `Admission::json` reads it: type, size, time, nesting and
/// duplicate keys checked before it is parsed.
pub struct Json<T>(pub T);

impl<T: Body> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = ApiResult<Json<T>>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let state = state(&req)?;
            let config = state.config();
            let (limit, depth) = (T::limit(config), config.http.max_json_depth);
            state
                .admission
                .json(&req, payload, limit, depth, T::UPLOAD)
                .await
                .map(Json)
        })
    }
}

/// The `{id}` of a route that creates a document, parsed with the rule for new ids (before the
/// body is read).
pub struct NewDocId(pub crate::domain::DocId);

impl FromRequest for NewDocId {
    type Error = ApiError;
    type Future = Ready<ApiResult<NewDocId>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req.match_info().get("id").unwrap_or("");
        ready(
            crate::domain::DocId::parse_new(raw)
                .map(NewDocId)
                .map_err(ApiError::from),
        )
    }
}
