//! Acoustic model sizes, named as in Matcha-TTS's hyper-parameters so a checkpoint's `hparams`
//! map onto them directly.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderParams {
    pub n_feats: usize,
    pub n_channels: usize,
    pub filter_channels: usize,
    pub n_heads: usize,
    pub n_layers: usize,
    pub kernel_size: usize,
    #[serde(default = "yes")]
    pub prenet: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DurationPredictorParams {
    pub filter_channels_dp: usize,
    pub kernel_size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecoderParams {
    pub channels: Vec<usize>,
    pub attention_head_dim: usize,
    pub n_blocks: usize,
    pub num_mid_blocks: usize,
    pub num_heads: usize,
    /// Feed-forward activation of the transformer blocks: `snakebeta`, `gelu`, `gelu-approximate`
    /// or `geglu`.
    pub act_fn: String,
}

/// What the decoder was trained to predict, which decides the samplers that fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecoderObjective {
    /// Conditional flow matching (Matcha-TTS): the estimator predicts a velocity.
    FlowMatching,
    /// Score matching under a VP-SDE with mean mu (Grad-TTS): the estimator predicts a score.
    ScoreDiffusion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcousticConfig {
    pub n_vocab: usize,
    #[serde(default = "one")]
    pub n_spks: usize,
    #[serde(default = "spk_dim")]
    pub spk_emb_dim: usize,
    pub n_feats: usize,
    pub encoder: EncoderParams,
    pub duration_predictor: DurationPredictorParams,
    pub decoder: DecoderParams,
    #[serde(default = "flow")]
    pub objective: DecoderObjective,
    #[serde(default = "sigma_min")]
    pub sigma_min: f64,
    /// VP-SDE noise schedule `beta(t) = beta_min + (beta_max - beta_min) t` (score diffusion only).
    #[serde(default = "beta_min")]
    pub beta_min: f64,
    #[serde(default = "beta_max")]
    pub beta_max: f64,
    /// How predicted durations become frame counts.
    #[serde(default)]
    pub duration_rounding: DurationRounding,
}

/// Matcha-TTS rounds predicted durations up; a model trained on integer durations (distilled from
/// a teacher) is closer to its targets when they are rounded to the nearest frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DurationRounding {
    #[default]
    Ceil,
    Nearest,
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn spk_dim() -> usize {
    64
}
fn flow() -> DecoderObjective {
    DecoderObjective::FlowMatching
}
fn sigma_min() -> f64 {
    1e-4
}
fn beta_min() -> f64 {
    0.05
}
fn beta_max() -> f64 {
    20.0
}

impl AcousticConfig {
    /// Matcha-TTS's published single-speaker configuration (LJSpeech).
    pub fn matcha_ljspeech() -> Self {
        Self {
            n_vocab: 178,
            n_spks: 1,
            spk_emb_dim: 64,
            n_feats: 80,
            encoder: EncoderParams {
                n_feats: 80,
                n_channels: 192,
                filter_channels: 768,
                n_heads: 2,
                n_layers: 6,
                kernel_size: 3,
                prenet: true,
            },
            duration_predictor: DurationPredictorParams {
                filter_channels_dp: 256,
                kernel_size: 3,
            },
            decoder: DecoderParams {
                channels: vec![256, 256],
                attention_head_dim: 64,
                n_blocks: 1,
                num_mid_blocks: 2,
                num_heads: 2,
                act_fn: "snakebeta".into(),
            },
            objective: DecoderObjective::FlowMatching,
            sigma_min: 1e-4,
            beta_min: 0.05,
            beta_max: 20.0,
            duration_rounding: DurationRounding::Ceil,
        }
    }

    /// The sizes that make shapes meaningless or divide by zero are refused here, before loading.
    pub fn validate(&self) -> Result<(), String> {
        let e = &self.encoder;
        let d = &self.decoder;
        if self.n_vocab == 0
            || self.n_feats == 0
            || e.n_channels == 0
            || e.n_heads == 0
            || e.n_layers == 0
        {
            return Err("encoder sizes must be positive".into());
        }
        if !e.n_channels.is_multiple_of(e.n_heads) {
            return Err(format!(
                "encoder n_channels {} is not divisible by n_heads {}",
                e.n_channels, e.n_heads
            ));
        }
        if e.n_feats != self.n_feats {
            return Err(format!(
                "encoder n_feats {} differs from n_feats {}",
                e.n_feats, self.n_feats
            ));
        }
        if d.channels.is_empty() || d.channels.iter().any(|&c| c == 0 || c % 8 != 0) {
            return Err(
                "decoder channels must be non-empty multiples of 8 (GroupNorm uses 8 groups)"
                    .into(),
            );
        }
        if !matches!(
            d.act_fn.as_str(),
            "snakebeta" | "gelu" | "gelu-approximate" | "geglu"
        ) {
            return Err(format!("unsupported decoder activation `{}`", d.act_fn));
        }
        if e.kernel_size.is_multiple_of(2) || self.duration_predictor.kernel_size.is_multiple_of(2)
        {
            return Err("kernel sizes must be odd".into());
        }
        Ok(())
    }

    /// Mel frames must be a multiple of this for the U-Net's down- and up-sampling to line up
    /// (Matcha's `fix_len_compatibility` with its default of two downsamplings).
    pub fn length_multiple(&self) -> usize {
        4
    }

    /// Channels of the text encoder's states: its own and the speaker embedding's.
    pub fn encoder_states(&self) -> usize {
        self.encoder.n_channels + if self.n_spks > 1 { self.spk_emb_dim } else { 0 }
    }

    /// Channels the decoder's estimator takes: noisy mel, prior mu and the speaker embedding.
    pub fn estimator_in_channels(&self) -> usize {
        2 * self.n_feats + if self.n_spks > 1 { self.spk_emb_dim } else { 0 }
    }
}
