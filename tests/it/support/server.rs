//! `kefu serve` as a child process on a port the system picks, with one key per role.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::workspace::Workspace;

pub const BOT: &str = "test-bot-key-1";
pub const AGENT: &str = "test-agent-key-1";
pub const WRITER: &str = "test-writer-key-1";
pub const ADMIN: &str = "test-admin-key-1";

/// A `kefu serve` child process on a free port, killed when dropped.
pub struct Server {
    pub child: Child,
    base: String,
}

impl Server {
    pub fn start(ws: &Workspace, env: &[(&str, &str)]) -> Server {
        let server = Self::spawn(ws, env);
        let deadline = Instant::now() + Duration::from_secs(120);
        while server.call("GET", "/readyz", None, None).0 != 200 {
            assert!(Instant::now() < deadline, "never ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `http://ADDR` of the server.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server without waiting for it to be ready.
    pub fn spawn(ws: &Workspace, env: &[(&str, &str)]) -> Server {
        let log = std::fs::File::create(ws.dir.path().join("server.log")).expect("log file");
        let mut cmd = ws.cmd(&["serve", "--bind", "127.0.0.1:0"]);
        cmd.env(
            "KEFU_API_KEYS",
            format!("bot:{BOT},agent:{AGENT},writer:{WRITER},admin:{ADMIN}"),
        )
        .stdout(Stdio::piped())
        .stderr(log);
        // tests of other things send searches in tight loops; rate limits have their own test
        cmd.env("KEFU__HTTP__RATE_LIMIT_PER_S", "0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn kefu serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the address");
        let base = line
            .trim()
            .strip_prefix("kefu: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, base }
    }

    /// (status, JSON body or `null`) of a request.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, text) = self.raw(method, path, key, body.map(|b| b.to_string()));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn raw(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<String>,
    ) -> (u16, String) {
        let mut req =
            ureq::request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(60));
        if let Some(k) = key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let res = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(&b),
            None => req.call(),
        };
        match res {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// (status, body text) of a request with a JSON body, whatever the response type.
    pub fn raw_with_type(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: String,
    ) -> (u16, String) {
        self.raw(method, path, key, Some(body))
    }

    pub fn search(&self, key: &str, body: Value) -> Value {
        let (status, v) = self.call("POST", "/v1/search", Some(key), Some(&body));
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Waits for a job to end; returns its final status.
    pub fn wait_job(&self, id: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, job) = self.call("GET", &format!("/v1/jobs/{id}"), Some(WRITER), None);
            assert_eq!(status, 200, "{job}");
            if job["state"] == "succeeded"
                || job["state"] == "failed"
                || job["state"] == "cancelled"
            {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} never ended: {job}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}
