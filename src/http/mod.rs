//! The HTTP service (actix-web; the only module that knows it): routes, authentication, limits,
//! error mapping, metrics, OpenAPI. All CPU-bound work (searches, parsing uploads) runs on a
//! bounded pool of its own threads, never on the async workers; a semaphore caps the requests
//! admitted to that pool, and the rest get 503 with Retry-After at once.

pub mod admission;
pub mod auth;
pub mod metrics;
pub mod openapi;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Service as _;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::Instrument;

use crate::cancel::Cancel;
use crate::config::{Config, FusionConfig};
use crate::domain::{DocId, Role};
use crate::error::{Error, Result};
use crate::retrieve::{Filters, Mode, Scope, SearchRequest};
use crate::service::{documents::Upload, Service};
use admission::{Admission, Call, Lane};
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

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// With a `Retry-After` of `secs` seconds.
    fn retry_after(mut self, secs: u32) -> ApiError {
        self.retry_after = Some(secs);
        self
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
        if status.is_server_error() && !matches!(e, Error::Cancelled(_) | Error::NoIndex { .. }) {
            tracing::error!(error = %e, "request failed");
        }
        let api = ApiError::new(status, e.code(), e.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            api.retry_after(1)
        } else {
            api
        }
    }
}

type ApiResult<T> = std::result::Result<T, ApiError>;

/// What every handler shares.
pub struct State {
    service: Arc<Service>,
    admission: Admission,
    metrics: Arc<Metrics>,
}

impl State {
    fn config(&self) -> &Config {
        self.service.config()
    }

    /// Runs an admitted request's work on its pool, waiting until the request's deadline. The
    /// work gets the request's cancellation token: cancelled when the deadline passes (the
    /// client then gets 503 `timeout`) or the client goes away (actix drops the handler, and
    /// with it the call's guard); work that has not started by then stops at its first check.
    async fn run<T: Send + 'static>(
        &self,
        mut call: Call,
        work: impl FnOnce(&Cancel) -> T + Send + 'static,
    ) -> ApiResult<T> {
        let deadline = call.deadline;
        self.run_until(&mut call, work, Some(deadline)).await
    }

    /// [`State::run`] waiting until `deadline`, or until the work ends (`None`: for writes,
    /// whose work checks the deadline itself before it writes, so that the answer is the truth).
    async fn run_until<T: Send + 'static>(
        &self,
        call: &mut Call,
        work: impl FnOnce(&Cancel) -> T + Send + 'static,
        deadline: Option<Instant>,
    ) -> ApiResult<T> {
        let permit = call.take_permit();
        let cancel = call.cancel.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let token = cancel.clone();
        self.admission.pool(call.lane).threads.spawn(move || {
            let _permit = permit;
            let _ = tx.send(work(&token));
        });
        let waited = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), rx).await,
            None => Ok(rx.await),
        };
        match waited {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ApiError::internal("the worker stopped")),
            Err(_) => {
                cancel.cancel();
                Err(ApiError::unavailable(
                    "timeout",
                    format!(
                        "the request took longer than {} ms (http.request_timeout_ms, or answer.llm.total_timeout_ms for answers) and was stopped",
                        deadline_ms(call)
                    ),
                ))
            }
        }
    }

    /// Runs admitted work that streams: the work gets a channel for the response's pieces (a
    /// send fails once the client is gone). The response body owns the call, so a client that
    /// leaves cancels the work.
    fn stream(
        &self,
        mut call: Call,
        work: impl FnOnce(&Cancel, tokio::sync::mpsc::Sender<web::Bytes>) + Send + 'static,
    ) -> HttpResponse {
        let permit = call.take_permit();
        let (tx, rx) = tokio::sync::mpsc::channel::<web::Bytes>(32);
        let token = call.cancel.clone();
        self.admission.pool(call.lane).threads.spawn(move || {
            let _permit = permit;
            work(&token, tx);
        });
        let body = futures_util::stream::unfold((rx, call), |(mut rx, call)| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<web::Bytes, std::convert::Infallible>(b), (rx, call)))
        });
        HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .streaming(body)
    }

    fn engine(&self) -> ApiResult<Arc<crate::Engine>> {
        self.service.engine().ok_or_else(|| {
            ApiError::unavailable("not_ready", "the index is still being built; retry shortly")
        })
    }
}

