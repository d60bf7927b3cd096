//! `mellow serve` in-process on loopback, spoken to over raw sockets: the speech endpoint whole
//! and streamed, its errors, a full queue, a client that leaves mid-stream, slow clients, the
//! Wyoming protocol one-shot and streaming, metrics and a graceful shutdown.

use std::time::{Duration, Instant};

use mellow_server::wyoming::{encode_event, read_event};
use mellow_server::{Limits, Server, ServerConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn start(workers: usize, queue: usize, limits: Limits) -> Server {
    let config = ServerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        wyoming: Some("127.0.0.1:0".parse().unwrap()),
        workers,
        queue,
        voices: None,
        limits,
    };
    Server::start(config).await.expect("the server starts")
}

/// A whole HTTP/1.1 exchange: status, headers (lower-case names) and the de-chunked body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn request_bytes(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    out
}

async fn http(server: &Server, method: &str, path: &str, body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(server.http_addr.unwrap()).await.unwrap();
    stream
        .write_all(&request_bytes(method, path, body))
        .await
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    parse_reply(&raw)
}

fn speech(input: &str, extra: Value) -> Vec<u8> {
    let mut body = json!({"model": "tts-1", "input": input, "voice": "alloy"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    serde_json::to_vec(&body).unwrap()
}

fn rms16(pcm: &[u8]) -> f64 {
    let n = pcm.len() / 2;
    let sum: f64 = pcm
        .chunks_exact(2)
        .map(|b| (i16::from_le_bytes([b[0], b[1]]) as f64 / 32768.0).powi(2))
        .sum();
    (sum / n.max(1) as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_comes_back_as_a_wav_stream_and_as_pcm() {
    let server = start(1, 4, Limits::default()).await;
    let wav = http(
        &server,
        "POST",
        "/v1/audio/speech",
        &speech("Hello there.", json!({})),
    )
    .await;
    assert_eq!(wav.status, 200);
    assert_eq!(wav.header("content-type"), Some("audio/wav"));
    assert_eq!(&wav.body[..4], b"RIFF");
    let pcm = &wav.body[44..];
    assert!(pcm.len() / 2 > 24_000 / 2, "{} samples", pcm.len() / 2);
    assert!(rms16(pcm) > 0.01);
    let raw = http(
        &server,
        "POST",
        "/v1/audio/speech",
        &speech(
            "Hello there.",
            json!({"response_format": "pcm", "sample_rate": 16000}),
        ),
    )
    .await;
    assert_eq!(
        (raw.status, raw.header("x-sample-rate")),
        (200, Some("16000"))
    );
    let ratio = raw.body.len() as f64 / pcm.len() as f64;
    assert!((ratio - 16.0 / 24.0).abs() < 0.01, "{ratio}");
    let timed = http(
        &server,
        "POST",
        "/v1/audio/speech",
        &speech("It costs $5.", json!({"response_format": "json"})),
    )
    .await;
    assert_eq!(timed.status, 200);
    let timed = timed.json();
    let words: Vec<&str> = timed["timings"]["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["text"].as_str().unwrap())
        .collect();
    assert_eq!(words, ["It", "costs", "$5."]);
    assert!(timed["audio"].as_str().unwrap().starts_with("UklGR")); // "RIFF"
    let voices = http(&server, "GET", "/v1/voices", b"").await.json();
    assert!(voices["voices"][0]["name"].is_string());
    let metrics = String::from_utf8(http(&server, "GET", "/metrics", b"").await.body).unwrap();
    assert!(
        metrics.contains("mellow_requests_total{protocol=\"http\",outcome=\"ok\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mellow_time_to_first_byte_seconds_count 3"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors() {
    let server = start(1, 4, Limits::default()).await;
    for (body, status, needle) in [
        (b"{not json".to_vec(), 400, "not a speech request"),
        (br#"{"input": 5}"#.to_vec(), 400, "input"),
        (br#"{"input": "x", "speed": "fast"}"#.to_vec(), 400, "speed"),
        (br#"{"input": "x", "bogus": 1}"#.to_vec(), 400, "bogus"),
        (speech("x", json!({"voice": "nobody"})), 400, "nobody"),
        (speech("x", json!({"response_format": "flac"})), 400, "flac"),
        (
            speech("<speak>x</speak>", json!({"ssml": "yes"})),
            400,
            "ssml",
        ),
        (speech("  ", json!({})), 400, "empty"),
        (speech("x", json!({"pitch_range": 9})), 400, "pitch range"),
        (speech("x", json!({"loudness": "loud"})), 400, "loudness"),
        (
            speech("x", json!({"loudness": -3})),
            400,
            "loudness (LUFS) must be",
        ),
        (
            speech("<speak><s>open</speak>", json!({"ssml": true})),
            400,
            "SSML line 1",
        ),
        (speech(&"a".repeat(300_000), json!({})), 413, "over"),
    ] {
        let reply = http(&server, "POST", "/v1/audio/speech", &body).await;
        assert_eq!(
            reply.status,
            status,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(needle), "{needle}: {message}");
    }
    assert_eq!(http(&server, "GET", "/nowhere", b"").await.status, 404);
    assert_eq!(
        http(&server, "GET", "/v1/audio/speech", b"").await.status,
        405
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_at_once_with_retry_after() {
    let server = start(1, 1, Limits::default()).await;
    let long = speech(
        &"This sentence keeps the only worker busy for a while. ".repeat(6),
        json!({"response_format": "pcm"}),
    );
    // One speaking, one waiting: both hold their connections open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.http_addr.unwrap()).await.unwrap();
        s.write_all(&request_bytes("POST", "/v1/audio/speech", &long))
            .await
            .unwrap();
        held.push(s);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let refused = http(&server, "POST", "/v1/audio/speech", &long).await;
    let took = started.elapsed();
    assert_eq!(
        refused.status,
        429,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(took < Duration::from_millis(10), "refused after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_stops_its_synthesis() {
    let server = start(1, 4, Limits::default()).await;
    let long = speech(
        &"A long text that would take many seconds to speak in full. ".repeat(20),
        json!({"response_format": "pcm"}),
    );
    let mut s = TcpStream::connect(server.http_addr.unwrap()).await.unwrap();
    s.write_all(&request_bytes("POST", "/v1/audio/speech", &long))
        .await
        .unwrap();
    let mut first = [0u8; 4096];
    let n = s.read(&mut first).await.unwrap();
    assert!(n > 0);
    drop(s);
    // The worker notices at its next chunk: the in-flight count falls to zero at once, and the
    // next request is answered without waiting for the long one.
    let shared = server.shared().clone();
    let left = Instant::now();
    while shared.metrics.in_flight() > 0 {
        assert!(
            left.elapsed() < Duration::from_secs(2),
            "still speaking to nobody"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let next = http(
        &server,
        "POST",
        "/v1/audio/speech",
        &speech("Next.", json!({})),
    )
    .await;
    assert_eq!(next.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_without_harming_others() {
    let limits = Limits {
        read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let server = start(1, 4, limits).await;
    // Headers that never finish.
    let mut slow = TcpStream::connect(server.http_addr.unwrap()).await.unwrap();
    slow.write_all(b"POST /v1/audio/speech HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // A body that never arrives.
    let mut stalled = TcpStream::connect(server.http_addr.unwrap()).await.unwrap();
    stalled
        .write_all(b"POST /v1/audio/speech HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
        .await
        .unwrap();
    // A half-open Wyoming connection.
    let mut silent = TcpStream::connect(server.wyoming_addr.unwrap())
        .await
        .unwrap();
    let ok = http(
        &server,
        "POST",
        "/v1/audio/speech",
        &speech("Still here.", json!({})),
    )
    .await;
    assert_eq!(ok.status, 200);
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "a client that never finished its headers is still connected"
    );
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), stalled.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf).contains(" 408 "),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), silent.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf).contains("\"error\""));
}

/// Wyoming events up to and including one of `last` kind: their kinds and their payloads joined.
async fn events_until<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    last: &str,
) -> (Vec<String>, Vec<u8>) {
    let (mut kinds, mut audio) = (Vec::new(), Vec::new());
    loop {
        let e = read_event(reader).await.unwrap().unwrap();
        kinds.push(e.kind.clone());
        audio.extend(e.payload);
        if e.kind == last {
            return (kinds, audio);
        }
    }
}

async fn wyoming_send(stream: &mut TcpStream, kind: &str, data: Value) {
    stream
        .write_all(&encode_event(kind, &data, &[]))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wyoming_describes_and_speaks_whole_and_streamed() {
    let server = start(1, 4, Limits::default()).await;
    let stream = TcpStream::connect(server.wyoming_addr.unwrap())
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write
        .write_all(&encode_event("describe", &json!({}), &[]))
        .await
        .unwrap();
    let info = read_event(&mut reader).await.unwrap().unwrap();
    assert_eq!(info.kind, "info");
    assert_eq!(info.data["tts"][0]["supports_synthesize_streaming"], true);
    let voice = info.data["tts"][0]["voices"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();

    write
        .write_all(&encode_event(
            "synthesize",
            &json!({"text": "Hello there.", "voice": {"name": voice}}),
            &[],
        ))
        .await
        .unwrap();
    let (kinds, audio) = events_until(&mut reader, "audio-stop").await;
    assert_eq!(kinds.first().map(String::as_str), Some("audio-start"));
    assert!(audio.len() / 2 > 22_050 / 2 && rms16(&audio) > 0.01);

    for (kind, data) in [
        ("synthesize-start", json!({"voice": {"name": voice}})),
        (
            "synthesize-chunk",
            json!({"text": "First sentence here. Sec"}),
        ),
        ("synthesize-chunk", json!({"text": "ond one follows."})),
        (
            "synthesize",
            json!({"text": "First sentence here. Second one follows."}),
        ),
        ("synthesize-stop", json!({})),
    ] {
        write
            .write_all(&encode_event(kind, &data, &[]))
            .await
            .unwrap();
    }
    let (kinds, audio) = events_until(&mut reader, "synthesize-stopped").await;
    assert_eq!(kinds[0], "audio-start");
    assert_eq!(
        &kinds[kinds.len() - 2..],
        ["audio-stop", "synthesize-stopped"]
    );
    assert_eq!(kinds.iter().filter(|k| *k == "audio-start").count(), 1);
    assert!(audio.len() / 2 > 22_050 * 2, "{} samples", audio.len() / 2);
    let mut bad = TcpStream::connect(server.wyoming_addr.unwrap())
        .await
        .unwrap();
    wyoming_send(&mut bad, "synthesize-chunk", json!({"text": "no start"})).await;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), bad.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf).contains("without synthesize-start"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_requests_finish() {
    let server = start(1, 4, Limits::default()).await;
    let addr = server.http_addr.unwrap();
    let body = speech(
        "A request that is being answered when the server is told to stop.",
        json!({"response_format": "pcm"}),
    );
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request_bytes("POST", "/v1/audio/speech", &body))
        .await
        .unwrap();
    let mut first = [0u8; 1];
    s.read_exact(&mut first).await.unwrap();
    let shutdown = tokio::spawn(server.shutdown());
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    let mut raw = first.to_vec();
    raw.extend(rest);
    let reply = parse_reply(&raw);
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.len() / 2 > 24_000,
        "{} samples",
        reply.body.len() / 2
    );
    tokio::time::timeout(Duration::from_secs(15), shutdown)
        .await
        .unwrap()
        .unwrap();
}
