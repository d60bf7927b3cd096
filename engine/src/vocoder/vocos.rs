//! Vocos (`vocos.models.VocosBackbone` + `vocos.heads.ISTFTHead`): a ConvNeXt backbone predicts
//! log-magnitude and phase per frame; rustfft's inverse STFT makes the waveform.
//!
//! The backbone (`convnext.rs`) computes only the frames that the kept samples still depend on: a
//! chunk's context shrinks by three frames per kernel-7 layer on its way up.

use std::ops::Range;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use rustfft::num_complex::Complex32;

use super::config::IstftPadding;
use super::convnext::{host, transposed, ConvNeXtBackbone};
use super::Vocoder;
use crate::audio::Istft;
use crate::error::{Error, Result};
use crate::nn::dense::matmul_bias;

/// Buffers reused from call to call.
#[derive(Default)]
struct Scratch {
    head: Vec<f32>,
    spectra: Vec<Complex32>,
    envelope: Vec<f32>,
}

pub struct Vocos {
    n_mels: usize,
    backbone: ConvNeXtBackbone,
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
        let backbone = ConvNeXtBackbone::new(
            input_channels,
            dim,
            intermediate_dim,
            num_layers,
            vb.pp("backbone"),
        )?;
        let center = padding == IstftPadding::Center;
        Ok(Self {
            n_mels: input_channels,
            backbone,
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
        let rows = wanted.len();
        let x = self.backbone.forward(mel, frames, wanted);
        let width = self.n_fft + 2;
        let mut head = std::mem::take(&mut self.scratch.head);
        head.resize(rows * width, 0.0);
        matmul_bias(
            &x,
            &self.out,
            &self.out_bias,
            rows,
            self.backbone.dim(),
            &mut head,
        );
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
