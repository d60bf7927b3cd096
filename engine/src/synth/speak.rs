//! The one utterance loop: every render, stream, plugin phrase and server request speaks through
//! [`Synthesizer::speak`]. Segment by segment, with a pause between: ids → windowed acoustic
//! model → mel frames → chunked vocoder → loudness gain and limiters → pitch (a tape-speed change) → the output
//! rate → the caller's [`SpeechSink`], as soon as each chunk is final.

use std::cell::RefCell;

use candle_core::Tensor;

use super::loudness::OutputLevel;
use super::options::{
    check_output_rate, ResolvedOptions, SynthesisOptions, LEAD_INS, RATE, SENTENCE_PAUSE,
};
use super::pitch_plan::{
    asked_f0, given_f0_curve, intonation_plan, pitch_guide, pitch_plan, shift_mel_pitch,
    without_pitch, PitchPlan, TapeSpeed,
};
use super::synthesizer::{check_finite, no_acoustic_model, Audio, MelOutput, Synthesizer};
use super::timing::{MarkTiming, PhonemeTiming, TimingEvent, WordTiming};
use super::utterance::{MadeMel, Segment, Utterance};
use crate::acoustic::intonation::IntonationRange;
use crate::acoustic::pitch_condition::PitchGuide;
use crate::acoustic::{AcousticModel, DecodeSettings, MelStream};
use crate::audio::limit::limit;
use crate::audio::pitch::stretch_curve;
use crate::audio::resample::StreamResampler;
use crate::error::{Error, Result};
use crate::vocoder::chunked::ChunkedVocoding;

/// Where an utterance's audio goes, as it is made.
pub trait SpeechSink {
    /// The next samples, at the output rate, in order; `Ok(false)` stops the utterance there.
    fn samples(&mut self, samples: &[f32]) -> Result<bool>;

    /// Whether [`SpeechSink::segment_mel`] is wanted (keeping mels costs memory).
    fn wants_mels(&self) -> bool {
        false
    }

    /// Segment `index`'s mel and alignment, once its audio has been handed over.
    fn segment_mel(&mut self, _index: usize, _mel: MelOutput) -> Result<()> {
        Ok(())
    }

    /// `done` of `total` segments have been spoken.
    fn progress(&mut self, _done: usize, _total: usize) {}

    /// A word, phoneme or mark and when it is heard (see [`super::timing`]), given before the
    /// samples that hold it.
    fn timing(&mut self, _event: TimingEvent) {}
}

/// Collects the samples.
impl SpeechSink for Vec<f32> {
    fn samples(&mut self, samples: &[f32]) -> Result<bool> {
        self.extend_from_slice(samples);
        Ok(true)
    }
}

/// How an utterance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every sample went to the sink.
    Complete,
    /// The sink said stop.
    Stopped,
}

impl Synthesizer {
    /// A whole text at the voice's rate: the simplest way in (see [`Synthesizer::speak`] for
    /// streaming, other rates, mels and cancelling).
    pub fn speak_text(&mut self, text: &str, options: &SynthesisOptions) -> Result<Audio> {
        let opts = self.resolve(options)?;
        let utterance = self.utterance(text)?;
        let rate = self.sample_rate();
        let mut samples = Vec::new();
        self.speak(&utterance, &opts, rate, &mut samples)?;
        Ok(Audio {
            samples,
            sample_rate: rate,
        })
    }

