//! The pitch an F0-conditioned acoustic model is told (`tools/train/train_pitched.py`): each
//! frame's log-F0 and voicing, and the mel spectrum of a harmonic comb at that F0, projected by a
//! 1x1 convolution and added to the frame prior the decoder is conditioned on. The decoder then
//! draws the harmonics of the F0 it is given, so a vocoder that plays that F0 finds them where it
//! puts its own. A frame-level predictor over the text-only prior says which frames are voiced
//! (and, for voices without an intonation predictor, their F0).

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::intonation::IntonationRange;
use crate::nn::layers::{Conv1d, ConvSpec, GroupNorm};

/// Where the pitch conditioning's weights sit in a voice file.
pub const PREFIX: &str = "pitch";

/// The tensor (under [`PREFIX`]) whose presence means a voice has the conditioning.
pub const MARKER: &str = "proj.weight";

/// The lowest F0 the comb is drawn at, as in training (below it the teeth merge).
const COMB_FLOOR_HZ: f32 = 20.0;

/// A harmonic comb's log-mel: `gain * ln(1 + 100 * mel(comb)) / 4` with the comb
/// `(0.5 + 0.5 cos(2 pi f / F0))^sharpness` over the STFT bins, zero where unvoiced.
struct HarmonicComb {
    /// `[n_mels][bins]`, the mel filterbank the model was trained with.
    basis: Vec<Vec<f32>>,
    bin_hz: f32,
    sharpness: i32,
    gain: f32,
}

impl HarmonicComb {
    fn load(vb: &VarBuilder, n_mels: usize) -> Result<Self> {
        let basis = vb
            .get_unchecked_dtype("comb_basis", DType::F32)?
            .to_vec2::<f32>()?;
        if basis.len() != n_mels || basis.iter().any(|row| row.len() != basis[0].len()) {
            candle_core::bail!("pitch.comb_basis must be [{n_mels}, bins]")
        }
        let bin_hz = scalar(vb, "comb_bin_hz")?;
        let sharpness = scalar(vb, "comb_sharpness")?;
        let gain = scalar(vb, "comb_gain")?;
        if !(bin_hz.is_finite() && bin_hz > 0.0) {
            candle_core::bail!("pitch.comb_bin_hz must be positive (got {bin_hz})")
        }
        if !(sharpness.fract() == 0.0 && (1.0..=64.0).contains(&sharpness)) {
            candle_core::bail!(
                "pitch.comb_sharpness must be a whole number 1..=64 (got {sharpness})"
            )
        }
        if !(gain.is_finite() && gain.abs() <= 100.0) {
            candle_core::bail!("pitch.comb_gain must be finite and at most 100 (got {gain})")
        }
        Ok(Self {
            basis,
            bin_hz,
            sharpness: sharpness as i32,
            gain,
        })
    }

    /// The comb's log-mel at `f0` Hz into `out` (one value per band).
    fn mel(&self, f0: f32, out: &mut [f32], comb: &mut Vec<f32>) {
        let bins = self.basis[0].len();
        let f0 = f0.max(COMB_FLOOR_HZ);
        comb.clear();
        comb.extend((0..bins).map(|k| {
            let phase = std::f32::consts::TAU * k as f32 * self.bin_hz / f0;
            (0.5 + 0.5 * phase.cos()).powi(self.sharpness)
        }));
        for (band, value) in self.basis.iter().zip(out.iter_mut()) {
            let energy: f32 = band.iter().zip(comb.iter()).map(|(w, c)| w * c).sum();
            *value = self.gain * (100.0 * energy).ln_1p() / 4.0;
        }
    }
}

/// Frame-level log-F0 (normalised) and voicing logit from the text-only frame prior: four
/// convolutions (kernel 5, dilations 1, 2, 1, 2) with ReLU and one-group GroupNorm, then a 1x1.
struct FramePitchPredictor {
    body: Vec<(Conv1d, GroupNorm)>,
    out: Conv1d,
}

