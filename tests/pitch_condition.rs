//! A voice converted from the committed F0-conditioned checkpoint (`mellow convert matcha
//! tools/train/checkpoints/pitched_last.pt`) tells its decoder the F0 it speaks at, and the
//! decoder draws its harmonics into the mel: a mel made at a shifted pitch, played by the
//! harmonic vocoder reading F0 from the mel alone (nothing told to the vocoder), sounds shifted.
//! The built-in voice's plain decoder keeps its own pitch in the mel whatever is asked. F0 is
//! measured with the engine's autocorrelation tracker (itself checked on tones and glides).

mod common;

use std::path::Path;

use common::*;
use mellow_engine::audio::f0::track_f0;
use mellow_engine::{SynthesisOptions, Synthesizer};

const TEXT: &str = "She finished the report before noon, and then we all went home.";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn harmonic() -> String {
    root()
        .join("engine/voices/harmonic.safetensors")
        .display()
        .to_string()
}

/// The committed F0-conditioned checkpoint as a voice in `dir`.
fn pitched_voice(dir: &Path) -> String {
    let out = dir.join("pitched.safetensors").display().to_string();
    let checkpoint = root().join("tools/train/checkpoints/pitched_last.pt");
    let phonemes = root().join("tools/train/joe_phonemes.json");
    let intonation = root().join("engine/voices/default-tuning.safetensors");
    assert_ok(&run(
        &[
            "convert",
            "matcha",
            checkpoint.to_str().unwrap(),
            "--phoneme-map",
            phonemes.to_str().unwrap(),
            "--round-durations",
            "--intonation",
            intonation.to_str().unwrap(),
            "-o",
            &out,
        ],
        None,
    ));
    out
}

/// The mel `voice` makes for `TEXT` at `pitch` semitones (two Euler steps, as the voices ship).
fn mel_at(synth: &mut Synthesizer, pitch: f32) -> candle_core::Tensor {
    let opts = synth
        .resolve(&SynthesisOptions {
            pitch,
            steps: Some(2),
            sampler: Some(mellow_engine::Sampler::Euler),
            ..Default::default()
        })
        .unwrap();
    let utterance = synth.utterance(TEXT).unwrap();
    assert_eq!(utterance.segments.len(), 1);
    synth
        .segment_mel(&utterance.segments[0], &opts, &mut || true)
        .unwrap()
        .expect("not stopped")
        .mel
}

/// F0 every 10 ms of the mel as a vocoder that has been told nothing hears it.
fn heard_f0(mel: &candle_core::Tensor) -> Vec<Option<f32>> {
    let mut player = Synthesizer::for_names("", Some(&harmonic()), false).unwrap();
    let rate = player.sample_rate();
    let samples = player.vocode(mel).unwrap();
    track_f0(&samples, rate, rate as usize / 100)
}

/// The median frame-paired F0 ratio in semitones over frames voiced in both, and their count.
fn median_shift(base: &[Option<f32>], moved: &[Option<f32>]) -> (f32, usize) {
    let mut shifts: Vec<f32> = base
        .iter()
        .zip(moved)
        .filter_map(|(a, b)| Some(12.0 * (b.as_ref()? / a.as_ref()?).log2()))
        .collect();
    shifts.sort_by(f32::total_cmp);
    (shifts[shifts.len() / 2], shifts.len())
}

/// How far the mel alone moves F0 when `voice` is asked for +7 semitones.
fn mel_shift_at_a_fifth(voice: &str) -> (f32, usize) {
    let mut synth = Synthesizer::for_names(voice, Some(&harmonic()), true).unwrap();
    let base = mel_at(&mut synth, 0.0);
    let up = mel_at(&mut synth, 7.0);
    // The vocoder moves F0 with the formants kept, so the frames stay the frames.
    assert_eq!(base.dims(), up.dims());
    // Asked the same twice, a voice makes the same mel: what it is told depends on the text
    // and the options alone.
    let again = mel_at(&mut synth, 0.0);
    let difference = (&base - &again).unwrap().abs().unwrap();
    assert_eq!(
        difference.max_all().unwrap().to_scalar::<f32>().unwrap(),
        0.0
    );
    median_shift(&heard_f0(&base), &heard_f0(&up))
}

#[test]
fn an_f0_conditioned_voices_mel_carries_the_pitch_it_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let voice = pitched_voice(dir.path());
    let (shift, frames) = mel_shift_at_a_fifth(&voice);
    println!(
        "F0-conditioned, +7 asked: the mel alone moves F0 by {shift:+.2} st over {frames} frames"
    );
    assert!(frames > 60, "{frames} frames voiced in both");
    assert!((shift - 7.0).abs() < 1.0, "{shift:+.2} st");

    let (shift, frames) = mel_shift_at_a_fifth("");
    println!(
        "plain (built-in), +7 asked: the mel alone moves F0 by {shift:+.2} st over {frames} frames"
    );
    assert!(
        frames > 60 && shift.abs() < 1.0,
        "{shift:+.2} st over {frames} frames"
    );
}

#[test]
fn an_f0_conditioned_voice_streams_what_it_renders_at_a_shifted_pitch() {
    let dir = tempfile::tempdir().unwrap();
    let voice = pitched_voice(dir.path());
    let info = run(&["info", &voice], None);
    assert_ok(&info);
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("pitch:        decoder told the F0"), "{info}");
    let wav = dir.path().join("render.wav");
    let shifted = ["--voice", &voice, "--pitch", "-4", "--seed", "3"];
    let mut render = vec!["render", TEXT, "-o", wav.to_str().unwrap()];
    render.extend(shifted);
    assert_ok(&run(&render, None));
    let mut stream = vec!["render", TEXT, "--output-raw"];
    stream.extend(shifted);
    let streamed = run(&stream, None);
    assert_ok(&streamed);
    let rendered: Vec<i16> = hound::WavReader::open(&wav)
        .unwrap()
        .samples::<i16>()
        .map(Result::unwrap)
        .collect();
    let raw: Vec<i16> = streamed
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(rendered.len() > 22_050);
    assert_eq!(rendered, raw);
}