    /// Speaks `utterance` into `sink` at `output_rate`, each chunk as soon as it is final (the
    /// first after a few mel frames): the loop every way of speaking shares.
    ///
    /// ```no_run
    /// # fn main() -> mellow_engine::Result<()> {
    /// use mellow_engine::{voice::resolve_voice, Outcome, SynthesisOptions, Synthesizer};
    /// let mut synth = Synthesizer::new(&resolve_voice("")?, None)?;
    /// let opts = synth.resolve(&SynthesisOptions::default())?;
    /// let utterance = synth.utterance("One. Two.")?;
    /// let mut samples = Vec::new();
    /// assert_eq!(synth.speak(&utterance, &opts, 48_000, &mut samples)?, Outcome::Complete);
    /// assert!(samples.len() > 48_000 / 2);
    /// # Ok(()) }
    /// ```
    pub fn speak(
        &mut self,
        utterance: &Utterance,
        opts: &ResolvedOptions,
        output_rate: u32,
        sink: &mut dyn SpeechSink,
    ) -> Result<Outcome> {
        check_output_rate(output_rate)?;
        let voice_rate = self.sample_rate();
        let mut output = OutputRate {
            resampler: StreamResampler::new(voice_rate, output_rate).map_err(Error::input)?,
            converted: Vec::new(),
            pushed: 0,
            sink,
        };
        let lead_in = opts.lead_in.unwrap_or(utterance.lead_in);
        if !LEAD_INS.contains(&lead_in) {
            return Err(Error::input(format!(
                "a lead-in of {lead_in} s is outside {}..={} s",
                LEAD_INS.start(),
                LEAD_INS.end()
            )));
        }
        if lead_in > 0.0 && !output.push(&silence(lead_in, voice_rate))? {
            return Ok(Outcome::Stopped);
        }
        let total = utterance.segments.len();
        // Where the last segment's last word ended (voice samples), for breaks between words.
        let mut last_word_end: Option<u64> = None;
        for (index, segment) in utterance.segments.iter().enumerate() {
            let mut break_before = None;
            if index > 0 {
                match utterance.segments[index - 1].sentence.pause_after {
                    // An asked-for break is the silence between the words: what the model
                    // leaves quiet around them counts towards it.
                    Some(seconds) => {
                        let trailing =
                            last_word_end.map_or(0, |end| output.pushed.saturating_sub(end));
                        let asked = (seconds * voice_rate as f32) as u64;
                        break_before = Some(asked.saturating_sub(trailing));
                    }
                    None => {
                        if !output.push(&silence(SENTENCE_PAUSE, voice_rate))? {
                            return Ok(Outcome::Stopped);
                        }
                    }
                }
            }
            let keep_mel = output.sink.wants_mels();
            let clock = SampleClock {
                start: std::cell::Cell::new(output.pushed),
                output_per_voice: output_rate as f64 / voice_rate as f64,
                index,
                break_before,
                last_word_end: std::cell::Cell::new(None),
            };
            // Timings wait here until the samples after them go out.
            let pending = RefCell::new(Vec::new());
            let mut emit = |samples: &[f32]| {
                for event in pending.borrow_mut().drain(..) {
                    output.sink.timing(event);
                }
                output.push(samples)
            };
            let spoken =
                self.speak_segment(segment, opts, keep_mel, &clock, &pending, &mut emit)?;
            for event in pending.into_inner() {
                output.sink.timing(event);
            }
            last_word_end = clock.last_word_end.get();
            let Some(mel) = spoken else {
                return Ok(Outcome::Stopped);
            };
            if let Some(mel) = mel {
                output.sink.segment_mel(index, mel)?;
            }
            output.sink.progress(index + 1, total);
        }
        output.finish()
    }

