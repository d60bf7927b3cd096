//! HiFi-GAN generator (Kong et al. 2020; `matcha/hifigan/models.py`), V1/V2/V3 by config.
//! Weight norm is folded at load: `weight = g * v / ||v||` over all but the first axis.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use super::config::ResBlockKind;
use super::{Vocoder, VocoderConfig};
use crate::error::{Error, Result};
use crate::nn::layers::{leaky_relu, Conv1d, ConvSpec, ConvTranspose1d};

const LRELU_SLOPE: f64 = 0.1;

/// A weight under `vb`, either plain (`weight`) or weight-normalised (`weight_g`, `weight_v`).
pub fn folded_weight(vb: &VarBuilder, shape: &[usize]) -> candle_core::Result<Tensor> {
    if vb.contains_tensor("weight") {
        return vb.get(shape, "weight");
    }
    let v = vb.get(shape, "weight_v")?;
    let mut g_shape = vec![shape[0]];
    g_shape.extend(std::iter::repeat_n(1, shape.len() - 1));
    let g = vb.get(g_shape.as_slice(), "weight_g")?;
    let norm = v
        .sqr()?
        .flatten_from(1)?
        .sum_keepdim(1)?
        .sqrt()?
        .reshape(g_shape.as_slice())?;
    v.broadcast_mul(&g.broadcast_div(&norm)?)
}

fn conv(
    in_ch: usize,
    out_ch: usize,
    kernel: usize,
    dilation: usize,
    bias: bool,
    vb: VarBuilder,
) -> candle_core::Result<Conv1d> {
    let spec = ConvSpec {
        kernel,
        padding: (kernel * dilation - dilation) / 2,
        stride: 1,
        dilation,
        groups: 1,
        bias,
    };
    let weight = folded_weight(&vb, &[out_ch, in_ch, kernel])?;
    let bias = if bias {
        Some(vb.get(out_ch, "bias")?)
    } else {
        None
    };
    Conv1d::from_parts(weight, bias, &spec)
}

/// `ResBlock1` (three dilated convs each followed by a plain one) or `ResBlock2` (two dilated convs).
struct ResBlock {
    convs1: Vec<Conv1d>,
    convs2: Vec<Conv1d>,
}

impl ResBlock {
    fn new(
        kind: ResBlockKind,
        channels: usize,
        kernel: usize,
        dilations: &[usize],
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        if kind == ResBlockKind::One {
            let convs1 = dilations
                .iter()
                .enumerate()
                .map(|(i, &d)| conv(channels, channels, kernel, d, true, vb.pp("convs1").pp(i)))
                .collect::<candle_core::Result<_>>()?;
            let convs2 = (0..dilations.len())
                .map(|i| conv(channels, channels, kernel, 1, true, vb.pp("convs2").pp(i)))
                .collect::<candle_core::Result<_>>()?;
            Ok(Self { convs1, convs2 })
        } else {
            let convs1 = dilations
                .iter()
                .enumerate()
                .map(|(i, &d)| conv(channels, channels, kernel, d, true, vb.pp("convs").pp(i)))
                .collect::<candle_core::Result<_>>()?;
            Ok(Self {
                convs1,
                convs2: Vec::new(),
            })
        }
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for (i, c1) in self.convs1.iter().enumerate() {
            let mut h = c1.forward(&leaky_relu(&x, LRELU_SLOPE)?)?;
            if let Some(c2) = self.convs2.get(i) {
                h = c2.forward(&leaky_relu(&h, LRELU_SLOPE)?)?;
            }
            x = (h + x)?;
        }
        Ok(x)
    }
}

pub struct HifiGan {
    /// Mel → the generator's own input, for generators trained on a latent (see the config).
    adapter: Vec<Conv1d>,
    conv_pre: Conv1d,
    ups: Vec<ConvTranspose1d>,
    resblocks: Vec<ResBlock>,
    num_kernels: usize,
    conv_post: Conv1d,
    hop: usize,
    context: Option<usize>,
    /// For each upsampling stage: its rate (samples per frame), and the reach in output samples
    /// of everything after it, so a span's activations can be cropped stage by stage.
    stages: Vec<(usize, usize)>,
}

