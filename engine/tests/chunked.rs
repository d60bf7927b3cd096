//! Chunked vocoding equals one pass over the whole mel: the built-in voice's vocoder (which skips
//! the work a chunk drops), HiFi-GAN V1, Vocos and the harmonic vocoder (whose phase runs on
//! from chunk to chunk) with random weights. A context a few
//! frames shorter than the vocoder declares must show, so the declared context is not padding.

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use mellow_engine::synth::load_vocoder;
use mellow_engine::vocoder::chunked::ChunkedVocoding;
use mellow_engine::vocoder::config::HarmonicConfig;
use mellow_engine::vocoder::harmonic::HarmonicVocoder;
use mellow_engine::vocoder::hifigan::HifiGan;
use mellow_engine::vocoder::vocos::Vocos;
use mellow_engine::vocoder::{Vocoder, VocoderConfig};
use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{MelOutput, SpeechSink, SynthesisOptions, Synthesizer};

fn chunked(vocoder: &mut dyn Vocoder, mel: &Tensor) -> Vec<f32> {
    let mut vocoding = ChunkedVocoding::new();
    vocoding.push(mel).unwrap();
    let mut out = Vec::new();
    vocoding
        .drain(vocoder, true, &mut |chunk| {
            out.extend(chunk);
            Ok(true)
        })
        .unwrap();
    out
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Keeps the mels of an utterance, not its samples.
struct Mels(Vec<MelOutput>);

impl SpeechSink for Mels {
    fn samples(&mut self, _: &[f32]) -> mellow_engine::Result<bool> {
        Ok(true)
    }
    fn wants_mels(&self) -> bool {
        true
    }
    fn segment_mel(&mut self, _: usize, mel: MelOutput) -> mellow_engine::Result<()> {
        self.0.push(mel);
        Ok(())
    }
}

/// A real mel from the built-in voice, long enough for several chunks.
fn speech_mel() -> Tensor {
    let voice = default_voice().unwrap().unwrap();
    let mut synth = Synthesizer::new(&voice, None).unwrap();
    let opts = synth.resolve(&SynthesisOptions::default()).unwrap();
    let utterance = synth
        .utterance("Chunks of a mel join into the very samples of the whole.")
        .unwrap();
    let mut mels = Mels(Vec::new());
    let rate = synth.sample_rate();
    synth.speak(&utterance, &opts, rate, &mut mels).unwrap();
    mels.0.remove(0).mel
}

fn random_vocoder(cfg: &VocoderConfig) -> Box<dyn Vocoder> {
    let map = VarMap::new();
    let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
    let build = |vb: VarBuilder| -> Box<dyn Vocoder> {
        match cfg {
            VocoderConfig::Vocos { .. } => Box::new(
                Vocos::new(
                    80,
                    128,
                    384,
                    4,
                    1024,
                    256,
                    mellow_engine::vocoder::IstftPadding::Same,
                    vb,
                )
                .unwrap(),
            ),
            VocoderConfig::Harmonic(sizes) => {
                Box::new(HarmonicVocoder::new(sizes, 22_050, vb).unwrap())
            }
            _ => Box::new(HifiGan::new(cfg, vb).unwrap()),
        }
    };
    // Build once to create the variables, then refill them with small random values.
    let _ = build(vb.clone());
    for var in map.data().lock().unwrap().values() {
        let r = Tensor::randn(0f32, 0.05, var.as_tensor().shape(), &Device::Cpu).unwrap();
        var.set(&r).unwrap();
    }
    build(vb)
}

#[test]
fn the_built_in_vocoder_vocodes_chunks_exactly() {
    let voice = default_voice().unwrap().unwrap();
    let (mut vocoder, _) = load_vocoder(&voice).unwrap();
    let mel = speech_mel();
    assert!(mel.dim(2).unwrap() > 150, "several chunks");
    let whole = vocoder.vocode(&mel).unwrap();
    let diff = max_abs_diff(&whole, &chunked(vocoder.as_mut(), &mel));
    println!(
        "built-in {}: chunked vs whole max abs difference {diff:e}",
        vocoder.name()
    );
    assert!(diff <= 1e-4, "{diff}");
}

/// A small harmonic-plus-noise vocoder's sizes.
fn harmonic_sizes() -> HarmonicConfig {
    HarmonicConfig {
        input_channels: 80,
        dim: 64,
        intermediate_dim: 192,
        num_layers: 2,
        f0_dim: 32,
        f0_intermediate_dim: 96,
        f0_layers: 2,
        bins: 32,
        harmonics: 60,
        hop_length: 256,
        n_fft: 1024,
        log_f0_mean: 100f32.ln(),
        log_f0_std: 0.5,
        voicing_bias: 0.0,
    }
}

#[test]
fn random_hifigan_vocos_and_harmonic_vocode_chunks_exactly() {
    let mel = (speech_mel() * 1.0).unwrap();
    for cfg in [
        VocoderConfig::hifigan_v1(),
        VocoderConfig::Vocos {
            input_channels: 80,
            dim: 128,
            intermediate_dim: 384,
            num_layers: 4,
            n_fft: 1024,
            hop_length: 256,
            padding: mellow_engine::vocoder::IstftPadding::Same,
        },
        VocoderConfig::Harmonic(harmonic_sizes()),
    ] {
        let mut vocoder = random_vocoder(&cfg);
        let whole = vocoder.vocode(&mel).unwrap();
        let loudest = whole.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(loudest > 1e-3, "{} made silence", vocoder.name());
        let diff = max_abs_diff(&whole, &chunked(vocoder.as_mut(), &mel));
        assert!(diff <= 1e-4, "{}: {diff}", vocoder.name());
    }
}

#[test]
fn the_declared_context_is_needed() {
    // The Vocos is stateless: a chunk vocoded on its own equals the same samples of the whole.
    let (mut vocoder, _) =
        load_vocoder(&mellow_engine::voice::embedded::vocos_vocoder().unwrap()).unwrap();
    let mel = speech_mel();
    let hop = vocoder.hop_length();
    let context = vocoder.context_frames().unwrap();
    let whole = vocoder.vocode(&mel).unwrap();
    // A chunk in the middle, vocoded with `c` frames of context on each side.
    let (start, end) = (60, 68);
    let error_with = |vocoder: &mut dyn Vocoder, c: usize| {
        let span = mel.narrow(2, start - c, end - start + 2 * c).unwrap();
        let samples = vocoder.vocode_span(&span, c..c + end - start).unwrap();
        max_abs_diff(&samples, &whole[start * hop..end * hop])
    };
    let exact = error_with(vocoder.as_mut(), context);
    // The declared context rounds the receptive field up by a frame or two; four frames less
    // must already be wrong.
    let short = error_with(vocoder.as_mut(), context - 4);
    println!(
        "context {context}: error {exact:e}; context {}: error {short:e}",
        context - 4
    );
    assert!(exact <= 1e-5, "{exact}");
    assert!(
        short > 10.0 * exact.max(1e-7),
        "a shorter context changes nothing: {short}"
    );
}

#[test]
fn the_first_decoder_window_holds_the_built_in_vocoders_first_chunk() {
    // Otherwise the first samples wait for the second, four times larger, window.
    let voice = default_voice().unwrap().unwrap();
    let (vocoder, _) = load_vocoder(&voice).unwrap();
    let needed =
        mellow_engine::vocoder::chunked::FIRST_CHUNK_FRAMES + vocoder.context_frames().unwrap() + 1;
    let first = mellow_engine::acoustic::mel_stream::DECODER_WINDOWS.first;
    assert!(
        needed <= first,
        "{needed} frames needed, {first} in the first window"
    );
}

#[test]
fn the_harmonic_vocoders_phase_runs_on_from_span_to_span() {
    let mel = speech_mel();
    let mut vocoder = random_vocoder(&VocoderConfig::Harmonic(harmonic_sizes()));
    let hop = vocoder.hop_length();
    let context = vocoder.context_frames().unwrap();
    let whole = vocoder.vocode(&mel).unwrap();
    // A span in the middle on its own starts the phase afresh, so it cannot match the whole; the
    // same span after the ones before it does.
    let (start, end) = (60, 68);
    let span = mel
        .narrow(2, start - context, end - start + 2 * context)
        .unwrap();
    vocoder.reset();
    let alone = vocoder
        .vocode_span(&span, context..context + end - start)
        .unwrap();
    assert!(max_abs_diff(&alone, &whole[start * hop..end * hop]) > 1e-3);
    vocoder.reset();
    let before = mel.narrow(2, 0, start + context).unwrap();
    vocoder.vocode_span(&before, 0..start).unwrap();
    let after = vocoder
        .vocode_span(&span, context..context + end - start)
        .unwrap();
    assert!(max_abs_diff(&after, &whole[start * hop..end * hop]) <= 1e-4);
}

#[test]
fn the_committed_harmonic_vocoder_vocodes_chunks_exactly() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("voices/harmonic.safetensors");
    let voice = mellow_engine::Voice::load(&path).unwrap();
    let (mut vocoder, _) = load_vocoder(&voice).unwrap();
    assert_eq!(vocoder.name(), "harmonic");
    let mel = speech_mel();
    let whole = vocoder.vocode(&mel).unwrap();
    let loudest = whole.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(loudest > 0.05, "{loudest}");
    let diff = max_abs_diff(&whole, &chunked(vocoder.as_mut(), &mel));
    println!("harmonic: chunked vs whole max abs difference {diff:e}");
    assert!(diff <= 1e-4, "{diff}");
}
