//! The Wyoming protocol (OHF-Voice/wyoming), as Home Assistant speaks it: each event is a JSON
//! header line (`type`, optional `data`, `data_length`, `payload_length`), then that many bytes
//! of JSON data, then the binary payload. Served: `describe` → `info`; `synthesize` (one shot);
//! `synthesize-start` / `synthesize-chunk` / `synthesize-stop` (streaming text: each sentence is
//! spoken as soon as it is complete) → `audio-start`, `audio-chunk`…, `audio-stop`, then
//! `synthesize-stopped`. A connection silent for the idle timeout, or sending an oversized or
//! malformed event, is told why (`error`) and closed; other connections never notice.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use mellow_engine::text::sentences::sentence_ends;
use mellow_engine::SynthesisOptions;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::voices::VoiceEntry;
use crate::workers::{Job, Refused, Reply};
use crate::Shared;

/// The longest header line, data block or payload taken from a client.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Bytes of audio per `audio-chunk` (about 50 ms at 22 050 Hz).
const CHUNK_BYTES: usize = 2048;

/// Accepts connections until the server drains.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    crate::accept_until_drained(listener, shared, |stream, shared| async move {
        let mut connection = Connection::new(stream, shared);
        if let Err(message) = connection.run().await {
            let error = json!({"text": message, "code": "mellow"});
            let _ = connection.send("error", error, &[]).await;
        }
    })
    .await;
}

/// One event as read.
#[derive(Debug)]
pub struct WyomingEvent {
    pub kind: String,
    pub data: Value,
    pub payload: Vec<u8>,
}

/// Reads one event; `Ok(None)` at a clean end of the connection.
pub async fn read_event<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Option<WyomingEvent>, String> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_EVENT_BYTES as u64 + 1)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("reading: {e}"))?;
    if n == 0 {
        return Ok(None);
    }
    if line.len() > MAX_EVENT_BYTES {
        return Err(format!("an event header is over {MAX_EVENT_BYTES} bytes"));
    }
    let header: Value =
        serde_json::from_slice(&line).map_err(|e| format!("an event header is not JSON: {e}"))?;
    let kind = header
        .get("type")
        .and_then(Value::as_str)
        .ok_or("an event header has no \"type\"")?
        .to_string();
    let length = |field: &str| -> Result<usize, String> {
        match header.get(field) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => match v.as_u64() {
                Some(n) if n as usize <= MAX_EVENT_BYTES => Ok(n as usize),
                Some(n) => Err(format!("{field} {n} is over {MAX_EVENT_BYTES} bytes")),
                None => Err(format!("{field} is not a length")),
            },
        }
    };
    let (data_length, payload_length) = (length("data_length")?, length("payload_length")?);
    let mut data = header.get("data").cloned().unwrap_or(json!({}));
    if data_length > 0 {
        let mut bytes = vec![0u8; data_length];
        reader
            .read_exact(&mut bytes)
            .await
            .map_err(|e| format!("reading an event's data: {e}"))?;
        let extra: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("an event's data is not JSON: {e}"))?;
        match (&mut data, extra) {
            (Value::Object(d), Value::Object(e)) => d.extend(e),
            _ => return Err("an event's data is not a JSON object".into()),
        }
    }
    let mut payload = vec![0u8; payload_length];
    reader
        .read_exact(&mut payload)
        .await
        .map_err(|e| format!("reading an event's payload: {e}"))?;
    Ok(Some(WyomingEvent {
        kind,
        data,
        payload,
    }))
}

/// An event's bytes: header line, data, payload.
pub fn encode_event(kind: &str, data: &Value, payload: &[u8]) -> Vec<u8> {
    let mut header = json!({"type": kind, "version": "1.5.3"});
    let data_bytes = match data.as_object().is_some_and(|d| !d.is_empty()) {
        true => serde_json::to_vec(data).unwrap_or_default(),
        false => Vec::new(),
    };
    if !data_bytes.is_empty() {
        header["data_length"] = json!(data_bytes.len());
    }
    if !payload.is_empty() {
        header["payload_length"] = json!(payload.len());
    }
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(&data_bytes);
    out.extend_from_slice(payload);
    out
}

struct Connection {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    shared: Arc<Shared>,
}

/// Text of a streaming synthesis not yet spoken, and the voice it speaks with.
struct Streaming {
    voice: VoiceEntry,
    text: String,
    stopping: bool,
    audio_started: bool,
}