    /// One segment into `emit` at the voice's rate; `Ok(None)` when `emit` said stop, else its
    /// mel when `keep_mel`.
    fn speak_segment(
        &mut self,
        segment: &Segment,
        opts: &ResolvedOptions,
        keep_mel: bool,
        clock: &SampleClock,
        timings: &RefCell<Vec<TimingEvent>>,
        emit: &mut dyn FnMut(&[f32]) -> Result<bool>,
    ) -> Result<Option<Option<MelOutput>>> {
        let ids = &segment.sentence.ids;
        let SegmentPlan {
            opts,
            plan,
            intonation,
            given_f0,
            guide,
        } = self.plan_segment(segment, opts)?;
        let Some(model) = &self.acoustic else {
            return Err(no_acoustic_model());
        };
        if let Some(curve) = &given_f0 {
            self.vocoder.follow_f0(curve);
        }
        let rate = self.vocoder_mel.sample_rate;
        let emit = RefCell::new(emit);
        let mut tape = TapeSpeed::new(rate, opts.pitch)?;
        let samples_per_frame = self.vocoder.hop_length() as f64 * tape.speed_factor(rate);
        let gain = RefCell::new(SegmentGain::new(
            &segment.sentence.id_gains_db,
            self.vocoder.hop_length(),
        ));
        let mut level = OutputLevel::new(opts.loudness, self.loudness_reference, rate);
        let mut limited = |mut samples: Vec<f32>| {
            if let Some(gain) = gain.borrow_mut().as_mut() {
                gain.apply(&mut samples);
            }
            level.apply(&mut samples);
            limit(&mut samples);
            tape.push(&samples, &mut *emit.borrow_mut())
        };
        let mut timer = SegmentTimer::new(
            &segment.sentence,
            self.symbols(ids),
            clock,
            samples_per_frame,
        );
        let mut stream = match &segment.mel {
            Some(made) => MelSource::made(made, ids.len(), self.vocoder_mel.n_mels)?,
            None => MelSource::Model(Box::new(segment_stream(model, segment, &opts, guide)?)),
        };
        let mut vocoding = ChunkedVocoding::new();
        // A pitch curve is stretched over the whole segment, so its frames are held until the
        // last is known; otherwise each frame is vocoded as soon as it is final.
        let curved = |shift: &Option<Vec<f32>>| shift.as_ref().is_some_and(|s| s.len() > 1);
        let hold = plan.mel.is_some() || curved(&plan.vocoder);
        if let Some([constant]) = plan.vocoder.as_deref() {
            self.vocoder.shift_pitch(&[*constant]);
        }
        let mut kept = Vec::new();
        let mut break_pending = clock.break_before.is_some();
        let mut f0_curve = Vec::new();
        while let Some(frames) = stream.next_frames()? {
            check_finite(&frames, "the acoustic model")?;
            if let Some(range) = &intonation {
                let done = f0_curve.len();
                if let Some(curve) = stream.intonation(done..done + frames.dim(2)?) {
                    f0_curve.extend(curve.into_iter().map(|l| range.apply(l)));
                    self.vocoder.follow_f0(&f0_curve);
                }
            }
            if break_pending {
                if let Some(samples) = timer.break_samples(stream.durations()) {
                    break_pending = false;
                    if !(emit.borrow_mut())(&vec![0f32; samples as usize])? {
                        return Ok(None);
                    }
                    clock.start.set(clock.start.get() + samples);
                }
            }
            timer.advance(stream.durations(), false, &mut timings.borrow_mut());
            if let Some(gain) = gain.borrow_mut().as_mut() {
                gain.advance(&timer.starts);
            }
            if hold || keep_mel {
                kept.push(frames.clone());
            }
            if !hold {
                vocoding.push(&frames)?;
                if !vocoding.drain(self.vocoder.as_mut(), false, &mut limited)? {
                    return Ok(None);
                }
            }
        }
        let durations = stream.durations().to_vec();
        timer.advance(&durations, true, &mut timings.borrow_mut());
        let mut mel = match kept.is_empty() {
            true => None,
            false => Some(Tensor::cat(&kept, 2)?),
        };
        if let Some(whole) = mel.take() {
            if let Some(curve) = &plan.mel {
                let shifted = shift_mel_pitch(whole, &self.config.mel, curve)?;
                vocoding.push(&shifted)?;
                mel = Some(shifted);
            } else if let Some(curve) = plan.vocoder.as_deref().filter(|c| c.len() > 1) {
                let frames = whole.dim(2)?;
                self.vocoder.shift_pitch(&stretch_curve(curve, frames));
                vocoding.push(&whole)?;
                mel = Some(whole);
            } else {
                mel = Some(whole);
            }
        }
        if !vocoding.drain(self.vocoder.as_mut(), true, &mut limited)? {
            return Ok(None);
        }
        if !tape.finish(&mut *emit.borrow_mut())? {
            return Ok(None);
        }
        let played = given_f0
            .as_deref()
            .or(Some(f0_curve.as_slice()).filter(|c| !c.is_empty()));
        Ok(Some(mel.filter(|_| keep_mel).map(|mel| MelOutput {
            asked_f0: played.map(|curve| asked_f0(curve, plan.vocoder.as_deref())),
            mel,
            alignment: self.alignment(ids, &durations),
        })))
    }

    /// Each id's symbol with the frames it was given.
    fn alignment(&self, ids: &[i64], durations: &[f32]) -> Vec<(String, usize)> {
        let mut start = 0f32;
        self.symbols(ids)
            .into_iter()
            .zip(durations)
            .map(|(symbol, d)| {
                let end = start + d;
                let frames = (end.floor() as usize).saturating_sub(start.floor() as usize);
                start = end;
                (symbol, frames)
            })
            .collect()
    }

