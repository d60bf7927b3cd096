//! How a segment's pitch is made: a shift in semitones and a curve become either F0 for an
//! F0-aware vocoder (the voice's own intonation, scaled by the pitch range, or a conditioning
//! file's curve in Hz, moved by the shift) or, for vocoders that play the pitch their mel holds,
//! a tape-speed change and a shift of the mel.

use candle_core::Tensor;

use super::options::{check_pitch, ResolvedOptions};
use super::utterance::Segment;
use crate::acoustic::intonation::IntonationRange;
use crate::acoustic::pitch_condition::{F0Source, PitchGuide};
use crate::acoustic::AcousticModel;
use crate::audio::pitch::{shift_pitch, stretch_curve};
use crate::audio::resample::StreamResampler;
use crate::audio::MelConfig;
use crate::error::{Error, Result};

/// How a segment's pitch is moved.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PitchPlan {
    /// A tape-speed offset in semitones (speech made slower by the ratio, played faster).
    pub(super) tape: f32,
    /// Semitones by which the mel itself is shifted, frame by frame (envelope and all).
    pub(super) mel: Option<Vec<f32>>,
    /// Semitones by which an F0-aware vocoder moves F0, envelope kept: a constant, or a curve
    /// stretched over the segment's frames.
    pub(super) vocoder: Option<Vec<f32>>,
}

/// The plan for `segment` at `opts`. An F0-aware vocoder (`f0_aware`) moves F0 itself with the
/// envelope kept: the offset and the curve go to it. Otherwise the offset is a tape-speed change
/// and the curve a mel shift; given durations are kept to the frame, so there the offset joins
/// the curve in the mel.
pub(super) fn pitch_plan(
    segment: &Segment,
    opts: &ResolvedOptions,
    f0_aware: bool,
) -> Result<PitchPlan> {
    check_pitch(opts.pitch)?;
    let curve = segment.pitch_curve.as_deref();
    if curve.is_some_and(<[f32]>::is_empty) {
        return Err(Error::input("the pitch curve is empty"));
    }
    let offset_curve = |c: &[f32]| c.iter().map(|p| p + opts.pitch).collect::<Vec<_>>();
    let plan = if f0_aware {
        PitchPlan {
            tape: 0.0,
            mel: None,
            vocoder: Some(curve.map_or_else(|| vec![opts.pitch], offset_curve)),
        }
    } else if segment.durations.is_some() && (curve.is_some() || opts.pitch != 0.0) {
        PitchPlan {
            tape: 0.0,
            mel: Some(curve.map_or_else(|| vec![opts.pitch], offset_curve)),
            vocoder: None,
        }
    } else {
        PitchPlan {
            tape: opts.pitch,
            mel: curve.map(<[f32]>::to_vec),
            vocoder: None,
        }
    };
    for shift in [&plan.mel, &plan.vocoder].into_iter().flatten() {
        shift.iter().try_for_each(|&p| check_pitch(p))?;
    }
    Ok(plan)
}

/// The intonation to play when the voice has a predictor and the vocoder plays a given F0 (else
/// the mel's own pitch plays); a range other than 1 without both is refused, naming what lacks.
pub(super) fn intonation_plan(
    model: &AcousticModel,
    f0_aware: bool,
    opts: &ResolvedOptions,
    vocoder: &str,
) -> Result<Option<IntonationRange>> {
    let predictor = model.intonation();
    if opts.pitch_range != 1.0 && (predictor.is_none() || !f0_aware) {
        return Err(Error::input(format!(
            "pitch range needs a voice with an intonation predictor and an F0-aware vocoder \
             (this voice has {}; the vocoder is `{vocoder}`{})",
            if predictor.is_some() { "one" } else { "none" },
            if f0_aware {
                ""
            } else {
                ", which plays the pitch its mel holds: use the harmonic vocoder"
            }
        )));
    }
    Ok(predictor.filter(|_| f0_aware).map(|p| IntonationRange {
        mean: p.mean_log_f0(),
        range: opts.pitch_range * p.range_scale(),
    }))
}

/// What an F0-conditioned decoder is told: the F0 the vocoder is asked to play (a given curve,
/// else the voice's intonation), moved up by the vocoder's shift where it rises, so the mel's
/// harmonics sit where the vocoder puts its own. Where the shift lowers the voice the decoder is
/// told the F0 unmoved and the vocoder alone lowers it, envelope kept: the decoder learned low
/// pitches from WORLD re-synthesis, which is rougher there (DNSMOS 2.11 seven semitones down
/// against 3.05 up) than the vocoder's own shift. Without a given curve or an intonation, the
/// decoder's own prediction, unmoved: the vocoder then reads F0 from the mel and moves it itself.
/// A sung melody (`sung`) is not told at all: the decoder makes the mel at its own predicted
/// pitch and the vocoder plays the notes (told the notes, the decoder is misheard more).
pub(super) fn pitch_guide(
    plan: &PitchPlan,
    intonation: Option<&IntonationRange>,
    given_f0: Option<&[f32]>,
    sung: bool,
) -> PitchGuide {
    if sung {
        return PitchGuide::default();
    }
    let source = match (given_f0, intonation) {
        (Some(curve), _) => F0Source::Given(curve.to_vec()),
        (None, Some(range)) => F0Source::Intonation(*range),
        (None, None) => F0Source::Predicted,
    };
    let shift = match (&source, &plan.vocoder) {
        (F0Source::Predicted, _) | (_, None) => vec![0.0],
        (_, Some(shift)) => shift.iter().map(|&s| s.max(0.0)).collect(),
    };
    PitchGuide { source, shift }
}

