//! The vocoder a config describes, built from its weights: one place that knows every kind.

use candle_nn::VarBuilder;

use super::harmonic::HarmonicVocoder;
use super::hifigan::HifiGan;
use super::phase::PhaseVocoder;
use super::vocos::Vocos;
use super::{Vocoder, VocoderConfig};
use crate::audio::MelConfig;

/// Builds the vocoder `cfg` describes from the weights under `vb` (a voice file's `vocoder.`
/// prefix); a weight missing or of the wrong shape is an error naming it.
///
/// ```
/// use mellow_engine::audio::MelConfig;
/// use mellow_engine::vocoder::{factory::build_vocoder, VocoderConfig};
/// let vb = candle_nn::VarBuilder::zeros(candle_core::DType::F32, &candle_core::Device::Cpu);
/// let phase = build_vocoder(&VocoderConfig::Phase { iterations: 8 }, &MelConfig::default(), vb).unwrap();
/// assert_eq!(phase.hop_length(), MelConfig::default().hop_length);
/// ```
pub fn build_vocoder(
    cfg: &VocoderConfig,
    mel: &MelConfig,
    vb: VarBuilder,
) -> candle_core::Result<Box<dyn Vocoder>> {
    Ok(match cfg {
        VocoderConfig::Vocos { .. } => match Vocos::from_config(cfg, vb) {
            Some(vocos) => Box::new(vocos?),
            None => candle_core::bail!("not a Vocos config"),
        },
        VocoderConfig::Hifigan { .. } => Box::new(HifiGan::new(cfg, vb)?),
        VocoderConfig::Harmonic(sizes) => {
            Box::new(HarmonicVocoder::new(sizes, mel.sample_rate, vb)?)
        }
        VocoderConfig::Phase { iterations } => Box::new(PhaseVocoder::new(mel, *iterations)),
    })
}

/// The weights-free vocoder for a mel setting, with that setting.
pub fn phase_vocoder(mel: &MelConfig, iterations: usize) -> (Box<dyn Vocoder>, MelConfig) {
    (Box::new(PhaseVocoder::new(mel, iterations)), mel.clone())
}
