//! `mellow convert`: checkpoints of the reference implementations → Mellow voice files.
//!
//! Matcha-TTS Lightning checkpoints (`.ckpt`, weights under `state_dict`), HiFi-GAN generators
//! (`.pt`/`.pth`, weights under `generator`), Vocos checkpoints (a Lightning `.ckpt` or a plain
//! state dict) and safetensors files of any of them. Sizes are read from the tensor shapes; what
//! shapes cannot tell (attention heads) comes from options with the reference's defaults.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Tensor;
use clap::{Args, Subcommand};
use mellow_engine::audio::MelConfig;
use mellow_engine::model::config::{
    AcousticConfig, DecoderObjective, DecoderParams, DurationPredictorParams, DurationRounding,
    EncoderParams,
};
use mellow_engine::text::PhonemeMap;
use mellow_engine::vocoder::config::AdapterLayer;
use mellow_engine::vocoder::VocoderConfig;
use mellow_engine::voice::config::{SynthesisDefaults, FORMAT, VERSION};
use mellow_engine::{Voice, VoiceConfig};

use mellow_convert::read_checkpoint;

#[derive(Args)]
pub struct ConvertArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Args, Clone)]
struct Common {
    /// The checkpoint to convert.
    input: PathBuf,
    /// The Mellow file to write.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Store weights as f16 (half the size).
    #[arg(long)]
    f16: bool,
    /// Name recorded in the file.
    #[arg(long)]
    name: Option<String>,
    /// License of the weights, recorded in the file.
    #[arg(long, default_value = "unknown")]
    license: String,
}

#[derive(Subcommand)]
enum Kind {
    /// A Matcha-TTS checkpoint → a voice (add a vocoder with --vocoder).
    Matcha {
        #[command(flatten)]
        common: Common,
        /// Attention heads of the text encoder (not visible in the weights; default: the
        /// checkpoint's hyper-parameters, else the reference's 2).
        #[arg(long)]
        encoder_heads: Option<usize>,
        /// Attention heads of the decoder's transformer blocks (default as for the encoder).
        #[arg(long)]
        decoder_heads: Option<usize>,
        /// A Mellow vocoder file to store inside the voice.
        #[arg(long)]
        vocoder: Option<PathBuf>,
        /// The decoder was trained as a score (Grad-TTS-style diffusion), not a flow.
        #[arg(long)]
        score_diffusion: bool,
        /// A Piper voice config (JSON with `phoneme_id_map`) whose ids the model was trained on;
        /// without it the Matcha-TTS symbol table is used.
        #[arg(long)]
        phoneme_map: Option<PathBuf>,
        /// Default sampler steps stored in the voice.
        #[arg(long, default_value_t = 4)]
        steps: usize,
        /// Default sampler stored in the voice.
        #[arg(long, default_value = "heun")]
        sampler: String,
        /// Default temperature stored in the voice.
        #[arg(long, default_value_t = 0.667)]
        temperature: f64,
        /// Round predicted durations to the nearest frame instead of up (for models trained on
        /// integer durations, such as those distilled from a teacher).
        #[arg(long)]
        round_durations: bool,
        /// Provenance recorded in the voice (default: the checkpoint's name).
        #[arg(long)]
        provenance: Option<String>,
    },
    /// A HiFi-GAN generator → a vocoder file.
    Hifigan {
        #[command(flatten)]
        common: Common,
        /// v1, v2 or v3 (the reference configs; 80 mel bands, 22 050 Hz, hop 256).
        #[arg(long, default_value = "v1")]
        variant: String,
    },
    /// A Vocos checkpoint → a vocoder file (mel input with the voice's mel settings).
    Vocos {
        #[command(flatten)]
        common: Common,
        /// ISTFT padding of the head: same or center.
        #[arg(long, default_value = "same")]
        padding: String,
    },
}

