//! The default voice compiled into the binary, so rendering needs nothing downloaded.
//! `engine/voices/default.safetensors` is made by the training tools (see docs/training.md).

use super::file::Voice;
use crate::error::Result;

static DEFAULT_VOICE: &[u8] = include_bytes!("../../voices/default.safetensors");
/// The built-in voice's intonation predictor and duration correction
/// (`tools/train/train_intonation.py` on its encoder) and its loudness calibration (`mellow
/// convert loudness`), kept beside the voice file rather than inside it, so that they can be
/// redone on their own.
static DEFAULT_TUNING: &[u8] = include_bytes!("../../voices/default-tuning.safetensors");

/// The built-in voice, if this build has one: the acoustic model of the voice file with its
/// tuning, speaking through the built-in F0-aware vocoder (its intonation, pitch with formants
/// kept, singing; see [`f0_vocoder`]). The voice file's own Vocos stays as [`vocos_vocoder`].
pub fn default_voice() -> Option<Result<Voice>> {
    Some(
        Voice::from_bytes(DEFAULT_VOICE, "the built-in voice").and_then(|voice| {
            let tuning =
                candle_core::safetensors::load_buffer(DEFAULT_TUNING, &candle_core::Device::Cpu)?;
            voice.with_tensors(tuning).with_vocoder(&f0_vocoder()?)
        }),
    )
}

/// The Vocos the built-in voice file holds (the built-in voice's vocoder before the harmonic
/// one): `--vocoder vocos`. It plays the pitch its mel holds.
///
/// ```
/// let vocos = mellow_engine::voice::embedded::vocos_vocoder().unwrap();
/// assert!(vocos.config.vocoder.is_some());
/// ```
pub fn vocos_vocoder() -> Result<Voice> {
    Voice::from_bytes(DEFAULT_VOICE, "the built-in Vocos")
}

/// The built-in F0-aware vocoder (harmonic plus noise, `tools/train/train_harmonic.py`): what
/// sings, and what plays intonation and pitch with the formants kept, for any voice with the
/// built-in voice's mel settings.
static F0_VOCODER: &[u8] = include_bytes!("../../voices/harmonic.safetensors");

/// The built-in F0-aware vocoder as a vocoder file.
///
/// ```
/// let vocoder = mellow_engine::voice::embedded::f0_vocoder().unwrap();
/// assert!(vocoder.config.vocoder.is_some() && vocoder.config.acoustic.is_none());
/// ```
pub fn f0_vocoder() -> Result<Voice> {
    Voice::from_bytes(F0_VOCODER, "the built-in harmonic vocoder")
}
