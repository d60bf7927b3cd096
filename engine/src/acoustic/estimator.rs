//! The decoder's estimator: Matcha-TTS's 1-D U-Net (`matcha/models/components/decoder.py`) of
//! ResNet blocks and transformer blocks, conditioned on the prior mu and the time step.
//! Parameters live under `decoder.estimator.`.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::config::AcousticConfig;
use crate::nn::layers::{
    mish, snake_beta, softmax_last, Conv1d, ConvSpec, ConvTranspose1d, GroupNorm, LayerNorm, Linear,
};

/// `SinusoidalPosEmb(dim)` of the scalar time `t` (scaled by 1000): `[1, dim]`.
fn time_embedding(t: f64, dim: usize, device: &candle_core::Device) -> Result<Tensor> {
    let half = dim / 2;
    let step = (10_000f64).ln() / (half as f64 - 1.0);
    let mut emb = Vec::with_capacity(dim);
    let args: Vec<f32> = (0..half)
        .map(|i| (1000.0 * t) as f32 * (-(step as f32) * i as f32).exp())
        .collect();
    emb.extend(args.iter().map(|a| a.sin()));
    emb.extend(args.iter().map(|a| a.cos()));
    Tensor::from_vec(emb, (1, dim), device)
}

/// `Block1D`: conv → GroupNorm(8) → Mish, masked before and after.
struct Block1D {
    conv: Conv1d,
    norm: GroupNorm,
}

impl Block1D {
    fn new(dim: usize, dim_out: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: Conv1d::new(dim, dim_out, ConvSpec::same(3), vb.pp("block.0"))?,
            norm: GroupNorm::new(8, dim_out, vb.pp("block.1"))?,
        })
    }

    fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let h = self.conv.forward(&x.broadcast_mul(mask)?)?;
        mish(&self.norm.forward(&h)?)?.broadcast_mul(mask)
    }
}

/// `ResnetBlock1D`: two Block1Ds with the time embedding added between them, plus a 1×1 residual.
struct ResnetBlock1D {
    mlp: Linear,
    block1: Block1D,
    block2: Block1D,
    res_conv: Conv1d,
}

impl ResnetBlock1D {
    fn new(dim: usize, dim_out: usize, time_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            mlp: Linear::new(time_dim, dim_out, true, vb.pp("mlp.1"))?,
            block1: Block1D::new(dim, dim_out, vb.pp("block1"))?,
            block2: Block1D::new(dim_out, dim_out, vb.pp("block2"))?,
            res_conv: Conv1d::new(dim, dim_out, ConvSpec::same(1), vb.pp("res_conv"))?,
        })
    }

    /// `[1, C_in, T] -> [1, C_out, T]`
    fn forward(&self, x: &Tensor, mask: &Tensor, time: &Tensor) -> Result<Tensor> {
        let h = self.block1.forward(x, mask)?;
        let h = h.broadcast_add(&self.mlp.forward(&mish(time)?)?.unsqueeze(2)?)?;
        let h = self.block2.forward(&h, mask)?;
        h + self.res_conv.forward(&x.broadcast_mul(mask)?)?
    }
}

/// The feed-forward activation of diffusers' `FeedForward` (`ff.net.0`).
enum Activation {
    SnakeBeta {
        proj: Linear,
        /// Per channel, read once at load: the activation runs in every block at every step.
        alpha: Vec<f32>,
        inv_beta: Vec<f32>,
    },
    Gelu {
        proj: Linear,
        approximate: bool,
    },
    Geglu {
        proj: Linear,
    },
}

