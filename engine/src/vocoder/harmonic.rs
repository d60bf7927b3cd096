//! An F0-aware harmonic-plus-noise vocoder (DDSP-style, arXiv 2001.04643), trained on spectral
//! losses by `tools/train/train_harmonic.py`.
//!
//! A small ConvNeXt network estimates each frame's F0 and voicing from the mel; a second one turns
//! the mel and that F0 into two spectral envelopes over 0 Hz … Nyquist. The harmonics sit at exact
//! multiples of F0, a sine bank whose phase is the running integral of F0, each as loud as the
//! harmonic envelope at its frequency; white noise is shaped by the noise envelope frame by frame
//! in the STFT domain. So the pitch played is the F0 the mel holds (or that F0 moved by a shift,
//! with the envelope, and the formants, where they were).
//!
//! Each harmonic starts from a fixed phase of its own (drawn once, the same for every voice)
//! rather than all from zero: harmonics in sine phase add up to one sharp click per period, a
//! buzz that recorded voices do not have (their vocal tract spreads the pulse out); spreading the
//! phases is the pulse dispersion of classical vocoders (MELP's dispersion filter). The spectrum
//! the vocoder was trained on is unchanged.
//!
//! The phase runs on from one span to the next, so spans after [`Vocoder::reset`] must follow each
//! other; the noise is a function of each sample's position, so a span vocodes to the very samples
//! the whole mel gives there.

use std::f64::consts::TAU;
use std::ops::Range;
use std::sync::Arc;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use super::config::HarmonicConfig;
use super::convnext::{host, transposed, ConvNeXtBackbone};
use super::Vocoder;
use crate::error::{Error, Result};
use crate::nn::dense::matmul_bias;

/// Harmonics above this share of the Nyquist frequency are left out (they would alias).
const AUDIBLE: f32 = 0.95;
/// F0 assumed before the first voiced frame: nothing sounds there, only the phase runs.
const RESTING_F0: f32 = 100.0;

/// Samples of the sine bank made side by side: the harmonics of one sample follow each other (each
/// is the one before turned by the fundamental), so neighbouring samples are what can run at once.
const LANES: usize = 8;

/// Cosine and sine of each harmonic's fixed phase offset (harmonic k at index k - 1), uniform over
/// a turn from a fixed hash of k: the same for every voice and every run.
fn dispersion(harmonics: usize) -> Vec<(f32, f32)> {
    (1..=harmonics as u64)
        .map(|k| {
            let turn = (split_mix(k) >> 11) as f64 / (1u64 << 53) as f64;
            let (sin, cos) = (TAU * turn).sin_cos();
            (cos as f32, sin as f32)
        })
        .collect()
}

/// SplitMix64's output function: a well-mixed 64-bit hash of `z`.
fn split_mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes to `block` the harmonics of the samples at `first..first + block.len()` of a frame of
/// `hop` samples: harmonic k (from 1) of the sample whose fundamental phase has sine and cosine
/// `phases[l]` is `sin(k·phase + offset_k)` (`offsets[k - 1]` holds the offset's cosine and sine)
/// with an amplitude gliding from `amps[k - 1]` at the frame's start to `next_amps[k - 1]` at the
/// next one's. Each lane computes exactly what one sample at a time would, in the same order.
fn sine_bank(
    amps: &[f32],
    next_amps: &[f32],
    offsets: &[(f32, f32)],
    phases: &[(f32, f32); LANES],
    first: usize,
    hop: usize,
    block: &mut [f32],
) {
    let mut u = [0f32; LANES];
    let mut keep = [0f32; LANES];
    let (mut s1, mut c1) = ([0f32; LANES], [0f32; LANES]);
    for l in 0..LANES {
        u[l] = (first + l) as f32 / hop as f32;
        keep[l] = 1.0 - u[l];
        (s1[l], c1[l]) = phases[l];
    }
    let (mut s, mut c) = (s1, c1);
    let mut sum = [0f32; LANES];
    for ((&a0, &a1), &(dc, ds)) in amps.iter().zip(next_amps).zip(offsets) {
        for l in 0..LANES {
            let a = a0 * keep[l] + a1 * u[l];
            sum[l] += a * (s[l] * dc + c[l] * ds);
            (s[l], c[l]) = (s[l] * c1[l] + c[l] * s1[l], c[l] * c1[l] - s[l] * s1[l]);
        }
    }
    block.copy_from_slice(&sum[..block.len()]);
}

