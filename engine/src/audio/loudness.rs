//! Loudness as broadcast measures it (ITU-R BS.1770-4 / EBU R128): K-weighting, gated integrated
//! loudness in LUFS, and the true peak (4× oversampled) in dBTP. Mono: the one channel has weight 1.

use std::f64::consts::PI;

/// Block length and step of the gating (400 ms blocks overlapping by 75 %).
const BLOCK_SECONDS: f64 = 0.4;
const STEP_SECONDS: f64 = 0.1;
/// Blocks quieter than this never count (silence).
const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// Blocks more than this below the ungated mean do not count (pauses, breaths).
const RELATIVE_GATE_LU: f64 = -10.0;
/// The true-peak meter's oversampling, and the taps of each of its interpolation phases.
const OVERSAMPLING: usize = 4;
const TAPS_PER_PHASE: usize = 12;

/// One second-order section, direct form I.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn run(&self, input: &[f64]) -> Vec<f64> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        input
            .iter()
            .map(|&x| {
                let y = self.b[0] * x + self.b[1] * x1 + self.b[2] * x2
                    - self.a[0] * y1
                    - self.a[1] * y2;
                (x2, x1, y2, y1) = (x1, x, y1, y);
                y
            })
            .collect()
    }
}

/// The two K-weighting stages at `rate`: BS.1770's high shelf (+4 dB above about 1.7 kHz, the
/// head's effect) and its high-pass (the RLB curve), designed for any rate from their analogue
/// prototypes, as the 48 kHz coefficients of the standard are.
fn k_weighting(rate: u32) -> [Biquad; 2] {
    let fs = rate as f64;
    let shelf = {
        let (gain_db, f0, q) = (
            3.999_843_853_973_347,
            1_681.974_450_955_533,
            0.707_175_236_955_419_6,
        );
        let k = (PI * f0 / fs).tan();
        let vh = 10f64.powf(gain_db / 20.0);
        let vb = vh.powf(0.499_666_774_154_541_6);
        let a0 = 1.0 + k / q + k * k;
        Biquad {
            b: [
                (vh + vb * k / q + k * k) / a0,
                2.0 * (k * k - vh) / a0,
                (vh - vb * k / q + k * k) / a0,
            ],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        }
    };
    let high_pass = {
        let (f0, q) = (38.135_470_876_024_44, 0.500_327_037_323_877_3);
        let k = (PI * f0 / fs).tan();
        let a0 = 1.0 + k / q + k * k;
        Biquad {
            b: [1.0, -2.0, 1.0],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        }
    };
    [shelf, high_pass]
}

fn lufs(mean_square: f64) -> f64 {
    -0.691 + 10.0 * mean_square.log10()
}

/// Integrated loudness of mono `samples` at `rate`, in LUFS; `None` when nothing is louder than
/// the absolute gate or the audio is shorter than one 400 ms block.
///
/// ```
/// use mellow_engine::audio::loudness::integrated_loudness;
/// // A full-scale 1 kHz sine reads -3.01 LUFS (BS.1770's calibration).
/// let tone: Vec<f32> = (0..48_000).map(|i| (i as f32 * 1000.0 * std::f32::consts::TAU / 48_000.0).sin()).collect();
/// let lufs = integrated_loudness(&tone, 48_000).unwrap();
/// assert!((lufs + 3.01).abs() < 0.05);
/// ```
pub fn integrated_loudness(samples: &[f32], rate: u32) -> Option<f64> {
    let block = (BLOCK_SECONDS * rate as f64).round() as usize;
    let step = (STEP_SECONDS * rate as f64).round() as usize;
    if rate == 0 || samples.len() < block {
        return None;
    }
    let mut weighted: Vec<f64> = samples.iter().map(|&s| s as f64).collect();
    for stage in k_weighting(rate) {
        weighted = stage.run(&weighted);
    }
    // Running sums make each block's mean square O(1).
    let mut prefix = Vec::with_capacity(weighted.len() + 1);
    prefix.push(0.0f64);
    for v in &weighted {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + v * v);
    }
    let blocks: Vec<f64> = (0..=(samples.len() - block) / step)
        .map(|i| (prefix[i * step + block] - prefix[i * step]) / block as f64)
        .filter(|&power| power > 0.0 && lufs(power) > ABSOLUTE_GATE_LUFS)
        .collect();
    if blocks.is_empty() {
        return None;
    }
    let mean = |powers: &[f64]| powers.iter().sum::<f64>() / powers.len() as f64;
    let relative_gate = lufs(mean(&blocks)) + RELATIVE_GATE_LU;
    let kept: Vec<f64> = blocks
        .into_iter()
        .filter(|&power| lufs(power) > relative_gate)
        .collect();
    Some(lufs(mean(&kept)))
}

