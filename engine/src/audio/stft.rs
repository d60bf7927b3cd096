//! Short-time Fourier transform and its inverse on rustfft, planned once.
//!
//! Conventions follow `torch.stft` / `torch.istft` with `center=False`: a periodic Hann window of
//! `win_length` is zero-padded to `n_fft` in the middle, frames start every `hop` samples, and the
//! inverse divides the overlap-added frames by the summed squared window.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// A periodic Hann window of `win_length`, centred inside `n_fft` samples (the torch convention).
pub fn hann_window(n_fft: usize, win_length: usize) -> Vec<f32> {
    let mut window = vec![0.0f32; n_fft];
    let offset = (n_fft - win_length) / 2;
    for (i, w) in window[offset..offset + win_length].iter_mut().enumerate() {
        let phase = 2.0 * std::f64::consts::PI * i as f64 / win_length as f64;
        *w = (0.5 - 0.5 * phase.cos()) as f32;
    }
    window
}

/// Index into a signal of `len` samples extended by reflection (`torch.nn.functional.pad`'s
/// `reflect` mode, edge sample not repeated).
pub fn reflect_index(j: isize, len: usize) -> usize {
    let len = len as isize;
    let j = if j < 0 { -j } else { j };
    let j = if j >= len { 2 * (len - 1) - j } else { j };
    j.clamp(0, len - 1) as usize
}

/// Forward STFT, one frame at a time into caller buffers; nothing allocates after `new`.
pub struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
    buffer: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl Stft {
    pub fn new(n_fft: usize, win_length: usize, hop: usize) -> Self {
        assert!(
            win_length <= n_fft && hop > 0,
            "STFT needs win_length <= n_fft and hop > 0"
        );
        let fft = FftPlanner::new().plan_fft_forward(n_fft);
        let scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
        Self {
            n_fft,
            hop,
            window: hann_window(n_fft, win_length),
            fft,
            buffer: vec![Complex32::default(); n_fft],
            scratch,
        }
    }

    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    pub fn hop(&self) -> usize {
        self.hop
    }

    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of whole frames in a signal of `len` samples (no centering).
    pub fn frame_count(&self, len: usize) -> usize {
        if len < self.n_fft {
            0
        } else {
            (len - self.n_fft) / self.hop + 1
        }
    }

    /// Transforms the frame whose samples `sample(i)` yields for `i` in `0..n_fft`, writing the
    /// one-sided spectrum (`n_fft / 2 + 1` bins) into `out`.
    pub fn frame_with(&mut self, sample: impl Fn(usize) -> f32, out: &mut [Complex32]) {
        for (i, (slot, w)) in self.buffer.iter_mut().zip(&self.window).enumerate() {
            *slot = Complex32::new(sample(i) * w, 0.0);
        }
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let bins = self.bins();
        out[..bins].copy_from_slice(&self.buffer[..bins]);
    }

    /// Transforms frame `index` of `signal` reflect-padded by `pad` samples on each side (frame
    /// `index` starts at `index * hop - pad`). `signal` must be longer than `pad`.
    pub fn reflect_frame(
        &mut self,
        signal: &[f32],
        pad: usize,
        index: usize,
        out: &mut [Complex32],
    ) {
        let start = (index * self.hop) as isize - pad as isize;
        self.frame_with(
            |i| signal[reflect_index(start + i as isize, signal.len())],
            out,
        );
    }

    /// Transforms frame `index` of `signal`, where frame `index` starts at `index * hop`.
    pub fn frame(&mut self, signal: &[f32], index: usize, out: &mut [Complex32]) {
        let start = index * self.hop;
        let frame = &signal[start..start + self.n_fft];
        self.frame_with(|i| frame[i], out);
    }
}

/// Inverse STFT by overlap-add with window-envelope normalisation; nothing allocates after `new`
/// except the output the caller sizes.
pub struct Istft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    ifft: Arc<dyn Fft<f32>>,
    buffer: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl Istft {
    pub fn new(n_fft: usize, win_length: usize, hop: usize) -> Self {
        assert!(
            win_length <= n_fft && hop > 0,
            "ISTFT needs win_length <= n_fft and hop > 0"
        );
        let ifft = FftPlanner::new().plan_fft_inverse(n_fft);
        let scratch = vec![Complex32::default(); ifft.get_inplace_scratch_len()];
        Self {
            n_fft,
            hop,
            window: hann_window(n_fft, win_length),
            ifft,
            buffer: vec![Complex32::default(); n_fft],
            scratch,
        }
    }

    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Length of the overlap-added signal for `frames` frames, before any trimming.
    pub fn full_len(&self, frames: usize) -> usize {
        if frames == 0 {
            0
        } else {
            (frames - 1) * self.hop + self.n_fft
        }
    }

    /// Overlap-adds the windowed inverse transforms of `frames` one-sided spectra (frame-major,
    /// `bins` each), divides by the squared-window envelope, and writes samples
    /// `trim .. trim + out.len()` of the full signal into `out`. `envelope` is scratch of the
    /// same length as `out`.
    pub fn process(
        &mut self,
        spectra: &[Complex32],
        frames: usize,
        trim: usize,
        out: &mut [f32],
        envelope: &mut [f32],
    ) {
        let bins = self.bins();
        let n = self.n_fft;
        out.fill(0.0);
        envelope.fill(0.0);
        let scale = 1.0 / n as f32;
        for f in 0..frames {
            let spectrum = &spectra[f * bins..(f + 1) * bins];
            self.buffer[..bins].copy_from_slice(spectrum);
            // Hermitian completion: the imaginary parts of DC and Nyquist are ignored, as irfft does.
            self.buffer[0].im = 0.0;
            if n.is_multiple_of(2) {
                self.buffer[n / 2].im = 0.0;
            }
            for k in 1..n - bins + 1 {
                self.buffer[n - k] = self.buffer[k].conj();
            }
            self.ifft
                .process_with_scratch(&mut self.buffer, &mut self.scratch);
            let start = f * self.hop;
            for i in 0..n {
                let pos = start + i;
                if pos < trim {
                    continue;
                }
                let j = pos - trim;
                if j >= out.len() {
                    break;
                }
                let w = self.window[i];
                out[j] += self.buffer[i].re * scale * w;
                envelope[j] += w * w;
            }
        }
        for (sample, env) in out.iter_mut().zip(envelope.iter()) {
            if *env > 1e-11 {
                *sample /= *env;
            } else {
                *sample = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istft_inverts_stft_away_from_the_edges() {
        let (n_fft, hop) = (64, 16);
        let signal: Vec<f32> = (0..640)
            .map(|i| ((i as f32) * 0.07).sin() + 0.3 * ((i as f32) * 0.31).cos())
            .collect();
        let mut stft = Stft::new(n_fft, n_fft, hop);
        let frames = stft.frame_count(signal.len());
        let bins = stft.bins();
        let mut spectra = vec![Complex32::default(); frames * bins];
        for f in 0..frames {
            stft.frame(&signal, f, &mut spectra[f * bins..(f + 1) * bins]);
        }
        let mut istft = Istft::new(n_fft, n_fft, hop);
        let len = istft.full_len(frames);
        let mut out = vec![0.0; len];
        let mut env = vec![0.0; len];
        istft.process(&spectra, frames, 0, &mut out, &mut env);
        for i in n_fft..len - n_fft {
            assert!(
                (out[i] - signal[i]).abs() < 1e-4,
                "sample {i}: {} vs {}",
                out[i],
                signal[i]
            );
        }
    }
}
