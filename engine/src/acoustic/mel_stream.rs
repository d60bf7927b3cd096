//! Phoneme ids → mel, a piece at a time. The encoder runs over windows of phonemes and the sampler
//! over windows of frames, so the first frames of a long sentence are out after one short encoder
//! window and one short decoder window, and the cost grows linearly with the length.
//!
//! The cut is a property of the synthesis, not of the caller: the windows depend only on the ids
//! and their durations, so a whole render and a stream give the same mel. Neighbouring decoder
//! windows overlap, and their shared frames are cross-faded so no seam can be heard.

use candle_core::{Device, Result, Tensor};

use super::intonation::frame_curve;
use super::model::AcousticModel;
use super::noise::frame_noise;
use super::pitch_condition::{F0Source, FramePitch, PitchGuide};
use super::sampler::{sample, Sampler, SamplerInput};
use super::windows::{Extent, Window, WindowPlan};

/// Phoneme windows of the text encoder (ids count blanks: 48 ids are about 24 phonemes, 100
/// frames of speech); its attention sees 32 ids past each core. After the first, windows are as
/// long as allowed: the encoder is fast, and every window pays its context again.
pub const ENCODER_WINDOWS: WindowPlan = WindowPlan {
    first: 48,
    growth: 8,
    size: 256,
    context: 32,
};

/// Frame windows of the decoder: 40 frames (0.46 s at hop 256, 22 050 Hz) first, enough for the
/// vocoder's first chunk and its context (4 + 31 + 1 frames for the built-in harmonic vocoder, 4 +
/// 24 + 1 for the Vocos: a chunk is vocoded only once more frames than that have arrived), then
/// 160, then 256 (3 s) each: the second window is ready well before the first one's audio has
/// played.
pub const DECODER_WINDOWS: WindowPlan = WindowPlan {
    first: 40,
    growth: 4,
    size: 256,
    context: 16,
};

/// Frames cross-faded between neighbouring decoder windows (at most the context).
pub const CROSSFADE_FRAMES: usize = 8;

/// What the sampler needs besides the model and the ids.
#[derive(Debug, Clone, Copy)]
pub struct DecodeSettings {
    pub sampler: Sampler,
    pub steps: usize,
    pub temperature: f64,
    pub seed: u64,
    /// Multiplies the predicted durations (1 / speaking rate).
    pub length_scale: f32,
}

/// A mel being produced window by window; `next_frames` gives the frames that are final.
pub struct MelStream<'m> {
    model: &'m AcousticModel,
    ids: Vec<u32>,
    speaker: Option<Tensor>,
    settings: DecodeSettings,
    given_durations: Option<Vec<f32>>,
    /// Per-id multipliers of the predicted durations (SSML prosody rate), when not all 1.
    id_length_scales: Option<Vec<f32>>,
    /// Ids whose encoder output is known.
    encoded: usize,
    encoder_windows: Vec<Window>,
    next_encoder_window: usize,
    /// Prior mean of the encoded ids, `[1, n_feats, encoded]`.
    mu: Option<Tensor>,
    /// Each encoded id's log-F0 from the voice's intonation predictor, when asked for.
    log_f0: Option<Vec<f32>>,
    /// What an F0-conditioned decoder is told (unused by a plain one).
    pitch: PitchGuide,
    /// Frames per encoded id, and their running sum.
    durations: Vec<f32>,
    cumulative: Vec<f32>,
    /// Frames already handed out.
    emitted: usize,
    decoder_windows: usize,
    /// The next window's first frames as the previous window saw them, to cross-fade with.
    pending_tail: Option<Tensor>,
    finished: bool,
}

