//! Prometheus metrics, kept in atomics and written in the text exposition format: requests by
//! protocol and outcome, errors by kind, queue depth, requests in flight, time to first byte and
//! real-time factor histograms.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the time-to-first-byte histogram, in seconds.
const TTFB_BUCKETS: &[f64] = &[0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds of the real-time-factor histogram (compute seconds per audio second).
const RTF_BUCKETS: &[f64] = &[0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (count, bound) in self.counts.iter_mut().zip(bounds) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, bounds: &[f64]) {
        for (i, bound) in bounds.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

/// Counters and histograms for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// (protocol, outcome) → count.
    requests: Mutex<Vec<((String, String), u64)>>,
    /// kind → count.
    errors: Mutex<Vec<(String, u64)>>,
    in_flight: AtomicU64,
    ttfb: Mutex<Histogram>,
    rtf: Mutex<Histogram>,
    audio_seconds: Mutex<f64>,
}

fn bump<K: PartialEq>(list: &Mutex<Vec<(K, u64)>>, key: K) {
    let mut list = list
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => list.push((key, 1)),
    }
}

impl Metrics {
    /// A request ended: `protocol` (http, wyoming), `outcome` (ok, error, cancelled, refused).
    pub fn request(&self, protocol: &str, outcome: &str) {
        bump(&self.requests, (protocol.to_string(), outcome.to_string()));
    }

    /// An error of `kind` (bad_request, queue_full, timeout, synthesis, ...).
    pub fn error(&self, kind: &str) {
        bump(&self.errors, kind.to_string());
    }

    pub fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    pub fn finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn first_byte(&self, seconds: f64) {
        let mut h = self
            .ttfb
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        h.observe(TTFB_BUCKETS, seconds);
    }

    /// A synthesis took `compute` seconds for `audio` seconds of speech.
    pub fn synthesized(&self, compute: f64, audio: f64) {
        if audio > 0.0 {
            let mut h = self
                .rtf
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            h.observe(RTF_BUCKETS, compute / audio);
        }
        *self
            .audio_seconds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += audio;
    }

    /// The text exposition format, with the queue depth given.
    pub fn render(&self, queue_depth: usize, workers: usize) -> String {
        let mut out = String::new();
        let lock = |m: &Mutex<Vec<((String, String), u64)>>| {
            m.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        };
        out.push_str("# HELP mellow_requests_total Requests by protocol and outcome.\n# TYPE mellow_requests_total counter\n");
        for ((protocol, outcome), n) in lock(&self.requests) {
            let _ = writeln!(
                out,
                "mellow_requests_total{{protocol=\"{protocol}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP mellow_errors_total Errors by kind.\n# TYPE mellow_errors_total counter\n",
        );
        for (kind, n) in self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(out, "mellow_errors_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP mellow_queue_depth Requests waiting for a worker.\n# TYPE mellow_queue_depth gauge\nmellow_queue_depth {queue_depth}");
        let _ = writeln!(out, "# HELP mellow_in_flight Requests being answered.\n# TYPE mellow_in_flight gauge\nmellow_in_flight {}", self.in_flight());
        let _ = writeln!(out, "# HELP mellow_workers Synthesis threads.\n# TYPE mellow_workers gauge\nmellow_workers {workers}");
        let audio = *self
            .audio_seconds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(out, "# HELP mellow_audio_seconds_total Seconds of audio made.\n# TYPE mellow_audio_seconds_total counter\nmellow_audio_seconds_total {audio}");
        out.push_str("# HELP mellow_time_to_first_byte_seconds From request to first audio byte.\n# TYPE mellow_time_to_first_byte_seconds histogram\n");
        self.ttfb
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .write(&mut out, "mellow_time_to_first_byte_seconds", TTFB_BUCKETS);
        out.push_str("# HELP mellow_real_time_factor Compute seconds per audio second.\n# TYPE mellow_real_time_factor histogram\n");
        self.rtf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .write(&mut out, "mellow_real_time_factor", RTF_BUCKETS);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_what_happened() {
        let m = Metrics::default();
        m.request("http", "ok");
        m.request("http", "ok");
        m.error("queue_full");
        m.first_byte(0.07);
        let text = m.render(3, 2);
        assert!(text.contains("mellow_requests_total{protocol=\"http\",outcome=\"ok\"} 2"));
        assert!(text.contains("mellow_errors_total{kind=\"queue_full\"} 1"));
        assert!(text.contains("mellow_queue_depth 3"));
        assert!(text.contains("mellow_time_to_first_byte_seconds_bucket{le=\"0.1\"} 1"));
        assert!(text.contains("mellow_time_to_first_byte_seconds_bucket{le=\"0.05\"} 0"));
    }
}
