//! What a caller may ask of a synthesis, with every bound named in one place: the CLI, the
//! pipeline, the plugin and a server check against these and nothing else.

use std::ops::RangeInclusive;

use crate::acoustic::config::DecoderObjective;
use crate::acoustic::{AcousticConfig, Sampler};
use crate::audio::pitch::MAX_SEMITONES;
use crate::error::{Error, Result};
use crate::voice::config::SynthesisDefaults;

/// Sampler steps a caller may ask for.
pub const STEPS: RangeInclusive<usize> = 1..=1000;
/// Noise scales of the start point a caller may ask for.
pub const TEMPERATURE: RangeInclusive<f64> = 0.0..=10.0;
/// Speaking rates a caller may ask for (2 is twice as fast).
pub const RATE: RangeInclusive<f32> = 0.1..=10.0;
/// Output sample rates, in Hz, the engine resamples to.
pub const OUTPUT_RATE: RangeInclusive<u32> = 8_000..=384_000;
/// Pause inserted between sentences, in seconds.
pub const SENTENCE_PAUSE: f32 = 0.2;
/// Intonation ranges a caller may ask for: 0 speaks on one pitch, 1 as the voice does, 2 with
/// twice its swings (in semitones, around the voice's mean pitch).
pub const PITCH_RANGE: RangeInclusive<f32> = 0.0..=4.0;
/// Integrated loudness targets a caller may ask for, in LUFS (ITU-R BS.1770).
pub const LOUDNESS: RangeInclusive<f32> = -40.0..=-10.0;
/// The loudness speech comes out at unless asked otherwise, in LUFS: Piper's level (its
/// peak-normalised speech reads a median of -19.9 LUFS on the dev sentences), 3 LU above EBU
/// R128's broadcast -23. The true peak stays under -1 dBTP (see
/// [`crate::audio::limit::NORMALISED_CEILING_DB`]).
pub const DEFAULT_LOUDNESS: f32 = -20.0;
/// Lead-ins, in seconds, a caller may ask for.
pub const LEAD_INS: RangeInclusive<f32> = 0.0..=10.0;
/// Silence before an utterance spoken from text, in seconds. Speech that starts at its very first
/// sample loses a soft first sound: whisper heard "She finished…" as "you finished…" and Piper's
/// teacher voice gets the same from us; 50 ms before it is enough (measured on ten sentences with
/// short first words, and on the dev list).
pub const LEAD_IN: f32 = 0.05;

/// How loud speech comes out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loudness {
    /// Every utterance at this integrated loudness (LUFS), through the voice's loudness
    /// calibration (see [`super::loudness`]), its peaks limited under -1 dBTP.
    Target(f32),
    /// The level the models make, only guarded against full-scale bursts.
    Raw,
}

impl std::str::FromStr for Loudness {
    type Err = Error;

    /// `off` (or `raw`) for the raw level, else a target in LUFS such as `-16`; the bounds are
    /// checked when the options are resolved.
    ///
    /// ```
    /// use mellow_engine::synth::Loudness;
    /// assert_eq!("-16".parse::<Loudness>().unwrap(), Loudness::Target(-16.0));
    /// assert_eq!("off".parse::<Loudness>().unwrap(), Loudness::Raw);
    /// assert!("loud".parse::<Loudness>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("raw") {
            return Ok(Loudness::Raw);
        }
        let number = s.strip_suffix("LUFS").unwrap_or(s).trim();
        match number.parse::<f32>() {
            Ok(lufs) if lufs.is_finite() => Ok(Loudness::Target(lufs)),
            _ => Err(Error::input(format!(
                "loudness must be a level in LUFS such as -16, or `off` (got `{s}`)"
            ))),
        }
    }
}

