//! The acoustic model as a whole: phoneme ids → encoder → durations × rate → prior mu per frame →
//! sampler → mel. Mirrors `MatchaTTS.synthesise`; its parameters load by the reference's names.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::config::{AcousticConfig, DurationRounding};
use super::encoder::TextEncoder;
use super::estimator::Estimator;
use super::intonation::IntonationPredictor;
use super::pitch_condition::PitchCondition;
use super::sampler::{sample, Sampler, SamplerInput};

/// A voice file's correction of its duration predictor (`prosody.duration_scale`, measured by
/// `tools/train/train_intonation.py` on held-out recordings): a regression in the log domain
/// falls short of the mean, so without it the voice speaks a little faster than its recordings.
pub const DURATION_SCALE: &str = "prosody.duration_scale";

/// The voice's duration scale, 1 when its file has none.
fn duration_scale(vb: &VarBuilder) -> Result<f32> {
    if !vb.contains_tensor(DURATION_SCALE) {
        return Ok(1.0);
    }
    let scale = vb
        .get(1, DURATION_SCALE)?
        .get(0)?
        .to_dtype(DType::F32)?
        .to_scalar::<f32>()?;
    if !(scale.is_finite() && (0.5..=2.0).contains(&scale)) {
        candle_core::bail!("{DURATION_SCALE} must be 0.5..=2 (got {scale})")
    }
    Ok(scale)
}

/// The prior expanded to frames, padded for the U-Net.
pub struct FramePrior {
    /// `[1, n_feats, T_padded]`
    pub mu: Tensor,
    /// `[1, 1, T_padded]`, ones over the `frames` real frames.
    pub mask: Tensor,
    pub frames: usize,
}

pub struct AcousticModel {
    cfg: AcousticConfig,
    encoder: TextEncoder,
    estimator: Estimator,
    spk_emb: Option<Embedding>,
    intonation: Option<IntonationPredictor>,
    pitch: Option<PitchCondition>,
    /// Multiplies the predicted durations before rounding (see [`DURATION_SCALE`]).
    duration_scale: f32,
    mel_mean: f64,
    mel_std: f64,
    device: Device,
}

impl AcousticModel {
    pub fn new(cfg: &AcousticConfig, vb: VarBuilder) -> Result<Self> {
        let spk_emb = if cfg.n_spks > 1 {
            Some(candle_nn::embedding(
                cfg.n_spks,
                cfg.spk_emb_dim,
                vb.pp("spk_emb"),
            )?)
        } else {
            None
        };
        let scalar = |name: &str| -> Result<f64> {
            let t = vb.get_unchecked_dtype(name, DType::F32)?;
            t.flatten_all()?.get(0)?.to_scalar::<f32>().map(f64::from)
        };
        Ok(Self {
            cfg: cfg.clone(),
            encoder: TextEncoder::new(cfg, vb.pp("encoder"))?,
            estimator: Estimator::new(cfg, vb.pp("decoder.estimator"))?,
            spk_emb,
            intonation: IntonationPredictor::load(&vb, cfg.encoder_states())?,
            pitch: PitchCondition::load(&vb, cfg.n_feats)?,
            duration_scale: duration_scale(&vb)?,
            mel_mean: scalar("mel_mean")?,
            mel_std: scalar("mel_std")?,
            device: vb.device().clone(),
        })
    }

    pub fn config(&self) -> &AcousticConfig {
        &self.cfg
    }

    pub fn encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    pub fn estimator(&self) -> &Estimator {
        &self.estimator
    }

    /// The voice's intonation predictor, when its file has one.
    pub fn intonation(&self) -> Option<&IntonationPredictor> {
        self.intonation.as_ref()
    }