pub fn run(args: ConvertArgs) -> Result<()> {
    match args.kind {
        Kind::Matcha {
            common,
            encoder_heads,
            decoder_heads,
            vocoder,
            score_diffusion,
            phoneme_map,
            steps,
            sampler,
            temperature,
            round_durations,
            provenance,
        } => {
            let checkpoint = read_checkpoint(&common.input, &["state_dict"])?;
            let hp = checkpoint.hyper_parameters.as_ref();
            let saved = |path: &[&str]| {
                path.iter()
                    .try_fold(hp?, |v, k| v.get(k))
                    .and_then(|v| v.as_u64())
                    .map(|v| v as usize)
            };
            let encoder_heads = encoder_heads
                .or_else(|| saved(&["encoder", "encoder_params", "n_heads"]))
                .unwrap_or(2);
            let decoder_heads = decoder_heads
                .or_else(|| saved(&["decoder", "num_heads"]))
                .unwrap_or(2);
            let tensors = checkpoint.tensors;
            let mut acoustic = matcha_config(&tensors, encoder_heads, decoder_heads)?;
            if score_diffusion {
                acoustic.objective = DecoderObjective::ScoreDiffusion;
            }
            if round_durations {
                acoustic.duration_rounding = DurationRounding::Nearest;
            }
            let mut tensors: HashMap<String, Tensor> = tensors
                .into_iter()
                .filter(|(k, _)| is_matcha_inference_weight(k))
                .collect();
            let mut vocoder_cfg = None;
            if let Some(path) = vocoder {
                let v = Voice::load(&path)?;
                vocoder_cfg = Some(
                    v.config
                        .vocoder
                        .clone()
                        .with_context(|| format!("{} holds no vocoder", path.display()))?,
                );
                for (k, t) in v.tensors() {
                    if k.starts_with("vocoder.") {
                        tensors.insert(k.clone(), t.clone());
                    }
                }
            }
            let name = common.name.clone().unwrap_or_else(|| stem(&common.input));
            let config = VoiceConfig {
                format: FORMAT.into(),
                version: VERSION,
                name,
                language: "en-us".into(),
                mel: MelConfig::default(),
                phonemes: Some(match &phoneme_map {
                    Some(path) => piper_phoneme_map(path)?,
                    None => PhonemeMap::matcha(),
                }),
                acoustic: Some(acoustic),
                vocoder: vocoder_cfg,
                defaults: SynthesisDefaults {
                    sampler: if score_diffusion && sampler == "heun" {
                        "ode".into()
                    } else {
                        sampler
                    },
                    steps,
                    temperature,
                    rate: 1.0,
                },
                espeak_version: Some(mellow_engine::text::espeak::version()?.0),
                provenance: provenance.unwrap_or_else(|| {
                    format!(
                        "converted from the Matcha-TTS checkpoint {}",
                        file_name(&common.input)
                    )
                }),
                license: common.license.clone(),
            };
            save(config, tensors, &common)
        }
        Kind::Hifigan { common, variant } => {
            let tensors = read_checkpoint(&common.input, &["generator"])?.tensors;
            let mut cfg = match variant.as_str() {
                "v1" => VocoderConfig::hifigan_v1(),
                "v2" => VocoderConfig::hifigan_v2(),
                "v3" => VocoderConfig::hifigan_v3(),
                other => bail!("unknown HiFi-GAN variant `{other}`: v1, v2 or v3"),
            };
            // The width and the input bands are visible in conv_pre; the rest is the variant's.
            let pre = dims(&tensors, "conv_pre.weight")
                .or_else(|_| dims(&tensors, "conv_pre.weight_v"))?;
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
            vocoder_file(cfg, tensors, &common, "HiFi-GAN generator")
        }
        Kind::Vocos { common, padding } => {
            let tensors = read_checkpoint(&common.input, &["state_dict"])?.tensors;
            let cfg = vocos_config(&tensors, &padding)?;
            let tensors = tensors
                .into_iter()
                .filter(|(k, _)| k.starts_with("backbone.") || k.starts_with("head.out."))
                .collect();
            vocoder_file(cfg, tensors, &common, "Vocos checkpoint")
        }
    }
}

/// Piper's `phoneme_id_map` (symbol → [id]) with its pad `_`, start `^` and end `$` markers.
fn piper_phoneme_map(path: &Path) -> Result<PhonemeMap> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let map = json
        .get("phoneme_id_map")
        .and_then(|m| m.as_object())
        .with_context(|| format!("{} has no phoneme_id_map", path.display()))?;
    let mut symbols = HashMap::new();
    for (symbol, ids) in map {
        let id = ids
            .as_array()
            .and_then(|a| a.first())
            .and_then(|v| v.as_i64())
            .with_context(|| format!("phoneme `{symbol}` has no id"))?;
        symbols.insert(symbol.clone(), id);
    }
    let marker = |s: &str| symbols.get(s).copied();
    let (blank, bos, eos) = (marker("_"), marker("^"), marker("$"));
    for m in ["_", "^", "$"] {
        symbols.remove(m);
    }
    Ok(PhonemeMap {
        symbols,
        blank,
        bos,
        eos,
    })
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "voice".into())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn save(config: VoiceConfig, tensors: HashMap<String, Tensor>, common: &Common) -> Result<()> {
    let voice = Voice::new(config, tensors, common.output.display().to_string())?;
    // Build the models once so a file that would not load is never written.
    mellow_engine::Synthesizer::new(&voice, None).context("the converted weights do not load")?;
    voice.save(&common.output, common.f16)?;
    eprintln!(
        "wrote {} ({} parameters)",
        common.output.display(),
        voice.parameter_count()
    );
    Ok(())
}

fn vocoder_file(
    cfg: VocoderConfig,
    tensors: HashMap<String, Tensor>,
    common: &Common,
    what: &str,
) -> Result<()> {
    let tensors = tensors
        .into_iter()
        .map(|(k, v)| (format!("vocoder.{k}"), v))
        .collect();
    let config = VoiceConfig::vocoder_only(
        common.name.clone().unwrap_or_else(|| stem(&common.input)),
        cfg,
        format!("converted from the {what} {}", file_name(&common.input)),
        common.license.clone(),
    );
    save(config, tensors, common)
}