/// The F0 an F0-aware vocoder was asked to play per frame, in Hz: the curve it followed (log-F0)
/// moved by its shift in semitones (one value, or a curve stretched over the frames).
pub(super) fn asked_f0(log_f0: &[f32], shift: Option<&[f32]>) -> Vec<f32> {
    let frames = log_f0.len();
    let shift = match shift {
        Some(curve) if !curve.is_empty() => stretch_curve(curve, frames),
        _ => vec![0.0; frames],
    };
    log_f0
        .iter()
        .zip(shift)
        .map(|(l, s)| l.exp() * 2f32.powf(s / 12.0))
        .collect()
}

/// A conditioning file's F0 curve in Hz as log-F0 per frame of the segment (its frames are
/// known from the given durations); refused, naming what lacks, without an F0-aware vocoder.
pub(super) fn given_f0_curve(
    segment: &Segment,
    opts: &ResolvedOptions,
    f0_aware: bool,
    vocoder: &str,
) -> Result<Option<Vec<f32>>> {
    let Some(hz) = &segment.f0_hz else {
        return Ok(None);
    };
    let Some(durations) = &segment.durations else {
        return Err(Error::input("a pitch curve in Hz needs durations"));
    };
    if !f0_aware {
        return Err(Error::input(format!(
            "a pitch curve in Hz needs an F0-aware vocoder: `{vocoder}` plays the pitch its mel \
             holds (use the harmonic vocoder, or a curve in semitones)"
        )));
    }
    // The frame count as the mel stream reaches it: the scaled durations summed in order.
    let total = durations.iter().fold(0f32, |acc, d| acc + d / opts.rate);
    let frames = total.max(1.0) as usize;
    let log_hz: Vec<f32> = hz.iter().map(|f| f.ln()).collect();
    Ok(Some(stretch_curve(&log_hz, frames)))
}

/// A pitch offset as a tape played faster or slower: the speech is made slower by the pitch
/// ratio (see [`without_pitch`]) and played that much faster, so its length stays and its
/// fundamental moves by the offset (with the formants). A shift of the mel alone moves the
/// spectral envelope but hardly the fundamental with our vocoders.
pub(super) struct TapeSpeed {
    faster: Option<StreamResampler>,
    played_rate: u32,
    out: Vec<f32>,
}

impl TapeSpeed {
    /// Output samples per sample of speech made at `rate`.
    pub(super) fn speed_factor(&self, rate: u32) -> f64 {
        match &self.faster {
            Some(_) => rate as f64 / self.played_rate as f64,
            None => 1.0,
        }
    }

    pub(super) fn new(rate: u32, semitones: f32) -> Result<Self> {
        let faster = match semitones {
            0.0 => None,
            p => Some(StreamResampler::new(played_rate(rate, p), rate).map_err(Error::input)?),
        };
        Ok(Self {
            faster,
            played_rate: played_rate(rate, semitones),
            out: Vec::new(),
        })
    }

    pub(super) fn push(
        &mut self,
        samples: &[f32],
        emit: &mut dyn FnMut(&[f32]) -> Result<bool>,
    ) -> Result<bool> {
        let Some(resampler) = &mut self.faster else {
            return emit(samples);
        };
        self.out.clear();
        resampler
            .push(samples, &mut self.out)
            .map_err(Error::input)?;
        emit(&self.out)
    }

    pub(super) fn finish(&mut self, emit: &mut dyn FnMut(&[f32]) -> Result<bool>) -> Result<bool> {
        let Some(resampler) = &mut self.faster else {
            return Ok(true);
        };
        self.out.clear();
        resampler.finish(&mut self.out).map_err(Error::input)?;
        Ok(self.out.is_empty() || emit(&self.out)?)
    }
}

/// The options for the speech a pitch offset then speeds up: slower by the pitch ratio.
pub(super) fn without_pitch(opts: &ResolvedOptions) -> ResolvedOptions {
    ResolvedOptions {
        rate: opts.rate / 2f32.powf(opts.pitch / 12.0),
        pitch: 0.0,
        ..*opts
    }
}

/// The rate to declare samples spoken at `rate` so that converting them back to `rate` raises them
/// by `semitones`; rounded to 50 Hz so the resampler's ratio stays small (under 0.04 semitone off).
pub(super) fn played_rate(rate: u32, semitones: f32) -> u32 {
    ((rate as f32 * 2f32.powf(semitones / 12.0) / 50.0).round() as u32).max(1) * 50
}