/// The time a call was given, in ms (for the timeout message).
fn deadline_ms(call: &Call) -> u128 {
    call.deadline
        .saturating_duration_since(call.admitted)
        .as_millis()
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
    fn into_request(
        self,
        config: &Config,
        scope: Scope,
        max_top_k: usize,
    ) -> ApiResult<SearchRequest> {
        let mode = match &self.mode {
            None => Mode::Hybrid,
            Some(m) => Mode::parse(m).ok_or_else(|| {
                ApiError::bad_request(format!("unknown mode `{m}` (bm25, vector or hybrid)"))
            })?,
        };
        let filters = Filters::parse(&filter_pairs(self.filters)?)?;
        let top_k = self.top_k.unwrap_or(config.search.top_k);
        if top_k > max_top_k {
            return Err(ApiError::bad_request(format!(
                "top_k must be between 1 and {max_top_k} for this key (http.bot_max_top_k)"
            )));
        }
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
            top_k,
            mode,
            filters,
            scope,
            fusion,
            rerank: self.rerank.unwrap_or(true),
            cancel: Cancel::new(),
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
    let mut call = state.admission.admit(&req, Need::Reader)?;
    let cfg = state.config();
    let body: SearchBody = state
        .admission
        .json(
            &req,
            payload,
            cfg.http.max_body_bytes,
            cfg.http.max_json_depth,
            false,
        )
        .await?;
    let mut sreq = body.into_request(cfg, scope_of(call.role), call.max_top_k)?;
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
    let mut call = state.admission.admit(&req, Need::Reader)?;
    let cfg = state.config();
    let body: AnswerBody = state
        .admission
        .json(
            &req,
            payload,
            cfg.http.max_body_bytes,
            cfg.http.max_json_depth,
            false,
        )
        .await?;
    let passages = body.passages.unwrap_or(cfg.answer.passages);
    let most = 50.min(call.max_top_k);
    if passages == 0 || passages > most {
        return Err(ApiError::bad_request(format!(
            "passages must be between 1 and {most}"
        )));
    }
    crate::retrieve::check_query_text("question", &body.question, cfg)?;
    let (use_llm, mut warnings) = match body.composer.as_deref() {
        None => (true, Vec::new()),
        Some("llm") if cfg.answer.llm.is_none() => (
            false,
            vec!["composer `llm` was asked for, but no LLM is configured ([answer.llm]); the answer is extractive".to_string()],
        ),
        Some("llm") => (true, Vec::new()),
        Some("extractive") => (false, Vec::new()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown composer `{}` (extractive or llm)",
                crate::error::printable(other)
            )))
        }
    };
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
        scope: scope_of(call.role),
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
                let name = match &ev {
                    crate::answer::AnswerEvent::Sentence { .. } => "sentence",
                    crate::answer::AnswerEvent::Reset { .. } => "reset",
                };
                tx.blocking_send(sse(name, &ev)).is_ok()
            };
            let last = match engine.answer_streaming(&areq, &mut sink) {
                Ok(mut answer) => {
                    if let Some(ms) = answer.timings.embed_ms {
                        metrics.embedding(ms / 1e3);
                    }
                    answer.warnings.append(&mut warnings);
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

/// `key=value` pairs of a request's filters object; an empty list is refused (it would
/// silently remove the filter).
fn filter_pairs(filters: BTreeMap<String, OneOrMany>) -> ApiResult<Vec<String>> {
    let mut pairs = Vec::new();
    for (k, v) in filters {
        match v {
            OneOrMany::One(v) => pairs.push(format!("{k}={v}")),
            OneOrMany::Many(vs) if vs.is_empty() => {
                return Err(ApiError::bad_request(format!(
                    "filter `{}` is an empty list; leave the key out to not filter by it",
                    crate::error::printable(&k)
                )))
            }
            OneOrMany::Many(vs) => pairs.extend(vs.into_iter().map(|v| format!("{k}={v}"))),
        }
    }
    Ok(pairs)
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
    let mut call = state.admission.admit(&req, Need::Reader)?;
    state.admission.enter(&mut call, Lane::Light)?;
    let id = DocId::parse(&path.into_inner())?;
    let engine = state.engine()?;
    let scope = scope_of(call.role);
    let wanted = id.clone();
    let doc = state
        .run(call, move |_| {
            crate::retrieve::document(engine.generation(), &wanted, scope)
        })
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
    let mut call = state.admission.admit(&req, Need::Writer)?;
    let id = DocId::parse_new(&path.into_inner())?;
    let cfg = state.config();
    // JSON escaping can double a document's size
    let limit = (cfg.corpus.max_file_bytes as usize).saturating_mul(2) + 64 * 1024;
    let upload: Upload = state
        .admission
        .json(&req, payload, limit, cfg.http.max_json_depth, true)
        .await?;
    state.admission.enter(&mut call, Lane::Heavy)?;
    let service = state.service.clone();
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

async fn delete_document(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut call = state.admission.admit(&req, Need::Writer)?;
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

async fn reindex(state: web::Data<State>, req: HttpRequest) -> ApiResult<HttpResponse> {
    state.admission.caller(&req, Need::Writer)?;
    Ok(accepted(state.service.reindex()?))
}

fn job_id(raw: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "job id `{}` is not a number",
            crate::error::printable(raw)
        ))
    })
}

