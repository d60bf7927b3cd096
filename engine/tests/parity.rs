//! Parity with the Python references (fixtures from tools/fixtures/make_fixtures.py, random
//! weights): every stage must match within 1e-3 max abs error.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use mellow_engine::acoustic::{AcousticConfig, AcousticModel, Sampler};
use mellow_engine::audio::{MelConfig, MelSpectrogram};
use mellow_engine::vocoder::hifigan::HifiGan;
use mellow_engine::vocoder::vocos::Vocos;
use mellow_engine::vocoder::{Vocoder, VocoderConfig};

const TOLERANCE: f32 = 1e-3;

fn fixture(name: &str) -> HashMap<String, Tensor> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let d = (a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap()).unwrap();
    d.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn matcha() -> (AcousticModel, HashMap<String, Tensor>) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/matcha_weights.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let json = &meta.metadata().as_ref().unwrap()["acoustic"];
    let cfg: AcousticConfig = serde_json::from_str(json).unwrap();
    cfg.validate().unwrap();
    let vb = VarBuilder::from_tensors(
        fixture("matcha_weights.safetensors"),
        DType::F32,
        &Device::Cpu,
    );
    (
        AcousticModel::new(&cfg, vb).unwrap(),
        fixture("matcha_io.safetensors"),
    )
}

#[test]
fn log_mel_matches_the_reference_front_end() {
    let io = fixture("mel.safetensors");
    let signal = io["signal"].to_vec1::<f32>().unwrap();
    let mut mel = MelSpectrogram::new(&MelConfig::default());
    let (values, frames) = mel.compute(&signal);
    let ours = Tensor::from_vec(values, (80, frames), &Device::Cpu).unwrap();
    let err = max_abs_diff(&ours, &io["mel"]);
    println!("log-mel max abs error {err:e}");
    assert!(err <= 1e-4, "log-mel differs by {err}");
}

#[test]
fn encoder_and_duration_predictor_match() {
    let (model, io) = matcha();
    let ids: Vec<i64> = io["ids"].flatten_all().unwrap().to_vec1::<i64>().unwrap();
    let (mu, logw) = model.encode(&ids, None).unwrap();
    let mu_err = max_abs_diff(&mu, &io["mu"]);
    let logw_ref = io["logw"].flatten_all().unwrap();
    let logw = Tensor::new(logw.as_slice(), &Device::Cpu).unwrap();
    let logw_err = max_abs_diff(&logw, &logw_ref);
    println!("encoder mu max abs error {mu_err:e}, log durations {logw_err:e}");
    assert!(
        mu_err <= TOLERANCE && logw_err <= TOLERANCE,
        "mu {mu_err}, logw {logw_err}"
    );
}

#[test]
fn estimator_matches() {
    let (model, io) = matcha();
    let out = model
        .estimator()
        .forward(&io["est_x"], &io["est_mask"], &io["est_mu"], 0.3, None)
        .unwrap();
    let err = max_abs_diff(&out, &io["est_out"]);
    println!("estimator max abs error {err:e}");
    assert!(err <= TOLERANCE, "estimator differs by {err}");
}

#[test]
fn four_step_synthesis_with_fixed_noise_matches() {
    let (model, io) = matcha();
    let ids: Vec<i64> = io["ids"].flatten_all().unwrap().to_vec1::<i64>().unwrap();
    for (tag, length_scale) in [("", 1.0f32), ("_slow", 1.37)] {
        let (mu, logw) = model.encode(&ids, None).unwrap();
        let durations = model.durations(&logw, length_scale);
        let prior = model.expand(&mu, &durations).unwrap();
        let frames = io[&format!("frames{tag}")]
            .flatten_all()
            .unwrap()
            .to_vec1::<i64>()
            .unwrap()[0] as usize;
        assert_eq!(prior.frames, frames, "frame count{tag}");
        let mu_err = max_abs_diff(&prior.mu, &io[&format!("mu_y{tag}")]);
        let mut no_noise = || unreachable!("Euler draws no step noise");
        let mel = model
            .decode(
                &prior,
                Sampler::Euler,
                4,
                0.667,
                &io[&format!("noise{tag}")],
                None,
                &mut no_noise,
            )
            .unwrap();
        let err = max_abs_diff(&mel, &io[&format!("synth_mel{tag}")]);
        println!("synthesis{tag}: prior max abs error {mu_err:e}, mel {err:e}");
        assert!(
            mu_err <= TOLERANCE && err <= TOLERANCE,
            "prior {mu_err}, mel {err}"
        );
    }
}

#[test]
fn vocos_matches() {
    let io = fixture("vocos_io.safetensors");
    let vb = VarBuilder::from_tensors(
        fixture("vocos_weights.safetensors"),
        DType::F32,
        &Device::Cpu,
    );
    let mut vocos = Vocos::new(
        80,
        64,
        192,
        3,
        1024,
        256,
        mellow_engine::vocoder::IstftPadding::Same,
        vb,
    )
    .unwrap();
    let audio = vocos.vocode(&io["mel"]).unwrap();
    let ours = Tensor::from_vec(audio.clone(), (1, audio.len()), &Device::Cpu).unwrap();
    let err = max_abs_diff(&ours, &io["audio"]);
    println!("vocos max abs error {err:e}");
    assert!(err <= TOLERANCE, "vocos differs by {err}");
}

#[test]
fn hifigan_v1_and_v3_match_with_weight_norm_folded() {
    let io = fixture("hifigan_io.safetensors");
    for (file, key, mut cfg) in [
        (
            "hifigan_v3_weights.safetensors",
            "audio_v3",
            VocoderConfig::hifigan_v3(),
        ),
        (
            "hifigan_v1_weights.safetensors",
            "audio_v1",
            VocoderConfig::hifigan_v1(),
        ),
    ] {
        if let VocoderConfig::Hifigan {
            upsample_initial_channel,
            ..
        } = &mut cfg
        {
            *upsample_initial_channel = 32;
        }
        let vb = VarBuilder::from_tensors(fixture(file), DType::F32, &Device::Cpu);
        let generator = HifiGan::new(&cfg, vb).unwrap();
        let audio = generator.forward(&io["mel"]).unwrap();
        let err = max_abs_diff(&audio, &io[key]);
        println!("{key} max abs error {err:e}");
        assert!(err <= TOLERANCE, "{key} differs by {err}");
    }
}
