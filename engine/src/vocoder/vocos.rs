//! Vocos (`vocos.models.VocosBackbone` + `vocos.heads.ISTFTHead`): a ConvNeXt backbone predicts
//! log-magnitude and phase per frame; rustfft's inverse STFT makes the waveform.

use candle_core::{Module, Tensor, D};
use candle_nn::VarBuilder;
use rustfft::num_complex::Complex32;

use super::Vocoder;
use crate::audio::Istft;
use crate::error::{Error, Result};
use crate::model::layers::{Conv1d, ConvSpec, LayerNorm, Linear};

struct ConvNeXtBlock {
    dwconv: Conv1d,
    norm: LayerNorm,
    pwconv1: Linear,
    pwconv2: Linear,
    gamma: Option<Tensor>,
}

impl ConvNeXtBlock {
    fn new(dim: usize, intermediate: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let spec = ConvSpec {
            kernel: 7,
            padding: 3,
            stride: 1,
            dilation: 1,
            groups: dim,
            bias: true,
        };
        Ok(Self {
            dwconv: Conv1d::new(dim, dim, spec, vb.pp("dwconv"))?,
            norm: LayerNorm::new(dim, 1e-6, vb.pp("norm"))?,
            pwconv1: Linear::new(dim, intermediate, true, vb.pp("pwconv1"))?,
            pwconv2: Linear::new(intermediate, dim, true, vb.pp("pwconv2"))?,
            gamma: if vb.contains_tensor("gamma") {
                Some(vb.get(dim, "gamma")?)
            } else {
                None
            },
        })
    }

    /// `[1, C, T] -> [1, C, T]`
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.dwconv.forward(x)?.transpose(1, 2)?;
        let h = self
            .pwconv2
            .forward(&self.pwconv1.forward(&self.norm.forward(&h)?)?.gelu_erf()?)?;
        let h = match &self.gamma {
            Some(g) => h.broadcast_mul(g)?,
            None => h,
        };
        x + h.transpose(1, 2)?
    }
}

pub struct Vocos {
    embed: Conv1d,
    norm: LayerNorm,
    blocks: Vec<ConvNeXtBlock>,
    final_layer_norm: LayerNorm,
    out: Linear,
    istft: Istft,
    n_fft: usize,
    hop: usize,
    trim: usize,
    center: bool,
    context: Option<usize>,
    spectra: Vec<Complex32>,
    envelope: Vec<f32>,
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
        padding: &str,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let bb = vb.pp("backbone");
        let blocks = (0..num_layers)
            .map(|i| ConvNeXtBlock::new(dim, intermediate_dim, bb.pp("convnext").pp(i)))
            .collect::<candle_core::Result<_>>()?;
        let center = padding == "center";
        Ok(Self {
            embed: Conv1d::new(
                input_channels,
                dim,
                ConvSpec {
                    kernel: 7,
                    padding: 3,
                    stride: 1,
                    dilation: 1,
                    groups: 1,
                    bias: true,
                },
                bb.pp("embed"),
            )?,
            norm: LayerNorm::new(dim, 1e-6, bb.pp("norm"))?,
            blocks,
            final_layer_norm: LayerNorm::new(dim, 1e-6, bb.pp("final_layer_norm"))?,
            out: Linear::new(dim, n_fft + 2, true, vb.pp("head.out"))?,
            istft: Istft::new(n_fft, n_fft, hop),
            n_fft,
            hop,
            trim: if center { n_fft / 2 } else { (n_fft - hop) / 2 },
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
                    padding: padding.into(),
                }
                .context_frames()
            },
            spectra: Vec::new(),
            envelope: Vec::new(),
        })
    }

    /// The backbone and head's linear layer: `[1, n_mels, T] -> [1, T, n_fft + 2]`.
    pub fn head_input(&self, mel: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.embed.forward(mel)?;
        let x = self.norm.forward(&x.transpose(1, 2)?)?.transpose(1, 2)?;
        let mut x = x.contiguous()?;
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        let x = self.final_layer_norm.forward(&x.transpose(1, 2)?)?;
        self.out.forward(&x)
    }

    /// Samples the ISTFT yields for `frames` frames.
    pub fn output_len(&self, frames: usize) -> usize {
        if self.center {
            frames.saturating_sub(1) * self.hop
        } else {
            frames * self.hop
        }
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
        let head = self.head_input(mel)?.squeeze(0)?; // [T, n_fft + 2]
        let frames = head.dim(0)?;
        let bins = self.n_fft / 2 + 1;
        // mag = min(exp(log-magnitude), 100); S = mag * e^{i phase}
        let mag = head
            .narrow(D::Minus1, 0, bins)?
            .exp()?
            .minimum(100.0)?
            .to_vec2::<f32>()?;
        let phase = head.narrow(D::Minus1, bins, bins)?.to_vec2::<f32>()?;
        self.spectra.clear();
        for (m_row, p_row) in mag.iter().zip(&phase) {
            self.spectra.extend(
                m_row
                    .iter()
                    .zip(p_row)
                    .map(|(m, p)| Complex32::from_polar(*m, *p)),
            );
        }
        let len = self.output_len(frames);
        let mut out = vec![0.0; len];
        self.envelope.resize(len, 0.0);
        self.istft.process(
            &self.spectra,
            frames,
            self.trim,
            &mut out,
            &mut self.envelope,
        );
        if out.iter().any(|s| !s.is_finite()) {
            return Err(Error::numeric(
                "the Vocos vocoder produced NaN or infinite samples",
            ));
        }
        Ok(out)
    }
}