    /// The decoder's F0 conditioning, when the voice was trained with one
    /// (`tools/train/train_pitched.py`).
    pub fn pitch_condition(&self) -> Option<&PitchCondition> {
        self.pitch.as_ref()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The mel statistics the decoder's output is de-normalised with.
    pub fn mel_statistics(&self) -> (f64, f64) {
        (self.mel_mean, self.mel_std)
    }

    /// The embedding of speaker `id` (`[1, spk_emb_dim]`), for multi-speaker voices.
    pub fn speaker(&self, id: usize) -> Result<Option<Tensor>> {
        match &self.spk_emb {
            None => Ok(None),
            Some(emb) => {
                if id >= self.cfg.n_spks {
                    candle_core::bail!(
                        "speaker {id} does not exist: this voice has {} speakers",
                        self.cfg.n_spks
                    )
                }
                let ids = Tensor::new(&[id as u32], &self.device)?;
                Ok(Some(emb.forward(&ids)?))
            }
        }
    }

    /// Phoneme ids → prior mu `[1, n_feats, N]` and log durations (one per phoneme).
    pub fn encode(&self, ids: &[i64], speaker: Option<&Tensor>) -> Result<(Tensor, Vec<f32>)> {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        let n = ids.len();
        let ids = Tensor::from_vec(ids, (1, n), &self.device)?;
        let out = self.encoder.forward(&ids, speaker)?;
        let logw = out.log_durations.flatten_all()?.to_vec1::<f32>()?;
        Ok((out.mu, logw))
    }

    /// Frames per phoneme: `ceil(exp(logw)) * length_scale`, as Matcha computes them (or rounded
    /// to the nearest frame, as the voice's config says); fractional when the length scale is.
    /// A voice with a duration scale multiplies `exp(logw)` by it first.
    pub fn durations(&self, log_durations: &[f32], length_scale: f32) -> Vec<f32> {
        let round = |d: f32| match self.cfg.duration_rounding {
            DurationRounding::Ceil => d.ceil(),
            DurationRounding::Nearest => d.round(),
        };
        log_durations
            .iter()
            .map(|&l| round(l.exp() * self.duration_scale) * length_scale)
            .collect()
    }

    /// Repeats each phoneme's mu over its frames (Matcha's `generate_path`: frame `j` belongs to
    /// the phoneme whose cumulative duration first exceeds `j`) and pads to the U-Net's multiple.
    pub fn expand(&self, mu: &Tensor, durations: &[f32]) -> Result<FramePrior> {
        let total: f32 = durations.iter().sum();
        let frames = (total.max(1.0)) as usize;
        let multiple = self.cfg.length_multiple();
        let padded = frames.div_ceil(multiple) * multiple;
        let mut index = Vec::with_capacity(padded);
        let mut real = Vec::with_capacity(padded);
        let mut cumulative = Vec::with_capacity(durations.len());
        let mut acc = 0f32;
        for &d in durations {
            acc += d;
            cumulative.push(acc);
        }
        let n = durations.len();
        let mut phoneme = 0;
        for j in 0..padded {
            while phoneme < n && (j as f32) >= cumulative[phoneme] {
                phoneme += 1;
            }
            // Frames past the last boundary or the frame count carry zeros, as the reference's path does.
            real.push(if phoneme < n && j < frames { 1f32 } else { 0.0 });
            index.push(phoneme.min(n.saturating_sub(1)) as u32);
        }
        let idx = Tensor::from_vec(index, padded, &self.device)?;
        let covered = Tensor::from_vec(real, (1, 1, padded), &self.device)?;
        let mu_y = mu.index_select(&idx, 2)?.broadcast_mul(&covered)?;
        let mask: Vec<f32> = (0..padded)
            .map(|j| if j < frames { 1.0 } else { 0.0 })
            .collect();
        let mask = Tensor::from_vec(mask, (1, 1, padded), &self.device)?;
        Ok(FramePrior {
            mu: mu_y,
            mask,
            frames,
        })
    }

    /// Runs the sampler over a frame prior and returns the de-normalised mel `[1, n_feats, frames]`.
    #[allow(clippy::too_many_arguments)]
    pub fn decode(
        &self,
        prior: &FramePrior,
        sampler: Sampler,
        steps: usize,
        temperature: f64,
        noise: &Tensor,
        speaker: Option<&Tensor>,
        step_noise: &mut dyn FnMut() -> Result<Tensor>,
    ) -> Result<Tensor> {
        let input = SamplerInput {
            mu: &prior.mu,
            mask: &prior.mask,
            speaker,
            noise,
            temperature,
            steps,
            step_noise,
        };
        let out = sample(sampler, &self.estimator, &self.cfg, input)?;
        let out = out.narrow(2, 0, prior.frames)?;
        (out * self.mel_std)? + self.mel_mean
    }
}