async fn get_job(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state.admission.caller(&req, Need::Writer)?;
    let id = job_id(&path.into_inner())?;
    Ok(HttpResponse::Ok().json(state.service.job(id)?))
}

async fn cancel_job(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state.admission.caller(&req, Need::Writer)?;
    let id = job_id(&path.into_inner())?;
    Ok(HttpResponse::Ok().json(state.service.cancel_job(id)?))
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
        inflight: state.admission.light.in_use()
            + state.admission.heavy.in_use()
            + state.admission.llm.in_use(),
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
        format!(
            "no route {} {}",
            req.method(),
            crate::error::printable(req.path())
        ),
    )
    .error_response()
}

/// The methods a path of the route table answers (HEAD wherever GET is), for `Allow`.
fn allowed(path: &str) -> String {
    let mut methods: Vec<String> = openapi::ROUTES
        .iter()
        .filter(|(_, p)| *p == path)
        .map(|(m, _)| m.to_ascii_uppercase())
        .collect();
    if methods.iter().any(|m| m == "GET") {
        methods.push("HEAD".into());
    }
    methods.push("OPTIONS".into());
    methods.join(", ")
}

/// A route's resource from the route table: its methods, HEAD wherever GET is, OPTIONS
/// answered with `Allow`, and any other method 405 with `Allow` and a JSON error.
fn resource(path: &'static str) -> actix_web::Resource {
    let allow = allowed(path);
    let allow_options = allow.clone();
    web::resource(path)
        .route(web::method(actix_web::http::Method::OPTIONS).to(move || {
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

/// `handler` for GET on `r`, and for HEAD (the same response without its body).
fn readable<F, Args>(r: actix_web::Resource, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    r.route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
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
    let admission = Admission::new(&config.http, keys, cpu_threads)?;
    let state = web::Data::new(State {
        service,
        admission,
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
                    readable(resource("/v1/documents/{id}"), get_document)
                        .route(web::put().to(put_document))
                        .route(web::delete().to(delete_document)),
                )
                .service(resource("/v1/reindex").route(web::post().to(reindex)))
                .service(
                    readable(resource("/v1/jobs/{id}"), get_job)
                        .route(web::delete().to(cancel_job)),
                )
                .service(readable(resource("/healthz"), healthz))
                .service(readable(resource("/readyz"), readyz))
                .service(readable(resource("/metrics"), metrics_route))
                .service(readable(resource("/openapi.json"), openapi_route))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Request bodies with the routes' own keys and values of every JSON type.
    fn body() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("query"),
            Just("question"),
            Just("mode"),
            Just("top_k"),
            Just("filters"),
            Just("fusion"),
            Just("rerank"),
            Just("passages"),
            Just("composer"),
            Just("stream"),
            Just("format"),
            Just("content"),
            Just("metadata"),
            Just("type"),
            Just("audience"),
            Just("method"),
        ];
        let leaf = prop_oneof![
            Just(json!(null)),
            Just(json!(true)),
            Just(json!(-1)),
            Just(json!(0)),
            Just(json!(1e300)),
            Just(json!(u64::MAX)),
            Just(json!("hybrid")),
            Just(json!("\u{0}")),
            Just(json!("保修 warranty")),
            Just(json!([])),
            "[ -~]{0,12}".prop_map(Value::String),
        ];
        let value = leaf.prop_recursive(3, 16, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::btree_map(key, value, 0..6).prop_map(|m| {
            Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).to_string()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]
        /// Any body is refused with a message or becomes a valid request; nothing panics.
        #[test]
        fn request_bodies_are_refused_or_become_valid_requests(text in body()) {
            let config = Config::default();
            let b = text.as_bytes();
            prop_assume!(crate::json::unique_keys(b).is_ok());
            if let Ok(s) = serde_json::from_slice::<SearchBody>(b) {
                match s.into_request(&config, Scope::Public, 50) {
                    Ok(r) => prop_assert!(r.top_k >= 1 && r.top_k <= 50),
                    Err(e) => prop_assert!(!e.message.is_empty()),
                }
            }
            if let Ok(a) = serde_json::from_slice::<AnswerBody>(b) {
                let _ = filter_pairs(a.filters).map(|p| Filters::parse(&p));
            }
            if let Ok(u) = serde_json::from_slice::<Upload>(b) {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut config = Config::default();
                config.corpus.managed_dir = dir.path().join("managed");
                let _ = crate::service::documents::put(
                    &config,
                    None,
                    &DocId::parse_new("fuzz-1").expect("id"),
                    &u,
                    &Cancel::new(),
                );
            }
        }
    }
}
