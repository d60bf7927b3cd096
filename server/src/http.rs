//! The HTTP API: `POST /v1/audio/speech` (OpenAI's shape, streamed with chunked transfer as the
//! audio is made), `GET /v1/voices`, `/healthz`, `/readyz`, `/metrics`. Connections are served by
//! hyper directly so slow clients get a header timeout; bodies have a size limit and a read
//! timeout of their own.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::request::{parse_speech_request, ResponseFormat};
use crate::workers::{Job, Refused, Reply};
use crate::Shared;

/// Accepts connections until the server drains.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = router(shared.clone());
    crate::accept_until_drained(listener, shared, move |stream, shared| {
        let service = TowerToHyperService::new(app.clone());
        let read_timeout = shared.limits.read_timeout;
        async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let _ = connection.await;
        }
    })
    .await;
}

/// The routes, on `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/audio/speech", post(speech))
        .route("/v1/voices", get(voices))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such endpoint: POST /v1/audio/speech, GET /v1/voices, /healthz, /readyz, /metrics") })
        .with_state(shared)
}

/// An OpenAI-style error body.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let kind = match status.is_client_error() {
        true => "invalid_request_error",
        false => "server_error",
    };
    let body = serde_json::json!({"error": {"message": message, "type": kind, "code": code}});
    (status, Json(body)).into_response()
}

/// 429 or 503 with a Retry-After, in seconds.
fn refuse(status: StatusCode, code: &str, message: &str, retry_after: u32) -> Response {
    let mut response = error(status, code, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

async fn voices(State(shared): State<Arc<Shared>>) -> Response {
    let voices = &shared.catalogue.voices;
    Json(serde_json::json!({
        "voices": voices,
        "default": voices.first().map(|v| v.name.clone()),
        "aliases": crate::voices::OPENAI_VOICES,
    }))
    .into_response()
}

async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    if *shared.draining.borrow() {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "shutting down",
            1,
        );
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let text = shared
        .metrics
        .render(shared.workers.queue_depth(), shared.workers.count());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Counts a request in flight until dropped, with its outcome.
struct InFlight {
    shared: Arc<Shared>,
    outcome: &'static str,
}

impl InFlight {
    /// How the request ended (counted when it is dropped).
    fn end(&mut self, outcome: &'static str) {
        self.outcome = outcome;
    }

    fn new(shared: Arc<Shared>) -> Self {
        shared.metrics.started();
        Self {
            shared,
            outcome: "cancelled",
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.metrics.finished();
        self.shared.metrics.request("http", self.outcome);
    }
}

async fn speech(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let arrived = Instant::now();
    let limits = shared.limits.clone();
    let reject = |status: StatusCode, kind: &str, message: &str| {
        shared.metrics.error(kind);
        shared.metrics.request("http", "refused");
        error(status, kind, message)
    };
    if *shared.draining.borrow() {
        shared.metrics.error("draining");
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the server is shutting down; try another replica",
            1,
        );
    }
    let body = tokio::time::timeout(
        limits.read_timeout,
        axum::body::to_bytes(request.into_body(), limits.max_body_bytes),
    )
    .await;
    let body = match body {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                &format!("the request body is over {} bytes", limits.max_body_bytes),
            )
        }
        Err(_) => {
            return reject(
                StatusCode::REQUEST_TIMEOUT,
                "slow_body",
                &format!(
                    "the request body took over {} s to arrive",
                    limits.read_timeout.as_secs()
                ),
            )
        }
    };
    let checked = match parse_speech_request(&body, limits.max_text_bytes) {
        Ok(c) => c,
        Err(message) => return reject(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let Some(voice) = shared.catalogue.find(&checked.voice).cloned() else {
        return reject(
            StatusCode::BAD_REQUEST,
            "unknown_voice",
            &format!("no voice \"{}\": GET /v1/voices lists them", checked.voice),
        );
    };
    let job = Job {
        voice,
        text: checked.input,
        ssml: checked.ssml,
        options: checked.options,
        output_rate: checked.sample_rate,
        arrived,
        timeout: limits.request_timeout,
        timings: checked.format == ResponseFormat::Json,
    };
    let mut replies = match shared.workers.submit(job) {
        Ok(r) => r,
        Err(Refused::Full) => {
            shared.metrics.error("queue_full");
            shared.metrics.request("http", "refused");
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "queue_full",
                "every worker is busy and the queue is full; retry shortly",
                1,
            );
        }
        Err(Refused::Stopping) => {
            shared.metrics.error("draining");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "draining",
                "the server is shutting down",
                1,
            );
        }
    };
    let mut in_flight = InFlight::new(shared.clone());
    if checked.format == ResponseFormat::Json {
        return whole_with_timings(replies, checked.sample_rate, arrived, in_flight).await;
    }
    // The first reply decides the status: an error before any audio is a proper error response.
    let mut warnings = Vec::new();
    let first = loop {
        match replies.recv().await {
            Some(Reply::Warnings(w)) => warnings.extend(w),
            Some(Reply::Timing(_)) => {}
            Some(reply) => break reply,
            None => {
                in_flight.end("error");
                shared.metrics.error("synthesis");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "synthesis",
                    "the synthesis stopped",
                );
            }
        }
    };
    let first_audio = match first {
        Reply::Audio(bytes) => bytes,
        Reply::Done { .. } => Vec::new(),
        Reply::Failed { message, client } => {
            in_flight.end("error");
            let (status, kind) = match client {
                true => (StatusCode::BAD_REQUEST, "bad_input"),
                false => (StatusCode::INTERNAL_SERVER_ERROR, "synthesis"),
            };
            shared.metrics.error(kind);
            return error(status, kind, &message);
        }
        Reply::Warnings(_) | Reply::Timing(_) => Vec::new(),
    };
    shared.metrics.first_byte(arrived.elapsed().as_secs_f64());
    let mut head = match checked.format {
        ResponseFormat::Wav => {
            mellow_engine::audio::wav::wav_header(checked.sample_rate, u32::MAX).to_vec()
        }
        ResponseFormat::Pcm | ResponseFormat::Json => Vec::new(),
    };
    head.extend_from_slice(&first_audio);
    let content_type = match checked.format {
        ResponseFormat::Wav => "audio/wav",
        ResponseFormat::Pcm | ResponseFormat::Json => "audio/pcm",
    };
    let stream = audio_stream(head, replies, in_flight);
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-sample-rate", HeaderValue::from(checked.sample_rate));
    if let Some(first) = warnings.first() {
        let ascii: String = first
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&ascii) {
            headers.insert("x-mellow-warning", value);
        }
    }
    response
}

