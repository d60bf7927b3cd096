//! The ConvNeXt backbone the Vocos and harmonic vocoders share (`vocos.models.VocosBackbone`):
//! a kernel-7 embedding convolution, LayerNorm, ConvNeXt blocks and a final LayerNorm, run
//! time-major (`[frames][channels]`) on plain buffers (see `nn::dense`). Each layer computes only
//! the frames that the wanted ones still depend on: three fewer a side per kernel-7 layer.

use std::ops::Range;

use candle_core::DType;
use candle_nn::VarBuilder;

use crate::nn::dense::{depthwise_conv_rows, layer_norm_rows, matmul_bias};
use crate::nn::fast_math::gelu_in_place;

/// Frames each side that a kernel-7 convolution reads.
pub const REACH: usize = 3;
const KERNEL: usize = 2 * REACH + 1;
const EPS: f32 = 1e-6;

pub fn host(vb: &VarBuilder, shape: &[usize], name: &str) -> candle_core::Result<Vec<f32>> {
    vb.get(shape, name)?
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1()
}

/// `[out][in]` (PyTorch's Linear) → `[in][out]`, each output column scaled.
pub fn transposed(w: &[f32], outputs: usize, scale: Option<&[f32]>) -> Vec<f32> {
    let inputs = w.len() / outputs;
    let mut t = vec![0.0; w.len()];
    for o in 0..outputs {
        let s = scale.map_or(1.0, |s| s[o]);
        for i in 0..inputs {
            t[i * outputs + o] = w[o * inputs + i] * s;
        }
    }
    t
}

pub struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl LayerNorm {
    pub fn new(dim: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            weight: host(&vb, &[dim], "weight")?,
            bias: host(&vb, &[dim], "bias")?,
        })
    }

    pub fn apply(&self, x: &mut [f32]) {
        layer_norm_rows(x, &self.weight, &self.bias, EPS);
    }
}

/// ConvNeXt block: depthwise conv (k 7) → LayerNorm → Linear → GELU → Linear (× gamma) + input.
struct ConvNeXtBlock {
    /// `[tap][channel]`
    dwconv: Vec<f32>,
    dwconv_bias: Vec<f32>,
    norm: LayerNorm,
    /// `[dim][intermediate]`
    pwconv1: Vec<f32>,
    pwconv1_bias: Vec<f32>,
    /// `[intermediate][dim]`, with the layer scale folded in.
    pwconv2: Vec<f32>,
    pwconv2_bias: Vec<f32>,
}

impl ConvNeXtBlock {
    fn new(dim: usize, intermediate: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let dw = host(&vb.pp("dwconv"), &[dim, 1, KERNEL], "weight")?;
        let mut dwconv = vec![0.0; dw.len()];
        for c in 0..dim {
            for k in 0..KERNEL {
                dwconv[k * dim + c] = dw[c * KERNEL + k];
            }
        }
        let gamma = if vb.contains_tensor("gamma") {
            Some(host(&vb, &[dim], "gamma")?)
        } else {
            None
        };
        let pw2 = host(&vb.pp("pwconv2"), &[dim, intermediate], "weight")?;
        let mut pwconv2_bias = host(&vb.pp("pwconv2"), &[dim], "bias")?;
        if let Some(g) = &gamma {
            pwconv2_bias.iter_mut().zip(g).for_each(|(b, g)| *b *= g);
        }
        Ok(Self {
            dwconv,
            dwconv_bias: host(&vb.pp("dwconv"), &[dim], "bias")?,
            norm: LayerNorm::new(dim, vb.pp("norm"))?,
            pwconv1: transposed(
                &host(&vb.pp("pwconv1"), &[intermediate, dim], "weight")?,
                intermediate,
                None,
            ),
            pwconv1_bias: host(&vb.pp("pwconv1"), &[intermediate], "bias")?,
            pwconv2: transposed(&pw2, dim, gamma.as_deref()),
            pwconv2_bias,
        })
    }