impl FramePitchPredictor {
    fn load(vb: &VarBuilder, n_feats: usize) -> Result<Self> {
        let vb = vb.pp("predictor");
        let hidden = vb.get_unchecked("body.0.bias")?.dim(0)?;
        let kernel = vb.get_unchecked("body.0.weight")?.dim(2)?;
        let mut body = Vec::new();
        let mut channels = n_feats;
        // PyTorch's Sequential numbering: conv, ReLU, norm per layer.
        while vb.contains_tensor(&format!("body.{}.weight", 3 * body.len())) {
            let layer = body.len();
            let dilation = 1 + layer % 2;
            let spec = ConvSpec {
                padding: (kernel / 2) * dilation,
                dilation,
                ..ConvSpec::same(kernel)
            };
            let conv = Conv1d::new(channels, hidden, spec, vb.pp(format!("body.{}", 3 * layer)))?;
            let norm = GroupNorm::new(1, hidden, vb.pp(format!("body.{}", 3 * layer + 2)))?;
            body.push((conv, norm));
            channels = hidden;
        }
        if body.is_empty() {
            candle_core::bail!("pitch.predictor has no layers")
        }
        let out = Conv1d::new(hidden, 2, ConvSpec::same(1), vb.pp("out"))?;
        Ok(Self { body, out })
    }

    /// `[1, n_feats, T]` prior and `[1, 1, T]` mask → `[1, 2, T]`.
    fn forward(&self, mu: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let mut x = mu.broadcast_mul(mask)?;
        for (conv, norm) in &self.body {
            x = norm.forward(&conv.forward(&x)?.relu()?)?;
        }
        self.out.forward(&x)?.broadcast_mul(mask)
    }
}

/// A frame's pitch as the decoder is told it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FramePitch {
    /// Natural log of F0 in Hz (ignored where unvoiced).
    pub log_f0: f32,
    pub voiced: bool,
}

/// Where the F0 an F0-conditioned decoder is told comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum F0Source {
    /// The voice's intonation predictor, per phoneme, joined over the frames and scaled.
    Intonation(IntonationRange),
    /// A curve of log-F0 (natural log of Hz) per frame, such as a conditioning file's; held at
    /// its last value past its end.
    Given(Vec<f32>),
    /// The decoder's own frame-level predictor.
    Predicted,
}

/// What an F0-conditioned decoder is told about pitch: where its F0 comes from and how many
/// semitones it is moved (the same F0 an F0-aware vocoder is asked to play).
///
/// ```
/// use mellow_engine::acoustic::pitch_condition::{F0Source, PitchGuide};
/// let a_fifth_up = PitchGuide { source: F0Source::Predicted, shift: vec![7.0] };
/// assert_eq!(a_fifth_up.shift_at(10, 100), 7.0);
/// let glide = PitchGuide { source: F0Source::Predicted, shift: vec![0.0, 12.0] };
/// assert_eq!(glide.shift_at(99, 100), 12.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PitchGuide {
    pub source: F0Source,
    /// Semitones: one value for every frame, or a curve stretched over the segment's frames.
    pub shift: Vec<f32>,
}

impl Default for PitchGuide {
    fn default() -> Self {
        Self {
            source: F0Source::Predicted,
            shift: vec![0.0],
        }
    }
}

impl PitchGuide {
    /// Whether the shift is a curve, which needs the segment's frame count.
    pub fn shift_is_curve(&self) -> bool {
        self.shift.len() > 1
    }

    /// The shift in semitones at frame `frame` of `frames`.
    pub fn shift_at(&self, frame: usize, frames: usize) -> f32 {
        match self.shift.as_slice() {
            [] => 0.0,
            [constant] => *constant,
            curve => crate::audio::pitch::curve_at(curve, frame, frames),
        }
    }
}

/// The F0 conditioning of an F0-conditioned voice (see the module's comment).
pub struct PitchCondition {
    proj: Conv1d,
    comb: Option<HarmonicComb>,
    predictor: FramePitchPredictor,
    log_f0_mean: f32,
    log_f0_std: f32,
}