/// Run-time knobs; `None` takes the voice's default.
///
/// ```
/// use mellow_engine::SynthesisOptions;
/// let faster_and_higher = SynthesisOptions { rate: Some(1.3), pitch: 2.0, ..Default::default() };
/// assert_eq!(faster_and_higher.steps, None); // the voice's own
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthesisOptions {
    pub steps: Option<usize>,
    pub temperature: Option<f64>,
    pub sampler: Option<Sampler>,
    /// Speaking rate: 2.0 speaks twice as fast.
    pub rate: Option<f32>,
    /// Pitch shift in semitones, speed unchanged.
    pub pitch: f32,
    /// Intonation range (see [`PITCH_RANGE`]; default 1). Needs a voice with an intonation
    /// predictor and an F0-aware vocoder.
    pub pitch_range: Option<f32>,
    pub seed: u64,
    pub speaker: usize,
    /// Silence before the utterance in seconds (default: the utterance's own, see
    /// [`super::Utterance::lead_in`]).
    pub lead_in: Option<f32>,
    /// Output loudness (default: [`DEFAULT_LOUDNESS`] for voices with a loudness calibration,
    /// [`Loudness::Raw`] for the others). A target needs a calibrated voice.
    pub loudness: Option<Loudness>,
}

/// Settings with every default resolved and checked (see [`SynthesisOptions::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedOptions {
    pub steps: usize,
    pub temperature: f64,
    pub sampler: Sampler,
    pub rate: f32,
    pub pitch: f32,
    pub pitch_range: f32,
    pub seed: u64,
    pub speaker: usize,
    pub lead_in: Option<f32>,
    /// Filled in by [`super::Synthesizer::resolve`], which knows the voice's calibration;
    /// [`Loudness::Raw`] unless asked for from here.
    pub loudness: Loudness,
}

impl SynthesisOptions {
    /// Fills in `defaults` and checks every value against its bound and, when given, against the
    /// acoustic model (its speakers and the samplers its decoder fits).
    ///
    /// ```
    /// use mellow_engine::voice::config::SynthesisDefaults;
    /// use mellow_engine::SynthesisOptions;
    /// let defaults = SynthesisDefaults::default();
    /// let ok = SynthesisOptions { steps: Some(8), ..Default::default() }.resolve(&defaults, None);
    /// assert_eq!(ok.unwrap().steps, 8);
    /// let bad = SynthesisOptions { rate: Some(0.0), ..Default::default() }.resolve(&defaults, None);
    /// assert!(bad.unwrap_err().to_string().contains("rate"));
    /// ```
    pub fn resolve(
        &self,
        defaults: &SynthesisDefaults,
        model: Option<&AcousticConfig>,
    ) -> Result<ResolvedOptions> {
        let resolved = ResolvedOptions {
            steps: self.steps.unwrap_or(defaults.steps),
            temperature: self.temperature.unwrap_or(defaults.temperature),
            sampler: self.sampler.unwrap_or(defaults.sampler),
            rate: self.rate.unwrap_or(defaults.rate),
            pitch: self.pitch,
            pitch_range: self.pitch_range.unwrap_or(1.0),
            seed: self.seed,
            speaker: self.speaker,
            lead_in: self.lead_in,
            loudness: self.loudness.unwrap_or(Loudness::Raw),
        };
        check_within("steps", resolved.steps, &STEPS)?;
        check_within("temperature", resolved.temperature, &TEMPERATURE)?;
        check_within("rate", resolved.rate, &RATE)?;
        check_pitch(resolved.pitch)?;
        check_within("pitch range", resolved.pitch_range, &PITCH_RANGE)?;
        if let Some(lead_in) = resolved.lead_in {
            check_within("lead-in", lead_in, &LEAD_INS)?;
        }
        if let Loudness::Target(lufs) = resolved.loudness {
            check_within("loudness (LUFS)", lufs, &LOUDNESS)?;
        }
        if let Some(model) = model {
            check_speaker(resolved.speaker, model.n_spks)?;
            check_sampler_fits(resolved.sampler, model.objective)?;
        }
        Ok(resolved)
    }
}

/// Refuses a value outside `bounds` (NaN included), naming the option.
fn check_within<T: PartialOrd + std::fmt::Display>(
    name: &str,
    value: T,
    bounds: &RangeInclusive<T>,
) -> Result<()> {
    if !bounds.contains(&value) {
        return Err(Error::input(format!(
            "{name} must be {}..={} (got {value})",
            bounds.start(),
            bounds.end()
        )));
    }
    Ok(())
}

