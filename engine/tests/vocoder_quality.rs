//! The weights-free vocoder on real speech (a 2.8 s teacher utterance): the spectral convergence
//! of its resynthesis, `‖|S| − |Ŝ|‖_F / ‖|S|‖_F` on the STFT magnitudes of the original and the
//! output, must stay below a bound; the figure is printed for docs/benchmarks.md.

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use mellow_engine::audio::wav::read_mono;
use mellow_engine::audio::{MelConfig, MelSpectrogram, Stft};
use mellow_engine::vocoder::phase::PhaseVocoder;
use mellow_engine::vocoder::Vocoder;
use rustfft::num_complex::Complex32;

fn magnitudes(signal: &[f32], frames: usize) -> Vec<f32> {
    let cfg = MelConfig::default();
    let mut stft = Stft::new(cfg.n_fft, cfg.win_length, cfg.hop_length);
    let bins = stft.bins();
    let mut spectrum = vec![Complex32::default(); bins];
    let mut out = Vec::with_capacity(frames * bins);
    for f in 0..frames {
        stft.reflect_frame(signal, cfg.padding(), f, &mut spectrum);
        out.extend(spectrum.iter().map(|c| c.norm()));
    }
    out
}

fn spectral_convergence(reference: &[f32], estimate: &[f32], frames: usize) -> f32 {
    let a = magnitudes(reference, frames);
    let b = magnitudes(estimate, frames);
    let num: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f32 = a.iter().map(|x| x * x).sum();
    (num / den).sqrt()
}

#[test]
fn phase_vocoder_resynthesises_real_speech() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/speech.wav");
    let (speech, rate) = read_mono(&path).unwrap();
    assert_eq!(rate, 22_050);
    let cfg = MelConfig::default();
    let (mel, frames) = MelSpectrogram::new(&cfg).compute(&speech);
    let mel = Tensor::from_vec(mel, (1, cfg.n_mels, frames), &Device::Cpu).unwrap();
    let mut results = Vec::new();
    for iterations in [0, 8, 32, 64] {
        let audio = PhaseVocoder::new(&cfg, iterations).vocode(&mel).unwrap();
        assert_eq!(audio.len(), frames * cfg.hop_length);
        let sc = spectral_convergence(&speech, &audio, frames);
        println!("phase vocoder, {iterations} iterations: spectral convergence {sc:.3}");
        results.push(sc);
    }
    // More iterations must help, and the default (32) must reach a usable reconstruction.
    assert!(results[2] < results[0], "{results:?}");
    assert!(results[2] < 0.35, "spectral convergence {results:?}");
}
