//! HiFi-GAN generators (`.pt`/`.pth`, weights under `generator`), Vocos checkpoints (a Lightning
//! `.ckpt` or a plain state dict) and our harmonic-plus-noise vocoders → Mellow vocoder files.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Result};
use candle_core::Tensor;
use mellow_engine::vocoder::config::{AdapterLayer, HarmonicConfig};
use mellow_engine::vocoder::{IstftPadding, VocoderConfig};
use mellow_engine::{Voice, VoiceConfig};

use crate::checkpoint::read_checkpoint;
use crate::shapes::{count, dims};
use crate::Provenance;

/// The reference HiFi-GAN configurations (80 mel bands, 22 050 Hz, hop 256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HifiganVariant {
    V1,
    V2,
    V3,
}

impl std::str::FromStr for HifiganVariant {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "v1" => Ok(Self::V1),
            "v2" => Ok(Self::V2),
            "v3" => Ok(Self::V3),
            other => Err(format!("unknown HiFi-GAN variant `{other}`: v1, v2 or v3")),
        }
    }
}

/// A HiFi-GAN generator → a vocoder file's contents: the variant's sizes, with the width, the
/// input bands, the output bias and any input adapter read off the weights.
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// use mellow_convert::{hifigan_vocoder, HifiganVariant, Provenance};
/// let vocoder = hifigan_vocoder("generator_v1".as_ref(), HifiganVariant::V1, &Provenance::default())?;
/// mellow_convert::save_voice(&vocoder, "hifigan_v1.mellow".as_ref(), false)?;
/// # Ok(()) }
/// ```
pub fn hifigan_vocoder(input: &Path, variant: HifiganVariant, about: &Provenance) -> Result<Voice> {
    let tensors = read_checkpoint(input, &["generator"])?.tensors;
    let mut cfg = match variant {
        HifiganVariant::V1 => VocoderConfig::hifigan_v1(),
        HifiganVariant::V2 => VocoderConfig::hifigan_v2(),
        HifiganVariant::V3 => VocoderConfig::hifigan_v3(),
    };
    let pre = dims(&tensors, "conv_pre.weight").or_else(|_| dims(&tensors, "conv_pre.weight_v"))?;
    if let VocoderConfig::Hifigan {
        upsample_initial_channel,
        input_channels,
        conv_post_bias,
        adapter,
        ..
    } = &mut cfg
    {
        *upsample_initial_channel = pre[0];
        *input_channels = pre[1];
        *conv_post_bias = tensors.contains_key("conv_post.bias");
        // An input adapter (mel → the generator's latent) is stored as adapter.0, adapter.2, ...
        for i in (0..).step_by(2) {
            let Ok(d) = dims(&tensors, &format!("adapter.{i}.weight")) else {
                break;
            };
            adapter.push(AdapterLayer {
                in_channels: d[1],
                out_channels: d[0],
                kernel: d[2],
            });
        }
    }
    vocoder_voice(cfg, tensors, input, about, "HiFi-GAN generator")
}

/// A mel Vocos checkpoint → a vocoder file's contents, its sizes read off the weights.
pub fn vocos_vocoder(input: &Path, padding: IstftPadding, about: &Provenance) -> Result<Voice> {
    let tensors = read_checkpoint(input, &["state_dict"])?.tensors;
    let cfg = vocos_config(&tensors, padding)?;
    let tensors = tensors
        .into_iter()
        .filter(|(k, _)| k.starts_with("backbone.") || k.starts_with("head.out."))
        .collect();
    vocoder_voice(cfg, tensors, input, about, "Vocos checkpoint")
}

/// A harmonic-plus-noise vocoder trained by `tools/train/train_harmonic.py` → a vocoder file's
/// contents: the networks' sizes read off the weights, the harmonics, hop, noise window and
/// log-F0 scale from the `hparams.json` the trainer writes beside its weights (the trainer's
/// defaults when there is none); `voicing_bias` is added to the voicing logit (see
/// [`HarmonicConfig::voicing_bias`]).
pub fn harmonic_vocoder(input: &Path, voicing_bias: f32, about: &Provenance) -> Result<Voice> {
    let tensors = read_checkpoint(input, &["state_dict"])?.tensors;
    let hparams = input.with_file_name("hparams.json");
    let hp: serde_json::Value = match std::fs::read_to_string(&hparams) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", hparams.display()))?,
        Err(_) => serde_json::Value::Null,
    };
    let number = |key: &str, default: f64| {
        hp.get(key)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(default)
    };
    let embed = dims(&tensors, "backbone.embed.weight")?;
    let pitch_embed = dims(&tensors, "pitch.embed.weight")?;
    let cfg = VocoderConfig::Harmonic(HarmonicConfig {
        input_channels: pitch_embed[1],
        dim: embed[0],
        intermediate_dim: dims(&tensors, "backbone.convnext.0.pwconv1.weight")?[0],
        num_layers: count(&tensors, "backbone.convnext"),
        f0_dim: pitch_embed[0],
        f0_intermediate_dim: dims(&tensors, "pitch.convnext.0.pwconv1.weight")?[0],
        f0_layers: count(&tensors, "pitch.convnext"),
        bins: dims(&tensors, "envelopes.weight")?[0] / 2,
        harmonics: number("harmonics", 160.0) as usize,
        hop_length: number("hop_length", 256.0) as usize,
        n_fft: number("n_fft", 1024.0) as usize,
        log_f0_mean: number("log_f0_mean", 100f64.ln()) as f32,
        log_f0_std: number("log_f0_std", 0.5) as f32,
        voicing_bias,
    });
    if embed[1] != pitch_embed[1] + 2 {
        bail!(
            "the envelope network takes {} inputs; the mel and F0 make {}",
            embed[1],
            pitch_embed[1] + 2
        );
    }
    cfg.validate().map_err(anyhow::Error::msg)?;
    vocoder_voice(cfg, tensors, input, about, "harmonic vocoder")
}

fn vocoder_voice(
    cfg: VocoderConfig,
    tensors: HashMap<String, Tensor>,
    input: &Path,
    about: &Provenance,
    what: &str,
) -> Result<Voice> {
    let tensors = tensors
        .into_iter()
        .map(|(k, v)| (format!("vocoder.{k}"), v))
        .collect();
    let config = VoiceConfig::vocoder_only(
        about.name_for(input),
        cfg,
        about.provenance_for(input, what),
        about.license.clone(),
    );
    Ok(Voice::new(config, tensors, input.display().to_string())?)
}

fn vocos_config(t: &HashMap<String, Tensor>, padding: IstftPadding) -> Result<VocoderConfig> {
    let embed = dims(t, "backbone.embed.weight")?;
    let pw = dims(t, "backbone.convnext.0.pwconv1.weight")?;
    let out = dims(t, "head.out.weight")?;
    if t.contains_key("backbone.norm.scale.weight") {
        bail!("this Vocos uses adaptive norm (EnCodec bandwidths); only mel Vocos models are supported");
    }
    Ok(VocoderConfig::Vocos {
        input_channels: embed[1],
        dim: embed[0],
        intermediate_dim: pw[0],
        num_layers: count(t, "backbone.convnext"),
        n_fft: out[0] - 2,
        hop_length: 256,
        padding,
    })
}