impl PitchCondition {
    /// The conditioning under `vb` (the voice's `pitch.` tensors), or `None` when the voice has
    /// none (a plain acoustic model).
    pub fn load(vb: &VarBuilder, n_feats: usize) -> Result<Option<Self>> {
        let vb = vb.pp(PREFIX);
        if !vb.contains_tensor(MARKER) {
            return Ok(None);
        }
        let inputs = vb.get_unchecked("proj.weight")?.dim(1)?;
        let comb = match inputs {
            2 => None,
            n if n == 2 + n_feats => Some(HarmonicComb::load(&vb, n_feats)?),
            n => candle_core::bail!(
                "pitch.proj reads {n} channels: 2 (log-F0, voiced) or {} (with the comb)",
                2 + n_feats
            ),
        };
        let log_f0_std = scalar(&vb, "log_f0_std")?;
        if !(log_f0_std.is_finite() && log_f0_std > 0.0) {
            candle_core::bail!("pitch.log_f0_std must be finite and positive")
        }
        let log_f0_mean = scalar(&vb, "log_f0_mean")?;
        if !log_f0_mean.is_finite() {
            candle_core::bail!("pitch.log_f0_mean must be finite")
        }
        Ok(Some(Self {
            proj: Conv1d::new(inputs, n_feats, ConvSpec::same(1), vb.pp("proj"))?,
            comb,
            predictor: FramePitchPredictor::load(&vb, n_feats)?,
            log_f0_mean,
            log_f0_std,
        }))
    }

    /// Each frame's pitch as the voice itself would give it, from the text-only prior
    /// `[1, n_feats, T]` and its mask `[1, 1, T]`.
    pub fn predict(&self, mu: &Tensor, mask: &Tensor) -> Result<Vec<FramePitch>> {
        let out = self
            .predictor
            .forward(mu, mask)?
            .squeeze(0)?
            .to_vec2::<f32>()?;
        Ok(out[0]
            .iter()
            .zip(&out[1])
            .map(|(&normalised, &logit)| FramePitch {
                log_f0: normalised * self.log_f0_std + self.log_f0_mean,
                voiced: logit > 0.0,
            })
            .collect())
    }

    /// What `pitch` adds to the frame prior: `[1, n_feats, pitch.len()]`.
    pub fn condition(&self, pitch: &[FramePitch], device: &Device) -> Result<Tensor> {
        let frames = pitch.len();
        let bands = self.comb.as_ref().map_or(0, |c| c.basis.len());
        let mut input = vec![0f32; (2 + bands) * frames];
        let mut column = vec![0f32; bands];
        let mut comb_bins = Vec::new();
        for (t, p) in pitch.iter().enumerate() {
            if !p.voiced || !p.log_f0.is_finite() {
                // As in training: unvoiced frames carry zeros (normalised log-F0 0, no comb).
                continue;
            }
            input[t] = (p.log_f0 - self.log_f0_mean) / self.log_f0_std;
            input[frames + t] = 1.0;
            if let Some(comb) = &self.comb {
                comb.mel(p.log_f0.exp(), &mut column, &mut comb_bins);
                for (b, v) in column.iter().enumerate() {
                    input[(2 + b) * frames + t] = *v;
                }
            }
        }
        let input = Tensor::from_vec(input, (1, 2 + bands, frames), &Device::Cpu)?;
        self.proj.forward(&input.to_device(device)?)
    }
}

