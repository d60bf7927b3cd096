//! An F0-conditioned checkpoint of `tools/train/train_pitched.py` (its `last.pt` or the compact
//! `pitched_weights.pt`) in the names a voice file uses: the Matcha model's weights without
//! their `matcha.` prefix, and under `pitch.` the projection into the prior, the frame-level
//! pitch predictor, the harmonic comb's filterbank and, as one-element tensors, the log-F0
//! statistics and the comb's bin spacing, gain and sharpness.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};

/// The comb's sharpness where a checkpoint does not say (train_pitched.py's default).
const COMB_SHARPNESS: f64 = 8.0;

/// Whether `tensors` are an F0-conditioned model's.
pub fn is_pitched(tensors: &HashMap<String, Tensor>) -> bool {
    tensors.contains_key("pitch_proj.weight")
}

/// What a checkpoint says about its pitch input besides the weights.
struct PitchSettings {
    f0: serde_json::Value,
    comb_gain: f64,
    comb_sharpness: f64,
    /// The projection's last input marks pitch-shifted training copies (0 at synthesis).
    copy_flag: bool,
}

/// The pitch statistics and comb settings of the checkpoint at `path`: from the checkpoint
/// itself, else (older checkpoints) from the run's settings beside it (`CHECKPOINT.json`, else
/// `pitch.json` in its folder).
fn settings(path: &Path, kept: &HashMap<String, serde_json::Value>) -> Result<PitchSettings> {
    let flag = |v: &serde_json::Value| {
        v.get("copy_flag")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    if let (Some(f0), Some(comb)) = (kept.get("pitch"), kept.get("comb")) {
        let gain = comb.get("gain").and_then(serde_json::Value::as_f64);
        let sharpness = comb.get("sharpness").and_then(serde_json::Value::as_f64);
        return Ok(PitchSettings {
            f0: f0.clone(),
            comb_gain: gain.context("the checkpoint's comb has no gain")?,
            comb_sharpness: sharpness.unwrap_or(COMB_SHARPNESS),
            copy_flag: flag(comb),
        });
    }
    let beside: [PathBuf; 2] = [
        path.with_extension("json"),
        path.with_file_name("pitch.json"),
    ];
    let Some(run) = beside.iter().find(|p| p.is_file()) else {
        bail!(
            "{}: an F0-conditioned checkpoint without its comb settings, and no {} or {} beside it",
            path.display(),
            beside[0].display(),
            beside[1].display()
        )
    };
    let text =
        std::fs::read_to_string(run).with_context(|| format!("cannot read {}", run.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", run.display()))?;
    let f0 = json
        .get("f0")
        .cloned()
        .with_context(|| format!("{} has no `f0` statistics", run.display()))?;
    let gain = json
        .get("comb_gain")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(1.0);
    Ok(PitchSettings {
        f0,
        comb_gain: gain,
        comb_sharpness: COMB_SHARPNESS,
        copy_flag: flag(&json),
    })
}

/// The checkpoint's tensors renamed for a voice file, with its settings added as tensors.
pub fn pitched_tensors(
    path: &Path,
    tensors: HashMap<String, Tensor>,
    kept: &HashMap<String, serde_json::Value>,
) -> Result<HashMap<String, Tensor>> {
    let PitchSettings {
        f0,
        comb_gain: gain,
        comb_sharpness: sharpness,
        copy_flag,
    } = settings(path, kept)?;
    let mut out = HashMap::new();
    let mut bin_hz = None;
    for (name, t) in tensors {
        let renamed = if let Some(rest) = name.strip_prefix("matcha.") {
            rest.to_string()
        } else if name == "pitch_proj.weight" && copy_flag {
            // The voice speaks as the recordings were, never as a shifted copy: the flag's
            // column, always multiplied by 0, goes.
            let inputs = t.dim(1)?;
            out.insert("pitch.proj.weight".into(), t.narrow(1, 0, inputs - 1)?);
            continue;
        } else if let Some(rest) = name.strip_prefix("pitch_proj.") {
            format!("pitch.proj.{rest}")
        } else if let Some(rest) = name.strip_prefix("pitch_predictor.") {
            format!("pitch.predictor.{rest}")
        } else if name == "comb.basis" {
            "pitch.comb_basis".to_string()
        } else if name == "comb.freqs" {
            bin_hz = Some(
                t.to_dtype(candle_core::DType::F32)?
                    .get(1)?
                    .to_scalar::<f32>()?,
            );
            continue;
        } else {
            continue;
        };
        out.insert(renamed, t);
    }
    let scalar = |v: f64| Tensor::new(&[v as f32], &Device::Cpu);
    let stat = |key: &str| {
        f0.get(key)
            .and_then(serde_json::Value::as_f64)
            .with_context(|| format!("the pitch statistics have no {key}"))
    };
    out.insert("pitch.log_f0_mean".into(), scalar(stat("log_f0_mean")?)?);
    out.insert("pitch.log_f0_std".into(), scalar(stat("log_f0_std")?)?);
    if out.contains_key("pitch.comb_basis") {
        let bin_hz = bin_hz.context("the checkpoint has a comb but no comb.freqs")?;
        out.insert("pitch.comb_bin_hz".into(), scalar(bin_hz as f64)?);
        out.insert("pitch.comb_gain".into(), scalar(gain)?);
        out.insert("pitch.comb_sharpness".into(), scalar(sharpness)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_settings_become_a_voices() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pitched_last.pt");
        std::fs::write(
            dir.path().join("pitch.json"),
            r#"{"f0": {"log_f0_mean": 4.5, "log_f0_std": 0.2}, "comb_gain": 5.0}"#,
        )
        .unwrap();
        let t = |v: &[f32]| Tensor::new(v, &Device::Cpu).unwrap();
        let tensors = HashMap::from([
            ("matcha.encoder.emb.weight".to_string(), t(&[1.0])),
            ("matcha.mel_mean".to_string(), t(&[-5.0])),
            ("pitch_proj.weight".to_string(), t(&[0.5])),
            ("pitch_predictor.out.bias".to_string(), t(&[0.0, 0.0])),
            ("comb.basis".to_string(), t(&[0.1])),
            ("comb.freqs".to_string(), t(&[0.0, 21.5, 43.0])),
        ]);
        assert!(is_pitched(&tensors));
        let out = pitched_tensors(&path, tensors, &HashMap::new()).unwrap();
        let value = |k: &str| out[k].get(0).unwrap().to_scalar::<f32>().unwrap();
        assert!(out.contains_key("encoder.emb.weight") && out.contains_key("mel_mean"));
        assert!(out.contains_key("pitch.proj.weight") && out.contains_key("pitch.comb_basis"));
        assert!(out.contains_key("pitch.predictor.out.bias"));
        assert_eq!(value("pitch.comb_bin_hz"), 21.5);
        assert_eq!(value("pitch.comb_gain"), 5.0);
        assert_eq!(value("pitch.comb_sharpness"), 8.0);
        assert_eq!(value("pitch.log_f0_std"), 0.2);
        // Settings kept in the checkpoint win over the file beside it.
        let kept = HashMap::from([
            (
                "pitch".to_string(),
                serde_json::json!({"log_f0_mean": 4.0, "log_f0_std": 0.3}),
            ),
            (
                "comb".to_string(),
                serde_json::json!({"gain": 2.0, "sharpness": 6.0}),
            ),
        ]);
        let tensors = HashMap::from([
            ("pitch_proj.weight".to_string(), t(&[0.5])),
            ("comb.basis".to_string(), t(&[0.1])),
            ("comb.freqs".to_string(), t(&[0.0, 21.5])),
        ]);
        let out = pitched_tensors(&path, tensors, &kept).unwrap();
        let value = |k: &str| out[k].get(0).unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(
            (value("pitch.comb_gain"), value("pitch.comb_sharpness")),
            (2.0, 6.0)
        );
        // A copy flag's column is dropped: the voice always speaks with it at 0.
        let kept = HashMap::from([
            (
                "pitch".to_string(),
                serde_json::json!({"log_f0_mean": 4.0, "log_f0_std": 0.3}),
            ),
            (
                "comb".to_string(),
                serde_json::json!({"gain": 2.0, "copy_flag": true}),
            ),
        ]);
        let weight = Tensor::new(&[[[1f32], [2.0], [3.0]]], &Device::Cpu).unwrap();
        let tensors = HashMap::from([("pitch_proj.weight".to_string(), weight)]);
        let out = pitched_tensors(&path, tensors, &kept).unwrap();
        assert_eq!(out["pitch.proj.weight"].dims(), &[1, 2, 1]);
        // Without settings anywhere, the conversion says what is missing.
        std::fs::remove_file(dir.path().join("pitch.json")).unwrap();
        let tensors = HashMap::from([("pitch_proj.weight".to_string(), t(&[0.5]))]);
        let err = pitched_tensors(&path, tensors, &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("comb settings"), "{err}");
    }
}