    /// Runs the acoustic model over `segment` alone, as [`Synthesizer::speak`] would, and keeps
    /// its mel: put into the segment's `mel`, it speaks the same samples with only the vocoder
    /// left to run (a sung take made before its note is played). `keep_going` is asked between
    /// the model's windows; `Ok(None)` when it said stop.
    ///
    /// ```no_run
    /// # fn main() -> mellow_engine::Result<()> {
    /// use mellow_engine::{voice::resolve_voice, SynthesisOptions, Synthesizer};
    /// let mut synth = Synthesizer::new(&resolve_voice("")?, None)?;
    /// let opts = synth.resolve(&SynthesisOptions::default())?;
    /// let mut utterance = synth.utterance("Ready when you are.")?;
    /// let made = synth.segment_mel(&utterance.segments[0], &opts, &mut || true)?;
    /// utterance.segments[0].mel = made;
    /// let mut samples = Vec::new();
    /// synth.speak(&utterance, &opts, 22_050, &mut samples)?;
    /// # Ok(()) }
    /// ```
    pub fn segment_mel(
        &mut self,
        segment: &Segment,
        opts: &ResolvedOptions,
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Option<MadeMel>> {
        let SegmentPlan { opts, guide, .. } = self.plan_segment(segment, opts)?;
        let Some(model) = &self.acoustic else {
            return Err(no_acoustic_model());
        };
        let mut stream = segment_stream(model, segment, &opts, guide)?;
        let mut frames = Vec::new();
        loop {
            if !keep_going() {
                return Ok(None);
            }
            match on_acoustic_thread(|| stream.next_frames())? {
                Some(f) => {
                    check_finite(&f, "the acoustic model")?;
                    frames.push(f);
                }
                None => break,
            }
        }
        let mel = Tensor::cat(&frames, 2)?;
        let total = mel.dim(2)?;
        Ok(Some(MadeMel {
            intonation: stream.intonation(0..total),
            durations: stream.durations().to_vec(),
            mel,
        }))
    }

    /// What a segment is spoken with: the options with its prosody, how its pitch is moved, and
    /// where its F0 comes from.
    fn plan_segment(&mut self, segment: &Segment, opts: &ResolvedOptions) -> Result<SegmentPlan> {
        self.check_ids(&segment.sentence.ids)?;
        let opts = &with_prosody(opts, segment);
        // Asking an F0-aware vocoder for no shift also clears an earlier segment's.
        let f0_aware = self.vocoder.shift_pitch(&[0.0]);
        let plan = pitch_plan(segment, opts, f0_aware)?;
        let opts = ResolvedOptions {
            pitch: plan.tape,
            ..*opts
        };
        let Some(model) = &self.acoustic else {
            return Err(no_acoustic_model());
        };
        let intonation = intonation_plan(model, f0_aware, &opts, self.vocoder.name())?;
        let given_f0 = given_f0_curve(segment, &opts, f0_aware, self.vocoder.name())?;
        let guide = pitch_guide(
            &plan,
            intonation.as_ref(),
            given_f0.as_deref(),
            segment.sung,
        );
        Ok(SegmentPlan {
            opts,
            plan,
            intonation,
            given_f0,
            guide,
        })
    }
}

/// How one segment is spoken (see [`Synthesizer::plan_segment`]).
struct SegmentPlan {
    opts: ResolvedOptions,
    plan: PitchPlan,
    intonation: Option<IntonationRange>,
    given_f0: Option<Vec<f32>>,
    /// What an F0-conditioned decoder is told (the same F0 the vocoder plays).
    guide: PitchGuide,
}

/// Where a segment's mel frames come from: the acoustic model as it goes, or a mel made before.
enum MelSource<'m> {
    Model(Box<MelStream<'m>>),
    Made { made: &'m MadeMel, handed: bool },
}

impl<'m> MelSource<'m> {
    /// A made mel, checked against the segment's ids and the vocoder's mel.
    fn made(made: &'m MadeMel, ids: usize, n_mels: usize) -> Result<Self> {
        let (_, bands, frames) = made.mel.dims3()?;
        let summed = made.durations.iter().sum::<f32>().max(1.0) as usize;
        if made.durations.len() != ids || bands != n_mels || frames != summed {
            return Err(Error::input(format!(
                "a made mel of {bands} bands and {frames} frames with {} durations (summing to \
                 {summed} frames) does not fit a segment of {ids} ids and a {n_mels}-band vocoder",
                made.durations.len()
            )));
        }
        if made.intonation.as_ref().is_some_and(|c| c.len() != frames) {
            return Err(Error::input(
                "a made mel's intonation is not one value per frame",
            ));
        }
        Ok(Self::Made {
            made,
            handed: false,
        })
    }

    fn next_frames(&mut self) -> Result<Option<Tensor>> {
        match self {
            Self::Model(stream) => Ok(on_acoustic_thread(|| stream.next_frames())?),
            Self::Made { handed: true, .. } => Ok(None),
            Self::Made { made, handed } => {
                *handed = true;
                Ok(Some(made.mel.clone()))
            }
        }
    }

    fn durations(&self) -> &[f32] {
        match self {
            Self::Model(stream) => stream.durations(),
            Self::Made { made, .. } => &made.durations,
        }
    }

    fn intonation(&self, frames: std::ops::Range<usize>) -> Option<Vec<f32>> {
        match self {
            Self::Model(stream) => stream.intonation(frames),
            Self::Made { made, .. } => made
                .intonation
                .as_ref()
                .and_then(|curve| curve.get(frames).map(<[f32]>::to_vec)),
        }
    }
}

/// The acoustic model's stream for `segment`, as [`Synthesizer::speak`] runs it; a guide from
/// the voice's intonation also runs its intonation predictor.
fn segment_stream<'m>(
    model: &'m AcousticModel,
    segment: &Segment,
    opts: &ResolvedOptions,
    guide: PitchGuide,
) -> Result<MelStream<'m>> {
    let scales = id_length_scales(opts, &segment.sentence.id_rates);
    Ok(start_mel_stream(
        model,
        &segment.sentence.ids,
        segment.durations.as_deref(),
        opts,
    )?
    .with_length_scales(scales)
    .with_pitch_guide(guide))
}