/// Moves a mel's pitch by the curve's value in each frame (the curve stretched over the frames).
pub(super) fn shift_mel_pitch(mel: Tensor, cfg: &MelConfig, curve: &[f32]) -> Result<Tensor> {
    let (_, bands, frames) = mel.dims3()?;
    let mut values = mel.flatten_all()?.to_vec1::<f32>()?;
    shift_pitch(&mut values, cfg, frames, curve);
    Ok(Tensor::from_vec(values, (1, bands, frames), mel.device())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pitch: f32) -> ResolvedOptions {
        ResolvedOptions {
            steps: 4,
            temperature: 0.5,
            sampler: crate::acoustic::Sampler::Euler,
            rate: 1.0,
            pitch,
            pitch_range: 1.0,
            seed: 0,
            speaker: 0,
            lead_in: None,
            loudness: crate::synth::Loudness::Raw,
        }
    }

    fn segment(durations: Option<Vec<f32>>, pitch_curve: Option<Vec<f32>>) -> Segment {
        let sentence = crate::text::Sentence {
            ids: vec![1],
            ..Default::default()
        };
        Segment {
            sentence,
            durations,
            pitch_curve,
            f0_hz: None,
            sung: false,
            mel: None,
        }
    }

    #[test]
    fn given_durations_keep_their_frames_so_an_offset_moves_the_mel() {
        let plan = |s: Segment| {
            let p = pitch_plan(&s, &options(2.0), false).unwrap();
            (p.tape, p.mel)
        };
        assert_eq!(plan(segment(None, None)), (2.0, None));
        assert_eq!(plan(segment(None, Some(vec![1.0]))), (2.0, Some(vec![1.0])));
        assert_eq!(plan(segment(Some(vec![3.0]), None)), (0.0, Some(vec![2.0])));
        assert_eq!(
            plan(segment(Some(vec![3.0]), Some(vec![-1.0, 1.0]))),
            (0.0, Some(vec![1.0, 3.0]))
        );
        let unshifted = pitch_plan(&segment(Some(vec![3.0]), None), &options(0.0), false);
        assert_eq!(unshifted.unwrap().mel, None);
        assert!(pitch_plan(&segment(None, Some(vec![])), &options(0.0), false).is_err());
        // The sum is what must stay within bounds.
        let beyond = pitch_plan(
            &segment(Some(vec![3.0]), Some(vec![23.0])),
            &options(2.0),
            false,
        );
        assert!(beyond.is_err());
    }

    #[test]
    fn an_f0_aware_vocoder_takes_the_offset_and_the_curve() {
        let plan = pitch_plan(&segment(None, Some(vec![-1.0, 1.0])), &options(2.0), true).unwrap();
        let expected = PitchPlan {
            tape: 0.0,
            mel: None,
            vocoder: Some(vec![1.0, 3.0]),
        };
        assert_eq!(plan, expected);
        let plan = pitch_plan(&segment(Some(vec![3.0]), None), &options(-4.0), true).unwrap();
        assert_eq!((plan.tape, plan.vocoder), (0.0, Some(vec![-4.0])));
    }

    #[test]
    fn the_decoder_is_told_a_rise_and_the_vocoder_alone_lowers() {
        let range = IntonationRange {
            mean: 4.5,
            range: 1.0,
        };
        let plan = pitch_plan(&segment(None, Some(vec![-3.0, 2.0])), &options(1.0), true).unwrap();
        assert_eq!(plan.vocoder, Some(vec![-2.0, 3.0]));
        let guide = pitch_guide(&plan, Some(&range), None, false);
        assert_eq!(guide.source, F0Source::Intonation(range));
        assert_eq!(guide.shift, vec![0.0, 3.0]);
        let given = [4.6, 4.7];
        let guide = pitch_guide(&plan, None, Some(&given), false);
        assert_eq!(guide.source, F0Source::Given(given.to_vec()));
        assert_eq!(guide.shift, vec![0.0, 3.0]);
        // Without a curve to tell, the decoder predicts its own F0 and the vocoder moves it.
        let guide = pitch_guide(&plan, None, None, false);
        assert_eq!(
            (guide.source, guide.shift),
            (F0Source::Predicted, vec![0.0])
        );
        // A sung melody is the vocoder's alone, whatever is given.
        let guide = pitch_guide(&plan, Some(&range), Some(&given), true);
        assert_eq!(guide, PitchGuide::default());
    }

    #[test]
    fn a_pitch_offset_plays_slower_speech_faster_by_the_same_ratio() {
        let opts = options(12.0);
        assert_eq!(without_pitch(&opts).rate, 0.5);
        assert_eq!(played_rate(22_050, 12.0), 44_100);
        assert_eq!(played_rate(22_050, 0.0), 22_050);
    }
}
