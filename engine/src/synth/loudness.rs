//! Loudness normalisation that a stream can do too. A stream cannot measure an utterance before
//! playing it, so a voice carries its calibration instead: the integrated loudness (LUFS) of its
//! speech at unity gain, measured once over [`CALIBRATION_SENTENCES`] and stored in the voice as
//! `loudness.reference_lufs`. Every utterance is then played at `target - reference` dB, and a peak
//! limiter keeps it under -1 dBTP. Stream and render apply the same gain and limiter, sample for
//! sample. A voice's utterances spread about its reference by about 1 LU (measured: the dev
//! sentences' standard deviation, 1.0-1.2 LU, against 1.4 LU for Piper's peak normalisation).

use std::collections::HashMap;

use candle_core::Tensor;

use super::options::{Loudness, SynthesisOptions};
use super::synthesizer::Synthesizer;
use crate::audio::limit::{PeakLimiter, NORMALISED_CEILING_DB};
use crate::audio::loudness::integrated_loudness;
use crate::error::{Error, Result};

/// The voice tensor holding its calibration, a scalar in LUFS.
pub const REFERENCE_TENSOR: &str = "loudness.reference_lufs";
/// Calibrations a voice file may hold (anything else is a damaged file).
const REFERENCE_BOUNDS: std::ops::RangeInclusive<f32> = -70.0..=0.0;

/// Harvard sentences (IEEE 1969, lists 1 and 2): short and phonetically balanced; then ten long
/// ones of our own, with a question and numbers, because long sentences come out quieter (the
/// built-in voice: median -24.5 LUFS over these ten, -23.2 over the Harvard ones).
pub const CALIBRATION_SENTENCES: [&str; 30] = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "When the train finally pulled into the station, most of the passengers had already gathered their bags and were waiting by the doors.",
    "Would you mind checking whether the meeting on Thursday has been moved to the afternoon, or is it still at nine?",
    "The committee reviewed forty-two applications this year, and only a handful of them met every requirement.",
    "After the storm passed, the neighbours walked along the river to see how high the water had risen overnight.",
    "Please remember to turn off the lights in the kitchen before you leave, because the bill last month was far too high.",
    "Scientists have long suspected that the tiny island was once connected to the mainland by a narrow bridge of land.",
    "She opened the old letter carefully, read the first few lines, and then set it down on the table without a word.",
    "If the weather stays clear tomorrow, we could drive up to the lake and have lunch by the water.",
    "The museum will be closed for repairs from the third of March until the end of April.",
    "He had never seen so many stars in the sky, and for a long while he simply stood there and looked up.",
];

/// The calibration a voice's tensors hold, if any; a value out of bounds is an error naming it.
pub fn reference_of(tensors: &HashMap<String, Tensor>, origin: &str) -> Result<Option<f32>> {
    let Some(t) = tensors.get(REFERENCE_TENSOR) else {
        return Ok(None);
    };
    let value = t
        .flatten_all()
        .and_then(|t| t.to_dtype(candle_core::DType::F32))
        .and_then(|t| t.to_vec1::<f32>())
        .ok()
        .filter(|v| v.len() == 1)
        .map(|v| v[0])
        .filter(|v| REFERENCE_BOUNDS.contains(v))
        .ok_or_else(|| {
            Error::voice(format!(
                "{origin}: {REFERENCE_TENSOR} must be one value in {}..={} LUFS",
                REFERENCE_BOUNDS.start(),
                REFERENCE_BOUNDS.end()
            ))
        })?;
    Ok(Some(value))
}

/// Measures a voice's calibration: the median integrated loudness of [`CALIBRATION_SENTENCES`]
/// spoken at the voice's defaults (seed 0) and unity gain.
///
/// ```no_run
/// # fn main() -> mellow_engine::Result<()> {
/// let mut synth = mellow_engine::Synthesizer::for_names("", None, true)?;
/// let lufs = mellow_engine::synth::loudness::measure_reference(&mut synth)?;
/// assert!((-40.0..-10.0).contains(&lufs));
/// # Ok(()) }
/// ```
pub fn measure_reference(synth: &mut Synthesizer) -> Result<f32> {
    let raw = SynthesisOptions {
        loudness: Some(Loudness::Raw),
        ..Default::default()
    };
    let mut levels = Vec::with_capacity(CALIBRATION_SENTENCES.len());
    for sentence in CALIBRATION_SENTENCES {
        let audio = synth.speak_text(sentence, &raw)?;
        if let Some(lufs) = integrated_loudness(&audio.samples, audio.sample_rate) {
            levels.push(lufs);
        }
    }
    if levels.len() < CALIBRATION_SENTENCES.len() / 2 {
        return Err(Error::numeric(
            "the voice is silent on most calibration sentences: no loudness to calibrate",
        ));
    }
    levels.sort_by(f64::total_cmp);
    Ok(levels[levels.len() / 2] as f32)
}