impl Activation {
    fn new(kind: &str, dim: usize, inner: usize, vb: VarBuilder) -> Result<Self> {
        Ok(match kind {
            "snakebeta" => {
                // alpha and beta are stored in log scale.
                let alpha = vb.get(inner, "alpha")?.exp()?;
                let inv_beta = (vb.get(inner, "beta")?.exp()? + 1e-9)?.recip()?;
                Self::SnakeBeta {
                    proj: Linear::new(dim, inner, true, vb.pp("proj"))?,
                    alpha: alpha.to_dtype(candle_core::DType::F32)?.to_vec1()?,
                    inv_beta: inv_beta.to_dtype(candle_core::DType::F32)?.to_vec1()?,
                }
            }
            "geglu" => Self::Geglu {
                proj: Linear::new(dim, inner * 2, true, vb.pp("proj"))?,
            },
            other => Self::Gelu {
                proj: Linear::new(dim, inner, true, vb.pp("proj"))?,
                approximate: other == "gelu-approximate",
            },
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::SnakeBeta {
                proj,
                alpha,
                inv_beta,
            } => {
                // x + 1/beta * sin²(alpha x)
                snake_beta(&proj.forward(x)?, alpha, inv_beta)
            }
            Self::Gelu { proj, approximate } => {
                let x = proj.forward(x)?;
                if *approximate {
                    x.gelu()
                } else {
                    x.gelu_erf()
                }
            }
            Self::Geglu { proj } => {
                let x = proj.forward(x)?;
                let half = x.dim(D::Minus1)? / 2;
                x.narrow(D::Minus1, 0, half)? * x.narrow(D::Minus1, half, half)?.gelu_erf()?
            }
        }
    }
}

/// diffusers' `Attention` as used by `BasicTransformerBlock` (self-attention, no bias on q/k/v).
struct Attention {
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(dim: usize, heads: usize, head_dim: usize, vb: VarBuilder) -> Result<Self> {
        let inner = heads * head_dim;
        Ok(Self {
            to_q: Linear::new(dim, inner, false, vb.pp("to_q"))?,
            to_k: Linear::new(dim, inner, false, vb.pp("to_k"))?,
            to_v: Linear::new(dim, inner, false, vb.pp("to_v"))?,
            to_out: Linear::new(inner, dim, true, vb.pp("to_out.0"))?,
            heads,
            head_dim,
        })
    }

    /// `[1, T, C] -> [1, T, C]`. The reference hands its 0/1 frame mask to diffusers as an
    /// additive bias; it is added the same way here so checkpoints behave identically.
    fn forward(&self, x: &Tensor, mask_bias: &Tensor) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let split = |y: Tensor| {
            y.reshape((b, t, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.to_q.forward(x)?)?;
        let k = split(self.to_k.forward(x)?)?;
        let v = split(self.to_v.forward(x)?)?;
        let scores =
            (q.matmul(&k.t()?)? / (self.head_dim as f64).sqrt())?.broadcast_add(mask_bias)?;
        let out = softmax_last(&scores)?.matmul(&v)?;
        let out = out
            .transpose(1, 2)?
            .reshape((b, t, self.heads * self.head_dim))?;
        self.to_out.forward(&out)
    }
}

/// `BasicTransformerBlock` with layer norms and a feed-forward (diffusers' layout).
struct TransformerBlock {
    norm1: LayerNorm,
    attn1: Attention,
    norm3: LayerNorm,
    act: Activation,
    ff_out: Linear,
}

impl TransformerBlock {
    fn new(dim: usize, cfg: &AcousticConfig, vb: VarBuilder) -> Result<Self> {
        let d = &cfg.decoder;
        Ok(Self {
            norm1: LayerNorm::new(dim, 1e-5, vb.pp("norm1"))?,
            attn1: Attention::new(dim, d.num_heads, d.attention_head_dim, vb.pp("attn1"))?,
            norm3: LayerNorm::new(dim, 1e-5, vb.pp("norm3"))?,
            act: Activation::new(&d.act_fn, dim, dim * 4, vb.pp("ff.net.0"))?,
            ff_out: Linear::new(dim * 4, dim, true, vb.pp("ff.net.2"))?,
        })
    }

