//! Admission: everything a request passes before a handler does its work, in one place and in
//! one order — the key (authentication, role) and the key's rate limit; then the body, admitted
//! before a byte is buffered: its type, its size against the bytes all requests may hold, a
//! cap on uploads being received, a deadline for its bytes; then a place in the pool that runs
//! the work (refused with 503 at once when the pool has as much as it can finish within the
//! timeout). The request carries a cancellation token that stops its work when the deadline
//! passes or the client goes away.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::{Keys, Need};
use super::error::{ApiError, ApiResult};
use crate::cancel::{Cancel, CancelOnDrop};
use crate::config::HttpConfig;
use crate::domain::Role;
use crate::error::{Error, Result};

/// Which pool runs a request's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// BM25 searches, document and job lookups: milliseconds each.
    Light,
    /// Hybrid searches (a query embedding), answers, uploads.
    Heavy,
    /// Answers written by an LLM: mostly waiting for it.
    Llm,
}

/// One pool and its admission.
pub struct Pool {
    pub threads: rayon::ThreadPool,
    pub slots: Arc<Semaphore>,
    pub size: usize,
}

impl Pool {
    pub fn new(name: &'static str, threads: usize, inflight: usize) -> Result<Pool> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("kefu-{name}-{i}"))
            .build()
            .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
        Ok(Pool {
            threads: pool,
            slots: Arc::new(Semaphore::new(inflight)),
            size: inflight,
        })
    }

    /// Requests admitted and not finished.
    pub fn in_use(&self) -> usize {
        self.size - self.slots.available_permits()
    }
}

/// The gates every request passes.
pub struct Admission {
    pub keys: Keys,
    pub light: Pool,
    pub heavy: Pool,
    pub llm: Pool,
    uploads: Arc<Semaphore>,
    /// Permits are KiB of bodies held in memory.
    buffered: Arc<Semaphore>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    timeout: Duration,
    body_timeout: Duration,
    bot_max_top_k: usize,
}

/// A request that passed admission: who asked, its place in a pool, its deadline, and the token
/// that stops its work (cancelled when the handler is dropped, i.e. the client went away).
pub struct Call {
    pub role: Role,
    /// The name of the caller's key (who created a session, say).
    pub key: String,
    pub lane: Lane,
    pub cancel: Cancel,
    pub admitted: Instant,
    pub deadline: Instant,
    /// The largest `top_k` this caller may ask for.
    pub max_top_k: usize,
    permit: Option<OwnedSemaphorePermit>,
    _guard: CancelOnDrop,
}

impl Call {
    /// Gives the call `limit` from its admission instead of the request timeout (answers that
    /// wait for an LLM).
    pub fn extend(&mut self, limit: Duration) {
        self.deadline = self.admitted + limit;
        let cancel = Cancel::until(self.deadline);
        self._guard = CancelOnDrop(Some(cancel.clone()));
        self.cancel = cancel;
    }

    /// The pool place, for the work to hold until it ends.
    pub fn take_permit(&mut self) -> Option<OwnedSemaphorePermit> {
        self.permit.take()
    }
}

fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

