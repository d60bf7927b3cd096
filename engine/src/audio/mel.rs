//! Log-mel spectrogram in the HiFi-GAN / Grad-TTS / Matcha-TTS convention.
//!
//! `reflect-pad (n_fft - hop) / 2` → STFT without centering → `sqrt(re² + im² + 1e-9)` → Slaney mel
//! filterbank (librosa's default, Slaney-normalised) → `ln(max(x, floor))`. Every size comes from
//! the voice's [`MelConfig`].

use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

use super::stft::Stft;

/// Mel settings stored in a voice file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub win_length: usize,
    pub hop_length: usize,
    pub n_mels: usize,
    pub f_min: f32,
    pub f_max: f32,
    /// Magnitudes below this are clamped before the logarithm.
    #[serde(default = "default_log_floor")]
    pub log_floor: f32,
}

fn default_log_floor() -> f32 {
    1e-5
}

impl Default for MelConfig {
    /// The 22 050 Hz, 80-band setting of HiFi-GAN, Grad-TTS and Matcha-TTS.
    fn default() -> Self {
        Self {
            sample_rate: 22_050,
            n_fft: 1024,
            win_length: 1024,
            hop_length: 256,
            n_mels: 80,
            f_min: 0.0,
            f_max: 8000.0,
            log_floor: 1e-5,
        }
    }
}

impl MelConfig {
    /// Checks the settings that would otherwise make the transform meaningless or panic.
    pub fn validate(&self) -> Result<(), String> {
        if self.sample_rate == 0 || self.hop_length == 0 || self.n_mels == 0 {
            return Err("sample_rate, hop_length and n_mels must be positive".into());
        }
        if self.win_length > self.n_fft || self.n_fft < self.hop_length {
            return Err(format!(
                "need hop_length <= n_fft and win_length <= n_fft (got n_fft {}, win_length {}, hop_length {})",
                self.n_fft, self.win_length, self.hop_length
            ));
        }
        if !(self.f_min >= 0.0
            && self.f_min < self.f_max
            && self.f_max <= self.sample_rate as f32 / 2.0)
        {
            return Err(format!(
                "need 0 <= f_min < f_max <= sample_rate / 2 (got {}..{} Hz at {} Hz)",
                self.f_min, self.f_max, self.sample_rate
            ));
        }
        if self.log_floor.is_nan() || self.log_floor <= 0.0 {
            return Err("log_floor must be positive".into());
        }
        Ok(())
    }

    /// Samples of reflect padding on each side.
    pub fn padding(&self) -> usize {
        (self.n_fft - self.hop_length) / 2
    }

    /// Mel frames for a signal of `len` samples.
    pub fn frame_count(&self, len: usize) -> usize {
        let padded = len + 2 * self.padding();
        if padded < self.n_fft {
            0
        } else {
            (padded - self.n_fft) / self.hop_length + 1
        }
    }
}

fn hz_to_mel_slaney(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

fn mel_to_hz_slaney(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        mel * f_sp
    }
}

/// Centre frequency in Hz of each Slaney mel band (the peak of its triangle).
pub fn mel_band_centres(cfg: &MelConfig) -> Vec<f32> {
    let (lo, hi) = (
        hz_to_mel_slaney(cfg.f_min as f64),
        hz_to_mel_slaney(cfg.f_max as f64),
    );
    let points = cfg.n_mels + 2;
    (1..=cfg.n_mels)
        .map(|i| mel_to_hz_slaney(lo + (hi - lo) * i as f64 / (points - 1) as f64) as f32)
        .collect()
}

/// One triangular band: its first nonzero bin and weights from there on.
#[derive(Debug, Clone)]
pub struct MelBand {
    pub first_bin: usize,
    pub weights: Vec<f32>,
}

