//! The default voice compiled into the binary, so rendering needs nothing downloaded.
//! `engine/voices/default.safetensors` is made by the training tools (see docs/training.md).

use super::file::Voice;
use crate::error::Result;

static DEFAULT_VOICE: &[u8] = include_bytes!("../../voices/default.safetensors");
/// The built-in voice's intonation predictor and duration correction
/// (`tools/train/train_intonation.py` on its encoder), kept beside the voice file rather than
/// inside it, so that they can be retrained on their own.
static DEFAULT_INTONATION: &[u8] = include_bytes!("../../voices/default-intonation.safetensors");

/// The built-in voice, if this build has one.
pub fn default_voice() -> Option<Result<Voice>> {
    Some(
        Voice::from_bytes(DEFAULT_VOICE, "the built-in voice").and_then(|voice| {
            let predictor = candle_core::safetensors::load_buffer(
                DEFAULT_INTONATION,
                &candle_core::Device::Cpu,
            )?;
            Ok(voice.with_tensors(predictor))
        }),
    )
}