fn scalar(vb: &VarBuilder, name: &str) -> Result<f32> {
    vb.get_unchecked_dtype(name, DType::F32)?
        .flatten_all()?
        .get(0)?
        .to_scalar::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn comb() -> HarmonicComb {
        let bins = 513;
        let cfg = crate::audio::MelConfig::default();
        let basis = crate::audio::mel::slaney_filterbank(&cfg)
            .into_iter()
            .map(|band| {
                let mut row = vec![0f32; bins];
                row[band.first_bin..band.first_bin + band.weights.len()]
                    .copy_from_slice(&band.weights);
                row
            })
            .collect();
        HarmonicComb {
            basis,
            bin_hz: 22_050.0 / 1024.0,
            sharpness: 8,
            gain: 1.0,
        }
    }

    #[test]
    fn the_comb_lights_the_bands_of_its_harmonics() {
        let comb = comb();
        let mut low = vec![0f32; 80];
        let mut high = vec![0f32; 80];
        let mut scratch = Vec::new();
        comb.mel(100.0, &mut low, &mut scratch);
        comb.mel(200.0, &mut high, &mut scratch);
        let centres = crate::audio::mel::mel_band_centres(&crate::audio::MelConfig::default());
        let band_at = |hz: f32| centres.iter().position(|&c| c >= hz).expect("a band above");
        // 100 Hz is a harmonic of 100 Hz, not of 200 Hz; 200 Hz is of both.
        assert!(low[band_at(100.0)] > 2.0 * high[band_at(100.0)]);
        assert!(high[band_at(200.0)] > 0.5 * low[band_at(200.0)]);
        assert!(low.iter().chain(&high).all(|v| v.is_finite() && *v >= 0.0));
    }

    #[test]
    fn a_projection_of_another_width_is_refused_by_name() {
        let dev = Device::Cpu;
        let t = HashMap::from([(
            "pitch.proj.weight".to_string(),
            Tensor::zeros((80, 5, 1), DType::F32, &dev).unwrap(),
        )]);
        let vb = VarBuilder::from_tensors(t, DType::F32, &dev);
        let err = PitchCondition::load(&vb, 80).err().unwrap().to_string();
        assert!(err.contains("pitch.proj reads 5 channels"), "{err}");
        let none = VarBuilder::from_tensors(HashMap::new(), DType::F32, &dev);
        assert!(PitchCondition::load(&none, 80).unwrap().is_none());
    }

    #[test]
    fn unvoiced_frames_add_only_the_bias() {
        let dev = Device::Cpu;
        let n_feats = 80;
        let mut t: HashMap<String, Tensor> = HashMap::new();
        let weight: Vec<f32> = (0..n_feats * (2 + n_feats))
            .map(|i| ((i % 7) as f32 - 3.0) * 0.1)
            .collect();
        t.insert(
            "pitch.proj.weight".into(),
            Tensor::from_vec(weight, (n_feats, 2 + n_feats, 1), &dev).unwrap(),
        );
        t.insert(
            "pitch.proj.bias".into(),
            Tensor::full(0.25f32, n_feats, &dev).unwrap(),
        );
        let basis: Vec<Vec<f32>> = comb().basis;
        let flat: Vec<f32> = basis.concat();
        t.insert(
            "pitch.comb_basis".into(),
            Tensor::from_vec(flat, (n_feats, 513), &dev).unwrap(),
        );
        for (name, v) in [
            ("comb_bin_hz", 22_050.0 / 1024.0),
            ("comb_sharpness", 8.0),
            ("comb_gain", 5.0),
            ("log_f0_mean", 4.5),
            ("log_f0_std", 0.2),
        ] {
            t.insert(
                format!("pitch.{name}"),
                Tensor::new(&[v as f32], &dev).unwrap(),
            );
        }
        for (i, c_in) in [(0, n_feats), (3, 8), (6, 8), (9, 8)] {
            t.insert(
                format!("pitch.predictor.body.{i}.weight"),
                Tensor::full(0.01f32, (8, c_in, 5), &dev).unwrap(),
            );
            t.insert(
                format!("pitch.predictor.body.{i}.bias"),
                Tensor::zeros(8, DType::F32, &dev).unwrap(),
            );
            t.insert(
                format!("pitch.predictor.body.{}.weight", i + 2),
                Tensor::ones(8, DType::F32, &dev).unwrap(),
            );
            t.insert(
                format!("pitch.predictor.body.{}.bias", i + 2),
                Tensor::zeros(8, DType::F32, &dev).unwrap(),
            );
        }
        t.insert(
            "pitch.predictor.out.weight".into(),
            Tensor::full(0.1f32, (2, 8, 1), &dev).unwrap(),
        );
        t.insert(
            "pitch.predictor.out.bias".into(),
            Tensor::new(&[0f32, 10.0], &dev).unwrap(),
        );
        let vb = VarBuilder::from_tensors(t, DType::F32, &dev);
        let condition = PitchCondition::load(&vb, n_feats).unwrap().unwrap();
        let pitch = [
            FramePitch {
                log_f0: 120f32.ln(),
                voiced: false,
            },
            FramePitch {
                log_f0: 120f32.ln(),
                voiced: true,
            },
        ];
        let added = condition
            .condition(&pitch, &dev)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!(added.iter().all(|band| band[0] == 0.25));
        assert!(added.iter().any(|band| (band[1] - 0.25).abs() > 0.1));
        let mu = Tensor::ones((1, n_feats, 6), DType::F32, &dev).unwrap();
        let mask = Tensor::ones((1, 1, 6), DType::F32, &dev).unwrap();
        let predicted = condition.predict(&mu, &mask).unwrap();
        assert_eq!(predicted.len(), 6);
        assert!(predicted.iter().all(|p| p.voiced && p.log_f0.is_finite()));
    }
}