/// librosa's `filters.mel(sr, n_fft, n_mels, fmin, fmax)` (Slaney scale and norm), kept sparse.
pub fn slaney_filterbank(cfg: &MelConfig) -> Vec<MelBand> {
    let bins = cfg.n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|i| i as f64 * cfg.sample_rate as f64 / cfg.n_fft as f64)
        .collect();
    let (lo, hi) = (
        hz_to_mel_slaney(cfg.f_min as f64),
        hz_to_mel_slaney(cfg.f_max as f64),
    );
    let points = cfg.n_mels + 2;
    let mel_freqs: Vec<f64> = (0..points)
        .map(|i| mel_to_hz_slaney(lo + (hi - lo) * i as f64 / (points - 1) as f64))
        .collect();
    (0..cfg.n_mels)
        .map(|m| {
            let (left, centre, right) = (mel_freqs[m], mel_freqs[m + 1], mel_freqs[m + 2]);
            let norm = 2.0 / (right - left);
            let dense: Vec<f32> = fft_freqs
                .iter()
                .map(|&f| {
                    let lower = (f - left) / (centre - left);
                    let upper = (right - f) / (right - centre);
                    (lower.min(upper).max(0.0) * norm) as f32
                })
                .collect();
            let first = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = dense
                .iter()
                .rposition(|&w| w > 0.0)
                .map_or(first, |p| p + 1);
            MelBand {
                first_bin: first,
                weights: dense[first..last].to_vec(),
            }
        })
        .collect()
}

/// A planned log-mel transform: allocate once, then compute into caller buffers.
pub struct MelSpectrogram {
    cfg: MelConfig,
    stft: Stft,
    bands: Vec<MelBand>,
    spectrum: Vec<Complex32>,
    magnitude: Vec<f32>,
}

impl MelSpectrogram {
    pub fn new(cfg: &MelConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            stft: Stft::new(cfg.n_fft, cfg.win_length, cfg.hop_length),
            bands: slaney_filterbank(cfg),
            spectrum: vec![Complex32::default(); cfg.n_fft / 2 + 1],
            magnitude: vec![0.0; cfg.n_fft / 2 + 1],
        }
    }

    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    pub fn bands(&self) -> &[MelBand] {
        &self.bands
    }

    /// Writes the log-mel of `signal` into `out`, laid out `[n_mels, frames]` (band-major, as the
    /// models take it). `out.len()` must be `n_mels * frame_count(signal.len())`. A signal too short
    /// to reflect-pad yields no frames.
    pub fn compute_into(&mut self, signal: &[f32], out: &mut [f32]) {
        let frames = self.cfg.frame_count(signal.len());
        let n_mels = self.cfg.n_mels;
        assert_eq!(
            out.len(),
            n_mels * frames,
            "log-mel output buffer has the wrong size"
        );
        let pad = self.cfg.padding();
        if frames == 0 || signal.len() <= pad {
            return;
        }
        for f in 0..frames {
            self.stft.reflect_frame(signal, pad, f, &mut self.spectrum);
            for (m, c) in self.magnitude.iter_mut().zip(&self.spectrum) {
                *m = (c.re * c.re + c.im * c.im + 1e-9).sqrt();
            }
            for (b, band) in self.bands.iter().enumerate() {
                let mags = &self.magnitude[band.first_bin..band.first_bin + band.weights.len()];
                let energy: f32 = mags.iter().zip(&band.weights).map(|(m, w)| m * w).sum();
                out[b * frames + f] = energy.max(self.cfg.log_floor).ln();
            }
        }
    }

    /// Convenience form of [`compute_into`](Self::compute_into) that allocates the output.
    pub fn compute(&mut self, signal: &[f32]) -> (Vec<f32>, usize) {
        let frames = self.cfg.frame_count(signal.len());
        let mut out = vec![0.0; self.cfg.n_mels * frames];
        self.compute_into(signal, &mut out);
        (out, frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_matches_the_matcha_convention() {
        let cfg = MelConfig::default();
        // (len + 768 - 1024) / 256 + 1 == len / 256 for the 22 kHz setting.
        assert_eq!(cfg.frame_count(22_050), 22_050 / 256);
        assert_eq!(cfg.frame_count(256 * 10), 10);
    }

    #[test]
    fn a_sine_peaks_in_the_band_holding_its_frequency() {
        let cfg = MelConfig::default();
        let signal: Vec<f32> = (0..8192)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 22_050.0).sin())
            .collect();
        let mut mel = MelSpectrogram::new(&cfg);
        let (out, frames) = mel.compute(&signal);
        let column: Vec<f32> = (0..cfg.n_mels)
            .map(|b| out[b * frames + frames / 2])
            .collect();
        let peak = column
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        let band = &mel.bands()[peak];
        let lo = band.first_bin as f32 * 22_050.0 / 1024.0;
        let hi = (band.first_bin + band.weights.len()) as f32 * 22_050.0 / 1024.0;
        assert!(
            lo <= 1000.0 && 1000.0 <= hi,
            "peak band {peak} spans {lo}..{hi} Hz"
        );
    }
}