/// What one span leaves for the next.
#[derive(Debug, Clone, Copy)]
struct Running {
    /// The harmonics' phase after the last sample made, in radians (kept within one turn).
    phase: f64,
    /// F0 of the last voiced frame, held through unvoiced ones.
    held_f0: f32,
    /// Position of the next sample in the whole signal.
    next_sample: u64,
}

impl Default for Running {
    fn default() -> Self {
        Self {
            phase: 0.0,
            held_f0: RESTING_F0,
            next_sample: 0,
        }
    }
}

pub struct HarmonicVocoder {
    sizes: HarmonicConfig,
    sample_rate: u32,
    pitch: ConvNeXtBackbone,
    /// `[f0_dim][2]`: normalised log-F0 and the voicing logit.
    pitch_out: Vec<f32>,
    pitch_out_bias: Vec<f32>,
    backbone: ConvNeXtBackbone,
    /// `[dim][2 · bins]`: the harmonic envelope, then the noise envelope (natural-log amplitudes).
    envelopes: Vec<f32>,
    envelopes_bias: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
    ifft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    running: Running,
    /// F0 multiplication per frame since the last reset (the last holds beyond; empty: none).
    f0_scale: Vec<f32>,
    /// F0 (Hz) per frame since the last reset, given in place of the mel's (empty: none).
    f0_given: Vec<f32>,
    /// Gain of the noise in voiced frames (see [`Vocoder::set_voiced_noise`]).
    voiced_noise: f32,
    /// Each harmonic's phase offset as (cosine, sine), see [`dispersion`].
    offsets: Vec<(f32, f32)>,
}

impl HarmonicVocoder {
    /// Loads the vocoder under `vb` (`pitch.*`, `pitch_out.*`, `backbone.*`, `envelopes.*`).
    pub fn new(
        sizes: &HarmonicConfig,
        sample_rate: u32,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let s = sizes;
        let pitch = ConvNeXtBackbone::new(
            s.input_channels,
            s.f0_dim,
            s.f0_intermediate_dim,
            s.f0_layers,
            vb.pp("pitch"),
        )?;
        let backbone = ConvNeXtBackbone::new(
            s.input_channels + 2,
            s.dim,
            s.intermediate_dim,
            s.num_layers,
            vb.pp("backbone"),
        )?;
        let mut planner = FftPlanner::new();
        // A periodic Hann window, as torch.hann_window makes it.
        let window = (0..s.n_fft)
            .map(|i| (0.5 - 0.5 * (TAU * i as f64 / s.n_fft as f64).cos()) as f32)
            .collect();
        Ok(Self {
            pitch_out: transposed(
                &host(&vb.pp("pitch_out"), &[2, s.f0_dim], "weight")?,
                2,
                None,
            ),
            pitch_out_bias: host(&vb.pp("pitch_out"), &[2], "bias")?,
            envelopes: transposed(
                &host(&vb.pp("envelopes"), &[2 * s.bins, s.dim], "weight")?,
                2 * s.bins,
                None,
            ),
            envelopes_bias: host(&vb.pp("envelopes"), &[2 * s.bins], "bias")?,
            pitch,
            backbone,
            fft: planner.plan_fft_forward(s.n_fft),
            ifft: planner.plan_fft_inverse(s.n_fft),
            window,
            sizes: sizes.clone(),
            sample_rate,
            running: Running::default(),
            f0_scale: Vec::new(),
            f0_given: Vec::new(),
            voiced_noise: 1.0,
            offsets: dispersion(s.harmonics),
        })
    }