impl HifiGan {
    pub fn new(cfg: &VocoderConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let VocoderConfig::Hifigan {
            input_channels,
            resblock,
            upsample_rates,
            upsample_kernel_sizes,
            upsample_initial_channel,
            resblock_kernel_sizes,
            resblock_dilation_sizes,
            conv_post_bias,
            adapter,
        } = cfg
        else {
            candle_core::bail!("not a HiFi-GAN config")
        };
        let adapter = adapter
            .iter()
            .enumerate()
            .map(|(i, l)| {
                conv(
                    l.in_channels,
                    l.out_channels,
                    l.kernel,
                    1,
                    true,
                    vb.pp("adapter").pp(2 * i),
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let conv_pre = conv(
            *input_channels,
            *upsample_initial_channel,
            7,
            1,
            true,
            vb.pp("conv_pre"),
        )?;
        let mut ups = Vec::new();
        let mut resblocks = Vec::new();
        let mut ch = *upsample_initial_channel;
        for (i, (&u, &k)) in upsample_rates.iter().zip(upsample_kernel_sizes).enumerate() {
            let out = ch / 2;
            let vbu = vb.pp("ups").pp(i);
            let weight = folded_weight(&vbu, &[ch, out, k])?;
            ups.push(ConvTranspose1d::from_parts(
                weight,
                Some(vbu.get(out, "bias")?),
                u,
                (k - u) / 2,
            )?);
            for (j, (&rk, rd)) in resblock_kernel_sizes
                .iter()
                .zip(resblock_dilation_sizes)
                .enumerate()
            {
                let index = i * resblock_kernel_sizes.len() + j;
                resblocks.push(ResBlock::new(
                    *resblock,
                    out,
                    rk,
                    rd,
                    vb.pp("resblocks").pp(index),
                )?);
            }
            ch = out;
        }
        let conv_post = conv(ch, 1, 7, 1, *conv_post_bias, vb.pp("conv_post"))?;
        Ok(Self {
            adapter,
            conv_pre,
            ups,
            resblocks,
            num_kernels: resblock_kernel_sizes.len(),
            conv_post,
            hop: upsample_rates.iter().product(),
            context: cfg.context_frames(),
            stages: downstream_reach(cfg),
        })
    }

    /// `[1, n_mels, T] -> [1, 1, T * hop]`
    pub fn forward(&self, mel: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_span(mel, 0..mel.dim(2)?)
    }

    /// The samples of frames `keep` of `mel`, `[1, 1, keep.len() * hop]`. After each upsampling
    /// stage the activations are cropped to what the kept samples still depend on, so the context
    /// frames cost little beyond the first stage.
    pub fn forward_span(
        &self,
        mel: &Tensor,
        keep: std::ops::Range<usize>,
    ) -> candle_core::Result<Tensor> {
        let mut x = mel.clone();
        for (i, layer) in self.adapter.iter().enumerate() {
            if i > 0 {
                x = leaky_relu(&x, LRELU_SLOPE)?;
            }
            x = layer.forward(&x)?;
        }
        let mut x = self.conv_pre.forward(&x)?;
        // First output sample that `x` covers.
        let mut origin = 0usize;
        let (keep_from, keep_to) = (keep.start * self.hop, keep.end * self.hop);
        for (i, up) in self.ups.iter().enumerate() {
            x = up.forward(&leaky_relu(&x, LRELU_SLOPE)?)?;
            let mut sum: Option<Tensor> = None;
            for j in 0..self.num_kernels {
                let y = self.resblocks[i * self.num_kernels + j].forward(&x)?;
                sum = Some(match sum {
                    None => y,
                    Some(s) => (s + y)?,
                });
            }
            x = (sum.expect("at least one residual kernel") / self.num_kernels as f64)?;
            // [1, C, n] -> [1, C, m]: only what the kept samples can still reach.
            let (rate, reach) = self.stages[i];
            let per_sample = self.hop / rate;
            let len = x.dim(2)?;
            let from =
                (keep_from.saturating_sub(reach).saturating_sub(origin) / per_sample).min(len);
            let to = ((keep_to + reach).saturating_sub(origin))
                .div_ceil(per_sample)
                .min(len);
            if from > 0 || to < len {
                x = x.narrow(2, from, to - from)?;
                origin += from * per_sample;
            }
        }
        // The final activation uses PyTorch's default slope.
        let out = self.conv_post.forward(&leaky_relu(&x, 0.01)?)?.tanh()?;
        out.narrow(2, keep_from - origin, keep_to - keep_from)
    }
}

/// For each upsampling stage: (samples per frame after it, reach in output samples of the stages
/// after it and of conv_post).
fn downstream_reach(cfg: &VocoderConfig) -> Vec<(usize, usize)> {
    let Some(reach) = cfg.hifigan_reach() else {
        return Vec::new();
    };
    (0..reach.stages.len())
        .map(|i| {
            let after: usize = reach.stages[i + 1..].iter().map(|s| s.1).sum();
            (reach.stages[i].0, after + reach.post)
        })
        .collect()
}

impl Vocoder for HifiGan {
    fn name(&self) -> &'static str {
        "hifigan"
    }

    fn hop_length(&self) -> usize {
        self.hop
    }

    fn context_frames(&self) -> Option<usize> {
        self.context
    }

    fn vocode(&mut self, mel: &Tensor) -> Result<Vec<f32>> {
        let frames = mel.dim(2)?;
        self.vocode_span(mel, 0..frames)
    }

    fn vocode_span(&mut self, mel: &Tensor, keep: std::ops::Range<usize>) -> Result<Vec<f32>> {
        let audio = self
            .forward_span(mel, keep)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        if audio.iter().any(|s| !s.is_finite()) {
            return Err(Error::numeric(
                "the HiFi-GAN vocoder produced NaN or infinite samples",
            ));
        }
        Ok(audio)
    }
}
