//! The text encoder and duration predictor of Matcha-TTS (`matcha/models/components/text_encoder.py`,
//! itself from Glow-TTS): embedding → ConvReluNorm prenet → transformer with rotary positions →
//! `proj_m` (the prior mu per phoneme) and `proj_w` (log durations). Batch size one, so no masks.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Embedding, VarBuilder};

use super::config::AcousticConfig;
use crate::nn::layers::{softmax_last, ChannelNorm, Conv1d, ConvSpec};

/// Rotary position embedding on the first `d` features of each head
/// (`RotaryPositionalEmbeddings(k_channels * 0.5)`).
struct Rotary {
    d: usize,
}

impl Rotary {
    /// `[1, H, T, K] -> [1, H, T, K]`
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, t, k) = x.dims4()?;
        let d = self.d;
        let half = d / 2;
        let theta: Vec<f32> = (0..half)
            .map(|i| 1.0 / 10_000f32.powf((2 * i) as f32 / d as f32))
            .collect();
        let mut angles = Vec::with_capacity(t * d);
        for pos in 0..t {
            // cat([idx_theta, idx_theta]): the same angles for both halves.
            for _ in 0..2 {
                angles.extend(theta.iter().map(|th| pos as f32 * th));
            }
        }
        let angles = Tensor::from_vec(angles, (1, 1, t, d), x.device())?;
        let (cos, sin) = (angles.cos()?, angles.sin()?);
        let rope = x.narrow(D::Minus1, 0, d)?;
        let pass = x.narrow(D::Minus1, d, k - d)?;
        let neg_half = Tensor::cat(
            &[
                &rope.narrow(D::Minus1, half, d - half)?.neg()?,
                &rope.narrow(D::Minus1, 0, half)?,
            ],
            D::Minus1,
        )?;
        let rope = (rope.broadcast_mul(&cos)? + neg_half.broadcast_mul(&sin)?)?;
        Tensor::cat(&[&rope, &pass], D::Minus1)
    }
}

struct MultiHeadAttention {
    conv_q: Conv1d,
    conv_k: Conv1d,
    conv_v: Conv1d,
    conv_o: Conv1d,
    n_heads: usize,
    rotary: Rotary,
}

impl MultiHeadAttention {
    fn new(channels: usize, n_heads: usize, vb: VarBuilder) -> Result<Self> {
        let c = |name| Conv1d::new(channels, channels, ConvSpec::same(1), vb.pp(name));
        let k_channels = channels / n_heads;
        Ok(Self {
            conv_q: c("conv_q")?,
            conv_k: c("conv_k")?,
            conv_v: c("conv_v")?,
            conv_o: c("conv_o")?,
            n_heads,
            rotary: Rotary {
                d: (k_channels as f64 * 0.5) as usize,
            },
        })
    }

    /// `[1, C, T] -> [1, C, T]`
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, t) = x.dims3()?;
        let kc = c / self.n_heads;
        // [1, C, T] -> [1, H, T, K]
        let heads = |y: Tensor| {
            y.reshape((b, self.n_heads, kc, t))?
                .transpose(2, 3)?
                .contiguous()
        };
        let q = self.rotary.forward(&heads(self.conv_q.forward(x)?)?)?;
        let k = self.rotary.forward(&heads(self.conv_k.forward(x)?)?)?;
        let v = heads(self.conv_v.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (kc as f64).sqrt())?;
        let p = softmax_last(&scores)?;
        // [1, H, T, K] -> [1, H, K, T] -> [1, C, T]
        let out = p.matmul(&v)?.transpose(2, 3)?.reshape((b, c, t))?;
        self.conv_o.forward(&out)
    }
}

struct Ffn {
    conv_1: Conv1d,
    conv_2: Conv1d,
}

impl Ffn {
    fn new(channels: usize, filter: usize, kernel: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv_1: Conv1d::new(channels, filter, ConvSpec::same(kernel), vb.pp("conv_1"))?,
            conv_2: Conv1d::new(filter, channels, ConvSpec::same(kernel), vb.pp("conv_2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv_2.forward(&self.conv_1.forward(x)?.relu()?)
    }
}

/// Matcha's `ConvReluNorm` prenet: three conv → norm → ReLU layers and a residual projection.
struct Prenet {
    convs: Vec<Conv1d>,
    norms: Vec<ChannelNorm>,
    proj: Conv1d,
}

impl Prenet {
    fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        for i in 0..3 {
            convs.push(Conv1d::new(
                channels,
                channels,
                ConvSpec::same(5),
                vb.pp("conv_layers").pp(i),
            )?);
            norms.push(ChannelNorm::new(channels, vb.pp("norm_layers").pp(i))?);
        }
        let proj = Conv1d::new(channels, channels, ConvSpec::same(1), vb.pp("proj"))?;
        Ok(Self { convs, norms, proj })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            h = norm.forward(&conv.forward(&h)?)?.relu()?;
        }
        x + self.proj.forward(&h)?
    }
}