/// Samples at the voice's rate → the output rate → the sink.
struct OutputRate<'s> {
    resampler: StreamResampler,
    converted: Vec<f32>,
    /// Samples taken in so far, at the voice's rate.
    pushed: u64,
    sink: &'s mut dyn SpeechSink,
}

impl OutputRate<'_> {
    fn push(&mut self, samples: &[f32]) -> Result<bool> {
        self.pushed += samples.len() as u64;
        self.converted.clear();
        self.resampler
            .push(samples, &mut self.converted)
            .map_err(Error::input)?;
        self.hand_over()
    }

    fn finish(&mut self) -> Result<Outcome> {
        self.converted.clear();
        self.resampler
            .finish(&mut self.converted)
            .map_err(Error::input)?;
        Ok(match self.hand_over()? {
            true => Outcome::Complete,
            false => Outcome::Stopped,
        })
    }

    fn hand_over(&mut self) -> Result<bool> {
        if self.converted.is_empty() {
            return Ok(true);
        }
        self.sink.samples(&self.converted)
    }
}

/// `seconds` of silence at `rate`.
fn silence(seconds: f32, rate: u32) -> Vec<f32> {
    vec![0f32; (seconds.max(0.0) * rate as f32) as usize]
}

/// The options with a segment's pitch offset (SSML prosody) applied.
fn with_prosody(opts: &ResolvedOptions, segment: &Segment) -> ResolvedOptions {
    ResolvedOptions {
        pitch: opts.pitch + segment.sentence.pitch,
        ..*opts
    }
}

/// Each id's duration factor: 1 / (the options' rate × its own), within the rate bounds.
fn id_length_scales(opts: &ResolvedOptions, id_rates: &[f32]) -> Vec<f32> {
    id_rates
        .iter()
        .map(|r| {
            let rate = (opts.rate * r).clamp(*RATE.start(), *RATE.end());
            opts.rate / rate
        })
        .collect()
}

/// Per-id gains (SSML prosody volume) applied to a segment's samples as they come out of the
/// vocoder, frame by frame as the durations become known, smoothed over a few milliseconds so a
/// change of volume does not click.
struct SegmentGain {
    /// Linear gain of each id.
    id_gains: Vec<f32>,
    /// Gain of each frame decided so far.
    frame_gains: Vec<f32>,
    next_id: usize,
    hop: usize,
    /// Samples (before any tape-speed change) already scaled.
    position: usize,
    current: f32,
}

impl SegmentGain {
    fn new(id_gains_db: &[f32], hop: usize) -> Option<Self> {
        if id_gains_db.is_empty() {
            return None;
        }
        let id_gains: Vec<f32> = id_gains_db.iter().map(|db| 10f32.powf(db / 20.0)).collect();
        Some(Self {
            current: id_gains[0],
            id_gains,
            frame_gains: Vec::new(),
            next_id: 0,
            hop: hop.max(1),
            position: 0,
        })
    }