/// Refuses an output rate outside [`OUTPUT_RATE`].
///
/// ```
/// assert!(mellow_engine::synth::check_output_rate(48_000).is_ok());
/// assert!(mellow_engine::synth::check_output_rate(100).is_err());
/// ```
pub fn check_output_rate(rate: u32) -> Result<()> {
    if !OUTPUT_RATE.contains(&rate) {
        return Err(Error::input(format!(
            "sample rate {rate} Hz is outside {}..{} Hz",
            OUTPUT_RATE.start(),
            OUTPUT_RATE.end()
        )));
    }
    Ok(())
}

/// Refuses a speaker the voice does not have, naming how many it has.
///
/// ```
/// assert!(mellow_engine::synth::check_speaker(0, 1).is_ok());
/// assert!(mellow_engine::synth::check_speaker(3, 2).unwrap_err().to_string().contains("0..=1"));
/// ```
pub fn check_speaker(speaker: usize, speakers: usize) -> Result<()> {
    if speaker >= speakers {
        return Err(Error::input(format!(
            "speaker {speaker} does not exist: this voice has {speakers} speaker{} (0{})",
            if speakers == 1 { "" } else { "s" },
            if speakers == 1 {
                String::new()
            } else {
                format!("..={}", speakers - 1)
            }
        )));
    }
    Ok(())
}

/// Refuses a pitch shift beyond [`MAX_SEMITONES`] either way.
pub fn check_pitch(semitones: f32) -> Result<()> {
    if !(semitones.is_finite() && semitones.abs() <= MAX_SEMITONES) {
        return Err(Error::input(format!(
            "pitch shift must be within ±{MAX_SEMITONES} semitones (got {semitones})"
        )));
    }
    Ok(())
}

/// Flow-matching decoders take the flow samplers, score-diffusion decoders the diffusion ones.
fn check_sampler_fits(sampler: Sampler, objective: DecoderObjective) -> Result<()> {
    let fits = match objective {
        DecoderObjective::FlowMatching => sampler.is_flow_matching(),
        DecoderObjective::ScoreDiffusion => !sampler.is_flow_matching(),
    };
    if !fits {
        return Err(Error::input(format!(
            "sampler `{sampler}` does not fit this voice's decoder ({objective:?}): use {}",
            if sampler.is_flow_matching() {
                "ode or sde"
            } else {
                "euler, heun or midpoint"
            }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_is_checked_and_named() {
        let defaults = SynthesisDefaults::default();
        let refused = |opts: SynthesisOptions| {
            opts.resolve(&defaults, None)
                .unwrap_err()
                .to_string()
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        };
        let refused_message =
            |opts: SynthesisOptions| opts.resolve(&defaults, None).unwrap_err().to_string();
        let o = SynthesisOptions::default;
        assert_eq!(
            refused(SynthesisOptions {
                steps: Some(0),
                ..o()
            }),
            "steps"
        );
        assert_eq!(
            refused(SynthesisOptions {
                temperature: Some(f64::NAN),
                ..o()
            }),
            "temperature"
        );
        assert_eq!(
            refused(SynthesisOptions {
                rate: Some(11.0),
                ..o()
            }),
            "rate"
        );
        assert_eq!(refused(SynthesisOptions { pitch: 25.0, ..o() }), "pitch");
        let range = SynthesisOptions {
            pitch_range: Some(-1.0),
            ..o()
        };
        assert!(refused_message(range).starts_with("pitch range must be 0..=4"));
        let loud = SynthesisOptions {
            loudness: Some(Loudness::Target(-3.0)),
            ..o()
        };
        assert!(refused_message(loud).starts_with("loudness (LUFS) must be -40..=-10"));
        let resolved = o().resolve(&defaults, None).unwrap();
        assert_eq!(
            (resolved.steps, resolved.sampler, resolved.rate),
            (defaults.steps, defaults.sampler, defaults.rate)
        );
    }

    #[test]
    fn a_sampler_must_fit_the_decoder() {
        assert!(check_sampler_fits(Sampler::Heun, DecoderObjective::FlowMatching).is_ok());
        assert!(
            check_sampler_fits(Sampler::DiffusionOde, DecoderObjective::FlowMatching)
                .unwrap_err()
                .to_string()
                .contains("euler, heun or midpoint")
        );
        assert!(check_sampler_fits(Sampler::Euler, DecoderObjective::ScoreDiffusion).is_err());
    }
}
