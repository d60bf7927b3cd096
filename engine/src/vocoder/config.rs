//! Vocoder settings stored in voice and vocoder files.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum VocoderConfig {
    /// Vocos: ConvNeXt backbone and an ISTFT head (arXiv 2306.00814).
    Vocos {
        input_channels: usize,
        dim: usize,
        intermediate_dim: usize,
        num_layers: usize,
        n_fft: usize,
        hop_length: usize,
        #[serde(default)]
        padding: IstftPadding,
    },
    /// HiFi-GAN generator (V1, V2, V3 differ only in these sizes).
    Hifigan {
        #[serde(default = "mels")]
        input_channels: usize,
        resblock: ResBlockKind,
        upsample_rates: Vec<usize>,
        upsample_kernel_sizes: Vec<usize>,
        upsample_initial_channel: usize,
        resblock_kernel_sizes: Vec<usize>,
        resblock_dilation_sizes: Vec<Vec<usize>>,
        #[serde(default = "yes")]
        conv_post_bias: bool,
        /// Convolutions (LeakyReLU 0.1 between them) that map the mel to the generator's input
        /// when it was trained on another representation (a TTS model's latent); weights under
        /// `adapter.{0,2,4,...}`.
        #[serde(default)]
        adapter: Vec<AdapterLayer>,
    },
    /// Harmonic plus noise with its own F0 estimator (`tools/train/train_harmonic.py`).
    Harmonic(HarmonicConfig),
    /// No weights: mel → magnitude by non-negative least squares, phase by fast Griffin-Lim.
    Phase {
        #[serde(default = "iterations")]
        iterations: usize,
    },
}

/// Sizes of the harmonic-plus-noise vocoder (`vocoder::harmonic`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarmonicConfig {
    #[serde(default = "mels")]
    pub input_channels: usize,
    /// The envelope network: ConvNeXt width, inner width and blocks.
    pub dim: usize,
    pub intermediate_dim: usize,
    pub num_layers: usize,
    /// The F0 estimator: ConvNeXt width, inner width and blocks.
    pub f0_dim: usize,
    pub f0_intermediate_dim: usize,
    pub f0_layers: usize,
    /// Points of each spectral envelope over 0 Hz … Nyquist.
    pub bins: usize,
    /// Most harmonics played (fewer where they would pass 95 % of Nyquist).
    pub harmonics: usize,
    pub hop_length: usize,
    /// Window of the noise's STFT.
    pub n_fft: usize,
    /// The F0 estimator's output scale: log F0 = mean + std · output.
    pub log_f0_mean: f32,
    pub log_f0_std: f32,
    /// Added to the voicing logit before its sign decides. An acoustic model's mels are smoother
    /// than the recordings' the estimator learned from and read as less voiced; the committed
    /// vocoder's bias makes the built-in voice as voiced as its teacher on the dev sentences.
    #[serde(default)]
    pub voicing_bias: f32,
}

/// How Vocos's ISTFT head pads the signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IstftPadding {
    /// Frame `t` is centred on sample `t·hop`, the signal cut to `frames·hop` samples: the
    /// mel-vocoder setting, and the only one whose chunks line up (see
    /// [`VocoderConfig::context_frames`]).
    #[default]
    Same,
    /// `torch.istft(center=True)`: a frame's worth of samples is dropped.
    Center,
}

/// HiFi-GAN's residual block design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResBlockKind {
    /// `ResBlock1`: each dilated convolution followed by a plain one (V1, V2).
    #[serde(rename = "1")]
    One,
    /// `ResBlock2`: dilated convolutions only (V3).
    #[serde(rename = "2")]
    Two,
}

/// One convolution of a HiFi-GAN input adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterLayer {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
}

fn mels() -> usize {
    80
}
fn yes() -> bool {
    true
}
fn iterations() -> usize {
    32
}