impl<'m> MelStream<'m> {
    /// `durations` (frames per id, already scaled) replace the model's when given.
    pub fn new(
        model: &'m AcousticModel,
        ids: &[i64],
        speaker: Option<Tensor>,
        given_durations: Option<Vec<f32>>,
        settings: DecodeSettings,
    ) -> Result<Self> {
        if ids.is_empty() {
            candle_core::bail!("no phoneme ids to synthesise")
        }
        if let Some(d) = &given_durations {
            if d.len() != ids.len() {
                candle_core::bail!("{} durations for {} phoneme ids", d.len(), ids.len())
            }
        }
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        Ok(Self {
            model,
            encoder_windows: ENCODER_WINDOWS.windows(ids.len()),
            ids,
            speaker,
            settings,
            given_durations,
            id_length_scales: None,
            encoded: 0,
            next_encoder_window: 0,
            mu: None,
            log_f0: None,
            pitch: PitchGuide::default(),
            durations: Vec::new(),
            cumulative: Vec::new(),
            emitted: 0,
            decoder_windows: 0,
            pending_tail: None,
            finished: false,
        })
    }

    /// Each predicted duration multiplied by its id's factor as well (a stretch spoken slower
    /// or faster inside a sentence, its intonation kept); factors past the ids are ignored.
    pub fn with_length_scales(mut self, scales: Vec<f32>) -> Self {
        self.id_length_scales = Some(scales).filter(|s| s.iter().any(|&f| f != 1.0));
        self
    }

    /// Runs the voice's intonation predictor with the encoder (when it has one), for
    /// [`MelStream::intonation`].
    pub fn with_intonation(mut self) -> Self {
        if self.model.intonation().is_some() {
            self.log_f0 = Some(Vec::new());
        }
        self
    }

    /// What the decoder of an F0-conditioned voice is told about pitch (by default its own
    /// prediction, unmoved); a plain voice ignores it. A guide from the intonation predictor
    /// also runs it ([`MelStream::with_intonation`]) when the voice has one, and falls back to
    /// the decoder's own prediction when it has none.
    pub fn with_pitch_guide(mut self, guide: PitchGuide) -> Self {
        let source = match guide.source {
            F0Source::Intonation(_) if self.model.intonation().is_none() => F0Source::Predicted,
            source => source,
        };
        if matches!(source, F0Source::Intonation(_)) {
            self = self.with_intonation();
        }
        self.pitch = PitchGuide { source, ..guide };
        self
    }

    /// Frames per id; complete once the stream has ended.
    pub fn durations(&self) -> &[f32] {
        &self.durations
    }

    /// The voice's own F0 over frames `frames` (natural log of Hz), from its intonation predictor
    /// and the durations known so far; `None` unless the voice has a predictor and the stream
    /// was started [`MelStream::with_intonation`]. Asked for frames already handed out, it
    /// depends only on the ids (their windows decide what is known).
    pub fn intonation(&self, frames: std::ops::Range<usize>) -> Option<Vec<f32>> {
        let log_f0 = self.log_f0.as_ref()?;
        Some(frame_curve(log_f0, &self.durations, frames))
    }

    /// The next final frames, de-normalised `[1, n_feats, n]`, or `None` at the end.
    pub fn next_frames(&mut self) -> Result<Option<Tensor>> {
        if self.finished {
            return Ok(None);
        }
        if self.model.pitch_condition().is_some() && self.pitch.shift_is_curve() {
            // A shift curve is stretched over the segment's frames: know them all first.
            while self.encoded < self.ids.len() {
                self.encode_next_window()?;
            }
        }
        let window = loop {
            let extent = self.frame_extent();
            match DECODER_WINDOWS.window(self.decoder_windows, self.emitted, extent) {
                Some(w) => break w,
                None => self.encode_next_window()?,
            }
        };
        let frames = self.decode_window(&window)?;
        self.decoder_windows += 1;
        self.emitted = window.core.end;
        if let Extent::Total(total) = self.frame_extent() {
            self.finished = self.emitted >= total;
        }
        Ok(Some(frames))
    }

    /// Frames known so far: all of them once every id is encoded.
    fn frame_extent(&self) -> Extent {
        let sum = self.cumulative.last().copied().unwrap_or(0.0);
        if self.encoded == self.ids.len() {
            // As Matcha: the frame count is the floor of the summed durations, at least one.
            Extent::Total(sum.max(1.0) as usize)
        } else {
            Extent::AtLeast(sum as usize)
        }
    }