/// The response body: the head, then each chunk as it comes; an error mid-way ends the body
/// abruptly so the client sees a broken transfer, not a short file that looks whole.
fn audio_stream(
    head: Vec<u8>,
    replies: mpsc::Receiver<Reply>,
    in_flight: InFlight,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let state = (Some(head), replies, in_flight);
    futures_util::stream::unfold(state, |(head, mut replies, mut in_flight)| async move {
        if let Some(head) = head {
            return Some((Ok(Bytes::from(head)), (None, replies, in_flight)));
        }
        loop {
            match replies.recv().await {
                Some(Reply::Audio(bytes)) => {
                    return Some((Ok(Bytes::from(bytes)), (None, replies, in_flight)))
                }
                Some(Reply::Warnings(_) | Reply::Timing(_)) => {}
                Some(Reply::Done { .. }) => {
                    in_flight.end("ok");
                    return None;
                }
                Some(Reply::Failed { message, .. }) => {
                    in_flight.end("error");
                    in_flight.shared.metrics.error("synthesis");
                    let e = std::io::Error::other(message);
                    return Some((Err(e), (None, replies, in_flight)));
                }
                None => {
                    in_flight.end("error");
                    return None;
                }
            }
        }
    })
}

/// The whole utterance as JSON: a base64 WAV, its rate, its warnings and its timings.
async fn whole_with_timings(
    mut replies: mpsc::Receiver<Reply>,
    rate: u32,
    arrived: Instant,
    mut in_flight: InFlight,
) -> Response {
    let mut pcm = Vec::new();
    let mut timings = mellow_engine::synth::Timings::new(rate);
    let mut warnings = Vec::new();
    loop {
        match replies.recv().await {
            Some(Reply::Audio(bytes)) => {
                if pcm.is_empty() {
                    in_flight
                        .shared
                        .metrics
                        .first_byte(arrived.elapsed().as_secs_f64());
                }
                pcm.extend(bytes);
            }
            Some(Reply::Timing(event)) => timings.add(event),
            Some(Reply::Warnings(w)) => warnings.extend(w),
            Some(Reply::Done { .. }) => break,
            Some(Reply::Failed { message, client }) => {
                in_flight.end("error");
                let (status, kind) = match client {
                    true => (StatusCode::BAD_REQUEST, "bad_input"),
                    false => (StatusCode::INTERNAL_SERVER_ERROR, "synthesis"),
                };
                in_flight.shared.metrics.error(kind);
                return error(status, kind, &message);
            }
            None => {
                in_flight.end("error");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "synthesis",
                    "the synthesis stopped",
                );
            }
        }
    }
    in_flight.end("ok");
    let data_bytes = u32::try_from(pcm.len()).unwrap_or(u32::MAX);
    let mut wav = mellow_engine::audio::wav::wav_header(rate, data_bytes).to_vec();
    wav.extend_from_slice(&pcm);
    let timings: Value = serde_json::from_str(&timings.to_json()).unwrap_or(Value::Null);
    Json(serde_json::json!({
        "audio": base64(&wav),
        "sample_rate": rate,
        "warnings": warnings,
        "timings": timings,
    }))
    .into_response()
}

/// Standard base64 (RFC 4648, with padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), coded);
        }
    }
}
