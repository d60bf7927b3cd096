//! Checkpoints of the reference implementations → Mellow voice files: Matcha-TTS acoustic
//! models, HiFi-GAN generators and Vocos vocoders, from PyTorch files or safetensors.
//!
//! A checkpoint is untrusted input: the pickle reader runs no Python, accepts only the globals a
//! tensor checkpoint needs (see [`pickle::ALLOWED_GLOBALS`]) and reads no archive entry beyond
//! the bytes its tensors need, so a crafted file is refused with a message, never executed,
//! inflated or allowed to exhaust memory. A converted file is loaded once before it is written,
//! so a file that would not load is never saved.

pub mod checkpoint;
pub mod matcha;
pub mod pickle;
pub mod pitched;
pub mod shapes;
pub mod vocoders;

use std::path::Path;

use anyhow::{Context, Result};
use mellow_engine::Voice;

pub use checkpoint::{read_checkpoint, Checkpoint};
pub use matcha::{matcha_voice, MatchaOptions};
pub use vocoders::{harmonic_vocoder, hifigan_vocoder, vocos_vocoder, HifiganVariant};

/// What a converted file records about itself; each field has a sensible default.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The voice's name (default: the checkpoint's file stem).
    pub name: Option<String>,
    /// Where the weights came from (default: "converted from the ... <file name>").
    pub provenance: Option<String>,
    /// The weights' license.
    pub license: String,
}

impl Default for Provenance {
    fn default() -> Self {
        Self {
            name: None,
            provenance: None,
            license: "unknown".into(),
        }
    }
}

impl Provenance {
    fn name_for(&self, input: &Path) -> String {
        self.name.clone().unwrap_or_else(|| {
            input
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "voice".into())
        })
    }

    fn provenance_for(&self, input: &Path, what: &str) -> String {
        self.provenance.clone().unwrap_or_else(|| {
            let file = input
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("converted from the {what} {file}")
        })
    }
}

/// Loads `voice`'s models once (a file that would not load is never written), then saves it at
/// `output`, as f16 when asked (half the size).
pub fn save_voice(voice: &Voice, output: &Path, f16: bool) -> Result<()> {
    mellow_engine::Synthesizer::new(voice, None).context("the converted weights do not load")?;
    voice.save(output, f16)?;
    Ok(())
}
