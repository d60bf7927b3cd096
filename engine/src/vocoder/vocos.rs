//! Vocos (`vocos.models.VocosBackbone` + `vocos.heads.ISTFTHead`): a ConvNeXt backbone predicts
//! log-magnitude and phase per frame; rustfft's inverse STFT makes the waveform.
//!
//! The backbone runs time-major (`[frames][channels]`) on plain buffers (see `model::dense`), and
//! each layer computes only the frames that the kept samples still depend on: a chunk's context
//! shrinks by three frames per kernel-7 layer on its way up.

use std::ops::Range;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use rustfft::num_complex::Complex32;

use super::config::IstftPadding;
use super::Vocoder;
use crate::audio::Istft;
use crate::error::{Error, Result};
use crate::nn::dense::{depthwise_conv_rows, layer_norm_rows, matmul_bias};
use crate::nn::fast_math::gelu_in_place;

/// Frames each side that a kernel-7 convolution reads.
const REACH: usize = 3;
const KERNEL: usize = 2 * REACH + 1;
const EPS: f32 = 1e-6;

fn host(vb: &VarBuilder, shape: &[usize], name: &str) -> candle_core::Result<Vec<f32>> {
    vb.get(shape, name)?
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1()
}

/// `[out][in]` (PyTorch's Linear) → `[in][out]`, each output column scaled.
fn transposed(w: &[f32], outputs: usize, scale: Option<&[f32]>) -> Vec<f32> {
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

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl LayerNorm {
    fn new(dim: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            weight: host(&vb, &[dim], "weight")?,
            bias: host(&vb, &[dim], "bias")?,
        })
    }

    fn apply(&self, x: &mut [f32]) {
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
    head: Vec<f32>,
    spectra: Vec<Complex32>,
    envelope: Vec<f32>,
}

pub struct Vocos {
    n_mels: usize,
    dim: usize,
    /// The embedding convolution as a matrix: `[tap · n_mels + mel][dim]`.
    embed: Vec<f32>,
    embed_bias: Vec<f32>,
    norm: LayerNorm,
    blocks: Vec<ConvNeXtBlock>,
    final_layer_norm: LayerNorm,
    /// `[dim][n_fft + 2]`
    out: Vec<f32>,
    out_bias: Vec<f32>,
    istft: Istft,
    n_fft: usize,
    hop: usize,
    center: bool,
    context: Option<usize>,
    scratch: Scratch,
}

