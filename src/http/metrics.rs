//! Prometheus metrics, rendered as text for `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    embedding: Histogram,
    rejected_busy: u64,
}

/// The service's counters and histograms.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Gauges read at render time.
pub struct Gauges {
    pub ready: bool,
    pub generation: u64,
    pub documents: usize,
    pub passages: usize,
    pub inflight: usize,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts a finished request under its route pattern.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.requests
            .entry((route.to_string(), method.to_string(), status))
            .or_insert(0) += 1;
        m.latency
            .entry(route.to_string())
            .or_default()
            .observe(seconds);
        if status == 503 {
            m.rejected_busy += 1;
        }
    }

    /// Records the time spent embedding a question.
    pub fn embedding(&self, seconds: f64) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.embedding.observe(seconds);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, g: &Gauges) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP kefu_http_requests_total HTTP requests by route pattern, method and status.\n# TYPE kefu_http_requests_total counter\n");
        for ((route, method, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "kefu_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        out.push_str("# HELP kefu_http_request_duration_seconds Time to answer, by route pattern.\n# TYPE kefu_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            h.render(
                &mut out,
                "kefu_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
        out.push_str("# HELP kefu_query_embedding_seconds Time to embed a question.\n# TYPE kefu_query_embedding_seconds histogram\n");
        m.embedding
            .render(&mut out, "kefu_query_embedding_seconds", "");
        let gauges = [
            (
                "kefu_ready",
                "1 when an index generation is loaded.",
                g.ready as u64,
            ),
            (
                "kefu_index_generation",
                "The live index generation.",
                g.generation,
            ),
            (
                "kefu_documents",
                "Documents in the live generation.",
                g.documents as u64,
            ),
            (
                "kefu_passages",
                "Passages in the live generation.",
                g.passages as u64,
            ),
            (
                "kefu_http_inflight",
                "CPU-bound requests admitted now.",
                g.inflight as u64,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let _ = writeln!(out, "# HELP kefu_http_unavailable_total Requests answered 503 (saturated, timed out or not ready).\n# TYPE kefu_http_unavailable_total counter\nkefu_http_unavailable_total {}", m.rejected_busy);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.request("/v1/search", "POST", 200, 0.003);
        m.request("/v1/search", "POST", 200, 0.2);
        m.request("/v1/search", "POST", 503, 0.0001);
        m.embedding(0.009);
        let text = m.render(&Gauges {
            ready: true,
            generation: 4,
            documents: 10,
            passages: 99,
            inflight: 0,
        });
        assert!(text.contains(
            "kefu_http_requests_total{route=\"/v1/search\",method=\"POST\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "kefu_http_request_duration_seconds_bucket{route=\"/v1/search\",le=\"0.005\"} 2"
        ));
        assert!(text.contains(
            "kefu_http_request_duration_seconds_bucket{route=\"/v1/search\",le=\"+Inf\"} 3"
        ));
        assert!(text.contains("kefu_query_embedding_seconds_count 1"));
        assert!(text.contains("kefu_index_generation 4"));
        assert!(text.contains("kefu_passages 99"));
        assert!(text.contains("kefu_http_unavailable_total 1"));
    }
}