    /// `[1, T, C] -> [1, T, C]`
    fn forward(&self, x: &Tensor, mask_bias: &Tensor) -> Result<Tensor> {
        let x = (self.attn1.forward(&self.norm1.forward(x)?, mask_bias)? + x)?;
        let ff = self
            .ff_out
            .forward(&self.act.forward(&self.norm3.forward(&x)?)?)?;
        ff + x
    }
}

/// A U-Net level: ResNet block, transformer blocks, and a resampling (or plain) convolution.
struct Level {
    resnet: ResnetBlock1D,
    transformers: Vec<TransformerBlock>,
    resample: Resample,
}

enum Resample {
    Down(Conv1d),
    Up(ConvTranspose1d),
    Keep(Conv1d),
    None,
}

impl Level {
    fn transform(&self, x: &Tensor, mask: &Tensor, time: &Tensor) -> Result<Tensor> {
        let x = self.resnet.forward(x, mask, time)?;
        if self.transformers.is_empty() {
            return Ok(x);
        }
        // [1, C, T] -> [1, T, C]
        let mut h = x.transpose(1, 2)?.contiguous()?;
        let bias = mask.unsqueeze(1)?; // [1, 1, 1, T], added to every query's scores
        for block in &self.transformers {
            h = block.forward(&h, &bias)?;
        }
        h.transpose(1, 2)?.contiguous()
    }

    fn resample(&self, x: &Tensor) -> Result<Tensor> {
        match &self.resample {
            Resample::Down(c) | Resample::Keep(c) => c.forward(x),
            Resample::Up(c) => c.forward(x),
            Resample::None => Ok(x.clone()),
        }
    }
}

/// Matcha's `Decoder` (the U-Net estimator).
pub struct Estimator {
    time_linear_1: Linear,
    time_linear_2: Linear,
    down: Vec<Level>,
    mid: Vec<Level>,
    up: Vec<Level>,
    final_block: Block1D,
    final_proj: Conv1d,
    in_channels: usize,
}

impl Estimator {
    pub fn new(cfg: &AcousticConfig, vb: VarBuilder) -> Result<Self> {
        let d = &cfg.decoder;
        let in_channels = cfg.estimator_in_channels();
        let ch = &d.channels;
        let time_dim = ch[0] * 4;
        let blocks = |dim: usize, vb: VarBuilder| -> Result<Vec<TransformerBlock>> {
            (0..d.n_blocks)
                .map(|j| TransformerBlock::new(dim, cfg, vb.pp(j)))
                .collect()
        };
        let mut down = Vec::new();
        let mut out_ch = in_channels;
        for (i, &c) in ch.iter().enumerate() {
            let in_ch = out_ch;
            out_ch = c;
            let vb = vb.pp("down_blocks").pp(i);
            let is_last = i == ch.len() - 1;
            let resample = if is_last {
                Resample::Keep(Conv1d::new(c, c, ConvSpec::same(3), vb.pp("2"))?)
            } else {
                let spec = ConvSpec {
                    kernel: 3,
                    padding: 1,
                    stride: 2,
                    dilation: 1,
                    groups: 1,
                    bias: true,
                };
                Resample::Down(Conv1d::new(c, c, spec, vb.pp("2.conv"))?)
            };
            down.push(Level {
                resnet: ResnetBlock1D::new(in_ch, c, time_dim, vb.pp("0"))?,
                transformers: blocks(c, vb.pp("1"))?,
                resample,
            });
        }
        let mut mid = Vec::new();
        let last = *ch.last().expect("validated non-empty");
        for i in 0..d.num_mid_blocks {
            let vb = vb.pp("mid_blocks").pp(i);
            mid.push(Level {
                resnet: ResnetBlock1D::new(last, out_ch, time_dim, vb.pp("0"))?,
                transformers: blocks(out_ch, vb.pp("1"))?,
                resample: Resample::None,
            });
        }
        let mut rev: Vec<usize> = ch.iter().rev().copied().collect();
        rev.push(ch[0]);
        let mut up = Vec::new();
        for i in 0..rev.len() - 1 {
            let (in_ch, o) = (rev[i], rev[i + 1]);
            let vb = vb.pp("up_blocks").pp(i);
            let is_last = i == rev.len() - 2;
            let resample = if is_last {
                Resample::Keep(Conv1d::new(o, o, ConvSpec::same(3), vb.pp("2"))?)
            } else {
                Resample::Up(ConvTranspose1d::new(o, o, 4, 2, 1, vb.pp("2.conv"))?)
            };
            up.push(Level {
                resnet: ResnetBlock1D::new(2 * in_ch, o, time_dim, vb.pp("0"))?,
                transformers: blocks(o, vb.pp("1"))?,
                resample,
            });
        }
        let final_ch = *rev.last().expect("non-empty");
        Ok(Self {
            time_linear_1: Linear::new(in_channels, time_dim, true, vb.pp("time_mlp.linear_1"))?,
            time_linear_2: Linear::new(time_dim, time_dim, true, vb.pp("time_mlp.linear_2"))?,
            down,
            mid,
            up,
            final_block: Block1D::new(final_ch, final_ch, vb.pp("final_block"))?,
            final_proj: Conv1d::new(
                final_ch,
                cfg.n_feats,
                ConvSpec::same(1),
                vb.pp("final_proj"),
            )?,
            in_channels,
        })
    }

