//! The HTTP service (actix-web; the only module that knows it): routes, authentication, limits,
//! error mapping, metrics, OpenAPI. All CPU-bound work (searches, parsing uploads) runs on a
//! bounded pool of its own threads, never on the async workers; a semaphore caps the requests
//! admitted to that pool, and the rest get 503 with Retry-After at once.

pub mod auth;
pub mod body;
pub mod metrics;
pub mod openapi;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Service as _;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::config::{Config, FusionConfig, Role};
use crate::error::{Error, Result};
use crate::retrieve::{Filters, Mode, Scope, SearchRequest};
use crate::service::{documents::Upload, JobKind, Service};
use auth::{Keys, Need};
use metrics::{Gauges, Metrics};

/// An error answered as `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after {
            r.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        r.json(self.body())
    }
}

impl ApiError {
    /// The JSON error body.
    fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed");
        }
        ApiError::new(status, e.code(), e.to_string())
    }
}

type ApiResult<T> = std::result::Result<T, ApiError>;

/// What every handler shares.
pub struct State {
    service: Arc<Service>,
    keys: Keys,
    cpu: rayon::ThreadPool,
    inflight: Arc<Semaphore>,
    max_inflight: usize,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

impl State {
    fn config(&self) -> &Config {
        self.service.config()
    }

    /// The caller's role, if its key is valid and the role may do what the route `need`s.
    fn authorize(&self, req: &HttpRequest, need: Need) -> ApiResult<Role> {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").map(str::trim))
            .or_else(|| {
                req.headers()
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
            });
        let Some(presented) = presented.filter(|k| !k.is_empty()) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing API key: send `Authorization: Bearer <key>`",
            ));
        };
        let Some((role, _holder)) = self.keys.check(presented) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "unknown API key",
            ));
        };
        if !need.allows(role) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("a {} key may not do this", role.name()),
            ));
        }
        Ok(role)
    }

    /// Runs CPU-bound work on the pool: admitted only while fewer than `max_inflight` are
    /// admitted (else 503 at once), answered 503 `timeout` after the request timeout.
    async fn on_cpu<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        self.on_cpu_within(work, self.timeout).await
    }

    /// [`State::on_cpu`] with its own time limit (answers that wait for an LLM).
    async fn on_cpu_within<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
        limit: Duration,
    ) -> ApiResult<T> {
        let permit = self.inflight.clone().try_acquire_owned().map_err(|_| {
            ApiError::unavailable("overloaded", "too many requests in progress; retry shortly")
        })?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.cpu.spawn(move || {
            let out = work();
            drop(permit);
            let _ = tx.send(out);
        });
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the worker stopped",
            )),
            Err(_) => Err(ApiError::unavailable(
                "timeout",
                format!(
                    "the request took longer than {} ms (http.request_timeout_ms, or answer.llm.total_timeout_ms for answers)",
                    limit.as_millis()
                ),
            )),
        }
    }

    /// Runs CPU-bound work that streams: admitted like [`State::on_cpu`]; the work gets a
    /// channel for the response's pieces (a send fails once the client is gone).
    fn stream_on_cpu(
        &self,
        work: impl FnOnce(tokio::sync::mpsc::Sender<web::Bytes>) + Send + 'static,
    ) -> ApiResult<HttpResponse> {
        let permit = self.inflight.clone().try_acquire_owned().map_err(|_| {
            ApiError::unavailable("overloaded", "too many requests in progress; retry shortly")
        })?;
        let (tx, rx) = tokio::sync::mpsc::channel::<web::Bytes>(32);
        self.cpu.spawn(move || {
            work(tx);
            drop(permit);
        });
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<web::Bytes, std::convert::Infallible>(b), rx))
        });
        Ok(HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .streaming(body))
    }

    fn engine(&self) -> ApiResult<Arc<crate::Engine>> {
        self.service.engine().ok_or_else(|| {
            ApiError::unavailable("not_ready", "the index is still being built; retry shortly")
        })
    }
}

/// Reads a body of at most `limit` bytes and checks its JSON nesting.
async fn read_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    max_depth: usize,
) -> ApiResult<T> {
    let too_big = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over the limit of {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_big());
    }
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(too_big());
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty; send a JSON object",
        ));
    }
    let depth = body::json_depth(&buf);
    if depth > max_depth {
        return Err(ApiError::bad_request(format!(
            "the JSON nests {depth} levels deep, over the limit of {max_depth} (http.max_json_depth)"
        )));
    }
    if buf.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_slice(&buf).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not a valid request: {e}"),
        )
    })
}

/// One value or a list of alternatives.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchBody {
    query: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    top_k: Option<usize>,
    #[serde(default)]
    filters: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    fusion: Option<serde_json::Map<String, Value>>,
    /// Rerank hybrid results (default true).
    #[serde(default)]
    rerank: Option<bool>,
}