/// Matcha's `DurationPredictor`: log durations per phoneme, `[1, C, N] -> [1, 1, N]`.
pub struct DurationPredictor {
    conv_1: Conv1d,
    norm_1: ChannelNorm,
    conv_2: Conv1d,
    norm_2: ChannelNorm,
    proj: Conv1d,
}

impl DurationPredictor {
    pub fn new(in_channels: usize, filter: usize, kernel: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv_1: Conv1d::new(in_channels, filter, ConvSpec::same(kernel), vb.pp("conv_1"))?,
            norm_1: ChannelNorm::new(filter, vb.pp("norm_1"))?,
            conv_2: Conv1d::new(filter, filter, ConvSpec::same(kernel), vb.pp("conv_2"))?,
            norm_2: ChannelNorm::new(filter, vb.pp("norm_2"))?,
            proj: Conv1d::new(filter, 1, ConvSpec::same(1), vb.pp("proj"))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.norm_1.forward(&self.conv_1.forward(x)?.relu()?)?;
        let h = self.norm_2.forward(&self.conv_2.forward(&h)?.relu()?)?;
        self.proj.forward(&h)
    }
}

/// What the encoder gives per phoneme.
pub struct EncoderOutput {
    /// Prior mean, `[1, n_feats, N]`.
    pub mu: Tensor,
    /// Log durations in frames, `[1, 1, N]`.
    pub log_durations: Tensor,
    /// The transformer's states that both come from, `[1, C, N]` (what the intonation predictor
    /// reads).
    pub states: Tensor,
}

/// Matcha's `TextEncoder` (parameters under `encoder.`).
pub struct TextEncoder {
    emb: Embedding,
    prenet: Option<Prenet>,
    attn_layers: Vec<MultiHeadAttention>,
    norm_layers_1: Vec<ChannelNorm>,
    ffn_layers: Vec<Ffn>,
    norm_layers_2: Vec<ChannelNorm>,
    proj_m: Conv1d,
    proj_w: DurationPredictor,
    n_channels: usize,
}

impl TextEncoder {
    pub fn new(cfg: &AcousticConfig, vb: VarBuilder) -> Result<Self> {
        let e = &cfg.encoder;
        let c = e.n_channels;
        let spk = if cfg.n_spks > 1 { cfg.spk_emb_dim } else { 0 };
        let h = c + spk;
        let emb = candle_nn::embedding(cfg.n_vocab, c, vb.pp("emb"))?;
        let prenet = if e.prenet {
            Some(Prenet::new(c, vb.pp("prenet"))?)
        } else {
            None
        };
        let enc = vb.pp("encoder");
        let mut attn_layers = Vec::new();
        let mut norm_layers_1 = Vec::new();
        let mut ffn_layers = Vec::new();
        let mut norm_layers_2 = Vec::new();
        for i in 0..e.n_layers {
            attn_layers.push(MultiHeadAttention::new(
                h,
                e.n_heads,
                enc.pp("attn_layers").pp(i),
            )?);
            norm_layers_1.push(ChannelNorm::new(h, enc.pp("norm_layers_1").pp(i))?);
            ffn_layers.push(Ffn::new(
                h,
                e.filter_channels,
                e.kernel_size,
                enc.pp("ffn_layers").pp(i),
            )?);
            norm_layers_2.push(ChannelNorm::new(h, enc.pp("norm_layers_2").pp(i))?);
        }
        let proj_m = Conv1d::new(h, e.n_feats, ConvSpec::same(1), vb.pp("proj_m"))?;
        let dp = &cfg.duration_predictor;
        let proj_w =
            DurationPredictor::new(h, dp.filter_channels_dp, dp.kernel_size, vb.pp("proj_w"))?;
        Ok(Self {
            emb,
            prenet,
            attn_layers,
            norm_layers_1,
            ffn_layers,
            norm_layers_2,
            proj_m,
            proj_w,
            n_channels: c,
        })
    }

    /// Phoneme ids `[1, N]` (and a speaker embedding `[1, spk_emb_dim]` for multi-speaker voices)
    /// → prior mu and log durations.
    pub fn forward(&self, ids: &Tensor, speaker: Option<&Tensor>) -> Result<EncoderOutput> {
        // [1, N] -> [1, N, C] -> [1, C, N]
        let x = (self.emb.forward(ids)? * (self.n_channels as f64).sqrt())?
            .transpose(1, 2)?
            .contiguous()?;
        let mut x = match &self.prenet {
            Some(p) => p.forward(&x)?,
            None => x,
        };
        if let Some(spk) = speaker {
            let n = x.dim(2)?;
            let s = spk.unsqueeze(2)?.broadcast_as((1, spk.dim(1)?, n))?;
            x = Tensor::cat(&[&x, &s.contiguous()?], 1)?;
        }
        for i in 0..self.attn_layers.len() {
            let y = self.attn_layers[i].forward(&x)?;
            x = self.norm_layers_1[i].forward(&(x + y)?)?;
            let y = self.ffn_layers[i].forward(&x)?;
            x = self.norm_layers_2[i].forward(&(x + y)?)?;
        }
        Ok(EncoderOutput {
            mu: self.proj_m.forward(&x)?,
            log_durations: self.proj_w.forward(&x)?,
            states: x,
        })
    }
}