impl Vocos {
    /// Loads a Vocos whose parameters are under `vb` (`backbone.*`, `head.out.*`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        input_channels: usize,
        dim: usize,
        intermediate_dim: usize,
        num_layers: usize,
        n_fft: usize,
        hop: usize,
        padding: IstftPadding,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let bb = vb.pp("backbone");
        let blocks = (0..num_layers)
            .map(|i| ConvNeXtBlock::new(dim, intermediate_dim, bb.pp("convnext").pp(i)))
            .collect::<candle_core::Result<_>>()?;
        let w = host(&bb.pp("embed"), &[dim, input_channels, KERNEL], "weight")?;
        let mut embed = vec![0.0; w.len()];
        for o in 0..dim {
            for c in 0..input_channels {
                for k in 0..KERNEL {
                    embed[(k * input_channels + c) * dim + o] =
                        w[(o * input_channels + c) * KERNEL + k];
                }
            }
        }
        let center = padding == IstftPadding::Center;
        Ok(Self {
            n_mels: input_channels,
            dim,
            embed,
            embed_bias: host(&bb.pp("embed"), &[dim], "bias")?,
            norm: LayerNorm::new(dim, bb.pp("norm"))?,
            blocks,
            final_layer_norm: LayerNorm::new(dim, bb.pp("final_layer_norm"))?,
            out: transposed(
                &host(&vb.pp("head.out"), &[n_fft + 2, dim], "weight")?,
                n_fft + 2,
                None,
            ),
            out_bias: host(&vb.pp("head.out"), &[n_fft + 2], "bias")?,
            istft: Istft::new(n_fft, n_fft, hop),
            n_fft,
            hop,
            center,
            // A centred ISTFT drops a frame's worth of samples, so chunks would not line up.
            context: if center {
                None
            } else {
                super::VocoderConfig::Vocos {
                    input_channels,
                    dim,
                    intermediate_dim,
                    num_layers,
                    n_fft,
                    hop_length: hop,
                    padding,
                }
                .context_frames()
            },
            scratch: Scratch::default(),
        })
    }

    /// The Vocos a [`VocoderConfig::Vocos`] describes; `None` for other vocoders.
    pub fn from_config(
        cfg: &super::VocoderConfig,
        vb: VarBuilder,
    ) -> Option<candle_core::Result<Self>> {
        let super::VocoderConfig::Vocos {
            input_channels,
            dim,
            intermediate_dim,
            num_layers,
            n_fft,
            hop_length,
            padding,
        } = cfg
        else {
            return None;
        };
        Some(Self::new(
            *input_channels,
            *dim,
            *intermediate_dim,
            *num_layers,
            *n_fft,
            *hop_length,
            *padding,
            vb,
        ))
    }

    /// Frames whose ISTFT windows overlap the samples of frames `keep` (with "same" padding,
    /// frame `t` spans samples `t·hop − (n_fft − hop)/2 ..` for `n_fft` samples).
    fn overlapping(&self, keep: &Range<usize>, frames: usize) -> Range<usize> {
        let reach = self.n_fft.div_ceil(2 * self.hop);
        keep.start.saturating_sub(reach)..(keep.end + reach).min(frames)
    }

    /// The backbone and the head's linear layer for frames `wanted` of `mel` (`[n_mels][frames]`):
    /// `[wanted.len()][n_fft + 2]` into the head scratch.
    fn head(&mut self, mel: &[f32], frames: usize, wanted: Range<usize>) {
        let grow = |r: &Range<usize>| r.start.saturating_sub(REACH)..(r.end + REACH).min(frames);
        // ranges[i]: the frames block i reads; ranges[L]: the frames the head needs.
        let mut ranges = vec![wanted];
        for _ in 0..self.blocks.len() {
            let next = grow(ranges.last().expect("not empty"));
            ranges.push(next);
        }
        ranges.reverse();
        let first = ranges[0].clone();
        let (dim, n_mels) = (self.dim, self.n_mels);
        // Embedding: a kernel-7 convolution as one product of shifted mel columns.
        let columns = &mut self.scratch.columns;
        columns.clear();
        columns.resize(first.len() * KERNEL * n_mels, 0.0);
        for (i, t) in first.clone().enumerate() {
            for k in 0..KERNEL {
                let Some(src) = (t + k).checked_sub(REACH).filter(|&s| s < frames) else {
                    continue;
                };
                let row = &mut columns[(i * KERNEL + k) * n_mels..(i * KERNEL + k + 1) * n_mels];
                for (c, v) in row.iter_mut().enumerate() {
                    *v = mel[c * frames + src];
                }
            }
        }
        let mut x = vec![0.0; first.len() * dim];
        matmul_bias(
            columns,
            &self.embed,
            &self.embed_bias,
            first.len(),
            KERNEL * n_mels,
            &mut x,
        );
        self.norm.apply(&mut x);
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(&x, &ranges[i], &ranges[i + 1], frames, &mut self.scratch);
        }
        self.final_layer_norm.apply(&mut x);
        let rows = ranges[self.blocks.len()].len();
        let width = self.n_fft + 2;
        let mut head = std::mem::take(&mut self.scratch.head);
        head.resize(rows * width, 0.0);
        matmul_bias(&x, &self.out, &self.out_bias, rows, dim, &mut head);
        self.scratch.head = head;
    }

    /// Samples of frames `keep` from a head computed for frames `heads`.
    fn synthesize(&mut self, heads: &Range<usize>, keep: &Range<usize>) -> Result<Vec<f32>> {
        let bins = self.n_fft / 2 + 1;
        let spectra = &mut self.scratch.spectra;
        spectra.clear();
        for row in self.scratch.head.chunks_exact(self.n_fft + 2) {
            let (log_mag, phase) = row.split_at(bins);
            // mag = min(exp(log-magnitude), 100); S = mag · e^{i phase}
            spectra.extend(
                log_mag
                    .iter()
                    .zip(phase)
                    .map(|(m, p)| Complex32::from_polar(m.exp().min(100.0), *p)),
            );
        }
        let (trim, skip, len) = if self.center {
            (self.n_fft / 2, 0, self.output_len(heads.len()))
        } else {
            // Output sample j is sample heads.start · hop + j of the whole signal.
            let skip = (keep.start - heads.start) * self.hop;
            (
                (self.n_fft - self.hop) / 2,
                skip,
                (keep.end - heads.start) * self.hop,
            )
        };
        let mut out = vec![0.0; len];
        self.scratch.envelope.resize(len, 0.0);
        self.istft.process(
            &self.scratch.spectra,
            heads.len(),
            trim,
            &mut out,
            &mut self.scratch.envelope[..len],
        );
        out.drain(..skip);
        if out.iter().any(|s| !s.is_finite()) {
            return Err(Error::numeric(
                "the Vocos vocoder produced NaN or infinite samples",
            ));
        }
        Ok(out)
    }

    /// Samples the ISTFT yields for `frames` frames.
    pub fn output_len(&self, frames: usize) -> usize {
        if self.center {
            frames.saturating_sub(1) * self.hop
        } else {
            frames * self.hop
        }
    }

    fn host_mel(&self, mel: &Tensor) -> Result<(Vec<f32>, usize)> {
        let (_, bands, frames) = mel.dims3()?;
        if bands != self.n_mels {
            return Err(Error::input(format!(
                "the mel has {bands} bands; this Vocos expects {}",
                self.n_mels
            )));
        }
        let data = mel.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        Ok((data, frames))
    }
}

impl Vocoder for Vocos {
    fn name(&self) -> &'static str {
        "vocos"
    }

    fn hop_length(&self) -> usize {
        self.hop
    }

    fn context_frames(&self) -> Option<usize> {
        self.context
    }

    fn vocode(&mut self, mel: &Tensor) -> Result<Vec<f32>> {
        let frames = mel.dims3()?.2;
        self.vocode_span(mel, 0..frames)
    }

    fn vocode_span(&mut self, mel: &Tensor, keep: Range<usize>) -> Result<Vec<f32>> {
        let (data, frames) = self.host_mel(mel)?;
        let keep = keep.start.min(frames)..keep.end.min(frames);
        if keep.is_empty() {
            return Ok(Vec::new());
        }
        if self.center {
            // Centred frames do not line up with sample spans: the whole mel, then the span.
            self.head(&data, frames, 0..frames);
            let mut out = self.synthesize(&(0..frames), &(0..frames))?;
            let end = (keep.end * self.hop).min(out.len());
            out.truncate(end);
            out.drain(..(keep.start * self.hop).min(end));
            return Ok(out);
        }
        let heads = self.overlapping(&keep, frames);
        self.head(&data, frames, heads.clone());
        self.synthesize(&heads, &keep)
    }
}