    /// Frames whose ids are timed now get their gains (`starts`: the frame each id starts at,
    /// then where the last known one ends, as [`SegmentTimer`] keeps them).
    fn advance(&mut self, starts: &[f64]) {
        while self.next_id + 1 < starts.len() {
            let end = starts[self.next_id + 1];
            let gain = self.id_gains.get(self.next_id).copied().unwrap_or(1.0);
            let frames = (end.ceil() as usize).saturating_sub(self.frame_gains.len());
            self.frame_gains.extend(std::iter::repeat_n(gain, frames));
            self.next_id += 1;
        }
    }

    fn apply(&mut self, samples: &mut [f32]) {
        // About 5 ms to settle at 22 050 Hz.
        const SMOOTHING: f32 = 0.01;
        for s in samples {
            let frame = self.position / self.hop;
            let target = self
                .frame_gains
                .get(frame)
                .or(self.frame_gains.last())
                .copied()
                .unwrap_or(self.current);
            self.current += (target - self.current) * SMOOTHING;
            *s *= self.current;
            self.position += 1;
        }
    }
}

/// Where a segment's audio starts and how its frames become output samples.
struct SampleClock {
    /// Samples at the voice's rate before the segment (a break before it included, once known).
    start: std::cell::Cell<u64>,
    output_per_voice: f64,
    /// The segment's index in the utterance.
    index: usize,
    /// Silence still to go before the segment's first word (voice samples), when a break was
    /// asked for: what the segment leaves quiet before its first word is taken off it.
    break_before: Option<u64>,
    /// Where the segment's last word ends (voice samples), once timed.
    last_word_end: std::cell::Cell<Option<u64>>,
}

/// A segment's words, phonemes and marks timed as the model decides its durations.
struct SegmentTimer<'a> {
    sentence: &'a crate::text::Sentence,
    symbols: Vec<String>,
    clock: &'a SampleClock,
    /// Samples (at the voice's rate, after any tape-speed change) per mel frame.
    samples_per_frame: f64,
    /// The frame each id starts at, then where the last known one ends.
    starts: Vec<f64>,
    next_word: usize,
    next_mark: usize,
    next_phoneme_id: usize,
    /// A phoneme being gathered (stress marks before it, length marks after it).
    open_phoneme: Option<PhonemeTiming>,
    /// Where a stress mark waiting for its phoneme started.
    stress: Option<(String, u64)>,
}

impl<'a> SegmentTimer<'a> {
    fn new(
        sentence: &'a crate::text::Sentence,
        symbols: Vec<String>,
        clock: &'a SampleClock,
        samples_per_frame: f64,
    ) -> Self {
        Self {
            sentence,
            symbols,
            clock,
            samples_per_frame,
            starts: vec![0.0],
            next_word: 0,
            next_mark: 0,
            next_phoneme_id: 0,
            open_phoneme: None,
            stress: None,
        }
    }

    /// The sample at the voice's rate, from the segment's start, at which id `id` starts
    /// (`id == known ids`: where the last ends).
    fn voice_offset(&self, id: usize) -> f64 {
        // Frame j belongs to the first id whose summed duration exceeds j (Matcha's path).
        let frame = self.starts[id.min(self.starts.len() - 1)].ceil();
        frame * self.samples_per_frame
    }

    /// The output sample at which id `id` starts.
    fn sample(&self, id: usize) -> u64 {
        let voice = self.clock.start.get() as f64 + self.voice_offset(id);
        (voice * self.clock.output_per_voice).round() as u64
    }

    /// The silence to put before the segment for an asked-for break, once the first word's
    /// start is known (`None` until then, or where no break was asked for).
    fn break_samples(&mut self, durations: &[f32]) -> Option<u64> {
        let asked = self.clock.break_before?;
        self.learn(durations);
        // The silence runs up to the first word's first sound (its first symbol, not the blank
        // its timing starts at).
        let first = self.sentence.words.first().map_or(0, |w| {
            (w.ids.clone())
                .find(|&id| self.symbols.get(id).is_some_and(|s| !s.is_empty()))
                .unwrap_or(w.ids.start)
        });
        if first >= durations.len() {
            return None;
        }
        let leading = self.voice_offset(first) as u64;
        Some(asked.saturating_sub(leading))
    }