    /// F0 (Hz, unshifted) and voicing of frames `wanted`.
    fn pitch_of(
        &mut self,
        mel: &[f32],
        frames: usize,
        wanted: Range<usize>,
    ) -> (Vec<f32>, Vec<bool>) {
        let rows = wanted.len();
        let x = self.pitch.forward(mel, frames, wanted);
        let mut out = vec![0.0; rows * 2];
        matmul_bias(
            &x,
            &self.pitch_out,
            &self.pitch_out_bias,
            rows,
            self.sizes.f0_dim,
            &mut out,
        );
        let (mean, std) = (self.sizes.log_f0_mean, self.sizes.log_f0_std);
        let f0 = out
            .chunks_exact(2)
            .map(|r| (r[0] * std + mean).exp())
            .collect();
        let bias = self.sizes.voicing_bias;
        let voiced = out.chunks_exact(2).map(|r| r[1] + bias > 0.0).collect();
        (f0, voiced)
    }

    /// The envelopes `[wanted.len()][2 · bins]` for frames `wanted`, the F0 and voicing of frames
    /// `known` given.
    fn envelopes_of(
        &mut self,
        mel: &[f32],
        frames: usize,
        wanted: Range<usize>,
        known: &Range<usize>,
        f0: &[f32],
        voiced: &[bool],
    ) -> Vec<f32> {
        let n_mels = self.sizes.input_channels;
        // The mel and two rows of pitch features; only the frames the backbone reads are filled.
        let mut input = vec![0.0; (n_mels + 2) * frames];
        input[..n_mels * frames].copy_from_slice(mel);
        let (mean, std) = (self.sizes.log_f0_mean, self.sizes.log_f0_std);
        for (i, t) in known.clone().enumerate() {
            if voiced[i] {
                input[n_mels * frames + t] = (f0[i].max(1.0).ln() - mean) / std;
                input[(n_mels + 1) * frames + t] = 1.0;
            }
        }
        let rows = wanted.len();
        let x = self.backbone.forward(&input, frames, wanted);
        let mut env = vec![0.0; rows * 2 * self.sizes.bins];
        matmul_bias(
            &x,
            &self.envelopes,
            &self.envelopes_bias,
            rows,
            self.sizes.dim,
            &mut env,
        );
        env
    }

    /// The envelope `env` (over 0 … Nyquist) read at `freq` Hz, linearly between bins.
    fn envelope_at(&self, env: &[f32], freq: f32) -> f32 {
        let bins = env.len();
        let nyquist = self.sample_rate as f32 / 2.0;
        let pos = (freq / nyquist * (bins - 1) as f32).clamp(0.0, (bins - 1) as f32);
        let lo = (pos.floor() as usize).min(bins - 2);
        let t = pos - lo as f32;
        env[lo] * (1.0 - t) + env[lo + 1] * t
    }

    /// Harmonic amplitudes of one frame (none above the audible limit or when unvoiced).
    fn amplitudes(&self, env: &[f32], f0: f32, voiced: bool, out: &mut Vec<f32>) {
        out.clear();
        if !voiced {
            return;
        }
        let limit = AUDIBLE * self.sample_rate as f32 / 2.0;
        for k in 1..=self.sizes.harmonics {
            let freq = k as f32 * f0;
            if freq >= limit {
                break;
            }
            out.push(self.envelope_at(env, freq).exp());
        }
    }

