//! The voice's own intonation: each phoneme's pitch from the text encoder's states (FastPitch's
//! pitch predictor, arXiv 2006.06873; trained by `tools/train/train_intonation.py`), joined into
//! an F0 curve over the frames with straight lines between phoneme centres. An F0-aware vocoder
//! plays the curve; `--pitch` moves it and `--pitch-range` scales it around the voice's mean.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::nn::layers::{Conv1d, ConvSpec, LayerNorm, Linear};

/// Where the predictor's weights sit in a voice file.
pub const PREFIX: &str = "intonation";

/// The tensor (under [`PREFIX`]) whose presence means a voice has a predictor.
pub const MARKER: &str = "conv1.weight";

/// Two convolutions with ReLU and LayerNorm, then one value per phoneme: its log-F0, normalised
/// by the voice's mean and deviation.
pub struct IntonationPredictor {
    conv1: Conv1d,
    norm1: LayerNorm,
    conv2: Conv1d,
    norm2: LayerNorm,
    out: Linear,
    log_f0_mean: f32,
    log_f0_std: f32,
    range_scale: f32,
}

impl IntonationPredictor {
    /// The predictor under `vb` (the voice's `intonation.` tensors), or `None` when the voice has
    /// none.
    pub fn load(vb: &VarBuilder, channels: usize) -> Result<Option<Self>> {
        let vb = vb.pp(PREFIX);
        if !vb.contains_tensor(MARKER) {
            return Ok(None);
        }
        let hidden = vb.get_unchecked("conv1.bias")?.dim(0)?;
        let kernel = vb.get_unchecked("conv1.weight")?.dim(2)?;
        let scalar = |name: &str| -> Result<f32> {
            vb.get(1, name)?
                .to_dtype(candle_core::DType::F32)?
                .get(0)?
                .to_scalar::<f32>()
        };
        let log_f0_std = scalar("log_f0_std")?;
        if !(log_f0_std.is_finite() && log_f0_std > 0.0) {
            candle_core::bail!("intonation.log_f0_std must be finite and positive")
        }
        let range_scale = match vb.contains_tensor("range_scale") {
            true => scalar("range_scale")?,
            false => 1.0,
        };
        if !(range_scale.is_finite() && (0.5..=2.0).contains(&range_scale)) {
            candle_core::bail!("intonation.range_scale must be 0.5..=2 (got {range_scale})")
        }
        Ok(Some(Self {
            conv1: Conv1d::new(channels, hidden, ConvSpec::same(kernel), vb.pp("conv1"))?,
            norm1: LayerNorm::new(hidden, 1e-5, vb.pp("norm1"))?,
            conv2: Conv1d::new(hidden, hidden, ConvSpec::same(kernel), vb.pp("conv2"))?,
            norm2: LayerNorm::new(hidden, 1e-5, vb.pp("norm2"))?,
            out: Linear::new(hidden, 1, true, vb.pp("out"))?,
            log_f0_mean: scalar("log_f0_mean")?,
            log_f0_std,
            range_scale,
        }))
    }

    /// Encoder states `[1, C, N]` → each phoneme's natural log of F0 in Hz.
    pub fn log_f0(&self, states: &Tensor) -> Result<Vec<f32>> {
        // [1, C, N] -> [1, N, H] after each convolution, for the norms over channels.
        let x = self.conv1.forward(states)?.relu()?.transpose(1, 2)?;
        let x = self.norm1.forward(&x)?.transpose(1, 2)?.contiguous()?;
        let x = self.conv2.forward(&x)?.relu()?.transpose(1, 2)?;
        let x = self.norm2.forward(&x)?;
        let normalised = self.out.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(normalised
            .into_iter()
            .map(|v| v * self.log_f0_std + self.log_f0_mean)
            .collect())
    }

    /// The voice's mean log-F0 (natural log of Hz): the centre `--pitch-range` scales around.
    pub fn mean_log_f0(&self) -> f32 {
        self.log_f0_mean
    }

    /// How much the predicted swings are widened to span as the recordings did (a regression
    /// pulls its values towards the mean); measured on held-out text by the trainer.
    pub fn range_scale(&self) -> f32 {
        self.range_scale
    }
}

/// How the voice's own intonation is played: its log-F0 scaled around the voice's mean by
/// `range` (the user's `--pitch-range` times the predictor's [`IntonationPredictor::range_scale`]).
///
/// ```
/// use mellow_engine::acoustic::intonation::IntonationRange;
/// let flat = IntonationRange { mean: 4.5, range: 0.0 };
/// assert_eq!(flat.apply(5.0), 4.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntonationRange {
    /// The centre, in natural log of Hz.
    pub mean: f32,
    pub range: f32,
}

impl IntonationRange {
    pub fn apply(&self, log_f0: f32) -> f32 {
        self.mean + self.range * (log_f0 - self.mean)
    }
}

/// Frame `t`'s value on the straight lines through `(centre of phoneme i, values[i])`, held flat
/// before the first centre and after the last; frame `t` is taken at `t + 0.5`.
///
/// ```
/// use mellow_engine::acoustic::intonation::frame_curve;
/// // Two phonemes of 4 frames: centres at 2 and 6.
/// let curve = frame_curve(&[0.0, 4.0], &[4.0, 4.0], 0..8);
/// assert_eq!(curve, vec![0.0, 0.0, 0.5, 1.5, 2.5, 3.5, 4.0, 4.0]);
/// ```
pub fn frame_curve(values: &[f32], durations: &[f32], frames: std::ops::Range<usize>) -> Vec<f32> {
    let mut centres = Vec::with_capacity(durations.len());
    let mut start = 0f32;
    for &d in durations {
        centres.push(start + d / 2.0);
        start += d;
    }
    let n = values.len().min(centres.len());
    frames
        .map(|t| {
            if n == 0 {
                return 0.0;
            }
            let at = t as f32 + 0.5;
            let next = centres[..n].partition_point(|&c| c <= at);
            if next == 0 {
                values[0]
            } else if next == n {
                values[n - 1]
            } else {
                let (c0, c1) = (centres[next - 1], centres[next]);
                let w = if c1 > c0 { (at - c0) / (c1 - c0) } else { 1.0 };
                values[next - 1] + w * (values[next] - values[next - 1])
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_holds_at_its_ends_and_skips_empty_phonemes() {
        assert_eq!(frame_curve(&[1.0], &[3.0], 0..3), vec![1.0; 3]);
        // A phoneme of no frames shares its centre with its neighbour's edge.
        let c = frame_curve(&[0.0, 9.0, 2.0], &[2.0, 0.0, 2.0], 0..4);
        assert_eq!(c[0], 0.0);
        assert_eq!(c[3], 2.0);
        assert!(c.iter().all(|v| v.is_finite()));
        assert!(frame_curve(&[], &[], 0..2).iter().all(|&v| v == 0.0));
    }
}