    /// One evaluation: `x` and `mu` `[1, n_feats, T]`, `mask` `[1, 1, T]`, scalar time `t`, and the
    /// speaker embedding `[1, spk_emb_dim]` of a multi-speaker voice → `[1, n_feats, T]`.
    /// `T` must be a multiple of the config's `length_multiple()`.
    pub fn forward(
        &self,
        x: &Tensor,
        mask: &Tensor,
        mu: &Tensor,
        t: f64,
        speaker: Option<&Tensor>,
    ) -> Result<Tensor> {
        let time = time_embedding(t, self.in_channels, x.device())?;
        let time = self
            .time_linear_2
            .forward(&self.time_linear_1.forward(&time)?.silu()?)?;
        let mut h = Tensor::cat(&[x, mu], 1)?;
        if let Some(spk) = speaker {
            let frames = h.dim(2)?;
            let s = spk
                .unsqueeze(2)?
                .broadcast_as((1, spk.dim(1)?, frames))?
                .contiguous()?;
            h = Tensor::cat(&[&h, &s], 1)?;
        }
        let mut hiddens = Vec::new();
        let mut masks = vec![mask.clone()];
        for level in &self.down {
            let m = masks.last().expect("starts non-empty").clone();
            h = level.transform(&h, &m, &time)?;
            hiddens.push(h.clone());
            h = level.resample(&h.broadcast_mul(&m)?)?;
            // mask[:, :, ::2]
            let frames = m.dim(2)?;
            let idx = Tensor::arange_step(0u32, frames as u32, 2, m.device())?;
            masks.push(m.index_select(&idx, 2)?);
        }
        masks.pop();
        let mid_mask = masks.last().expect("one mask per level").clone();
        for level in &self.mid {
            h = level.transform(&h, &mid_mask, &time)?;
        }
        let mut up_mask = mask.clone();
        for level in &self.up {
            up_mask = masks.pop().expect("one mask per level");
            let skip = hiddens.pop().expect("one hidden per level");
            h = level.transform(&Tensor::cat(&[&h, &skip], 1)?, &up_mask, &time)?;
            h = level.resample(&h.broadcast_mul(&up_mask)?)?;
        }
        let h = self.final_block.forward(&h, &up_mask)?;
        self.final_proj
            .forward(&h.broadcast_mul(&up_mask)?)?
            .broadcast_mul(mask)
    }
}
