//! Pitch shifting in the mel domain, without changing speed: each frame's spectrum is moved along
//! the frequency axis by `2^(semitones / 12)`. Harmonics and formants move together (as with
//! resampling), which stays natural for shifts of a few semitones.

use super::mel::{mel_band_centres, MelConfig};

/// Largest shift accepted, in semitones either way.
pub const MAX_SEMITONES: f32 = 24.0;

/// Shifts a log-mel laid out `[n_mels, frames]` by `semitones[f]` in frame `f` (a curve shorter or
/// longer than the mel is stretched to fit it). Bands moved in from outside the range are silent.
pub fn shift_pitch(mel: &mut [f32], cfg: &MelConfig, frames: usize, semitones: &[f32]) {
    if semitones.is_empty() || frames == 0 || semitones.iter().all(|&s| s == 0.0) {
        return;
    }
    let n = cfg.n_mels;
    let centres = mel_band_centres(cfg);
    let silent = cfg.log_floor.ln();
    let mut column = vec![0f32; n];
    for f in 0..frames {
        let shift = curve_at(semitones, f, frames);
        if shift == 0.0 {
            continue;
        }
        let ratio = 2f32.powf(shift / 12.0);
        for (b, slot) in column.iter_mut().enumerate() {
            *slot = mel[b * frames + f];
        }
        for b in 0..n {
            // The band that lands here came from frequency f_b / ratio.
            let source = centres[b] / ratio;
            mel[b * frames + f] = match centres.iter().position(|&c| c >= source) {
                Some(0) if source < centres[0] => silent,
                Some(0) => column[0],
                Some(hi) => {
                    let lo = hi - 1;
                    let t = (source - centres[lo]) / (centres[hi] - centres[lo]);
                    column[lo] * (1.0 - t) + column[hi] * t
                }
                None => silent,
            };
        }
    }
}

/// A curve stretched linearly over `frames` frames (a one-point curve stays constant).
///
/// ```
/// let stretched = mellow_engine::audio::pitch::stretch_curve(&[0.0, 10.0], 11);
/// assert_eq!((stretched[0], stretched[5], stretched[10]), (0.0, 5.0, 10.0));
/// ```
pub fn stretch_curve(curve: &[f32], frames: usize) -> Vec<f32> {
    (0..frames).map(|f| curve_at(curve, f, frames)).collect()
}

/// The curve's value at frame `f` of `frames`, stretching the curve linearly over the frames.
///
/// ```
/// assert_eq!(mellow_engine::audio::pitch::curve_at(&[0.0, 10.0], 5, 11), 5.0);
/// ```
pub fn curve_at(curve: &[f32], f: usize, frames: usize) -> f32 {
    if curve.len() == 1 || frames == 1 {
        return curve[0];
    }
    let x = f as f32 * (curve.len() - 1) as f32 / (frames - 1) as f32;
    let i = (x.floor() as usize).min(curve.len() - 2);
    let t = x - i as f32;
    curve[i] * (1.0 - t) + curve[i + 1] * t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::MelSpectrogram;

    fn peak_band(mel: &[f32], frames: usize, n: usize, f: usize) -> usize {
        (0..n)
            .max_by(|&a, &b| mel[a * frames + f].total_cmp(&mel[b * frames + f]))
            .unwrap()
    }

    #[test]
    fn an_octave_up_moves_a_tone_to_twice_its_frequency() {
        let cfg = MelConfig::default();
        let tone: Vec<f32> = (0..8192)
            .map(|i| (2.0 * std::f32::consts::PI * 500.0 * i as f32 / 22_050.0).sin())
            .collect();
        let octave: Vec<f32> = (0..8192)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 22_050.0).sin())
            .collect();
        let mut m = MelSpectrogram::new(&cfg);
        let (mut shifted, frames) = m.compute(&tone);
        let (reference, _) = m.compute(&octave);
        shift_pitch(&mut shifted, &cfg, frames, &[12.0]);
        let f = frames / 2;
        let (got, want) = (
            peak_band(&shifted, frames, cfg.n_mels, f),
            peak_band(&reference, frames, cfg.n_mels, f),
        );
        assert!(
            got.abs_diff(want) <= 1,
            "peak in band {got}, the octave's is {want}"
        );
    }

    #[test]
    fn a_curve_is_stretched_over_the_frames() {
        assert_eq!(curve_at(&[0.0, 10.0], 0, 11), 0.0);
        assert_eq!(curve_at(&[0.0, 10.0], 5, 11), 5.0);
        assert_eq!(curve_at(&[0.0, 10.0], 10, 11), 10.0);
        assert_eq!(curve_at(&[3.0], 7, 11), 3.0);
    }
}
