//! The route table: every route's method, path and OpenAPI operation come from its handler's
//! `#[utoipa::path]` attribute, and the server registers, the `Allow` header lists and
//! `GET /openapi.json` publishes what [`table`] holds (one table, nothing written twice).

pub mod answer;
pub mod chat;
pub mod documents;
pub mod jobs;
pub mod openai;
pub mod ops;
pub mod search;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, Handler, HttpRequest, HttpResponse, Responder, ResponseError};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;

use super::dto;
use super::error::ApiError;

/// One route: a method on a path, its handler and its OpenAPI operation.
pub struct Route {
    pub method: Method,
    pub path: String,
    method_doc: HttpMethod,
    operation: Operation,
    to: Box<dyn Fn(Method) -> actix_web::Route>,
}

fn actix_method(m: &HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

impl Route {
    /// The route `P` (a handler's `#[utoipa::path]`) says, served by `handler`. A route that
    /// answers GET also answers HEAD (the same response without its body).
    fn of<P, F, Args>(handler: F) -> Vec<Route>
    where
        P: utoipa::Path,
        F: Handler<Args> + Clone + 'static,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        P::methods()
            .into_iter()
            .map(|m| {
                let method = actix_method(&m);
                let h = handler.clone();
                Route {
                    method,
                    path: P::path(),
                    method_doc: m,
                    operation: P::operation(),
                    to: Box::new(move |verb| web::method(verb).to(h.clone())),
                }
            })
            .collect()
    }
}

/// Every route the server answers.
pub fn table() -> Vec<Route> {
    [
        Route::of::<search::__path_search, _, _>(search::search),
        Route::of::<answer::__path_answer, _, _>(answer::answer),
        Route::of::<chat::__path_chat, _, _>(chat::chat),
        Route::of::<chat::__path_session, _, _>(chat::session),
        Route::of::<openai::__path_completions, _, _>(openai::completions),
        Route::of::<documents::__path_get, _, _>(documents::get),
        Route::of::<documents::__path_put, _, _>(documents::put),
        Route::of::<documents::__path_delete, _, _>(documents::delete),
        Route::of::<jobs::__path_reindex, _, _>(jobs::reindex),
        Route::of::<jobs::__path_get, _, _>(jobs::get),
        Route::of::<jobs::__path_cancel, _, _>(jobs::cancel),
        Route::of::<ops::__path_healthz, _, _>(ops::healthz),
        Route::of::<ops::__path_readyz, _, _>(ops::readyz),
        Route::of::<ops::__path_metrics, _, _>(ops::metrics),
        Route::of::<ops::__path_openapi, _, _>(ops::openapi),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What the document says besides the operations: the service, its security scheme and the
/// wire types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "kefu",
        description = "Knowledge-base search and grounded answers for customer service (Chinese and English). Authenticate with `Authorization: Bearer <key>` (or `X-Api-Key`). Roles: bot (public passages only), agent (also internal), writer (documents, reindex, jobs), admin (everything). Errors are {\"error\": {\"code\", \"message\"}}."
    ),
    components(schemas(
        dto::ErrorBody,
        dto::search::SearchBody,
        dto::search::SearchResponse,
        dto::answer::AnswerBody,
        dto::answer::AnswerResponse,
        dto::answer::Event,
        dto::chat::ChatBody,
        dto::chat::ChatResponse,
        dto::chat::SessionView,
        openai::CompletionBody,
        openai::Completion,
        dto::documents::Document,
        dto::documents::UploadBody,
        dto::jobs::Job,
        ops::Health,
        ops::Ready,
    )),
    modifiers(&Bearer),
    security(("bearer" = []))
)]
struct Service;

/// The bearer-key security scheme every keyed route refers to.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = doc.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The OpenAPI document of `routes`.
pub fn document(routes: &[Route]) -> utoipa::openapi::OpenApi {
    let mut doc = Service::openapi();
    for r in routes {
        doc.paths
            .add_path_operation(&r.path, vec![r.method_doc.clone()], r.operation.clone());
    }
    doc
}

/// The methods `path` answers in `routes` (HEAD wherever GET is, and OPTIONS), for `Allow`.
fn allowed(routes: &[Route], path: &str) -> String {
    let mut methods: Vec<String> = routes
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method.to_string())
        .collect();
    if methods.iter().any(|m| m == "GET") {
        methods.push("HEAD".into());
    }
    methods.push("OPTIONS".into());
    methods.join(", ")
}

/// The resources of the table, one per path: its methods (HEAD wherever GET is), OPTIONS
/// answered with `Allow`, and any other method 405 with `Allow` and a JSON error.
pub fn resources(routes: Vec<Route>) -> Vec<actix_web::Resource> {
    let mut paths: Vec<String> = Vec::new();
    for r in &routes {
        if !paths.contains(&r.path) {
            paths.push(r.path.clone());
        }
    }
    paths
        .into_iter()
        .map(|path| {
            let allow = allowed(&routes, &path);
            let mut res = resource(&path, allow);
            for r in routes.iter().filter(|r| r.path == path) {
                res = res.route((r.to)(r.method.clone()));
                if r.method == Method::GET {
                    res = res.route((r.to)(Method::HEAD));
                }
            }
            res
        })
        .collect()
}

fn resource(path: &str, allow: String) -> actix_web::Resource {
    let allow_options = allow.clone();
    web::resource(path)
        .route(web::method(Method::OPTIONS).to(move || {
            let allow = allow_options.clone();
            async move {
                HttpResponse::NoContent()
                    .insert_header((header::ALLOW, allow))
                    .finish()
            }
        }))
        .default_service(web::to(move |req: HttpRequest| {
            let allow = allow.clone();
            async move {
                let mut res = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!(
                        "{} is not allowed on {} (allowed: {allow})",
                        req.method(),
                        crate::error::printable(req.path())
                    ),
                )
                .error_response();
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    res.headers_mut().insert(header::ALLOW, v);
                }
                res
            }
        }))
}

/// 404 with a JSON error for a path no route has.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!(
            "no route {} {}",
            req.method(),
            crate::error::printable(req.path())
        ),
    )
    .error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_table() {
        let routes = table();
        let doc = serde_json::to_value(document(&routes)).expect("document");
        let mut listed = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in ["get", "put", "post", "delete", "patch"] {
                if item.get(method).is_some() {
                    listed.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        let mut routed: Vec<(String, String)> = routes
            .iter()
            .map(|r| (r.method.to_string(), r.path.clone()))
            .collect();
        listed.sort();
        routed.sort();
        assert_eq!(listed, routed);
        assert_eq!(routed.len(), 15);
    }

    #[test]
    fn every_schema_the_document_refers_to_is_defined() {
        let doc = serde_json::to_string(&document(&table())).expect("document");
        let v: serde_json::Value = serde_json::from_str(&doc).expect("json");
        let schemas = v["components"]["schemas"].as_object().expect("schemas");
        for piece in doc.split("\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or("");
            assert!(
                schemas.contains_key(name),
                "{name} is referred to, not defined"
            );
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = serde_json::to_value(document(&table())).expect("document");
        let mut ids = Vec::new();
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("item").values() {
                if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                    ids.push(id.to_string());
                }
            }
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!((ids.len(), n), (15, 15));
    }

    #[test]
    fn a_path_allows_head_wherever_it_allows_get() {
        let routes = table();
        assert_eq!(
            allowed(&routes, "/v1/documents/{id}"),
            "GET, PUT, DELETE, HEAD, OPTIONS"
        );
        assert_eq!(allowed(&routes, "/v1/search"), "POST, OPTIONS");
    }
}