impl SearchBody {
    fn into_request(self, config: &Config, scope: Scope) -> ApiResult<SearchRequest> {
        let mode = match &self.mode {
            None => Mode::Hybrid,
            Some(m) => Mode::parse(m).ok_or_else(|| {
                ApiError::bad_request(format!("unknown mode `{m}` (bm25, vector or hybrid)"))
            })?,
        };
        let filters = Filters::parse(&filter_pairs(self.filters))?;
        let fusion = match self.fusion {
            None => None,
            Some(over) => {
                // the request's keys over the configured ones, then the same checks as config
                let mut base = serde_json::to_value(config.search.fusion)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                if let Value::Object(b) = &mut base {
                    b.extend(over);
                }
                let f: FusionConfig = serde_json::from_value(base)
                    .map_err(|e| ApiError::bad_request(format!("fusion: {e}")))?;
                f.check("fusion")
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(f)
            }
        };
        let req = SearchRequest {
            query: self.query,
            top_k: self.top_k.unwrap_or(config.search.top_k),
            mode,
            filters,
            scope,
            fusion,
            rerank: self.rerank.unwrap_or(true),
        };
        crate::retrieve::validate(&req, config)?;
        Ok(req)
    }
}

fn scope_of(role: Role) -> Scope {
    match role {
        Role::Bot => Scope::Public,
        Role::Agent | Role::Writer | Role::Admin => Scope::All,
    }
}

async fn search(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let role = state.authorize(&req, Need::Reader)?;
    let cfg = state.config();
    let body: SearchBody = read_json(
        &req,
        payload,
        cfg.http.max_body_bytes,
        cfg.http.max_json_depth,
    )
    .await?;
    let sreq = body.into_request(cfg, scope_of(role))?;
    let engine = state.engine()?;
    let started = Instant::now();
    let (outcome, generation) = state
        .on_cpu(move || (engine.search(&sreq), engine.generation().number))
        .await?;
    let outcome = outcome?;
    if let Some(ms) = outcome.embed_ms {
        state.metrics.embedding(ms / 1e3);
    }
    Ok(HttpResponse::Ok().json(SearchResponse {
        mode: outcome.mode,
        generation,
        took_ms: started.elapsed().as_secs_f64() * 1e3,
        embed_ms: outcome.embed_ms,
        warnings: &outcome.warnings,
        hits: &outcome.hits,
    }))
}

/// The body of `POST /v1/answer`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    question: String,
    #[serde(default)]
    filters: BTreeMap<String, OneOrMany>,
    /// Passages retrieved as evidence (default `answer.passages`).
    #[serde(default)]
    passages: Option<usize>,
    /// Send server-sent events: each checked sentence as it is ready, then the whole answer.
    #[serde(default)]
    stream: bool,
    /// `extractive`, or `llm` (the default when `[answer.llm]` is configured).
    #[serde(default)]
    composer: Option<String>,
}

/// One server-sent event.
fn sse(event: &str, data: &impl serde::Serialize) -> web::Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    web::Bytes::from(format!("event: {event}\ndata: {json}\n\n"))
}

async fn answer(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let role = state.authorize(&req, Need::Reader)?;
    let cfg = state.config();
    let body: AnswerBody = read_json(
        &req,
        payload,
        cfg.http.max_body_bytes,
        cfg.http.max_json_depth,
    )
    .await?;
    let passages = body.passages.unwrap_or(cfg.answer.passages);
    if passages == 0 || passages > 50 {
        return Err(ApiError::bad_request("passages must be between 1 and 50"));
    }
    if body.question.trim().is_empty() {
        return Err(ApiError::bad_request("the question is empty"));
    }
    if body.question.len() > cfg.search.max_query_bytes {
        return Err(ApiError::bad_request(format!(
            "the question is {} bytes, over the limit of {} (search.max_query_bytes)",
            body.question.len(),
            cfg.search.max_query_bytes
        )));
    }
    let use_llm = match body.composer.as_deref() {
        None | Some("llm") => true,
        Some("extractive") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown composer `{other}` (extractive or llm)"
            )))
        }
    };
    let areq = crate::AnswerRequest {
        question: body.question,
        filters: Filters::parse(&filter_pairs(body.filters))?,
        scope: scope_of(role),
        passages,
        use_llm,
    };
    let engine = state.engine()?;
    if body.stream {
        let metrics = state.metrics.clone();
        return state.stream_on_cpu(move |tx| {
            let generation = engine.generation().number;
            let mut sink = |ev: crate::answer::AnswerEvent| {
                let name = match &ev {
                    crate::answer::AnswerEvent::Sentence { .. } => "sentence",
                    crate::answer::AnswerEvent::Reset { .. } => "reset",
                };
                tx.blocking_send(sse(name, &ev)).is_ok()
            };
            let last = match engine.answer_streaming(&areq, &mut sink) {
                Ok(answer) => {
                    if let Some(ms) = answer.timings.embed_ms {
                        metrics.embedding(ms / 1e3);
                    }
                    sse(
                        "answer",
                        &AnswerResponse {
                            generation,
                            answer: &answer,
                        },
                    )
                }
                Err(e) => {
                    let api: ApiError = e.into();
                    sse("error", &api.body())
                }
            };
            let _ = tx.blocking_send(last);
        });
    }
    // an answer written by an LLM may take its own time limit
    let limit = cfg.answer.llm.as_ref().map_or(state.timeout, |l| {
        state
            .timeout
            .max(Duration::from_millis(l.total_timeout_ms + 2000))
    });
    let (answer, generation) = state
        .on_cpu_within(
            move || (engine.answer(&areq), engine.generation().number),
            limit,
        )
        .await?;
    let answer = answer?;
    if let Some(ms) = answer.timings.embed_ms {
        state.metrics.embedding(ms / 1e3);
    }
    Ok(HttpResponse::Ok().json(AnswerResponse {
        generation,
        answer: &answer,
    }))
}

