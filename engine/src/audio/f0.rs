//! The F0 heard in a signal: normalised autocorrelation over 40 ms frames, for showing the pitch
//! of a render against the pitch asked (`--plot`) and for checking it in tests. A frame is voiced
//! when it is loud enough and its best period repeats closely.

/// Lowest and highest F0 looked for, in Hz (speech, low male to high female).
pub const F0_SEARCH_HZ: (f32, f32) = (60.0, 400.0);
/// Correlation at the best period above which a frame counts as voiced.
const VOICED_CORRELATION: f32 = 0.8;
/// How much less than the best correlation a shorter period may have and still be chosen.
const OCTAVE_MARGIN: f32 = 0.03;
/// Frames quieter than this share of the loudest sample are not looked at.
const QUIET: f32 = 0.05;

/// F0 in Hz (or `None` where unvoiced) of 40 ms frames centred every `hop` samples, the first
/// at sample `hop / 2`.
///
/// ```
/// use mellow_engine::audio::f0::track_f0;
/// let rate = 16_000;
/// let tone: Vec<f32> = (0..rate)
///     .map(|i| (2.0 * std::f32::consts::PI * 150.0 * i as f32 / rate as f32).sin())
///     .collect();
/// let track = track_f0(&tone, rate, 160);
/// let middle = track[50].unwrap();
/// assert!((middle - 150.0).abs() < 1.5, "{middle}");
/// ```
pub fn track_f0(samples: &[f32], rate: u32, hop: usize) -> Vec<Option<f32>> {
    let hop = hop.max(1);
    let window = rate as usize / 25;
    let shortest = (rate as f32 / F0_SEARCH_HZ.1).floor().max(2.0) as usize;
    let longest = (rate as f32 / F0_SEARCH_HZ.0).ceil() as usize;
    let loudest = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    let frames = samples.len().div_ceil(hop);
    (0..frames)
        .map(|k| {
            let centre = k * hop + hop / 2;
            let start = centre.checked_sub(window / 2)?;
            let x = samples.get(start..start + window + longest)?;
            let energy: f32 = x[..window].iter().map(|v| v * v).sum();
            if loudest == 0.0 || (energy / window as f32).sqrt() < QUIET * loudest {
                return None;
            }
            let score = |lag: usize| {
                let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
                for i in 0..window {
                    ab += x[i] * x[i + lag];
                    aa += x[i] * x[i];
                    bb += x[i + lag] * x[i + lag];
                }
                ab / (aa * bb).sqrt().max(1e-12)
            };
            let scores: Vec<f32> = (shortest..=longest).map(score).collect();
            let top = scores.iter().copied().fold(f32::MIN, f32::max);
            if top < VOICED_CORRELATION {
                return None;
            }
            // Every multiple of the period repeats as well: the shortest period that is a peak
            // nearly as good as the best is the F0 (not an octave or more below it).
            let is_peak = |i: usize| {
                let before = i.checked_sub(1).map_or(f32::MIN, |j| scores[j]);
                let after = scores.get(i + 1).copied().unwrap_or(f32::MIN);
                scores[i] >= before && scores[i] >= after
            };
            let best =
                (0..scores.len()).find(|&i| scores[i] >= top - OCTAVE_MARGIN && is_peak(i))?;
            let peak = scores[best];
            // A parabola through the peak and its neighbours places the period between samples.
            let offset = match (best.checked_sub(1), scores.get(best + 1)) {
                (Some(before), Some(&after)) => {
                    let (a, b, c) = (scores[before], peak, after);
                    let bend = a - 2.0 * b + c;
                    if bend < 0.0 {
                        0.5 * (a - c) / bend
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            };
            Some(rate as f32 / ((shortest + best) as f32 + offset))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harmonic_tone(f0: impl Fn(f32) -> f32, rate: u32, seconds: f32) -> Vec<f32> {
        let mut phase = 0f32;
        (0..(rate as f32 * seconds) as usize)
            .map(|i| {
                phase += std::f32::consts::TAU * f0(i as f32 / rate as f32) / rate as f32;
                (1..6).map(|k| (k as f32 * phase).sin() / k as f32).sum()
            })
            .collect()
    }

    #[test]
    fn tones_and_glides_are_tracked_within_a_few_cents() {
        let rate = 22_050;
        for f0 in [70.0, 120.0, 250.0, 380.0] {
            let track = track_f0(&harmonic_tone(|_| f0, rate, 0.5), rate, 256);
            let voiced: Vec<f32> = track.iter().flatten().copied().collect();
            assert!(voiced.len() > 30, "{f0} Hz: {} voiced", voiced.len());
            for f in voiced {
                assert!((12.0 * (f / f0).log2()).abs() < 0.1, "{f0} Hz heard as {f}");
            }
        }
        let glide = harmonic_tone(|t| 100.0 * 2f32.powf(t), rate, 1.0);
        let track = track_f0(&glide, rate, 256);
        for (k, f) in track.iter().enumerate() {
            if let Some(f) = f {
                let t = (k * 256 + 128) as f32 / rate as f32;
                let asked = 100.0 * 2f32.powf(t);
                assert!(
                    (12.0 * (f / asked).log2()).abs() < 0.2,
                    "{t} s: {f} for {asked}"
                );
            }
        }
    }

    #[test]
    fn silence_noise_and_edges_are_unvoiced() {
        let rate = 16_000;
        assert!(track_f0(&[0.0; 8000], rate, 160)
            .iter()
            .all(Option::is_none));
        let mut state = 1u32;
        let noise: Vec<f32> = (0..8000)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let voiced = track_f0(&noise, rate, 160).iter().flatten().count();
        assert!(voiced < 3, "{voiced} noise frames voiced");
        assert!(track_f0(&[0.5; 10], rate, 160).iter().all(Option::is_none));
    }
}