    fn encode_next_window(&mut self) -> Result<()> {
        let Some(w) = self.encoder_windows.get(self.next_encoder_window).cloned() else {
            candle_core::bail!("the encoder windows ended before the frames were decided")
        };
        let device = self.model.device();
        let span_ids =
            Tensor::from_vec(self.ids[w.span.clone()].to_vec(), (1, w.span.len()), device)?;
        let out = self
            .model
            .encoder()
            .forward(&span_ids, self.speaker.as_ref())?;
        let offset = w.core.start - w.span.start;
        // [1, n_feats, span] -> [1, n_feats, core]
        let mu = out.mu.narrow(2, offset, w.core.len())?.contiguous()?;
        if let (Some(kept), Some(intonation)) = (&mut self.log_f0, self.model.intonation()) {
            let log_f0 = intonation.log_f0(&out.states)?;
            kept.extend_from_slice(&log_f0[offset..offset + w.core.len()]);
        }
        let durations = match &self.given_durations {
            Some(d) => d[w.core.clone()].to_vec(),
            None => {
                let logw = out.log_durations.flatten_all()?.to_vec1::<f32>()?;
                let mut d = self.model.durations(
                    &logw[offset..offset + w.core.len()],
                    self.settings.length_scale,
                );
                if let Some(scales) = &self.id_length_scales {
                    for (d, id) in d.iter_mut().zip(w.core.clone()) {
                        *d *= scales.get(id).copied().unwrap_or(1.0);
                    }
                }
                d
            }
        };
        self.mu = Some(match self.mu.take() {
            Some(prev) => Tensor::cat(&[&prev, &mu], 2)?.contiguous()?,
            None => mu,
        });
        let mut acc = self.cumulative.last().copied().unwrap_or(0.0);
        for d in durations {
            acc += d;
            self.durations.push(d);
            self.cumulative.push(acc);
        }
        self.encoded = w.core.end;
        self.next_encoder_window += 1;
        Ok(())
    }

    /// The prior for frames `span` (Matcha's `generate_path`: frame `j` belongs to the first id
    /// whose cumulative duration exceeds `j`), padded to the U-Net's length multiple.
    fn prior(&self, span: &std::ops::Range<usize>) -> Result<(Tensor, Tensor, usize)> {
        let device = self.model.device();
        let len = span.len();
        let multiple = self.model.config().length_multiple();
        let padded = len.div_ceil(multiple) * multiple;
        let last = self.ids.len() - 1;
        let mut index = Vec::with_capacity(padded);
        let mut covered = Vec::with_capacity(padded);
        for j in span.clone() {
            let id = self.cumulative.partition_point(|&c| c <= j as f32);
            covered.push(if id < self.ids.len() { 1f32 } else { 0.0 });
            index.push(id.min(last) as u32);
        }
        index.resize(padded, last as u32);
        covered.resize(padded, 0.0);
        let mu = self.mu.as_ref().expect("encoded before decoding");
        let index = Tensor::from_vec(index, padded, device)?;
        let covered = Tensor::from_vec(covered, (1, 1, padded), device)?;
        let mu_y = mu.index_select(&index, 2)?.broadcast_mul(&covered)?;
        let mask: Vec<f32> = (0..padded)
            .map(|j| if j < len { 1.0 } else { 0.0 })
            .collect();
        let mask = Tensor::from_vec(mask, (1, 1, padded), device)?;
        Ok((mu_y, mask, padded))
    }

    /// Noise for frames `span`, each frame's from its own stream; padding frames get zeros.
    fn noise(&self, pass: u64, span: &std::ops::Range<usize>, padded: usize) -> Result<Tensor> {
        let n_feats = self.model.config().n_feats;
        let mut column = vec![0f32; n_feats];
        let mut values = vec![0f32; n_feats * padded];
        for (k, frame) in span.clone().enumerate() {
            frame_noise(self.settings.seed, pass, frame, &mut column);
            for (b, v) in column.iter().enumerate() {
                values[b * padded + k] = *v;
            }
        }
        Tensor::from_vec(values, (1, n_feats, padded), &Device::Cpu)?.to_device(self.model.device())
    }