    /// Gaussian noise at absolute sample `i`: a function of the position only, so spans agree.
    fn noise_at(i: i64) -> f32 {
        let a = split_mix(i as u64);
        let b = split_mix(a);
        let u1 = ((a >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let u2 = (b >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()) as f32
    }

    /// Adds the shaped noise of frames `noise_frames` (centred at `t · hop`) to `out`, which
    /// holds samples from `first_sample` (positions relative to the mel's start, whose absolute
    /// position is `origin`).
    #[allow(clippy::too_many_arguments)]
    fn add_noise(
        &self,
        out: &mut [f32],
        first_sample: i64,
        origin: i64,
        noise_frames: Range<i64>,
        env_of: impl Fn(i64) -> usize,
        env: &[f32],
        voiced_of: impl Fn(i64) -> bool,
    ) {
        let (n_fft, hop, bins) = (
            self.sizes.n_fft,
            self.sizes.hop_length as i64,
            self.sizes.bins,
        );
        let half = (n_fft / 2) as i64;
        let bin_hz = self.sample_rate as f32 / n_fft as f32;
        // Σ w² of a periodic Hann window at 75 % overlap, and the inverse FFT's 1/N.
        let scale = 1.0 / (1.5 * n_fft as f32);
        let mut buf = vec![Complex32::new(0.0, 0.0); n_fft];
        // Each sample lies under n_fft / hop windows: draw the span's noise once.
        let first_start = noise_frames.start * hop - half;
        let noise: Vec<f32> = (first_start..(noise_frames.end - 1) * hop - half + n_fft as i64)
            .map(|at| Self::noise_at(origin + at))
            .collect();
        for t in noise_frames {
            let start = t * hop - half;
            let drawn = &noise[(start - first_start) as usize..][..n_fft];
            for ((slot, &s), &w) in buf.iter_mut().zip(drawn).zip(&self.window) {
                *slot = Complex32::new(s * w, 0.0);
            }
            self.fft.process(&mut buf);
            let row = &env[env_of(t) * 2 * bins + bins..(env_of(t) + 1) * 2 * bins];
            let gain = if voiced_of(t) { self.voiced_noise } else { 1.0 };
            for (b, v) in buf.iter_mut().enumerate().take(n_fft / 2 + 1) {
                *v *= self.envelope_at(row, b as f32 * bin_hz).exp() * gain;
            }
            // The upper half mirrors the lower, so the inverse is real.
            for b in n_fft / 2 + 1..n_fft {
                buf[b] = buf[n_fft - b].conj();
            }
            self.ifft.process(&mut buf);
            for (j, v) in buf.iter().enumerate() {
                let at = start + j as i64 - first_sample;
                if at >= 0 && (at as usize) < out.len() {
                    out[at as usize] += v.re * self.window[j] * scale;
                }
            }
        }
    }
}

impl Vocoder for HarmonicVocoder {
    fn name(&self) -> &'static str {
        "harmonic"
    }

    fn hop_length(&self) -> usize {
        self.sizes.hop_length
    }

    fn context_frames(&self) -> Option<usize> {
        super::VocoderConfig::Harmonic(self.sizes.clone()).context_frames()
    }

    fn reset(&mut self) {
        self.running = Running::default();
    }

    fn shift_pitch(&mut self, semitones: &[f32]) -> bool {
        self.f0_scale = match semitones {
            [] | [0.0] => Vec::new(),
            s => s.iter().map(|p| 2f32.powf(p / 12.0)).collect(),
        };
        true
    }

    fn follows_f0(&self) -> bool {
        true
    }

    fn set_voiced_noise(&mut self, gain: f32) -> bool {
        self.voiced_noise = if gain.is_finite() {
            gain.clamp(0.0, 1.0)
        } else {
            1.0
        };
        true
    }

    fn follow_f0(&mut self, log_f0: &[f32]) -> bool {
        self.f0_given.clear();
        // A curve from outside may hold anything: keep F0 between 20 Hz and a quarter of the rate.
        let top = self.sample_rate as f32 / 4.0;
        self.f0_given.extend(log_f0.iter().map(|l| match l.exp() {
            f if f.is_finite() => f.clamp(20.0, top),
            _ => RESTING_F0,
        }));
        true
    }

    fn vocode(&mut self, mel: &Tensor) -> Result<Vec<f32>> {
        self.reset();
        let frames = mel.dims3()?.2;
        self.vocode_span(mel, 0..frames)
    }

    fn vocode_span(&mut self, mel: &Tensor, keep: Range<usize>) -> Result<Vec<f32>> {
        let (_, bands, frames) = mel.dims3()?;
        if bands != self.sizes.input_channels {
            return Err(Error::input(format!(
                "the mel has {bands} bands; this vocoder expects {}",
                self.sizes.input_channels
            )));
        }
        let keep = keep.start.min(frames)..keep.end.min(frames);
        if keep.is_empty() {
            return Ok(Vec::new());
        }
        let mel: Vec<f32> = mel.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let hop = self.sizes.hop_length;
        let clamp = |t: i64| t.clamp(0, frames as i64 - 1) as usize;
        // Envelopes: the kept frames, one before (noise) and two after (the glide, noise).
        let env_frames = clamp(keep.start as i64 - 1)..clamp(keep.end as i64 + 1) + 1;
        let reach = self.backbone.reach();
        let known = env_frames.start.saturating_sub(reach)..(env_frames.end + reach).min(frames);
        let (mut f0, voiced) = self.pitch_of(&mel, frames, known.clone());
        // Frame t of this mel is frame `first + t` since the reset.
        let first = (self.running.next_sample / hop as u64) as i64 - keep.start as i64;
        for (i, f) in f0.iter_mut().enumerate() {
            let at = first + (known.start + i) as i64;
            if let Some(&given) = usize::try_from(at)
                .ok()
                .and_then(|at| self.f0_given.get(at))
            {
                *f = given;
            }
        }
        if let Some(&last) = self.f0_scale.last() {
            for (i, f) in f0.iter_mut().enumerate() {
                let at = first + (known.start + i) as i64;
                *f *= usize::try_from(at)
                    .ok()
                    .and_then(|at| self.f0_scale.get(at))
                    .copied()
                    .unwrap_or(if at < 0 { self.f0_scale[0] } else { last });
            }
        }
        let env = self.envelopes_of(&mel, frames, env_frames.clone(), &known, &f0, &voiced);
        let bins = self.sizes.bins;
        let env_row = |t: usize| &env[(t - env_frames.start) * 2 * bins..][..bins];
        let pitch_at = |t: usize| (f0[t - known.start], voiced[t - known.start]);

        // Harmonics, sample by sample, gliding from each frame's values to the next one's.
        let mut out = vec![0f32; keep.len() * hop];
        let rate = self.sample_rate as f64;
        let mut running = self.running;
        // F0 through unvoiced frames: the next frame's when it is voiced, else the last voiced.
        let fill = |t: usize, held: f32| {
            let (f, v) = pitch_at(t);
            if v {
                return f;
            }
            match (t + 1 < frames).then(|| pitch_at(t + 1)) {
                Some((next, true)) => next,
                _ => held,
            }
        };
        let (mut amps, mut next_amps) = (Vec::new(), Vec::new());
        let mut f0_here = fill(keep.start, running.held_f0);
        self.amplitudes(
            env_row(keep.start),
            f0_here,
            pitch_at(keep.start).1,
            &mut amps,
        );
        let mut phases = [(0f32, 0f32); LANES];
        for (i, t) in keep.clone().enumerate() {
            if pitch_at(t).1 {
                running.held_f0 = f0_here;
            }
            let next = (t + 1).min(frames - 1);
            let f0_next = if next == t {
                f0_here
            } else {
                fill(next, running.held_f0)
            };
            if next == t {
                next_amps.clone_from(&amps);
            } else {
                self.amplitudes(env_row(next), f0_next, pitch_at(next).1, &mut next_amps);
            }
            let next_count = next_amps.len();
            let count = amps.len().max(next_count);
            // Both frames' amplitudes over the same harmonics (zero where one has none).
            amps.resize(count, 0.0);
            next_amps.resize(count, 0.0);
            let frame_out = &mut out[i * hop..(i + 1) * hop];
            for (lanes, block) in frame_out.chunks_mut(LANES).enumerate() {
                for (l, phase) in phases.iter_mut().enumerate().take(block.len()) {
                    let u = (lanes * LANES + l) as f32 / hop as f32;
                    let f = f0_here * (1.0 - u) + f0_next * u;
                    running.phase = (running.phase + TAU * f as f64 / rate) % TAU;
                    let (s1, c1) = running.phase.sin_cos();
                    *phase = (s1 as f32, c1 as f32);
                }
                if count > 0 {
                    sine_bank(
                        &amps,
                        &next_amps,
                        &self.offsets,
                        &phases,
                        lanes * LANES,
                        hop,
                        block,
                    );
                }
            }
            f0_here = f0_next;
            std::mem::swap(&mut amps, &mut next_amps);
            amps.truncate(next_count);
        }

        // Noise, with the frames whose windows reach the kept samples.
        let first_sample = (keep.start * hop) as i64;
        let origin = running.next_sample as i64 - first_sample;
        let reach_frames = (self.sizes.n_fft / 2).div_ceil(hop) as i64;
        let noise_frames = keep.start as i64 - reach_frames + 1..keep.end as i64 + reach_frames;
        let env_index = |t: i64| clamp(t) - env_frames.start;
        let noise_env = &env;
        let voiced_at = |t: i64| pitch_at(clamp(t)).1;
        self.add_noise(
            &mut out,
            first_sample,
            origin,
            noise_frames,
            env_index,
            noise_env,
            voiced_at,
        );
        running.next_sample += out.len() as u64;
        self.running = running;
        if out.iter().any(|s| !s.is_finite()) {
            return Err(Error::numeric(
                "the harmonic vocoder produced NaN or infinite samples",
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sine_bank_sums_each_samples_harmonics() {
        let hop = 256;
        let amps: Vec<f32> = (0..90).map(|k| 1.0 / (k as f32 + 1.0)).collect();
        let next_amps: Vec<f32> = (0..90).map(|k| 0.5 / (k as f32 + 2.0)).collect();
        let first = 96;
        let fundamental: Vec<f64> = (0..LANES).map(|l| 0.3 + 0.05 * l as f64).collect();
        let mut phases = [(0f32, 0f32); LANES];
        for (p, &phi) in phases.iter_mut().zip(&fundamental) {
            *p = (phi.sin() as f32, phi.cos() as f32);
        }
        let offsets = dispersion(amps.len());
        let mut block = [0f32; LANES];
        sine_bank(&amps, &next_amps, &offsets, &phases, first, hop, &mut block);
        for (l, (&got, &phi)) in block.iter().zip(&fundamental).enumerate() {
            let u = (first + l) as f64 / hop as f64;
            let want: f64 = (0..amps.len())
                .map(|k| {
                    let a = amps[k] as f64 * (1.0 - u) + next_amps[k] as f64 * u;
                    let offset = (offsets[k].1 as f64).atan2(offsets[k].0 as f64);
                    a * ((k + 1) as f64 * phi + offset).sin()
                })
                .sum();
            assert!(
                (got as f64 - want).abs() < 1e-4,
                "lane {l}: {got} against {want}"
            );
        }
    }

    /// Harmonics of equal amplitude in sine phase peak once a period at many times their mean
    /// level; spread phases keep the same power in a far lower peak.
    #[test]
    fn dispersed_harmonics_peak_lower_than_harmonics_in_sine_phase() {
        let harmonics = 100;
        let crest = |offsets: &[(f32, f32)]| {
            let samples: Vec<f64> = (0..4096)
                .map(|i| {
                    let phi = TAU * i as f64 / 4096.0;
                    offsets
                        .iter()
                        .enumerate()
                        .map(|(k, &(c, s))| {
                            ((k + 1) as f64 * phi + (s as f64).atan2(c as f64)).sin()
                        })
                        .sum()
                })
                .collect();
            let peak = samples.iter().fold(0f64, |m, x| m.max(x.abs()));
            let rms = (samples.iter().map(|x| x * x).sum::<f64>() / samples.len() as f64).sqrt();
            peak / rms
        };
        let in_sine_phase = crest(&vec![(1.0, 0.0); harmonics]);
        let dispersed = crest(&dispersion(harmonics));
        assert!(in_sine_phase > 8.0, "{in_sine_phase}");
        assert!(
            dispersed < in_sine_phase / 2.5,
            "{dispersed} against {in_sine_phase}"
        );
    }
}