/// The true peak of `samples` in dBTP: the largest magnitude of the signal between its samples
/// too, read at 4× the rate through a windowed-sinc interpolator (BS.1770-4, Annex 2). Silence
/// reads `-inf`.
///
/// ```
/// use mellow_engine::audio::loudness::true_peak_db;
/// // A sine at a quarter of the rate sampled at ±45°: samples peak at 0.707, the wave at 1.
/// let s: Vec<f32> = (0..400).map(|i| (std::f32::consts::FRAC_PI_4 + i as f32 * std::f32::consts::FRAC_PI_2).sin()).collect();
/// assert!(true_peak_db(&s).abs() < 0.3);
/// ```
pub fn true_peak_db(samples: &[f32]) -> f64 {
    let half = TAPS_PER_PHASE / 2;
    // Phase p interpolates at (p / OVERSAMPLING) of a sample after each input sample.
    let phases: Vec<Vec<f64>> = (0..OVERSAMPLING)
        .map(|p| {
            let frac = p as f64 / OVERSAMPLING as f64;
            (0..TAPS_PER_PHASE)
                .map(|k| {
                    let t = k as f64 - (half as f64 - 1.0) - frac;
                    let sinc = if t == 0.0 {
                        1.0
                    } else {
                        (PI * t).sin() / (PI * t)
                    };
                    let window = 0.5 + 0.5 * (PI * t / (half as f64 + 1.0)).cos();
                    sinc * window
                })
                .collect()
        })
        .collect();
    let at = |i: isize| -> f64 {
        usize::try_from(i)
            .ok()
            .and_then(|i| samples.get(i))
            .map_or(0.0, |&s| s as f64)
    };
    let mut peak = 0f64;
    for n in 0..samples.len() as isize {
        for taps in &phases {
            let v: f64 = taps
                .iter()
                .enumerate()
                .map(|(k, w)| w * at(n + k as isize - (half as isize - 1)))
                .sum();
            peak = peak.max(v.abs());
        }
    }
    20.0 * peak.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, amplitude: f32, rate: u32, seconds: f32) -> Vec<f32> {
        (0..(seconds * rate as f32) as usize)
            .map(|i| amplitude * (i as f32 * freq * std::f32::consts::TAU / rate as f32).sin())
            .collect()
    }

    #[test]
    fn a_full_scale_kilohertz_sine_reads_minus_three_at_any_rate() {
        for rate in [16_000, 22_050, 44_100, 48_000] {
            let lufs = integrated_loudness(&sine(1000.0, 1.0, rate, 2.0), rate).unwrap();
            assert!((lufs + 3.01).abs() < 0.05, "{rate} Hz: {lufs}");
        }
    }

    #[test]
    fn loudness_follows_gain_and_the_k_weighting() {
        let rate = 22_050;
        let quiet = integrated_loudness(&sine(1000.0, 0.1, rate, 2.0), rate).unwrap();
        assert!((quiet + 23.01).abs() < 0.05, "{quiet}");
        // The shelf lifts high frequencies (+3.3 dB at 6 kHz at this rate, the design warped
        // towards Nyquist); the high-pass cuts the lows. pyloudnorm reads 0.29 and -12.02 LUFS.
        let high = integrated_loudness(&sine(6000.0, 1.0, rate, 2.0), rate).unwrap();
        let low = integrated_loudness(&sine(30.0, 1.0, rate, 2.0), rate).unwrap();
        assert!((high - 0.29).abs() < 0.15, "{high}");
        assert!((low + 12.02).abs() < 0.15, "{low}");
    }

    #[test]
    fn gating_ignores_silence_and_pauses() {
        let rate = 22_050;
        let tone = sine(1000.0, 0.1, rate, 2.0);
        let mut with_silence = vec![0.0; rate as usize * 3];
        with_silence.extend(&tone);
        with_silence.extend(vec![0.0; rate as usize * 3]);
        let a = integrated_loudness(&tone, rate).unwrap();
        let b = integrated_loudness(&with_silence, rate).unwrap();
        // Only the blocks straddling the tone's edges count beside it (pyloudnorm: -23.06, -23.67).
        assert!(
            (a + 23.06).abs() < 0.1 && (b + 23.67).abs() < 0.1,
            "{a} vs {b}"
        );
        assert_eq!(integrated_loudness(&vec![0.0; 44_100], rate), None);
        assert_eq!(integrated_loudness(&tone[..1000], rate), None);
    }

    #[test]
    fn the_true_peak_sees_between_samples() {
        let s: Vec<f32> = (0..400)
            .map(|i| {
                (std::f32::consts::FRAC_PI_4 + i as f32 * std::f32::consts::FRAC_PI_2).sin() * 0.5
            })
            .collect();
        let sample_peak = 20.0 * (s.iter().fold(0f32, |m, v| m.max(v.abs())) as f64).log10();
        let true_peak = true_peak_db(&s);
        assert!((sample_peak - (-9.03)).abs() < 0.05, "{sample_peak}");
        assert!((true_peak - (-6.02)).abs() < 0.3, "{true_peak}");
        assert_eq!(true_peak_db(&[0.0; 10]), f64::NEG_INFINITY);
    }
}
