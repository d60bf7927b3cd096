//! A Matcha-TTS Lightning checkpoint (`.ckpt`, weights under `state_dict`) → a Mellow voice; also
//! Mellow's own training checkpoints (weights under `model`), F0-conditioned ones included.
//! Sizes come from the tensor shapes; what shapes cannot tell (attention heads) from the
//! checkpoint's hyper-parameters or the caller, with the reference's defaults.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Tensor;
use mellow_engine::acoustic::config::{
    AcousticConfig, DecoderObjective, DecoderParams, DurationPredictorParams, DurationRounding,
    EncoderParams,
};
use mellow_engine::audio::MelConfig;
use mellow_engine::text::PhonemeMap;
use mellow_engine::voice::config::{SynthesisDefaults, FORMAT, VERSION};
use mellow_engine::{Sampler, Voice, VoiceConfig};

use crate::checkpoint::read_checkpoint;
use crate::pitched::{is_pitched, pitched_tensors};
use crate::shapes::{count, dims};
use crate::Provenance;

/// What the weights of a Matcha-TTS checkpoint do not say.
#[derive(Debug, Clone, Default)]
pub struct MatchaOptions {
    /// Attention heads of the text encoder (default: the checkpoint's hyper-parameters, else 2).
    pub encoder_heads: Option<usize>,
    /// Attention heads of the decoder's transformer blocks (default as for the encoder).
    pub decoder_heads: Option<usize>,
    /// A Mellow vocoder file whose vocoder the voice carries.
    pub vocoder: Option<PathBuf>,
    /// An intonation predictor (`tools/train/train_intonation.py`'s `intonation.safetensors`,
    /// trained on this checkpoint's encoder) for the voice to carry.
    pub intonation: Option<PathBuf>,
    /// The decoder was trained as a score (Grad-TTS-style diffusion), not a flow.
    pub score_diffusion: bool,
    /// A Piper voice config (JSON with `phoneme_id_map`) whose ids the model was trained on;
    /// without it the Matcha-TTS symbol table.
    pub phoneme_map: Option<PathBuf>,
    /// Sampler defaults stored in the voice (a flow sampler becomes `ode` for a score decoder).
    pub defaults: SynthesisDefaults,
    /// Round predicted durations to the nearest frame instead of up (for models trained on
    /// integer durations, such as those distilled from a teacher).
    pub round_durations: bool,
}

