//! A vocoder with no weights: mel → linear magnitude by non-negative least squares against the
//! mel filterbank, then phase by fast Griffin-Lim (Perraudin, Balazs & Søndergaard 2013).
//! Useful as a reference, for voices shipped without a neural vocoder, and to check mels.

use candle_core::Tensor;
use rustfft::num_complex::Complex32;

use super::Vocoder;
use crate::audio::mel::{slaney_filterbank, MelBand, MelConfig};
use crate::audio::{Istft, Stft};
use crate::error::{Error, Result};

/// Multiplicative-update iterations of the non-negative least-squares fit.
const NNLS_ITERATIONS: usize = 40;
/// Momentum of fast Griffin-Lim; 0 gives plain Griffin-Lim.
const MOMENTUM: f32 = 0.99;

pub struct PhaseVocoder {
    cfg: MelConfig,
    bands: Vec<MelBand>,
    stft: Stft,
    istft: Istft,
    iterations: usize,
}

impl PhaseVocoder {
    pub fn new(cfg: &MelConfig, iterations: usize) -> Self {
        Self {
            cfg: cfg.clone(),
            bands: slaney_filterbank(cfg),
            stft: Stft::new(cfg.n_fft, cfg.win_length, cfg.hop_length),
            istft: Istft::new(cfg.n_fft, cfg.win_length, cfg.hop_length),
            iterations,
        }
    }

    /// Linear magnitudes `[T, bins]` whose mel projection best matches `mel` (`[n_mels][T]`, linear
    /// scale), under the constraint that they are non-negative.
    pub fn magnitudes(&self, mel: &[Vec<f32>], frames: usize) -> Vec<f32> {
        let bins = self.cfg.n_fft / 2 + 1;
        let mut out = vec![0f32; frames * bins];
        let mut projected = vec![0f32; self.bands.len()];
        let mut numerator = vec![0f32; bins];
        let mut denominator = vec![0f32; bins];
        for f in 0..frames {
            let target: Vec<f32> = mel.iter().map(|band| band[f]).collect();
            let s = &mut out[f * bins..(f + 1) * bins];
            // Start from Bᵀm, positive wherever any band sees energy.
            numerator.fill(0.0);
            for (band, m) in self.bands.iter().zip(&target) {
                for (k, w) in band.weights.iter().enumerate() {
                    numerator[band.first_bin + k] += w * m;
                }
            }
            s.copy_from_slice(&numerator);
            // s ← s · (Bᵀm) / (BᵀB s): keeps s ≥ 0 and lowers ‖Bs − m‖² each step.
            for _ in 0..NNLS_ITERATIONS {
                for (p, band) in projected.iter_mut().zip(&self.bands) {
                    *p = band
                        .weights
                        .iter()
                        .enumerate()
                        .map(|(k, w)| w * s[band.first_bin + k])
                        .sum();
                }
                denominator.fill(0.0);
                for (band, p) in self.bands.iter().zip(&projected) {
                    for (k, w) in band.weights.iter().enumerate() {
                        denominator[band.first_bin + k] += w * p;
                    }
                }
                for ((v, n), d) in s.iter_mut().zip(&numerator).zip(&denominator) {
                    if *d > 1e-12 {
                        *v *= n / d;
                    }
                }
            }
        }
        out
    }

    fn synthesize(
        &mut self,
        spectra: &[Complex32],
        frames: usize,
        out: &mut [f32],
        envelope: &mut [f32],
    ) {
        let trim = self.cfg.padding();
        self.istft.process(spectra, frames, trim, out, envelope);
    }
}

impl Vocoder for PhaseVocoder {
    fn name(&self) -> &'static str {
        "phase"
    }

    fn hop_length(&self) -> usize {
        self.cfg.hop_length
    }

    fn context_frames(&self) -> Option<usize> {
        None
    }

    fn vocode(&mut self, mel: &Tensor) -> Result<Vec<f32>> {
        // Real log-mels lie within about [-12, 4]; the clamp keeps a wild model's output finite.
        let mel = mel
            .squeeze(0)?
            .clamp(-30.0, 12.0)?
            .exp()?
            .to_vec2::<f32>()?;
        if mel.len() != self.cfg.n_mels {
            return Err(Error::input(format!(
                "the mel has {} bands; this vocoder expects {}",
                mel.len(),
                self.cfg.n_mels
            )));
        }
        let frames = mel.first().map_or(0, Vec::len);
        let bins = self.cfg.n_fft / 2 + 1;
        let len = frames * self.cfg.hop_length;
        if frames == 0 {
            return Ok(Vec::new());
        }
        let target = self.magnitudes(&mel, frames);
        // Deterministic start: zero phase.
        let mut current: Vec<Complex32> = target.iter().map(|&m| Complex32::new(m, 0.0)).collect();
        let mut previous = current.clone();
        let mut projected = vec![Complex32::default(); frames * bins];
        let mut signal = vec![0f32; len];
        let mut envelope = vec![0f32; len];
        let pad = self.cfg.padding();
        for _ in 0..self.iterations {
            self.synthesize(&current, frames, &mut signal, &mut envelope);
            if signal.len() <= pad {
                break;
            }
            for f in 0..frames {
                self.stft
                    .reflect_frame(&signal, pad, f, &mut projected[f * bins..(f + 1) * bins]);
            }
            // Keep the consistent phase, impose the target magnitude, then extrapolate (FGLA).
            for ((c, p), (prev, &m)) in current
                .iter_mut()
                .zip(&projected)
                .zip(previous.iter_mut().zip(&target))
            {
                let norm = p.norm();
                let t = if norm > 1e-12 {
                    p * (m / norm)
                } else {
                    Complex32::new(m, 0.0)
                };
                *c = t + (t - *prev) * MOMENTUM;
                *prev = t;
            }
        }
        // Final signal from the last magnitude-true estimate.
        self.synthesize(&previous, frames, &mut signal, &mut envelope);
        if signal.iter().any(|s| !s.is_finite()) {
            return Err(Error::numeric(
                "the phase vocoder produced NaN or infinite samples (is the mel finite?)",
            ));
        }
        Ok(signal)
    }
}