/// How far HiFi-GAN's layers reach, in output samples (a sample at a stage of `rate` samples per
/// frame stands for hop / rate output samples).
#[derive(Debug, Clone, PartialEq)]
pub struct HifiganReach {
    pub hop: usize,
    /// The adapter and conv_pre, at the frame rate.
    pub front: usize,
    /// Each upsampling stage: (samples per frame after it, its reach: the transposed convolution
    /// and the widest residual block).
    pub stages: Vec<(usize, usize)>,
    /// conv_post, kernel 7 at the output rate.
    pub post: usize,
}

impl VocoderConfig {
    /// The reach of each part of a HiFi-GAN (`None` for other vocoders).
    pub fn hifigan_reach(&self) -> Option<HifiganReach> {
        let Self::Hifigan {
            resblock,
            upsample_rates,
            upsample_kernel_sizes,
            resblock_kernel_sizes,
            resblock_dilation_sizes,
            adapter,
            ..
        } = self
        else {
            return None;
        };
        let hop: usize = upsample_rates.iter().product();
        let block = resblock_kernel_sizes
            .iter()
            .zip(resblock_dilation_sizes)
            .map(|(&k, dilations)| {
                let half = k / 2;
                dilations
                    .iter()
                    .map(|d| {
                        if *resblock == ResBlockKind::One {
                            half * (d + 1)
                        } else {
                            half * d
                        }
                    })
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0);
        let adapter_frames: usize = adapter.iter().map(|l| l.kernel / 2).sum();
        let mut rate = 1;
        let mut stages = Vec::new();
        for (&u, &k) in upsample_rates.iter().zip(upsample_kernel_sizes) {
            let up = k.div_ceil(u) * hop / rate;
            rate *= u;
            stages.push((rate, up + block * hop / rate));
        }
        Some(HifiganReach {
            hop,
            // The adapter's kernels and conv_pre's (kernel 7).
            front: (adapter_frames + 3) * hop,
            stages,
            post: 3,
        })
    }

    /// Mel frames on each side that can change a frame's output samples: with this much context a
    /// chunk of a mel vocodes to exactly the samples the whole mel gives there. `None` for the
    /// phase vocoder, whose iterations spread over the whole signal.
    pub fn context_frames(&self) -> Option<usize> {
        match self {
            Self::Vocos {
                num_layers,
                n_fft,
                hop_length,
                ..
            } => {
                // The embedding and each ConvNeXt block are kernel-7 convolutions (3 frames a side);
                // an output sample overlaps n_fft / hop frames of the inverse STFT.
                Some(3 * (num_layers + 1) + n_fft.div_ceil(2 * hop_length) + 1)
            }
            Self::Hifigan { .. } => {
                let reach = self.hifigan_reach()?;
                let total =
                    reach.front + reach.stages.iter().map(|s| s.1).sum::<usize>() + reach.post;
                Some(total.div_ceil(reach.hop) + 1)
            }
            Self::Harmonic(cfg) => {
                let reach = |layers: usize| 3 * (layers + 1);
                // Both networks' reach, the next frame the last samples glide towards, the noise
                // windows' overlap, and one spare.
                Some(
                    reach(cfg.num_layers)
                        + reach(cfg.f0_layers)
                        + cfg.n_fft.div_ceil(2 * cfg.hop_length)
                        + 2,
                )
            }
            Self::Phase { .. } => None,
        }
    }

    /// HiFi-GAN V1 (13.9 M parameters), the reference's `v1` config.
    pub fn hifigan_v1() -> Self {
        Self::Hifigan {
            input_channels: 80,
            resblock: ResBlockKind::One,
            upsample_rates: vec![8, 8, 2, 2],
            upsample_kernel_sizes: vec![16, 16, 4, 4],
            upsample_initial_channel: 512,
            resblock_kernel_sizes: vec![3, 7, 11],
            resblock_dilation_sizes: vec![vec![1, 3, 5], vec![1, 3, 5], vec![1, 3, 5]],
            conv_post_bias: true,
            adapter: Vec::new(),
        }
    }

    /// HiFi-GAN V2 (0.93 M): V1's shape with 128 initial channels.
    pub fn hifigan_v2() -> Self {
        let mut cfg = Self::hifigan_v1();
        if let Self::Hifigan {
            upsample_initial_channel,
            ..
        } = &mut cfg
        {
            *upsample_initial_channel = 128;
        }
        cfg
    }

    /// HiFi-GAN V3 (1.46 M): three upsamplings and type-2 residual blocks.
    pub fn hifigan_v3() -> Self {
        Self::Hifigan {
            input_channels: 80,
            resblock: ResBlockKind::Two,
            upsample_rates: vec![8, 8, 4],
            upsample_kernel_sizes: vec![16, 16, 8],
            upsample_initial_channel: 256,
            resblock_kernel_sizes: vec![3, 5, 7],
            resblock_dilation_sizes: vec![vec![1, 2], vec![2, 6], vec![3, 12]],
            conv_post_bias: true,
            adapter: Vec::new(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Vocos { .. } => "vocos",
            Self::Hifigan { .. } => "hifigan",
            Self::Harmonic(_) => "harmonic",
            Self::Phase { .. } => "phase",
        }
    }

    /// Output samples per input frame.
    pub fn hop_length(&self) -> usize {
        match self {
            Self::Vocos { hop_length, .. } => *hop_length,
            Self::Hifigan { upsample_rates, .. } => upsample_rates.iter().product(),
            Self::Harmonic(cfg) => cfg.hop_length,
            Self::Phase { .. } => 0,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Vocos {
                dim,
                n_fft,
                hop_length,
                num_layers,
                ..
            } => {
                if *dim == 0 || *num_layers == 0 || *hop_length == 0 || *n_fft < *hop_length {
                    return Err("vocos sizes must be positive with hop_length <= n_fft".into());
                }
            }
            Self::Hifigan {
                upsample_rates,
                upsample_kernel_sizes,
                resblock_kernel_sizes,
                resblock_dilation_sizes,
                upsample_initial_channel,
                ..
            } => {
                if upsample_rates.is_empty() || upsample_rates.len() != upsample_kernel_sizes.len()
                {
                    return Err("HiFi-GAN needs one kernel size per upsampling rate".into());
                }
                if resblock_kernel_sizes.len() != resblock_dilation_sizes.len() {
                    return Err("HiFi-GAN needs one dilation list per residual kernel size".into());
                }
                if *upsample_initial_channel >> upsample_rates.len() == 0 {
                    return Err(
                        "HiFi-GAN upsample_initial_channel is too small for its upsamplings".into(),
                    );
                }
            }
            Self::Harmonic(cfg) => {
                if cfg.dim == 0 || cfg.f0_dim == 0 || cfg.bins < 2 || cfg.hop_length == 0 {
                    return Err(
                        "harmonic vocoder sizes must be positive, with 2 or more bins".into(),
                    );
                }
                if cfg.n_fft != 4 * cfg.hop_length {
                    return Err("the harmonic vocoder's noise window must be 4 hops long".into());
                }
                if !(cfg.log_f0_std.is_finite()
                    && cfg.log_f0_std > 0.0
                    && cfg.log_f0_mean.is_finite())
                {
                    return Err(
                        "the harmonic vocoder's log-F0 scale must be finite and positive".into(),
                    );
                }
                if !(cfg.voicing_bias.is_finite() && cfg.voicing_bias.abs() <= 10.0) {
                    return Err("the harmonic vocoder's voicing bias must be within ±10".into());
                }
            }
            Self::Phase { iterations } => {
                if *iterations > 10_000 {
                    return Err("phase vocoder iterations above 10000 are not useful".into());
                }
            }
        }
        Ok(())
    }
}