/// Converts the checkpoint at `input` into a voice (not yet saved: see [`crate::save_voice`]).
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// use mellow_convert::{matcha_voice, MatchaOptions, Provenance};
/// let voice = matcha_voice("matcha_ljspeech.ckpt".as_ref(), &MatchaOptions::default(), &Provenance::default())?;
/// mellow_convert::save_voice(&voice, "ljspeech.mellow".as_ref(), true)?;
/// # Ok(()) }
/// ```
pub fn matcha_voice(input: &Path, opts: &MatchaOptions, about: &Provenance) -> Result<Voice> {
    let mut checkpoint = read_checkpoint(input, &["state_dict", "model"])?;
    if is_pitched(&checkpoint.tensors) {
        let tensors = std::mem::take(&mut checkpoint.tensors);
        checkpoint.tensors = pitched_tensors(input, tensors, &checkpoint.settings)?;
    }
    let hp = checkpoint.hyper_parameters.as_ref();
    let saved = |path: &[&str]| {
        path.iter()
            .try_fold(hp?, |v, k| v.get(k))
            .and_then(serde_json::Value::as_u64)
            .map(|v| v as usize)
    };
    let encoder_heads = opts
        .encoder_heads
        .or_else(|| saved(&["encoder", "encoder_params", "n_heads"]))
        .unwrap_or(2);
    let decoder_heads = opts
        .decoder_heads
        .or_else(|| saved(&["decoder", "num_heads"]))
        .unwrap_or(2);
    let mut acoustic = matcha_config(&checkpoint.tensors, encoder_heads, decoder_heads)?;
    if opts.score_diffusion {
        acoustic.objective = DecoderObjective::ScoreDiffusion;
    }
    if opts.round_durations {
        acoustic.duration_rounding = DurationRounding::Nearest;
    }
    let mut tensors: HashMap<String, Tensor> = checkpoint
        .tensors
        .into_iter()
        .filter(|(k, _)| is_matcha_inference_weight(k))
        .collect();
    let mut vocoder = None;
    if let Some(path) = &opts.vocoder {
        let v = Voice::load(path)?;
        vocoder = Some(
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
    if let Some(path) = &opts.intonation {
        let predictor = candle_core::safetensors::load(path, &candle_core::Device::Cpu)
            .with_context(|| format!("reading the intonation predictor {}", path.display()))?;
        let wanted = acoustic.encoder_states();
        match predictor.get("intonation.conv1.weight").map(Tensor::dims) {
            Some([_, channels, _]) if *channels == wanted => {}
            Some(dims) => anyhow::bail!(
                "{}: the predictor reads {dims:?}-shaped states; this encoder gives {wanted} channels",
                path.display()
            ),
            None => anyhow::bail!("{} holds no intonation predictor", path.display()),
        }
        // The predictor and the duration correction measured with it.
        tensors.extend(
            predictor
                .into_iter()
                .filter(|(k, _)| k.starts_with("intonation.") || k.starts_with("prosody.")),
        );
    }
    let mut defaults = opts.defaults.clone();
    if opts.score_diffusion && defaults.sampler.is_flow_matching() {
        defaults.sampler = Sampler::DiffusionOde;
    }
    let config = VoiceConfig {
        format: FORMAT.into(),
        version: VERSION,
        name: about.name_for(input),
        language: "en-us".into(),
        mel: MelConfig::default(),
        phonemes: Some(match &opts.phoneme_map {
            Some(path) => piper_phoneme_map(path)?,
            None => PhonemeMap::matcha(),
        }),
        acoustic: Some(acoustic),
        vocoder,
        defaults,
        espeak_version: Some(mellow_engine::text::espeak::version()?.0),
        provenance: about.provenance_for(input, "Matcha-TTS checkpoint"),
        license: about.license.clone(),
    };
    Ok(Voice::new(config, tensors, input.display().to_string())?)
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
            .and_then(serde_json::Value::as_i64)
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

/// Inference weights only: optimiser state, discriminators and buffers like `mel_basis` are dropped.
/// An F0-conditioned model's `pitch.` tensors (named by [`crate::pitched::pitched_tensors`]) are kept.
fn is_matcha_inference_weight(name: &str) -> bool {
    name.starts_with("encoder.")
        || name.starts_with("decoder.estimator.")
        || name.starts_with("pitch.")
        || name.starts_with("spk_emb.")
        || name == "mel_mean"
        || name == "mel_std"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inference_weights_are_kept() {
        assert!(is_matcha_inference_weight("encoder.emb.weight"));
        assert!(is_matcha_inference_weight(
            "decoder.estimator.final_proj.weight"
        ));
        assert!(is_matcha_inference_weight("pitch.proj.weight"));
        assert!(!is_matcha_inference_weight("mel_basis"));
        assert!(!is_matcha_inference_weight("decoder.something_else"));
    }

    #[test]
    fn a_piper_map_keeps_its_markers_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("voice.json");
        std::fs::write(
            &path,
            r#"{"phoneme_id_map": {"_": [0], "^": [1], "$": [2], "a": [14], "b": [15]}}"#,
        )
        .unwrap();
        let map = piper_phoneme_map(&path).unwrap();
        assert_eq!((map.blank, map.bos, map.eos), (Some(0), Some(1), Some(2)));
        assert_eq!(map.symbols.len(), 2);
        assert_eq!(map.symbols["a"], 14);
    }
}
