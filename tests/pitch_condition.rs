//! The built-in voice's F0-conditioned decoder (`tools/train/checkpoints/pitched_last.pt`) is
//! told the F0 it speaks at and draws its harmonics into the mel: a mel made a fifth up, played
//! by the harmonic vocoder reading F0 from the mel alone (nothing told to the vocoder), sounds a
//! fifth up. A lowering is left to the vocoder, so the mel made a fifth down keeps the voice's
//! own pitch. A plain decoder (`acoustic_last.pt`, the same model before it was told the F0)
//! keeps its own pitch in the mel whatever is asked. F0 is measured with the engine's
//! autocorrelation tracker (itself checked on tones and glides).

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

/// The committed plain acoustic checkpoint as a voice in `dir`, with the built-in intonation.
fn plain_voice(dir: &Path) -> String {
    let out = dir.join("plain.safetensors").display().to_string();
    let checkpoint = root().join("tools/train/checkpoints/acoustic_last.pt");
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

/// How far the mel alone moves F0 when `voice` is asked for `semitones`.
fn mel_shift(voice: &str, semitones: f32) -> (f32, usize) {
    let mut synth = Synthesizer::for_names(voice, Some(&harmonic()), true).unwrap();
    let base = mel_at(&mut synth, 0.0);
    let moved = mel_at(&mut synth, semitones);
    // The vocoder moves F0 with the formants kept, so the frames stay the frames.
    assert_eq!(base.dims(), moved.dims());
    // Asked the same twice, a voice makes the same mel: what it is told depends on the text
    // and the options alone.
    let again = mel_at(&mut synth, 0.0);
    let difference = (&base - &again).unwrap().abs().unwrap();
    assert_eq!(
        difference.max_all().unwrap().to_scalar::<f32>().unwrap(),
        0.0
    );
    median_shift(&heard_f0(&base), &heard_f0(&moved))
}

/// Asks `voice` (named `name` in the output) for `asked` semitones and checks that the mel alone
/// moves F0 by `expected` (within a semitone, over more than 60 frames voiced in both).
fn assert_mel_moves(name: &str, voice: &str, asked: f32, expected: f32) {
    let (shift, frames) = mel_shift(voice, asked);
    println!(
        "{name}, {asked:+} asked: the mel alone moves F0 by {shift:+.2} st over {frames} frames"
    );
    assert!(frames > 60, "{name}: {frames} frames voiced in both");
    assert!((shift - expected).abs() < 1.0, "{name}: {shift:+.2} st");
}

#[test]
fn the_built_in_voices_mel_carries_a_rise_and_leaves_a_fall_to_the_vocoder() {
    assert_mel_moves("built-in", "", 7.0, 7.0);
    assert_mel_moves("built-in", "", -7.0, 0.0);
}

#[test]
fn a_plain_decoders_mel_keeps_its_own_pitch() {
    let dir = tempfile::tempdir().unwrap();
    assert_mel_moves("plain", &plain_voice(dir.path()), 7.0, 0.0);
}

#[test]
fn the_built_in_voice_streams_what_it_renders_at_a_raised_pitch() {
    let dir = tempfile::tempdir().unwrap();
    let info = run(&["info"], None);
    assert_ok(&info);
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("pitch:        decoder told the F0"), "{info}");
    let wav = dir.path().join("render.wav");
    let shifted = ["--pitch", "4", "--seed", "3"];
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

#[test]
fn a_given_curve_reaches_the_mel_and_a_sung_melody_is_left_to_the_vocoder() {
    use mellow_engine::conditioning::Conditioning;
    let mut synth = Synthesizer::for_names("", Some(&harmonic()), true).unwrap();
    let opts = synth.resolve(&SynthesisOptions::default()).unwrap();
    let json = r#"{"phonemes": "maɪ nˈeɪm ɪz ɐ lˈɔŋ wˈʌn", "durations": [9, 12, 14, 6, 8, 12, 16, 9, 8, 12, 9, 8, 9, 12, 16, 12, 6, 10, 12, 16, 14, 12, 10, 12], "pitch_hz": [180]}"#;
    let utterance = synth
        .conditioned_utterance(&Conditioning::from_json(json).unwrap())
        .unwrap();
    let mut mel_of = |sung: bool| {
        let segment = mellow_engine::Segment {
            sung,
            ..utterance.segments[0].clone()
        };
        let made = synth.segment_mel(&segment, &opts, &mut || true).unwrap();
        heard_f0(&made.expect("not stopped").mel)
    };
    let median = |track: Vec<Option<f32>>| {
        let mut voiced: Vec<f32> = track.into_iter().flatten().collect();
        voiced.sort_by(f32::total_cmp);
        assert!(voiced.len() > 40, "{} frames voiced", voiced.len());
        voiced[voiced.len() / 2]
    };
    let told = median(mel_of(false));
    let sung = median(mel_of(true));
    println!("mel alone, 180 Hz given: {told:.1} Hz told to the decoder, {sung:.1} Hz sung");
    assert!((12.0 * (told / 180.0).log2()).abs() < 1.0, "{told} Hz");
    // The voice speaks at about 90 Hz of its own: an octave below the melody.
    assert!(12.0 * (180.0 / sung).log2() > 5.0, "{sung} Hz");
}
