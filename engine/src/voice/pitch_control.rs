//! What a voice can do with pitch, read off the parts its file holds: whether its decoder is
//! told the F0, whether it predicts intonation, and whether its vocoder plays a given F0.

use super::Voice;
use crate::acoustic::{intonation, pitch_condition};
use crate::vocoder::VocoderConfig;

/// How a voice obeys pitch requests (`--pitch`, `--pitch-range`, a conditioning file's curve).
///
/// ```
/// use mellow_engine::voice::resolve_voice;
/// let control = resolve_voice("").unwrap().pitch_control();
/// // The built-in voice predicts its intonation and its vocoder plays the F0 it is told.
/// assert!(control.intonation_predictor && control.vocoder_follows_f0);
/// assert!(control.pitch_range_works());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PitchControl {
    /// The decoder is conditioned on frame-level F0, so the mel itself carries the pitch asked.
    pub f0_conditioned_decoder: bool,
    /// An intonation predictor gives plain text its F0 curve.
    pub intonation_predictor: bool,
    /// The vocoder plays the F0 it is told with the spectral envelope kept.
    pub vocoder_follows_f0: bool,
}

impl PitchControl {
    /// `--pitch-range` needs an F0 to scale and a vocoder that plays it.
    pub fn pitch_range_works(&self) -> bool {
        self.intonation_predictor && self.vocoder_follows_f0
    }

    /// `--pitch` keeps the formants where the vocoder plays a given F0; elsewhere it moves the
    /// whole spectrum, like a tape played faster.
    pub fn pitch_keeps_formants(&self) -> bool {
        self.vocoder_follows_f0
    }
}

impl Voice {
    /// What this voice can do with pitch (see [`PitchControl`]).
    pub fn pitch_control(&self) -> PitchControl {
        // The same tensors whose presence makes the acoustic model load each part.
        let holds =
            |prefix: &str, marker: &str| self.tensors().contains_key(&format!("{prefix}.{marker}"));
        PitchControl {
            f0_conditioned_decoder: holds(pitch_condition::PREFIX, pitch_condition::MARKER),
            intonation_predictor: holds(intonation::PREFIX, intonation::MARKER),
            vocoder_follows_f0: matches!(self.config.vocoder, Some(VocoderConfig::Harmonic(_))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::vocoder::factory::build_vocoder;
    use crate::voice::embedded;
    use candle_core::{Device, Tensor};
    use std::collections::HashMap;

    #[test]
    fn the_voice_file_alone_has_no_intonation_and_a_vocoder_that_plays_its_mel() {
        // Without its tuning and the harmonic vocoder: the built-in file with its own Vocos.
        let control = embedded::vocos_vocoder().unwrap().pitch_control();
        assert!(!control.intonation_predictor && !control.vocoder_follows_f0);
        assert!(!control.pitch_range_works() && !control.pitch_keeps_formants());
    }

    #[test]
    fn the_vocoder_answer_agrees_with_the_vocoder_built() {
        // The answer is read off the config; the vocoder built from it must say the same.
        for voice in [embedded::vocos_vocoder(), embedded::f0_vocoder()] {
            let voice = voice.unwrap();
            let config = voice.config.vocoder.as_ref().unwrap();
            let vocoder =
                build_vocoder(config, &voice.config.mel, voice.var_builder().pp("vocoder"))
                    .unwrap();
            assert_eq!(
                vocoder.follows_f0(),
                voice.pitch_control().vocoder_follows_f0,
                "{}",
                vocoder.name()
            );
        }
    }

    #[test]
    fn a_decoder_with_a_pitch_projection_is_told_f0() {
        let voice = embedded::vocos_vocoder().unwrap();
        let projection = Tensor::zeros((80, 2, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let with = voice.with_tensors(HashMap::from([(
            "pitch.proj.weight".to_string(),
            projection,
        )]));
        assert!(with.pitch_control().f0_conditioned_decoder);
    }
}
