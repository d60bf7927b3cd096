//! Throughput of each stage and of a whole render, at the sizes of the built-in voice.
//!
//!     cargo bench -p mellow-engine --bench engine
//!
//! Models use the built-in voice's weights when the build has one, else random weights of the
//! same sizes (speed does not depend on the values). RTF lines are printed after the groups.

use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use criterion::{criterion_group, Criterion};
use mellow_engine::acoustic::{AcousticConfig, AcousticModel, Sampler};
use mellow_engine::audio::{MelConfig, MelSpectrogram};
use mellow_engine::synth::load_vocoder;
use mellow_engine::synth::phase_vocoder;
use mellow_engine::text::PhonemeMap;
use mellow_engine::vocoder::hifigan::HifiGan;
use mellow_engine::vocoder::vocos::Vocos;
use mellow_engine::vocoder::{Vocoder, VocoderConfig};
use mellow_engine::voice::embedded::{default_voice, f0_vocoder};
use mellow_engine::{SynthesisOptions, Synthesizer, Voice, VoiceConfig};

const SECONDS: f64 = 5.0;
const RATE: usize = 22_050;

fn frames() -> usize {
    (SECONDS * RATE as f64 / 256.0) as usize
}

/// The built-in voice's sizes (tools/train/train_acoustic.py) for builds without one.
fn default_sizes() -> AcousticConfig {
    let mut cfg = AcousticConfig::matcha_ljspeech();
    cfg.n_vocab = 256;
    cfg.encoder.n_channels = 160;
    cfg.encoder.filter_channels = 512;
    cfg.encoder.n_layers = 4;
    cfg.duration_predictor.filter_channels_dp = 192;
    cfg.decoder.channels = vec![128, 128];
    cfg.decoder.num_mid_blocks = 1;
    cfg
}

fn random_builder(map: &VarMap) -> VarBuilder<'static> {
    VarBuilder::from_varmap(map, DType::F32, &Device::Cpu)
}

fn voice() -> Voice {
    if let Some(Ok(v)) = default_voice() {
        return v;
    }
    let cfg = default_sizes();
    let map = VarMap::new();
    AcousticModel::new(&cfg, random_builder(&map)).expect("model builds");
    let mut tensors = std::collections::HashMap::new();
    for (name, var) in map.data().lock().unwrap().iter() {
        let t = var.as_tensor();
        // Small random values keep the activations in a realistic range.
        let r = Tensor::randn(0f32, 0.05, t.shape(), &Device::Cpu).unwrap();
        tensors.insert(name.clone(), r);
    }
    tensors.insert(
        "mel_mean".into(),
        Tensor::new(-5.9f32, &Device::Cpu).unwrap(),
    );
    tensors.insert("mel_std".into(), Tensor::new(2.5f32, &Device::Cpu).unwrap());
    let mut symbols = PhonemeMap::matcha();
    symbols.symbols.retain(|_, id| *id < 256);
    let config = VoiceConfig {
        format: mellow_engine::voice::config::FORMAT.into(),
        version: mellow_engine::voice::config::VERSION,
        name: "bench".into(),
        language: "en-us".into(),
        mel: MelConfig::default(),
        acoustic: Some(cfg),
        phonemes: Some(symbols),
        vocoder: None,
        defaults: Default::default(),
        espeak_version: None,
        provenance: "random weights for benchmarks".into(),
        license: "none".into(),
    };
    Voice::new(config, tensors, "bench").unwrap()
}

fn speech_like_signal(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            0.3 * (2.0 * std::f32::consts::PI * (120.0 + 40.0 * (3.0 * t).sin()) * t).sin()
                + 0.01 * ((i * 7919 % 1000) as f32 / 1000.0 - 0.5)
        })
        .collect()
}

fn random_mel() -> Tensor {
    (Tensor::randn(0f32, 1.0, (1, 80, frames()), &Device::Cpu).unwrap() - 6.0).unwrap()
}

fn vocoder_weights(cfg: &VocoderConfig) -> Box<dyn Vocoder> {
    let map = VarMap::new();
    let vb = random_builder(&map);
    match cfg {
        VocoderConfig::Vocos { .. } => Box::new(Vocos::from_config(cfg, vb).unwrap().unwrap()),
        _ => {
            // Build once to create the variables, then refill them with small random values.
            let _ = HifiGan::new(cfg, vb.clone());
            for var in map.data().lock().unwrap().values() {
                let r = Tensor::randn(0f32, 0.05, var.as_tensor().shape(), &Device::Cpu).unwrap();
                var.set(&r).unwrap();
            }
            Box::new(HifiGan::new(cfg, vb).unwrap())
        }
    }
}

