//! Building blocks shared by the acoustic model and the vocoders, with PyTorch's parameter names.

use candle_core::{DType, Module, Result, Tensor, D};

use crate::nn::conv_direct::{self, ConvShape};
use crate::nn::fast_math;
use candle_nn::VarBuilder;

/// `torch.nn.Conv1d` with "same"-style zero padding applied before the convolution (pre-padding
/// keeps candle on its fast kernel).
#[derive(Debug, Clone)]
pub struct Conv1d {
    weight: Tensor,
    bias: Option<Tensor>,
    padding: usize,
    stride: usize,
    dilation: usize,
    groups: usize,
    /// Host copies of the weights for the direct kernel, when this convolution can use it.
    direct: Option<DirectWeights>,
}

#[derive(Debug, Clone)]
struct DirectWeights {
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
}

/// Long signals with few input taps per output go to the direct kernel (see `conv_direct`).
const DIRECT_MIN_SAMPLES: usize = 4096;
const DIRECT_MAX_TAPS: usize = 1024;

pub struct ConvSpec {
    pub kernel: usize,
    pub padding: usize,
    pub stride: usize,
    pub dilation: usize,
    pub groups: usize,
    pub bias: bool,
}

impl ConvSpec {
    /// Kernel `k`, stride 1, padding `k / 2` (PyTorch's `padding=kernel_size // 2`), with bias.
    pub fn same(kernel: usize) -> Self {
        Self {
            kernel,
            padding: kernel / 2,
            stride: 1,
            dilation: 1,
            groups: 1,
            bias: true,
        }
    }
}

impl Conv1d {
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        spec: ConvSpec,
        vb: VarBuilder,
    ) -> Result<Self> {
        let weight = vb.get(
            (out_channels, in_channels / spec.groups, spec.kernel),
            "weight",
        )?;
        let bias = if spec.bias {
            Some(vb.get(out_channels, "bias")?)
        } else {
            None
        };
        Self::from_parts(weight, bias, &spec)
    }

    pub fn from_parts(weight: Tensor, bias: Option<Tensor>, spec: &ConvSpec) -> Result<Self> {
        let (_, c_in, k) = weight.dims3()?;
        let eligible = spec.groups == 1
            && spec.stride == 1
            && c_in * k <= DIRECT_MAX_TAPS
            && weight.dtype() == DType::F32;
        let direct = if eligible {
            Some(DirectWeights {
                weight: weight.flatten_all()?.to_vec1()?,
                bias: bias
                    .as_ref()
                    .map(|b| b.to_dtype(DType::F32)?.to_vec1())
                    .transpose()?,
            })
        } else {
            None
        };
        Ok(Self {
            weight,
            bias,
            padding: spec.padding,
            stride: spec.stride,
            dilation: spec.dilation,
            groups: spec.groups,
            direct,
        })
    }

    fn forward_direct(&self, direct: &DirectWeights, x: &Tensor) -> Result<Tensor> {
        let (_, c_in, t_in) = x.dims3()?;
        let (c_out, _, kernel) = self.weight.dims3()?;
        let shape = ConvShape {
            c_in,
            c_out,
            kernel,
            dilation: self.dilation,
            padding: self.padding,
            t_in,
        };
        let input = x.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; c_out * shape.t_out()];
        conv_direct::conv1d(
            &input,
            &direct.weight,
            direct.bias.as_deref(),
            shape,
            &mut out,
        );
        Tensor::from_vec(out, (1, c_out, shape.t_out()), x.device())
    }
}

impl Module for Conv1d {
    /// `[B, C_in, T] -> [B, C_out, T']`
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some(direct) = &self.direct {
            let (b, _, t) = x.dims3()?;
            if b == 1 && t >= DIRECT_MIN_SAMPLES && x.dtype() == DType::F32 && x.device().is_cpu() {
                return self.forward_direct(direct, x);
            }
        }
        let x = if self.padding > 0 {
            x.pad_with_zeros(D::Minus1, self.padding, self.padding)?
        } else {
            x.clone()
        };
        let y = x.conv1d(&self.weight, 0, self.stride, self.dilation, self.groups)?;
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
            None => Ok(y),
        }
    }
}

