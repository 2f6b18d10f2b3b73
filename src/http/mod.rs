//! The HTTP service (actix-web; the only module that knows it): routes, authentication, limits,
//! error mapping, metrics, OpenAPI. All CPU-bound work (searches, parsing uploads) runs on a
//! bounded pool of its own threads, never on the async workers; a semaphore caps the requests
//! admitted to that pool, and the rest get 503 with Retry-After at once.

pub mod admission;
pub mod auth;
pub mod dto;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod routes;

use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Service as _;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, App, HttpResponse, HttpServer};
use tracing::Instrument;

use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::service::Service;
use admission::{Admission, Call};
use auth::Keys;
use error::{ApiError, ApiResult};
use metrics::Metrics;

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
    let admission = Admission::new(&config.http, keys)?;
    let state = web::Data::new(State {
        service,
        admission,
        metrics: Arc::new(Metrics::default()),
    });
    let workers = config.http.async_workers();
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
                .service(routes::resources(routes::table()))
                .default_service(web::to(routes::no_route))
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