#[derive(serde::Serialize)]
struct AnswerResponse<'a> {
    generation: u64,
    #[serde(flatten)]
    answer: &'a crate::Answer,
}

/// `key=value` pairs of a request's filters object.
fn filter_pairs(filters: BTreeMap<String, OneOrMany>) -> Vec<String> {
    let mut pairs = Vec::new();
    for (k, v) in filters {
        match v {
            OneOrMany::One(v) => pairs.push(format!("{k}={v}")),
            OneOrMany::Many(vs) => pairs.extend(vs.into_iter().map(|v| format!("{k}={v}"))),
        }
    }
    pairs
}

/// The body of a search response (serialised straight from the hits, no JSON tree between).
#[derive(serde::Serialize)]
struct SearchResponse<'a> {
    mode: Mode,
    generation: u64,
    took_ms: f64,
    embed_ms: Option<f64>,
    warnings: &'a [String],
    hits: &'a [crate::retrieve::Hit],
}

async fn get_document(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let role = state.authorize(&req, Need::Reader)?;
    let id = path.into_inner();
    crate::service::documents::check_id(&id)?;
    let engine = state.engine()?;
    let scope = scope_of(role);
    let wanted = id.clone();
    let doc = state
        .on_cpu(move || crate::retrieve::document(engine.generation(), &wanted, scope))
        .await??;
    match doc {
        Some(d) => Ok(HttpResponse::Ok().json(d)),
        None => Err(Error::NotFound(format!("document `{id}`")).into()),
    }
}

fn accepted(job: crate::service::JobStatus) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/jobs/{}", job.id)))
        .json(job)
}

async fn put_document(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    state.authorize(&req, Need::Writer)?;
    let id = path.into_inner();
    crate::service::documents::check_id(&id)?;
    let cfg = state.config();
    // JSON escaping can double a document's size
    let limit = (cfg.corpus.max_file_bytes as usize).saturating_mul(2) + 64 * 1024;
    let upload: Upload = read_json(&req, payload, limit, cfg.http.max_json_depth).await?;
    let service = state.service.clone();
    let job = state
        .on_cpu(move || service.put_document(&id, &upload))
        .await??;
    Ok(accepted(job))
}

async fn delete_document(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state.authorize(&req, Need::Writer)?;
    let id = path.into_inner();
    let service = state.service.clone();
    let job = state.on_cpu(move || service.delete_document(&id)).await??;
    Ok(accepted(job))
}

async fn reindex(state: web::Data<State>, req: HttpRequest) -> ApiResult<HttpResponse> {
    state.authorize(&req, Need::Writer)?;
    Ok(accepted(state.service.submit(JobKind::Reindex, None)))
}

async fn get_job(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state.authorize(&req, Need::Writer)?;
    let raw = path.into_inner();
    let id: u64 = raw
        .parse()
        .map_err(|_| ApiError::bad_request(format!("job id `{raw}` is not a number")))?;
    match state.service.job(id) {
        Some(j) => Ok(HttpResponse::Ok().json(j)),
        None => Err(Error::NotFound(format!("job {id}")).into()),
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: web::Data<State>) -> ApiResult<HttpResponse> {
    let engine = state.engine()?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "generation": engine.generation().number,
        "vectors": engine.has_vectors(),
    })))
}

async fn metrics_route(state: web::Data<State>) -> HttpResponse {
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
        inflight: state.max_inflight - state.inflight.available_permits(),
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&gauges))
}

