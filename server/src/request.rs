//! OpenAI's speech request (`POST /v1/audio/speech`) with Mellow's own fields, checked field by
//! field: a wrong type or value is an error naming the field.

use serde::Deserialize;

use mellow_engine::synth::Loudness;
use mellow_engine::SynthesisOptions;

/// Output sample rate when a request does not ask for one: OpenAI's `pcm` is 24 kHz.
pub const DEFAULT_RATE: u32 = 24_000;

/// The audio container of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// A WAV stream: its header says "as long as it goes", as streaming servers write.
    Wav,
    /// Raw 16-bit little-endian mono PCM.
    Pcm,
    /// One JSON object once the audio is made: `{"audio": base64 WAV, "sample_rate",
    /// "timings": {words, phonemes, marks}}` (the word and phoneme timings `render --timings`
    /// writes).
    Json,
}

/// A speech request as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeechRequest {
    /// Ignored beyond being a string: OpenAI clients always send one (`tts-1`, `gpt-4o-mini-tts`).
    #[serde(default)]
    pub model: Option<String>,
    pub input: String,
    #[serde(default)]
    pub voice: Option<String>,
    #[serde(default)]
    pub response_format: Option<String>,
    /// 0.25 to 4.0, as OpenAI's.
    #[serde(default)]
    pub speed: Option<f32>,
    /// `audio` (the only one: the audio streams as it is made).
    #[serde(default)]
    pub stream_format: Option<String>,
    /// OpenAI's voice instructions: not followed (Mellow's knobs are below).
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub steps: Option<usize>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Semitones.
    #[serde(default)]
    pub pitch: Option<f32>,
    /// Intonation range (0 monotone, 1 the voice's own).
    #[serde(default)]
    pub pitch_range: Option<f32>,
    /// Output loudness: a number (LUFS) or "off" (default -20 LUFS).
    #[serde(default)]
    pub loudness: Option<LoudnessField>,
    /// The input is SSML.
    #[serde(default)]
    pub ssml: Option<bool>,
    /// Output rate in Hz (default 24 000).
    #[serde(default)]
    pub sample_rate: Option<u32>,
}

/// A loudness as JSON gives it: a number in LUFS or a word (`off`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LoudnessField {
    Lufs(f32),
    Word(String),
}

impl LoudnessField {
    fn parse(&self) -> Result<Loudness, String> {
        let parsed = match self {
            LoudnessField::Lufs(lufs) => Ok(Loudness::Target(*lufs)),
            LoudnessField::Word(word) => word.parse::<Loudness>(),
        };
        parsed.map_err(|e| format!("loudness: {e}"))
    }
}

/// A request checked and ready to queue.
#[derive(Debug, Clone)]
pub struct CheckedRequest {
    pub input: String,
    pub voice: String,
    pub format: ResponseFormat,
    pub ssml: bool,
    pub options: SynthesisOptions,
    pub sample_rate: u32,
}

/// Parses and checks a request body. The error says which field is wrong and why.
///
/// ```
/// use mellow_server::request::{parse_speech_request, ResponseFormat};
/// let ok = parse_speech_request(br#"{"model":"tts-1","input":"Hi","voice":"alloy","response_format":"pcm"}"#, 1000).unwrap();
/// assert_eq!(ok.format, ResponseFormat::Pcm);
/// let err = parse_speech_request(br#"{"input": 5}"#, 1000).unwrap_err();
/// assert!(err.contains("input"), "{err}");
/// ```
pub fn parse_speech_request(body: &[u8], max_text_bytes: usize) -> Result<CheckedRequest, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let request: SpeechRequest =
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            match e.path().to_string().as_str() {
                "." | "?" => format!("the request body is not a speech request: {}", e.inner()),
                path => format!("field `{path}`: {}", e.inner()),
            }
        })?;
    de.end()
        .map_err(|e| format!("the request body has more after its JSON: {e}"))?;
    if request.input.trim().is_empty() {
        return Err("input is empty: give some text to speak".into());
    }
    if request.input.len() > max_text_bytes {
        return Err(format!(
            "input is {} bytes; at most {max_text_bytes} are taken in one request",
            request.input.len()
        ));
    }
    let format = match request.response_format.as_deref().unwrap_or("wav") {
        "wav" => ResponseFormat::Wav,
        "pcm" => ResponseFormat::Pcm,
        "json" => ResponseFormat::Json,
        other => {
            return Err(format!(
                "response_format \"{other}\" is not made here: wav, pcm or json (audio with word timings)"
            ))
        }
    };
    if let Some(stream) = request.stream_format.as_deref() {
        if stream != "audio" {
            return Err(format!(
                "stream_format \"{stream}\" is not made here: audio (the audio streams as it is made)"
            ));
        }
    }
    if let Some(speed) = request.speed {
        if !(0.25..=4.0).contains(&speed) {
            return Err(format!("speed must be 0.25..=4.0 (got {speed})"));
        }
    }
    let sample_rate = request.sample_rate.unwrap_or(DEFAULT_RATE);
    mellow_engine::synth::check_output_rate(sample_rate)
        .map_err(|e| format!("sample_rate: {e}"))?;
    let _ = (&request.model, &request.instructions);
    Ok(CheckedRequest {
        input: request.input,
        voice: request.voice.unwrap_or_default(),
        format,
        ssml: request.ssml.unwrap_or(false),
        options: SynthesisOptions {
            steps: request.steps,
            temperature: request.temperature,
            rate: request.speed,
            pitch: request.pitch.unwrap_or(0.0),
            pitch_range: request.pitch_range,
            seed: request.seed.unwrap_or(0),
            loudness: request
                .loudness
                .as_ref()
                .map(LoudnessField::parse)
                .transpose()?,
            ..Default::default()
        },
        sample_rate,
    })
}