impl Connection {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Self {
        let (read, write) = stream.into_split();
        Self {
            reader: BufReader::new(read),
            writer: write,
            shared,
        }
    }

    async fn send(&mut self, kind: &str, data: Value, payload: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(&encode_event(kind, &data, payload))
            .await
            .map_err(|e| format!("writing: {e}"))
    }

    async fn next_event(&mut self) -> Result<Option<WyomingEvent>, String> {
        let idle = self.shared.limits.idle_timeout;
        match tokio::time::timeout(idle, read_event(&mut self.reader)).await {
            Ok(event) => event,
            Err(_) => Err(format!("no event for {} s: closing", idle.as_secs())),
        }
    }

    async fn run(&mut self) -> Result<(), String> {
        let mut streaming: Option<Streaming> = None;
        while let Some(event) = self.next_event().await? {
            match event.kind.as_str() {
                "describe" => {
                    let info = self.info();
                    self.send("info", info, &[]).await?;
                }
                // In a streaming synthesis the client also sends the whole text for older servers.
                "synthesize" if streaming.is_some() => {}
                "synthesize" => {
                    let text = event
                        .data
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let voice = self.voice(&event.data)?;
                    let ssml =
                        event.data.get("text_format").and_then(Value::as_str) == Some("ssml");
                    self.speak(&voice, text, ssml, true, true).await?;
                }
                "synthesize-start" => {
                    streaming = Some(Streaming {
                        voice: self.voice(&event.data)?,
                        text: String::new(),
                        stopping: false,
                        audio_started: false,
                    });
                }
                "synthesize-chunk" => {
                    let Some(s) = streaming.as_mut() else {
                        return Err("synthesize-chunk without synthesize-start".into());
                    };
                    s.text.push_str(
                        event
                            .data
                            .get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    );
                    if s.text.len() > self.shared.limits.max_text_bytes {
                        return Err(format!(
                            "the streamed text is over {} bytes",
                            self.shared.limits.max_text_bytes
                        ));
                    }
                    self.speak_complete_sentences(&mut streaming).await?;
                }
                "synthesize-stop" => {
                    let Some(s) = streaming.as_mut() else {
                        return Err("synthesize-stop without synthesize-start".into());
                    };
                    s.stopping = true;
                    self.speak_complete_sentences(&mut streaming).await?;
                    streaming = None;
                    self.send("synthesize-stopped", json!({}), &[]).await?;
                }
                "ping" => self.send("pong", json!({}), &[]).await?,
                // Other events (audio, wake words…) are not for a speech server: ignored.
                _ => {}
            }
        }
        Ok(())
    }

    /// Speaks the complete sentences of the streamed text (all of it when stopping).
    async fn speak_complete_sentences(
        &mut self,
        streaming: &mut Option<Streaming>,
    ) -> Result<(), String> {
        let Some(s) = streaming.as_mut() else {
            return Ok(());
        };
        let cut = match s.stopping {
            true => s.text.len(),
            false => sentence_ends(&s.text).last().copied().unwrap_or(0),
        };
        if cut == 0 {
            if s.stopping && s.audio_started {
                self.send("audio-stop", json!({}), &[]).await?;
            }
            return Ok(());
        }
        let text: String = s.text.drain(..cut).collect();
        let (voice, first, last) = (s.voice.clone(), !s.audio_started, s.stopping);
        s.audio_started = true;
        if text.trim().is_empty() {
            if last && !first {
                self.send("audio-stop", json!({}), &[]).await?;
            }
            return Ok(());
        }
        self.speak(&voice, &text, false, first, last).await
    }

    fn voice(&self, data: &Value) -> Result<VoiceEntry, String> {
        let name = data
            .get("voice")
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.shared
            .catalogue
            .find(name)
            .cloned()
            .ok_or_else(|| format!("no voice \"{name}\": describe lists them"))
    }