    /// Each frame of `span` (and of the padding after it, unvoiced) as the decoder is told it.
    fn frame_pitch(
        &self,
        mu: &Tensor,
        mask: &Tensor,
        span: &std::ops::Range<usize>,
    ) -> Result<Vec<FramePitch>> {
        let Some(condition) = self.model.pitch_condition() else {
            candle_core::bail!("the voice has no pitch conditioning")
        };
        let mut pitch = condition.predict(mu, mask)?;
        let own = match (&self.pitch.source, &self.log_f0) {
            (F0Source::Intonation(range), Some(log_f0)) => Some(
                frame_curve(log_f0, &self.durations, span.clone())
                    .into_iter()
                    .map(|l| range.apply(l))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        };
        let total = match self.frame_extent() {
            Extent::Total(total) => total,
            Extent::AtLeast(known) => known.max(span.end),
        };
        let semitone = std::f32::consts::LN_2 / 12.0;
        for (k, p) in pitch.iter_mut().enumerate() {
            let frame = span.start + k;
            if frame >= span.end {
                p.voiced = false;
                continue;
            }
            p.log_f0 = match (&self.pitch.source, &own) {
                (_, Some(curve)) => curve[k],
                (F0Source::Given(curve), _) => match curve.get(frame).or(curve.last()) {
                    Some(&l) => l,
                    None => p.log_f0,
                },
                _ => p.log_f0,
            } + semitone * self.pitch.shift_at(frame, total);
        }
        Ok(pitch)
    }

    fn decode_window(&mut self, w: &Window) -> Result<Tensor> {
        let (mut mu, mask, padded) = self.prior(&w.span)?;
        if let Some(condition) = self.model.pitch_condition() {
            let pitch = self.frame_pitch(&mu, &mask, &w.span)?;
            let added = condition.condition(&pitch, self.model.device())?;
            mu = (mu + added.broadcast_mul(&mask)?)?;
        }
        let start = self.noise(0, &w.span, padded)?;
        let mut pass = 0;
        let span = w.span.clone();
        let mut step_noise = || {
            pass += 1;
            self.noise(pass, &span, padded)
        };
        let s = self.settings;
        let out = sample(
            s.sampler,
            self.model.estimator(),
            self.model.config(),
            SamplerInput {
                mu: &mu,
                mask: &mask,
                speaker: self.speaker.as_ref(),
                noise: &start,
                temperature: s.temperature,
                steps: s.steps,
                step_noise: &mut step_noise,
            },
        )?;
        let (mean, std) = self.model.mel_statistics();
        let out = ((out * std)? + mean)?;
        let offset = w.core.start - w.span.start;
        let mut core = out.narrow(2, offset, w.core.len())?;
        if let Some(tail) = self.pending_tail.take() {
            core = crossfade(&tail, &core)?;
        }
        let after = w.span.end - w.core.end;
        if after > 0 {
            let fade = CROSSFADE_FRAMES.min(after);
            self.pending_tail = Some(out.narrow(2, offset + w.core.len(), fade)?);
        }
        Ok(core)
    }
}

/// Blends the previous window's view of the first frames of `core` into it, linearly from the
/// old to the new.
fn crossfade(tail: &Tensor, core: &Tensor) -> Result<Tensor> {
    let n = tail.dim(2)?.min(core.dim(2)?);
    let len = core.dim(2)?;
    let weights: Vec<f32> = (0..n).map(|i| (i as f32 + 0.5) / n as f32).collect();
    let new_w = Tensor::from_vec(weights, (1, 1, n), core.device())?;
    let old_w = (1.0 - &new_w)?;
    let head = (core.narrow(2, 0, n)?.broadcast_mul(&new_w)?
        + tail.narrow(2, 0, n)?.broadcast_mul(&old_w)?)?;
    if n == len {
        return Ok(head);
    }
    Tensor::cat(&[&head, &core.narrow(2, n, len - n)?], 2)
}