    /// Where each id with a duration starts, in frames.
    fn learn(&mut self, durations: &[f32]) {
        while self.starts.len() <= durations.len() {
            let at = self.starts.len() - 1;
            self.starts.push(self.starts[at] + durations[at] as f64);
        }
    }

    /// Times everything whose ids have durations now; `done` once the segment's are all known.
    fn advance(&mut self, durations: &[f32], done: bool, out: &mut Vec<TimingEvent>) {
        self.learn(durations);
        let known = durations.len();
        while let Some(word) = self.sentence.words.get(self.next_word) {
            if word.ids.end > known {
                break;
            }
            out.push(TimingEvent::Word(WordTiming {
                text: word.text.clone(),
                source: word.source.clone(),
                start: self.sample(word.ids.start),
                end: self.sample(word.ids.end),
                segment: self.clock.index,
                sentence: self.sentence.sentence,
            }));
            let end = self.clock.start.get() as f64 + self.voice_offset(word.ids.end);
            self.clock.last_word_end.set(Some(end.round() as u64));
            self.next_word += 1;
        }
        while let Some(mark) = self.sentence.marks.get(self.next_mark) {
            if mark.id >= known && !done {
                break;
            }
            out.push(TimingEvent::Mark(MarkTiming {
                name: mark.name.clone(),
                at: self.sample(mark.id),
            }));
            self.next_mark += 1;
        }
        while self.next_phoneme_id < known {
            let id = self.next_phoneme_id;
            self.phoneme(id, out);
            self.next_phoneme_id += 1;
        }
        if done {
            out.extend(self.open_phoneme.take().map(TimingEvent::Phoneme));
        }
    }

    fn phoneme(&mut self, id: usize, out: &mut Vec<TimingEvent>) {
        let symbol = self.symbols.get(id).cloned().unwrap_or_default();
        let (start, end) = (self.sample(id), self.sample(id + 1));
        let Some(c) = symbol.chars().next() else {
            return; // a blank between symbols: it belongs to no phoneme
        };
        match c {
            'ˈ' | 'ˌ' => self.stress = Some((symbol, start)),
            'ː' | 'ˑ' | '\u{0300}'..='\u{036F}' => {
                if let Some(open) = &mut self.open_phoneme {
                    open.symbol.push_str(&symbol);
                    open.end = end;
                }
            }
            c if c.is_alphabetic() => {
                out.extend(self.open_phoneme.take().map(TimingEvent::Phoneme));
                let (prefix, start) = match self.stress.take() {
                    Some((mark, at)) => (mark, at),
                    None => (String::new(), start),
                };
                self.open_phoneme = Some(PhonemeTiming {
                    symbol: prefix + &symbol,
                    start,
                    end,
                });
            }
            // Spaces and punctuation end the phoneme before them.
            _ => {
                out.extend(self.open_phoneme.take().map(TimingEvent::Phoneme));
                self.stress = None;
            }
        }
    }
}

/// Starts the windowed acoustic model on `ids`, spoken slower by a pitch offset's ratio.
fn start_mel_stream<'m>(
    model: &'m AcousticModel,
    ids: &[i64],
    durations: Option<&[f32]>,
    opts: &ResolvedOptions,
) -> Result<MelStream<'m>> {
    let opts = without_pitch(opts);
    let speaker = model
        .speaker(opts.speaker)
        .map_err(|e| Error::input(e.to_string()))?;
    if let Some(d) = durations {
        if d.len() != ids.len() {
            return Err(Error::input(format!(
                "{} durations for {} phoneme ids",
                d.len(),
                ids.len()
            )));
        }
    }
    let given = durations.map(|d| d.iter().map(|f| f / opts.rate).collect());
    let settings = DecodeSettings {
        sampler: opts.sampler,
        steps: opts.steps,
        temperature: opts.temperature,
        seed: opts.seed,
        length_scale: 1.0 / opts.rate,
    };
    Ok(MelStream::new(model, ids, speaker, given, settings)?)
}

/// Runs `f` with candle's matrix products and our convolutions on one thread. At batch 1 the
/// acoustic model's operations are too small to share between cores: a second thread only adds
/// hand-over time (the first window of a long sentence takes 25 ms on two threads, 14 ms on one).
fn on_acoustic_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    // Already on a one-thread pool (a batch worker): stay there rather than queue on a shared one.
    if rayon::current_num_threads() == 1 {
        return f();
    }
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(1).build().ok());
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}