/// `torch.nn.ConvTranspose1d` (weight layout `[C_in, C_out, K]`).
#[derive(Debug, Clone)]
pub struct ConvTranspose1d {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: usize,
    padding: usize,
    /// The same operator as an ordinary convolution, when the kernel allows (see `forward`).
    polyphase: Option<Tensor>,
}

impl ConvTranspose1d {
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let weight = vb.get((in_channels, out_channels, kernel), "weight")?;
        let bias = Some(vb.get(out_channels, "bias")?);
        Self::from_parts(weight, bias, stride, padding)
    }

    /// `weight` is in PyTorch's `[C_in, C_out, K]` layout.
    pub fn from_parts(
        weight: Tensor,
        bias: Option<Tensor>,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let polyphase = polyphase_kernel(&weight, stride)?;
        Ok(Self {
            weight,
            bias,
            stride,
            padding,
            polyphase,
        })
    }
}

/// A transposed convolution whose kernel is a multiple of its stride, rewritten as one ordinary
/// convolution with `stride × C_out` outputs (one per output phase) and kernel `K / stride`:
/// `y[t] = Σ_m x[j − m] · W[ρ + m·s]` with `j = ⌊(t + p) / s⌋`, `ρ = (t + p) mod s`. candle's
/// direct transposed convolution is far slower on CPUs than its matmul-backed convolution.
fn polyphase_kernel(weight: &Tensor, stride: usize) -> Result<Option<Tensor>> {
    let (c_in, c_out, k) = weight.dims3()?;
    if stride <= 1 || k % stride != 0 {
        return Ok(None);
    }
    let taps = k / stride;
    // [C_in, C_out, M, s]: W[ci][co][m·s + ρ]
    let w = weight.reshape((c_in, c_out, taps, stride))?;
    // [s, C_out, C_in, M] with the taps reversed (correlation instead of convolution).
    let w = w.permute((3, 1, 0, 2))?.contiguous()?;
    let reversed: Vec<u32> = (0..taps as u32).rev().collect();
    let w = w.index_select(&Tensor::new(reversed.as_slice(), weight.device())?, 3)?;
    Ok(Some(w.reshape((stride * c_out, c_in, taps))?.contiguous()?))
}

impl Module for ConvTranspose1d {
    /// `[B, C_in, T] -> [B, C_out, (T - 1) * stride - 2 * padding + K]`
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.polyphase {
            Some(kernel) => {
                let (b, _, t_in) = x.dims3()?;
                let s = self.stride;
                let c_out = kernel.dim(0)? / s;
                let taps = kernel.dim(2)?;
                let k = taps * s;
                let t_out = (t_in - 1) * s + k - 2 * self.padding;
                let z = x
                    .pad_with_zeros(D::Minus1, taps - 1, taps - 1)?
                    .conv1d(kernel, 0, 1, 1, 1)?;
                let len = z.dim(2)?;
                // [B, s·C_out, L] -> [B, C_out, L·s], phase ρ of frame j at j·s + ρ.
                let u = z
                    .reshape((b, s, c_out, len))?
                    .permute((0, 2, 3, 1))?
                    .reshape((b, c_out, len * s))?;
                u.narrow(2, self.padding, t_out)?
            }
            None => x.conv_transpose1d(&self.weight, self.padding, 0, self.stride, 1, 1)?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
            None => Ok(y),
        }
    }
}

/// `torch.nn.Linear` applied over the last dimension.
#[derive(Debug, Clone)]
pub struct Linear {
    weight_t: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    pub fn new(in_dim: usize, out_dim: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((out_dim, in_dim), "weight")?;
        let bias = if bias {
            Some(vb.get(out_dim, "bias")?)
        } else {
            None
        };
        Ok(Self {
            weight_t: weight.t()?.contiguous()?,
            bias,
        })
    }
}

impl Module for Linear {
    /// `[..., in] -> [..., out]`
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.broadcast_matmul(&self.weight_t)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// `torch.nn.LayerNorm` over the last dimension.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(dim, "weight")?,
            bias: vb.get(dim, "bias")?,
            eps,
        })
    }

    /// Glow-TTS's channel LayerNorm (`gamma`/`beta`), kept as a last-dim norm of the transposed input.
    pub fn glow(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(dim, "gamma")?,
            bias: vb.get(dim, "beta")?,
            eps: 1e-4,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        normalize_last(x, self.eps)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// `(x - mean) / sqrt(var + eps)` over the last dimension (biased variance, as PyTorch's norms).
fn normalize_last(x: &Tensor, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    centred.broadcast_div(&(var + eps)?.sqrt()?)
}

/// Glow-TTS's LayerNorm over the channel axis of `[B, C, T]`.
#[derive(Debug, Clone)]
pub struct ChannelNorm(LayerNorm);

impl ChannelNorm {
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self(LayerNorm::glow(dim, vb)?))
    }
}