async fn openapi_route() -> HttpResponse {
    HttpResponse::Ok().json(openapi::document())
}

async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no route {} {}", req.method(), req.path()),
    )
    .error_response()
}

async fn wrong_method(req: HttpRequest) -> HttpResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.path()),
    )
    .error_response()
}

/// A route's resource: other methods on it get 405 with a JSON error.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(wrong_method))
}

fn request_id(req: &actix_web::dev::ServiceRequest) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "{:x}-{:x}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            )
        })
}

/// Serves until SIGTERM/SIGINT (in-flight requests then get `http.shutdown_timeout_s` to
/// finish). Prints `listening on http://ADDR` on stdout once bound.
pub fn serve(service: Arc<Service>, bind: &str) -> Result<()> {
    let config = service.config().clone();
    let keys = Keys::load(&config.http, std::env::var(auth::KEYS_ENV).ok().as_deref())?;
    if keys.is_empty() {
        tracing::warn!(
            "no API keys configured (http.keys or {}): every request but health, metrics and OpenAPI will get 401",
            auth::KEYS_ENV
        );
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let cpu_threads = if config.http.cpu_threads == 0 {
        cores
    } else {
        config.http.cpu_threads
    };
    let cpu = rayon::ThreadPoolBuilder::new()
        .num_threads(cpu_threads)
        .thread_name(|i| format!("kefu-cpu-{i}"))
        .build()
        .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
    let state = web::Data::new(State {
        service,
        keys,
        cpu,
        inflight: Arc::new(Semaphore::new(config.http.max_inflight)),
        max_inflight: config.http.max_inflight,
        timeout: Duration::from_millis(config.http.request_timeout_ms),
        metrics: Arc::new(Metrics::default()),
    });
    // the async workers only parse, route and copy bytes (the CPU pool does the work): half
    // the cores measured fastest on two (3,116 against 2,972 BM25 requests/s with one per core)
    let workers = if config.http.workers == 0 {
        (cores / 2).max(1)
    } else {
        config.http.workers
    };
    let origins = config.http.cors_origins.clone();
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let server = HttpServer::new(move || {
            let mut cors = actix_cors::Cors::default()
                .allowed_methods(vec!["GET", "POST", "PUT", "DELETE"])
                .allowed_headers(vec![
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::HeaderName::from_static("x-api-key"),
                    header::HeaderName::from_static("x-request-id"),
                ])
                .expose_headers(vec![header::HeaderName::from_static("x-request-id")])
                .max_age(3600);
            for o in &origins {
                cors = cors.allowed_origin(o);
            }
            let metrics_state = state.clone();
            App::new()
                .app_data(state.clone())
                .wrap(cors)
                .wrap_fn(move |req, srv| {
                    let id = request_id(&req);
                    let method = req.method().to_string();
                    let path = req.path().to_string();
                    let started = Instant::now();
                    let span =
                        tracing::info_span!("request", id = %id, method = %method, path = %path);
                    let fut = srv.call(req);
                    let metrics_state = metrics_state.clone();
                    async move {
                        let mut res = fut.await?;
                        let secs = started.elapsed().as_secs_f64();
                        let route = res
                            .request()
                            .match_pattern()
                            .unwrap_or_else(|| "(no route)".to_string());
                        let status = res.status().as_u16();
                        metrics_state.metrics.request(&route, &method, status, secs);
                        if let Ok(v) = HeaderValue::from_str(&id) {
                            res.headers_mut()
                                .insert(header::HeaderName::from_static("x-request-id"), v);
                        }
                        tracing::info!(status, ms = secs * 1e3, route = %route, "answered");
                        Ok(res)
                    }
                    .instrument(span)
                })
                .service(resource("/v1/search").route(web::post().to(search)))
                .service(resource("/v1/answer").route(web::post().to(answer)))
                .service(
                    resource("/v1/documents/{id}")
                        .route(web::get().to(get_document))
                        .route(web::put().to(put_document))
                        .route(web::delete().to(delete_document)),
                )
                .service(resource("/v1/reindex").route(web::post().to(reindex)))
                .service(resource("/v1/jobs/{id}").route(web::get().to(get_job)))
                .service(resource("/healthz").route(web::get().to(healthz)))
                .service(resource("/readyz").route(web::get().to(readyz)))
                .service(resource("/metrics").route(web::get().to(metrics_route)))
                .service(resource("/openapi.json").route(web::get().to(openapi_route)))
                .default_service(web::to(no_route))
        })
        .workers(workers)
        .shutdown_timeout(config.http.shutdown_timeout_s)
        .bind(bind)
        .map_err(|e| Error::io(bind, e))?;
        for addr in server.addrs() {
            println!("kefu: listening on http://{addr}");
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        server.run().await.map_err(|e| Error::io(bind, e))
    })
}