/// The gain and limiter an utterance's samples pass through before the safety limiter.
pub(super) struct OutputLevel {
    gain: f32,
    limiter: Option<PeakLimiter>,
}

impl OutputLevel {
    /// For `loudness` with the voice's `reference` (resolved options never ask for a target
    /// without one; a missing reference then plays at unity gain).
    pub(super) fn new(loudness: Loudness, reference: Option<f32>, rate: u32) -> Self {
        match (loudness, reference) {
            (Loudness::Target(target), Some(reference)) => Self {
                gain: 10f32.powf((target - reference) / 20.0),
                limiter: Some(PeakLimiter::new(NORMALISED_CEILING_DB, rate)),
            },
            _ => Self {
                gain: 1.0,
                limiter: None,
            },
        }
    }

    pub(super) fn apply(&mut self, samples: &mut [f32]) {
        if let Some(limiter) = &mut self.limiter {
            samples.iter_mut().for_each(|s| *s *= self.gain);
            limiter.process(samples);
        }
    }
}

/// The loudness to play at: the caller's, else [`super::options::DEFAULT_LOUDNESS`] where the
/// voice is calibrated and the raw level where it is not; a target asked of an uncalibrated
/// voice is refused, saying how to calibrate it.
pub(super) fn resolve_loudness(
    asked: Option<Loudness>,
    reference: Option<f32>,
) -> Result<Loudness> {
    match (asked, reference) {
        (None, Some(_)) => Ok(Loudness::Target(super::options::DEFAULT_LOUDNESS)),
        (None, None) => Ok(Loudness::Raw),
        (Some(Loudness::Target(_)), None) => Err(Error::input(
            "this voice has no loudness calibration, so it cannot be normalised: play it raw \
             (loudness off) or calibrate it with `mellow convert loudness`",
        )),
        (Some(asked), _) => Ok(asked),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gain_takes_the_reference_to_the_target_and_raw_passes() {
        let mut level = OutputLevel::new(Loudness::Target(-20.0), Some(-26.0), 22_050);
        let mut s = [0.1f32, -0.05];
        level.apply(&mut s);
        assert!((s[0] - 0.1 * 10f32.powf(0.3)).abs() < 1e-6);
        let mut raw = OutputLevel::new(Loudness::Raw, Some(-26.0), 22_050);
        let mut r = [0.1f32, 2.0];
        raw.apply(&mut r);
        assert_eq!(r, [0.1, 2.0]);
    }

    #[test]
    fn a_target_needs_a_calibration() {
        assert_eq!(
            resolve_loudness(None, Some(-24.0)).unwrap(),
            Loudness::Target(-20.0)
        );
        assert_eq!(resolve_loudness(None, None).unwrap(), Loudness::Raw);
        let refused = resolve_loudness(Some(Loudness::Target(-16.0)), None).unwrap_err();
        assert!(refused.to_string().contains("mellow convert loudness"));
        assert_eq!(
            resolve_loudness(Some(Loudness::Raw), None).unwrap(),
            Loudness::Raw
        );
    }

    #[test]
    fn calibrations_out_of_bounds_are_refused() {
        let one = |v: f32| {
            HashMap::from([(
                REFERENCE_TENSOR.to_string(),
                Tensor::new(&[v], &candle_core::Device::Cpu).unwrap(),
            )])
        };
        assert_eq!(reference_of(&one(-24.0), "v").unwrap(), Some(-24.0));
        assert!(reference_of(&one(f32::NAN), "v").is_err());
        assert!(reference_of(&one(3.0), "v")
            .unwrap_err()
            .to_string()
            .contains(REFERENCE_TENSOR));
        assert_eq!(reference_of(&HashMap::new(), "v").unwrap(), None);
    }
}