impl Admission {
    pub fn new(config: &HttpConfig, keys: Keys) -> Result<Admission> {
        let threads = config.cpu_pool_threads();
        let limiter = match (
            NonZeroU32::new(config.rate_limit_per_s),
            NonZeroU32::new(config.rate_limit_burst),
        ) {
            (Some(rate), Some(burst)) => Some(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
            _ => None,
        };
        Ok(Admission {
            keys,
            light: Pool::new("light", config.light_pool_threads(), config.max_inflight)?,
            heavy: Pool::new("cpu", threads, config.max_inflight_heavy)?,
            llm: Pool::new("llm", config.llm_threads, config.llm_threads * 2)?,
            uploads: Arc::new(Semaphore::new(config.max_uploads_receiving)),
            buffered: Arc::new(Semaphore::new(kib(config.max_buffered_bytes) as usize)),
            limiter,
            timeout: Duration::from_millis(config.request_timeout_ms),
            body_timeout: Duration::from_millis(config.body_timeout_ms),
            bot_max_top_k: config.bot_max_top_k,
        })
    }

    pub fn pool(&self, lane: Lane) -> &Pool {
        match lane {
            Lane::Light => &self.light,
            Lane::Heavy => &self.heavy,
            Lane::Llm => &self.llm,
        }
    }

    /// The key's role (401 without a valid key, 403 when the role may not do what `need`s),
    /// checked against the key's rate limit (429).
    pub fn caller(&self, req: &HttpRequest, need: Need) -> ApiResult<(Role, String)> {
        let presented = super::auth::presented_key(req.headers())?;
        let Some((role, holder)) = self.keys.check(presented) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "unknown API key",
            ));
        };
        if let Some(limiter) = &self.limiter {
            if let Err(not_until) = limiter.check_key(&holder.to_string()) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let secs = wait.as_secs_f64().ceil().max(1.0) as u32;
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "this API key is over its rate limit (http.rate_limit_per_s); retry after the time in Retry-After",
                )
                .retry_after(secs));
            }
        }
        if !need.allows(role) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("{} key may not do this", role.with_article()),
            ));
        }
        Ok((role, holder.to_string()))
    }

    /// Gives a call its place in `lane`'s pool (503 at once when the pool has as many requests
    /// as it can finish within the timeout), giving up a place it held in the other; the
    /// request's time limit runs from here. Bodies are read before this (bounded by the bytes
    /// all requests may hold and their own deadline), so a slow client never holds a place
    /// that a quick search needs.
    pub fn enter(&self, call: &mut Call, lane: Lane) -> ApiResult<()> {
        if call.permit.is_some() && call.lane == lane {
            return Ok(());
        }
        let permit = self
            .pool(lane)
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                ApiError::unavailable("overloaded", "too many requests in progress; retry shortly")
            })?;
        let limit = call.deadline.saturating_duration_since(call.admitted);
        call.permit = Some(permit);
        call.lane = lane;
        call.admitted = Instant::now();
        call.extend(limit);
        Ok(())
    }

    /// A request whose key may do what the route `need`s: the call that its body is read for
    /// and its work runs under (it takes a place in a pool with [`Admission::enter`]).
    pub fn admit(&self, req: &HttpRequest, need: Need) -> ApiResult<Call> {
        let (role, key) = self.caller(req, need)?;
        let now = Instant::now();
        let deadline = now + self.timeout;
        let cancel = Cancel::until(deadline);
        Ok(Call {
            role,
            key,
            lane: Lane::Light,
            admitted: now,
            deadline,
            max_top_k: if role == Role::Bot {
                self.bot_max_top_k
            } else {
                usize::MAX
            },
            permit: None,
            _guard: CancelOnDrop(Some(cancel.clone())),
            cancel,
        })
    }

    /// Reads an admitted request's JSON body: at most `limit` bytes, of a JSON (or unlabelled)
    /// type and no content encoding, arriving within `http.body_timeout_ms`, counted against
    /// the bytes all requests may hold; nesting and duplicate keys checked before parsing.
    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: &HttpRequest,
        mut payload: actix_web::dev::Payload,
        limit: usize,
        max_depth: usize,
        upload: bool,
    ) -> ApiResult<T> {
        check_content_type(req)?;
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
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_big());
        }
        let _receiving = if upload {
            Some(self.uploads.clone().try_acquire_owned().map_err(|_| {
                ApiError::unavailable(
                    "overloaded",
                    "too many uploads are being received at once (http.max_uploads_receiving); retry shortly",
                )
            })?)
        } else {
            None
        };
        // the memory the body will take, held from before the first byte to the end of parsing
        let mut held = Vec::new();
        let mut reserve = |bytes: usize| -> ApiResult<()> {
            let p = self
                .buffered
                .clone()
                .try_acquire_many_owned(kib(bytes).max(1))
                .map_err(|_| {
                    ApiError::unavailable(
                        "overloaded",
                        "too many request bodies are held in memory (http.max_buffered_bytes); retry shortly",
                    )
                })?;
            held.push(p);
            Ok(())
        };
        let mut reserved = declared.unwrap_or(0);
        reserve(reserved.max(1))?;
        let deadline = tokio::time::Instant::now() + self.body_timeout;
        let mut buf = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
        loop {
            let next = match tokio::time::timeout_at(deadline, payload.next()).await {
                Ok(n) => n,
                Err(_) => {
                    return Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "body_timeout",
                        format!(
                            "the body did not arrive within {} ms (http.body_timeout_ms)",
                            self.body_timeout.as_millis()
                        ),
                    ))
                }
            };
            let Some(chunk) = next else { break };
            let chunk =
                chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
            if buf.len() + chunk.len() > limit {
                return Err(too_big());
            }
            buf.extend_from_slice(&chunk);
            if buf.len() > reserved {
                let more = (buf.len() - reserved).max(16 * 1024);
                reserve(more)?;
                reserved += more;
            }
        }
        if buf.is_empty() {
            return Err(ApiError::bad_request(
                "the body is empty; send a JSON object",
            ));
        }
        let depth = crate::json::depth(&buf);
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
        crate::json::unique_keys(&buf).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not a valid request: {e}"),
            )
        })?;
        serde_json::from_slice(&buf).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not a valid request: {}", json_message(&e)),
            )
        })
    }
}

/// serde_json's message, with the two that mislead people said plainly.
fn json_message(e: &serde_json::Error) -> String {
    let m = e.to_string();
    if m.contains("hex escape") || m.contains("surrogate") {
        return format!(
            "a \\u escape is not a valid Unicode character (a lone surrogate?) at line {} column {}",
            e.line(),
            e.column()
        );
    }
    if m.contains("did not match any variant") {
        return format!(
            "a value has the wrong type (a filter is a string or a list of strings) at line {} column {}",
            e.line(),
            e.column()
        );
    }
    m
}

/// 415 for a body that is labelled as something other than JSON, or compressed. A body
/// without a type, and `application/x-www-form-urlencoded` (what `curl -d` labels every body),
/// are read as JSON: the body must be a JSON object either way.
fn check_content_type(req: &HttpRequest) -> ApiResult<()> {
    let unsupported = |m: String| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            m,
        )
    };
    if let Some(enc) = req.headers().get(header::CONTENT_ENCODING) {
        let enc = enc.to_str().unwrap_or("?").trim().to_ascii_lowercase();
        if enc != "identity" {
            return Err(unsupported(format!(
                "Content-Encoding `{}` is not supported; send the body uncompressed",
                crate::error::printable(&enc)
            )));
        }
    }
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or("?");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
        || essence == "application/x-www-form-urlencoded";
    if json {
        Ok(())
    } else {
        Err(unsupported(format!(
            "Content-Type `{}` is not supported; send application/json",
            crate::error::printable(ct)
        )))
    }
}
