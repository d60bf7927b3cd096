//! Bad input gets a clear error naming the problem, a non-zero exit, no panic and no file.

mod common;

use std::path::Path;

use common::*;
use mellow_engine::Voice;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Renders with `args` (plus the test voice unless `--voice` is given) and checks the failure.
fn refused(args: &[&str], stdin: Option<&[u8]>, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.wav");
    let voice = test_voice();
    let mut full: Vec<&str> = vec!["render"];
    full.extend_from_slice(args);
    if !args.contains(&"--voice") {
        full.extend_from_slice(&["--voice", s(&voice)]);
    }
    if !args.contains(&"-o") {
        full.extend_from_slice(&["-o", s(&out)]);
    }
    let o = run(&full, stdin);
    assert_fails_with(&o, needle);
    assert!(
        files_in(dir.path()).is_empty(),
        "a failed render left {:?}",
        files_in(dir.path())
    );
}

#[test]
fn empty_and_blank_text() {
    refused(&[""], None, "empty");
    refused(&["   \n\t "], None, "empty");
    refused(&[], Some(b""), "empty");
    refused(&["... !!"], None, "nothing to speak");
}

#[test]
fn a_megabyte_of_text_is_refused_for_one_file() {
    let text = "All work and no play makes a dull voice. ".repeat(26_000);
    refused(&[], Some(text.as_bytes()), "--out-dir");
}

#[test]
fn invalid_utf8_emoji_and_other_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"caf\xe9 au lait").unwrap();
    refused(&["--input", s(&bad)], None, "not valid UTF-8");
    refused(&[], Some(b"\xff\xfe"), "not valid UTF-8");
    // Text made only of characters the voice cannot read has nothing to say.
    refused(&["😀 😀"], None, "U+1F600");
    refused(&["Привет"], None, "U+041F");
    refused(&["日本語"], None, "U+65E5");
}

#[test]
fn unknown_inline_phonemes_and_unclosed_brackets() {
    refused(&["Say [[ hɛ☃ ]] now."], None, "unknown phoneme");
    refused(&["Say [[ hɛ now."], None, "never closed");
    refused(&["--phonemes", "hɛ☃"], None, "unknown phoneme");
}

#[test]
fn corrupt_truncated_and_missing_voice_files() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"this is not a voice file at all").unwrap();
    refused(
        &["Hi.", "--voice", s(&junk)],
        None,
        "not a valid voice file",
    );
    let bytes = std::fs::read(test_voice()).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        &["Hi.", "--voice", s(&truncated)],
        None,
        "not a valid voice file",
    );
    refused(
        &["Hi.", "--voice", "/nonexistent/voice.safetensors"],
        None,
        "cannot read",
    );
}

#[test]
fn weights_that_do_not_fit_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut voice = Voice::load(&test_voice()).unwrap();
    voice
        .config
        .acoustic
        .as_mut()
        .unwrap()
        .encoder
        .filter_channels += 8;
    let wrong = dir.path().join("wrong.safetensors");
    Voice::new(voice.config.clone(), voice.tensors().clone(), "test")
        .unwrap()
        .save(&wrong, false)
        .unwrap();
    refused(&["Hi.", "--voice", s(&wrong)], None, "shape mismatch");
}

#[test]
fn nan_weights_never_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let voice = Voice::load(&test_voice()).unwrap();
    let mut tensors = voice.tensors().clone();
    let bias = tensors["encoder.proj_m.bias"].clone();
    tensors.insert("encoder.proj_m.bias".into(), (bias * f64::NAN).unwrap());
    let nan = dir.path().join("nan.safetensors");
    Voice::new(voice.config.clone(), tensors, "test")
        .unwrap()
        .save(&nan, false)
        .unwrap();
    refused(&["Hi.", "--voice", s(&nan)], None, "NaN");
}

#[test]
fn unwritable_output_and_missing_output() {
    refused(
        &["Hi.", "-o", "/nonexistent-folder/x.wav"],
        None,
        "cannot write",
    );
    let o = run(&["render", "Hi.", "--voice", s(&test_voice())], None);
    assert_fails_with(&o, "-o FILE.wav");
}

#[test]
fn out_of_range_options() {
    refused(&["Hi.", "--steps", "0"], None, "steps");
    refused(&["Hi.", "--rate", "0"], None, "rate");
    refused(&["Hi.", "--temperature=-1"], None, "temperature");
    refused(&["Hi.", "--sample-rate", "100"], None, "sample rate");
    refused(&["Hi.", "--sampler", "magic"], None, "unknown sampler");
    refused(&["Hi.", "--pitch", "30"], None, "semitones");
}

#[test]
fn bad_conditioning_and_mel_files() {
    let dir = tempfile::tempdir().unwrap();
    let cond = dir.path().join("c.json");
    std::fs::write(&cond, r#"{"phonemes": ["h", "ə"], "durations": [3]}"#).unwrap();
    refused(
        &["--conditioning", s(&cond)],
        None,
        "2 phonemes but 1 durations",
    );
    std::fs::write(&cond, r#"{"ids": [0, 9999], "durations": [3, 3]}"#).unwrap();
    refused(&["--conditioning", s(&cond)], None, "outside this voice");
    std::fs::write(&cond, r#"{"phonemes": "hə", "durations": [3, -1]}"#).unwrap();
    refused(&["--conditioning", s(&cond)], None, "not a frame count");
    std::fs::write(
        &cond,
        r#"{"phonemes": "hə", "durations": [3, 3], "pitch": [0, 99]}"#,
    )
    .unwrap();
    refused(&["--conditioning", s(&cond)], None, "semitones");
    std::fs::write(&cond, "{not json").unwrap();
    refused(
        &["--conditioning", s(&cond)],
        None,
        "not a valid conditioning file",
    );
    let mel = dir.path().join("m.npy");
    let wrong_bands =
        candle_core::Tensor::zeros((40, 10), candle_core::DType::F32, &candle_core::Device::Cpu)
            .unwrap();
    wrong_bands.write_npy(&mel).unwrap();
    refused(&["--mel", s(&mel), "--vocoder", "phase"], None, "40 bands");
    let nan =
        (candle_core::Tensor::zeros((80, 10), candle_core::DType::F32, &candle_core::Device::Cpu)
            .unwrap()
            * f64::NAN)
            .unwrap();
    nan.write_npy(&mel).unwrap();
    refused(&["--mel", s(&mel), "--vocoder", "phase"], None, "NaN");
    std::fs::write(&mel, b"garbage").unwrap();
    refused(
        &["--mel", s(&mel), "--vocoder", "phase"],
        None,
        "cannot read the mel",
    );
}