impl Module for ChannelNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.0
            .forward(&x.transpose(1, 2)?)?
            .transpose(1, 2)?
            .contiguous()
    }
}

/// `torch.nn.GroupNorm` on `[B, C, T]`.
#[derive(Debug, Clone)]
pub struct GroupNorm {
    weight: Tensor,
    bias: Tensor,
    groups: usize,
    eps: f64,
}

impl GroupNorm {
    pub fn new(groups: usize, channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(channels, "weight")?,
            bias: vb.get(channels, "bias")?,
            groups,
            eps: 1e-5,
        })
    }
}

impl Module for GroupNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, t) = x.dims3()?;
        let grouped = x.reshape((b, self.groups, (c / self.groups) * t))?;
        let normed = normalize_last(&grouped, self.eps)?.reshape((b, c, t))?;
        normed
            .broadcast_mul(&self.weight.reshape((1, c, 1))?)?
            .broadcast_add(&self.bias.reshape((1, c, 1))?)
    }
}

/// `log(1 + exp(x))`, stable for large |x|.
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    let positive = x.relu()?;
    let tail = (x.abs()?.neg()?.exp()? + 1.0)?.log()?;
    positive + tail
}

/// Mish: `x * tanh(softplus(x))`; one vectorised pass for f32 on the CPU.
pub fn mish(x: &Tensor) -> Result<Tensor> {
    if x.dtype() == DType::F32 && x.device().is_cpu() {
        return x.contiguous()?.apply_op1_no_bwd(&ElementWise::Mish);
    }
    x * softplus(x)?.tanh()?
}

/// SnakeBeta over the last dimension: `x + inv_beta · sin²(alpha · x)`, with `alpha` and
/// `inv_beta` per channel; one vectorised pass for f32 on the CPU.
pub fn snake_beta(x: &Tensor, alpha: &[f32], inv_beta: &[f32]) -> Result<Tensor> {
    if x.dtype() == DType::F32 && x.device().is_cpu() {
        return x
            .contiguous()?
            .apply_op1_no_bwd(&ElementWise::SnakeBeta { alpha, inv_beta });
    }
    let per_channel = |v: &[f32]| Tensor::from_slice(v, v.len(), x.device())?.to_dtype(x.dtype());
    let s = x.broadcast_mul(&per_channel(alpha)?)?.sin()?.sqr()?;
    x + s.broadcast_mul(&per_channel(inv_beta)?)?
}

/// Activations computed in place on a contiguous f32 copy (see `fast_math`).
enum ElementWise<'a> {
    Mish,
    SnakeBeta {
        alpha: &'a [f32],
        inv_beta: &'a [f32],
    },
}

impl candle_core::CustomOp1 for ElementWise<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::Mish => "mish",
            Self::SnakeBeta { .. } => "snake-beta",
        }
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let (candle_core::CpuStorage::F32(data), Some((start, end))) =
            (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("{} takes a contiguous f32 tensor", self.name());
        };
        let mut out = data[start..end].to_vec();
        match self {
            Self::Mish => fast_math::mish_in_place(&mut out),
            Self::SnakeBeta { alpha, inv_beta } => {
                if layout.shape().dims().last() != Some(&alpha.len()) {
                    candle_core::bail!(
                        "snake-beta: {} channels, shape {:?}",
                        alpha.len(),
                        layout.shape()
                    );
                }
                fast_math::snake_beta_rows(&mut out, alpha, inv_beta);
            }
        }
        Ok((candle_core::CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// PyTorch's default LeakyReLU.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    let negative = (x.minimum(0.0)? * slope)?;
    x.relu()? + negative
}

/// Softmax over the last dimension in f32.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    candle_nn::ops::softmax_last_dim(&x.to_dtype(DType::F32)?)
}