    /// `x` holds frames `input` of a `signal_len`-frame signal; returns frames `output`.
    fn forward(
        &self,
        x: &[f32],
        input: &Range<usize>,
        output: &Range<usize>,
        signal_len: usize,
        scratch: &mut Scratch,
    ) -> Vec<f32> {
        let dim = self.dwconv_bias.len();
        let inter = self.pwconv1_bias.len();
        let rows = output.len();
        let mut h = std::mem::take(&mut scratch.rows);
        h.resize(rows * dim, 0.0);
        depthwise_conv_rows(
            x,
            input.start,
            signal_len,
            &self.dwconv,
            &self.dwconv_bias,
            output.start,
            &mut h,
        );
        self.norm.apply(&mut h);
        let mut wide = std::mem::take(&mut scratch.wide);
        wide.resize(rows * inter, 0.0);
        matmul_bias(&h, &self.pwconv1, &self.pwconv1_bias, rows, dim, &mut wide);
        gelu_in_place(&mut wide);
        let mut y = vec![0.0; rows * dim];
        matmul_bias(
            &wide,
            &self.pwconv2,
            &self.pwconv2_bias,
            rows,
            inter,
            &mut y,
        );
        let skip = &x[(output.start - input.start) * dim..(output.end - input.start) * dim];
        y.iter_mut().zip(skip).for_each(|(y, x)| *y += x);
        scratch.rows = h;
        scratch.wide = wide;
        y
    }
}

/// Buffers reused from call to call.
#[derive(Default)]
struct Scratch {
    rows: Vec<f32>,
    wide: Vec<f32>,
    columns: Vec<f32>,
}

/// Embedding, ConvNeXt blocks and norms, with the buffers it reuses.
pub struct ConvNeXtBackbone {
    inputs: usize,
    dim: usize,
    /// The embedding convolution as a matrix: `[tap · inputs + input][dim]`.
    embed: Vec<f32>,
    embed_bias: Vec<f32>,
    norm: LayerNorm,
    blocks: Vec<ConvNeXtBlock>,
    final_layer_norm: LayerNorm,
    scratch: Scratch,
}

impl ConvNeXtBackbone {
    /// Loads the backbone under `vb` (`embed`, `norm`, `convnext.{i}`, `final_layer_norm`).
    pub fn new(
        inputs: usize,
        dim: usize,
        intermediate: usize,
        layers: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let blocks = (0..layers)
            .map(|i| ConvNeXtBlock::new(dim, intermediate, vb.pp("convnext").pp(i)))
            .collect::<candle_core::Result<_>>()?;
        let w = host(&vb.pp("embed"), &[dim, inputs, KERNEL], "weight")?;
        let mut embed = vec![0.0; w.len()];
        for o in 0..dim {
            for c in 0..inputs {
                for k in 0..KERNEL {
                    embed[(k * inputs + c) * dim + o] = w[(o * inputs + c) * KERNEL + k];
                }
            }
        }
        Ok(Self {
            inputs,
            dim,
            embed,
            embed_bias: host(&vb.pp("embed"), &[dim], "bias")?,
            norm: LayerNorm::new(dim, vb.pp("norm"))?,
            blocks,
            final_layer_norm: LayerNorm::new(dim, vb.pp("final_layer_norm"))?,
            scratch: Scratch::default(),
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Frames each side that can change a frame's features.
    pub fn reach(&self) -> usize {
        REACH * (self.blocks.len() + 1)
    }

    /// Features `[wanted.len()][dim]` of frames `wanted` of `input` (`[inputs][frames]`).
    pub fn forward(&mut self, input: &[f32], frames: usize, wanted: Range<usize>) -> Vec<f32> {
        let grow = |r: &Range<usize>| r.start.saturating_sub(REACH)..(r.end + REACH).min(frames);
        // ranges[i]: the frames block i reads; the last: the frames wanted.
        let mut ranges = vec![wanted];
        for _ in 0..self.blocks.len() {
            let next = grow(ranges.last().expect("not empty"));
            ranges.push(next);
        }
        ranges.reverse();
        let first = ranges[0].clone();
        let (dim, inputs) = (self.dim, self.inputs);
        // Embedding: a kernel-7 convolution as one product of shifted input columns.
        let columns = &mut self.scratch.columns;
        columns.clear();
        columns.resize(first.len() * KERNEL * inputs, 0.0);
        for (i, t) in first.clone().enumerate() {
            for k in 0..KERNEL {
                let Some(src) = (t + k).checked_sub(REACH).filter(|&s| s < frames) else {
                    continue;
                };
                let row = &mut columns[(i * KERNEL + k) * inputs..(i * KERNEL + k + 1) * inputs];
                for (c, v) in row.iter_mut().enumerate() {
                    *v = input[c * frames + src];
                }
            }
        }
        let mut x = vec![0.0; first.len() * dim];
        matmul_bias(
            columns,
            &self.embed,
            &self.embed_bias,
            first.len(),
            KERNEL * inputs,
            &mut x,
        );
        self.norm.apply(&mut x);
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(&x, &ranges[i], &ranges[i + 1], frames, &mut self.scratch);
        }
        self.final_layer_norm.apply(&mut x);
        x
    }
}