/// Inference weights only: optimiser state, discriminators and buffers like `mel_basis` are dropped.
fn is_matcha_inference_weight(name: &str) -> bool {
    name.starts_with("encoder.")
        || name.starts_with("decoder.estimator.")
        || name.starts_with("spk_emb.")
        || name == "mel_mean"
        || name == "mel_std"
}

fn dims(tensors: &HashMap<String, Tensor>, name: &str) -> Result<Vec<usize>> {
    Ok(tensors
        .get(name)
        .with_context(|| format!("the checkpoint has no tensor `{name}`: is it the right kind?"))?
        .dims()
        .to_vec())
}

fn count(tensors: &HashMap<String, Tensor>, prefix: &str) -> usize {
    (0..)
        .take_while(|i| {
            tensors
                .keys()
                .any(|k| k.starts_with(&format!("{prefix}.{i}.")))
        })
        .count()
}

/// Matcha sizes read off the weight shapes.
fn matcha_config(
    t: &HashMap<String, Tensor>,
    encoder_heads: usize,
    decoder_heads: usize,
) -> Result<AcousticConfig> {
    let emb = dims(t, "encoder.emb.weight")?;
    let (n_vocab, n_channels) = (emb[0], emb[1]);
    let ffn = dims(t, "encoder.encoder.ffn_layers.0.conv_1.weight")?;
    let n_feats = dims(t, "encoder.proj_m.weight")?[0];
    let dp = dims(t, "encoder.proj_w.conv_1.weight")?;
    let n_spks = if t.contains_key("spk_emb.weight") {
        dims(t, "spk_emb.weight")?[0]
    } else {
        1
    };
    let spk_emb_dim = if n_spks > 1 {
        dims(t, "spk_emb.weight")?[1]
    } else {
        64
    };
    let est = "decoder.estimator";
    let levels = count(t, &format!("{est}.down_blocks"));
    let channels = (0..levels)
        .map(|i| dims(t, &format!("{est}.down_blocks.{i}.0.block1.block.0.weight")).map(|d| d[0]))
        .collect::<Result<Vec<_>>>()?;
    let n_blocks = count(t, &format!("{est}.down_blocks.0.1"));
    let num_mid_blocks = count(t, &format!("{est}.mid_blocks"));
    let block = format!("{est}.down_blocks.0.1.0");
    let inner = dims(t, &format!("{block}.attn1.to_q.weight"))?[0];
    if inner % decoder_heads != 0 {
        bail!("decoder attention width {inner} is not divisible by {decoder_heads} heads: set --decoder-heads");
    }
    let ff = dims(t, &format!("{block}.ff.net.0.proj.weight"))?[0];
    let act_fn = if t.contains_key(&format!("{block}.ff.net.0.alpha")) {
        "snakebeta"
    } else if ff == 8 * channels[0] {
        "geglu"
    } else {
        "gelu"
    };
    Ok(AcousticConfig {
        n_vocab,
        n_spks,
        spk_emb_dim,
        n_feats,
        encoder: EncoderParams {
            n_feats,
            n_channels,
            filter_channels: ffn[0],
            n_heads: encoder_heads,
            n_layers: count(t, "encoder.encoder.attn_layers"),
            kernel_size: ffn[2],
            prenet: t.contains_key("encoder.prenet.proj.weight"),
        },
        duration_predictor: DurationPredictorParams {
            filter_channels_dp: dp[0],
            kernel_size: dp[2],
        },
        decoder: DecoderParams {
            channels,
            attention_head_dim: inner / decoder_heads,
            n_blocks,
            num_mid_blocks,
            num_heads: decoder_heads,
            act_fn: act_fn.into(),
        },
        objective: DecoderObjective::FlowMatching,
        sigma_min: 1e-4,
        beta_min: 0.05,
        beta_max: 20.0,
        duration_rounding: DurationRounding::Ceil,
    })
}

fn vocos_config(t: &HashMap<String, Tensor>, padding: &str) -> Result<VocoderConfig> {
    let embed = dims(t, "backbone.embed.weight")?;
    let pw = dims(t, "backbone.convnext.0.pwconv1.weight")?;
    let out = dims(t, "head.out.weight")?;
    let n_fft = out[0] - 2;
    if t.contains_key("backbone.norm.scale.weight") {
        bail!("this Vocos uses adaptive norm (EnCodec bandwidths); only mel Vocos models are supported");
    }
    Ok(VocoderConfig::Vocos {
        input_channels: embed[1],
        dim: embed[0],
        intermediate_dim: pw[0],
        num_layers: count(t, "backbone.convnext"),
        n_fft,
        hop_length: 256,
        padding: padding.into(),
    })
}
