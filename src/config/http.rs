//! `[http]`: the service's address, keys, pools, limits and time limits.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An API key as configured: only its sha256 is stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Who holds it (shown in logs, never the key).
    pub name: String,
    pub role: crate::domain::Role,
    /// sha256 of the key, 64 hex digits (`printf %s KEY | sha256sum`).
    pub sha256: String,
}

/// The HTTP service (`kefu serve`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on.
    pub bind: String,
    /// HTTP worker threads (0: half the cores, at least one).
    pub workers: usize,
    /// Threads that run searches and other CPU-bound work (0: one per core).
    pub cpu_threads: usize,
    /// Threads of a second pool for light work (BM25 searches, document lookups), so that
    /// heavy requests never queue in front of them (0: one per core).
    pub light_threads: usize,
    /// Light requests admitted at once (running or waiting for a thread); beyond that the
    /// service answers 503 with Retry-After at once.
    pub max_inflight: usize,
    /// Heavy requests (hybrid and vector searches, answers, uploads) admitted at once: about
    /// what the CPU pool can finish within the request timeout (32 heavy searches of a bot's
    /// largest `top_k` take ~6 s of two cores); beyond that 503 with Retry-After at once.
    pub max_inflight_heavy: usize,
    /// Threads for answers written by an LLM (they mostly wait for it; twice as many are
    /// admitted), apart from the CPU pool so that a slow LLM never holds up searches.
    pub llm_threads: usize,
    /// A request taking longer than this is answered 503 `timeout`, and its work is stopped.
    pub request_timeout_ms: u64,
    /// A request body must have arrived this long after its head (else 408).
    pub body_timeout_ms: u64,
    /// Uploads whose bodies are being received at once; more get 503.
    pub max_uploads_receiving: usize,
    /// Bytes of request bodies held in memory at once, over all requests; more get 503.
    pub max_buffered_bytes: usize,
    /// The largest `top_k` (and answer `passages`) a bot key may ask for.
    pub bot_max_top_k: usize,
    /// Requests per second each API key may make (a token bucket; 0: no limit); beyond it the
    /// service answers 429 with Retry-After.
    pub rate_limit_per_s: u32,
    /// How many requests a key may make at once above its rate.
    pub rate_limit_burst: u32,
    /// Largest JSON body of a search or answer request.
    pub max_body_bytes: usize,
    /// Deepest nesting of arrays and objects accepted in a JSON body.
    pub max_json_depth: usize,
    /// Origins allowed to call from a browser (CORS); empty: none.
    pub cors_origins: Vec<String>,
    /// Seconds that in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_s: u64,
    /// API keys (more can come from `KEFU_API_KEYS="role:key,…"`).
    pub keys: Vec<ApiKeyConfig>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            cpu_threads: 0,
            light_threads: 0,
            max_inflight: 64,
            max_inflight_heavy: 32,
            llm_threads: 8,
            request_timeout_ms: 10_000,
            body_timeout_ms: 5_000,
            max_uploads_receiving: 4,
            max_buffered_bytes: 64 * 1024 * 1024,
            bot_max_top_k: 50,
            rate_limit_per_s: 200,
            rate_limit_burst: 400,
            max_body_bytes: 64 * 1024,
            max_json_depth: 32,
            cors_origins: Vec::new(),
            shutdown_timeout_s: 30,
            keys: Vec::new(),
        }
    }
}

impl HttpConfig {
    /// Threads of the pool that runs searches, answers and uploads (`cpu_threads`, 0: one per
    /// core).
    pub fn cpu_pool_threads(&self) -> usize {
        super::threads_or_cores(self.cpu_threads)
    }

    /// Threads of the pool for light work (`light_threads`, 0: as many as the CPU pool).
    pub fn light_pool_threads(&self) -> usize {
        if self.light_threads == 0 {
            self.cpu_pool_threads()
        } else {
            self.light_threads
        }
    }

    /// Async workers (`workers`, 0: half the cores, at least one). They only parse, route and
    /// copy bytes (the pools do the work): half the cores measured fastest on two (3,116
    /// against 2,972 BM25 requests/s with one per core).
    pub fn async_workers(&self) -> usize {
        if self.workers == 0 {
            (super::threads_or_cores(0) / 2).max(1)
        } else {
            self.workers
        }
    }

    /// Keys are sha256 digests, and every pool, limit and time limit lets something through.
    pub fn validate(&self) -> Result<()> {
        for (i, k) in self.keys.iter().enumerate() {
            if k.sha256.len() != 64 || !k.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::config(
                    format!("http.keys[{i}].sha256"),
                    "must be 64 hex digits (the sha256 of the key)",
                ));
            }
        }
        if self.max_json_depth == 0 {
            return Err(Error::config("http.max_json_depth", "must be above 0"));
        }
        for (key, v) in [
            ("http.max_inflight", self.max_inflight),
            ("http.max_inflight_heavy", self.max_inflight_heavy),
            ("http.llm_threads", self.llm_threads),
            ("http.max_uploads_receiving", self.max_uploads_receiving),
            ("http.bot_max_top_k", self.bot_max_top_k),
        ] {
            if v == 0 {
                return Err(Error::config(key, "must be above 0"));
            }
        }
        if self.body_timeout_ms == 0 {
            return Err(Error::config("http.body_timeout_ms", "must be above 0"));
        }
        if self.max_buffered_bytes < self.max_body_bytes {
            return Err(Error::config(
                "http.max_buffered_bytes",
                "must be at least http.max_body_bytes",
            ));
        }
        if self.rate_limit_per_s > 0 && self.rate_limit_burst == 0 {
            return Err(Error::config(
                "http.rate_limit_burst",
                "must be above 0 when http.rate_limit_per_s is set",
            ));
        }
        if self.request_timeout_ms == 0 || self.max_body_bytes < 256 {
            return Err(Error::config(
                "http",
                "request_timeout_ms must be above 0 and max_body_bytes at least 256",
            ));
        }
        Ok(())
    }
}