fn stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("stages (5 s of speech)");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let signal = speech_like_signal((SECONDS * RATE as f64) as usize);
    let mut mel = MelSpectrogram::new(&MelConfig::default());
    let mut out = vec![0f32; 80 * MelConfig::default().frame_count(signal.len())];
    group.bench_function("log-mel front end", |b| {
        b.iter(|| mel.compute_into(&signal, &mut out));
    });

    let voice = voice();
    let model =
        AcousticModel::new(voice.config.acoustic.as_ref().unwrap(), voice.var_builder()).unwrap();
    let ids: Vec<i64> = (0..160).map(|i| 1 + (i * 37 % 100) as i64).collect();
    group.bench_function("text encoder + durations (160 ids)", |b| {
        b.iter(|| model.encode(&ids, None).unwrap());
    });
    let mu = Tensor::randn(0f32, 1.0, (1, 80, frames().div_ceil(4) * 4), &Device::Cpu).unwrap();
    let mask = Tensor::ones((1, 1, mu.dim(2).unwrap()), DType::F32, &Device::Cpu).unwrap();
    let x = Tensor::randn(0f32, 1.0, mu.shape(), &Device::Cpu).unwrap();
    group.bench_function("one estimator step", |b| {
        b.iter(|| {
            model
                .estimator()
                .forward(&x, &mask, &mu, 0.5, None)
                .unwrap()
        });
    });

    let mel = random_mel();
    // The built-in voice's Vocos (tools/train/train_vocos.py) and the size of the reference's.
    for (dim, inter, layers) in [(256, 768, 6), (512, 1536, 8)] {
        let mut vocos = vocoder_weights(&VocoderConfig::Vocos {
            input_channels: 80,
            dim,
            intermediate_dim: inter,
            num_layers: layers,
            n_fft: 1024,
            hop_length: 256,
            padding: mellow_engine::vocoder::IstftPadding::Same,
        });
        group.bench_function(
            format!("vocoder: vocos (dim {dim}, {layers} layers)"),
            |b| b.iter(|| vocos.vocode(&mel).unwrap()),
        );
    }
    for (name, cfg) in [
        ("v1", VocoderConfig::hifigan_v1()),
        ("v2", VocoderConfig::hifigan_v2()),
        ("v3", VocoderConfig::hifigan_v3()),
    ] {
        let mut hifigan = vocoder_weights(&cfg);
        group.bench_function(format!("vocoder: hifigan {name}"), |b| {
            b.iter(|| hifigan.vocode(&mel).unwrap());
        });
    }
    // The built-in harmonic vocoder re-synthesising speech (its cost follows voicing and F0, so
    // the mel is that of the built-in voice's own speech).
    if let Ok(f0_voice) = f0_vocoder() {
        let (mut harmonic, mel_config) = load_vocoder(&f0_voice).unwrap();
        let mut synth = Synthesizer::new(&voice, None).unwrap();
        let speech = synth
            .speak_text(
                "She sells sea shells by the sea shore, and the shells she sells are surely \
                 sea shells; so if she sells shells on the sea shore, I'm sure she sells sea shore shells.",
                &SynthesisOptions::default(),
            )
            .unwrap();
        let five_seconds = frames();
        let (values, frames) = MelSpectrogram::new(&mel_config).compute(&speech.samples);
        let speech_mel = Tensor::from_vec(values, (1, mel_config.n_mels, frames), &Device::Cpu)
            .unwrap()
            .narrow(2, 0, frames.min(five_seconds))
            .unwrap();
        group.bench_function("vocoder: harmonic (built-in, speech)", |b| {
            b.iter(|| harmonic.vocode(&speech_mel).unwrap());
        });
    }
    let (mut phase, _) = phase_vocoder(&MelConfig::default(), 32);
    group.bench_function("vocoder: phase (32 iterations)", |b| {
        b.iter(|| phase.vocode(&mel).unwrap());
    });
    group.finish();
}

/// A whole render of about five seconds of speech, reported as RTF (compute / audio seconds).
fn whole_render(_c: &mut Criterion) {
    let voice = voice();
    let text = "The quick brown fox jumps over the lazy dog while the bus still hasn't arrived.";
    for steps in [2usize, 4] {
        let mut synth = Synthesizer::new(&voice, None).unwrap();
        let opts = SynthesisOptions {
            steps: Some(steps),
            sampler: Some(Sampler::Euler),
            ..Default::default()
        };
        synth.speak_text(text, &opts).unwrap();
        let runs = 5;
        let start = Instant::now();
        let mut audio_seconds = 0.0;
        for _ in 0..runs {
            audio_seconds += synth.speak_text(text, &opts).unwrap().duration_seconds();
        }
        let compute = start.elapsed().as_secs_f64();
        println!(
            "whole render ({} vocoder, euler {steps} steps): {:.2} s of audio per call, RTF {:.4}",
            synth.vocoder_name(),
            audio_seconds / runs as f64,
            compute / audio_seconds
        );
    }
}

criterion_group!(benches, stages, whole_render);

fn main() {
    // As the `mellow` binary does. SAFETY: no other thread exists yet.
    unsafe { mellow_engine::settle_candle_threads() };
    benches();
    Criterion::default().configure_from_args().final_summary();
}
