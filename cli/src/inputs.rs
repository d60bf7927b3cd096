//! Reading what the user gives: text (argument, stdin, file), Piper-style JSON lines, conditioning
//! files and mels.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Tensor;
use mellow_engine::error::candle_message;
use serde::Deserialize;

/// Longest text rendered into one file; longer input goes line by line with `--out-dir`.
pub const MAX_TEXT_BYTES: usize = 200_000;

/// UTF-8 text from bytes, naming where invalid bytes sit.
pub fn utf8(bytes: Vec<u8>, source: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        anyhow::anyhow!("{source} is not valid UTF-8 text (invalid byte at offset {at})")
    })
}

/// The text of `--input FILE` (or `-` for stdin).
pub fn read_file_text(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        return read_stdin();
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    utf8(bytes, &path.display().to_string())
}

pub fn read_stdin() -> Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    utf8(bytes, "standard input")
}

/// Refuses text too long for one output file.
pub fn check_length(text: &str) -> Result<()> {
    if text.len() > MAX_TEXT_BYTES {
        bail!(
            "the text is {} bytes, more than {MAX_TEXT_BYTES} for one WAV file: use --input FILE --out-dir DIR to render it line by line",
            text.len()
        );
    }
    Ok(())
}

/// One line of Piper's `--json-input`.
#[derive(Debug, Deserialize)]
pub struct JsonLine {
    pub text: String,
    #[serde(default)]
    pub output_file: Option<PathBuf>,
    #[serde(default)]
    pub speaker_id: Option<usize>,
}

pub fn parse_json_lines(text: &str) -> Result<Vec<JsonLine>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("JSON input line {}: expected {{\"text\": ...}}", i + 1))
        })
        .collect()
}

/// A conditioning file: phonemes with durations in frames, per symbol or per id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditioning {
    /// IPA symbols, one per entry (or one string, split into symbols).
    #[serde(default)]
    pub phonemes: Option<PhonemeList>,
    /// Phoneme ids of the voice, as `mellow phonemize` prints them.
    #[serde(default)]
    pub ids: Option<Vec<i64>>,
    /// Frames per entry of `phonemes` or `ids`.
    pub durations: Vec<f32>,
    /// Pitch shift in semitones over time, stretched over the frames (on top of `--pitch`).
    #[serde(default)]
    pub pitch: Option<Vec<f32>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PhonemeList {
    Symbols(Vec<String>),
    Text(String),
}

pub fn read_conditioning(path: &Path) -> Result<Conditioning> {
    let text = read_file_text(path)?;
    let c: Conditioning = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid conditioning file", path.display()))?;
    if c.phonemes.is_some() == c.ids.is_some() {
        bail!(
            "{}: give either \"phonemes\" or \"ids\" with \"durations\"",
            path.display()
        );
    }
    if let Some(bad) = c
        .durations
        .iter()
        .find(|d| !d.is_finite() || **d < 0.0 || **d > 1000.0)
    {
        bail!(
            "{}: duration {bad} is not a frame count in 0..=1000",
            path.display()
        );
    }
    Ok(c)
}

/// A mel from a `.npy` file, `[n_mels, frames]` or `[1, n_mels, frames]`, as `[1, n_mels, frames]`.
pub fn read_mel(path: &Path) -> Result<Tensor> {
    let t = Tensor::read_npy(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the mel {}: {}",
            path.display(),
            candle_message(&e)
        )
    })?;
    let t = t.to_dtype(candle_core::DType::F32)?;
    match t.dims() {
        [_, _] => Ok(t.unsqueeze(0)?),
        [1, _, _] => Ok(t),
        other => bail!(
            "the mel {} has shape {other:?}; expected [n_mels, frames]",
            path.display()
        ),
    }
}