    /// Speaks `text`, sending `audio-start` first when `start` and `audio-stop` last when `stop`.
    async fn speak(
        &mut self,
        voice: &VoiceEntry,
        text: &str,
        ssml: bool,
        start: bool,
        stop: bool,
    ) -> Result<(), String> {
        let rate = voice.sample_rate;
        let format = json!({"rate": rate, "width": 2, "channels": 1});
        if start {
            self.send("audio-start", format.clone(), &[]).await?;
        }
        if text.trim().is_empty() {
            if stop {
                self.send("audio-stop", json!({}), &[]).await?;
            }
            return Ok(());
        }
        let job = Job {
            voice: voice.clone(),
            text: text.to_string(),
            ssml,
            options: SynthesisOptions::default(),
            output_rate: rate,
            arrived: Instant::now(),
            timeout: self.shared.limits.request_timeout,
            timings: false,
        };
        let mut replies: mpsc::Receiver<Reply> = match self.shared.workers.submit(job) {
            Ok(r) => r,
            Err(Refused::Full) => {
                self.shared.metrics.error("queue_full");
                self.shared.metrics.request("wyoming", "refused");
                return Err("every worker is busy and the queue is full; retry shortly".into());
            }
            Err(Refused::Stopping) => return Err("the server is shutting down".into()),
        };
        self.shared.metrics.started();
        let arrived = Instant::now();
        let mut first = true;
        let mut pending: VecDeque<u8> = VecDeque::new();
        let mut outcome = "cancelled";
        let result = 'replies: loop {
            match replies.recv().await {
                Some(Reply::Audio(bytes)) => {
                    if first {
                        self.shared
                            .metrics
                            .first_byte(arrived.elapsed().as_secs_f64());
                        first = false;
                    }
                    pending.extend(bytes);
                    while pending.len() >= CHUNK_BYTES {
                        let chunk: Vec<u8> = pending.drain(..CHUNK_BYTES).collect();
                        // The client has gone: dropping the replies stops the worker.
                        if let Err(e) = self.send("audio-chunk", format.clone(), &chunk).await {
                            break 'replies Err(e);
                        }
                    }
                }
                Some(Reply::Warnings(_) | Reply::Timing(_)) => {}
                Some(Reply::Done { .. }) => {
                    outcome = "ok";
                    break Ok(());
                }
                Some(Reply::Failed { message, .. }) => {
                    outcome = "error";
                    self.shared.metrics.error("synthesis");
                    break Err(message);
                }
                None => {
                    outcome = "error";
                    break Err("the synthesis stopped".to_string());
                }
            }
        };
        self.shared.metrics.finished();
        self.shared.metrics.request("wyoming", outcome);
        result?;
        if !pending.is_empty() {
            let chunk: Vec<u8> = pending.drain(..).collect();
            self.send("audio-chunk", format.clone(), &chunk).await?;
        }
        if stop {
            self.send("audio-stop", json!({}), &[]).await?;
        }
        Ok(())
    }

    /// `info`: one TTS program with every voice, streaming supported.
    fn info(&self) -> Value {
        let attribution = json!({"name": "Mellow", "url": "https://example.invalid/mellow"});
        let voices: Vec<Value> = self
            .shared
            .catalogue
            .voices
            .iter()
            .map(|v| {
                json!({
                    "name": v.name, "attribution": attribution, "installed": true,
                    "description": format!("{} ({}, {} Hz)", v.name, v.language, v.sample_rate),
                    "version": env!("CARGO_PKG_VERSION"), "languages": [v.language], "speakers": null,
                })
            })
            .collect();
        json!({
            "asr": [], "handle": [], "intent": [], "wake": [], "mic": [], "snd": [],
            "tts": [{
                "name": "mellow", "attribution": attribution, "installed": true,
                "description": "Mellow: fast diffusion speech synthesis",
                "version": env!("CARGO_PKG_VERSION"), "voices": voices,
                "supports_synthesize_streaming": true,
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_round_trip_and_bad_ones_say_why() {
        let bytes = encode_event("audio-chunk", &json!({"rate": 22050}), &[1, 2, 3]);
        let mut reader = BufReader::new(&bytes[..]);
        let event = read_event(&mut reader).await.unwrap().unwrap();
        assert_eq!(
            (event.kind.as_str(), event.payload.as_slice()),
            ("audio-chunk", &[1u8, 2, 3][..])
        );
        assert_eq!(event.data["rate"], 22050);
        assert!(read_event(&mut reader).await.unwrap().is_none());
        for bad in [
            &b"not json\n"[..],
            b"{\"data\":{}}\n",
            b"{\"type\":\"x\",\"payload_length\":99999999}\n",
        ] {
            let mut reader = BufReader::new(bad);
            assert!(read_event(&mut reader).await.is_err());
        }
    }
}
