//! Streaming to standard output: `render --output-raw` and `-o -` give the same samples as a WAV
//! render, standard input is spoken line by line, and bad input fails cleanly.

mod common;

use common::{assert_fails_with, assert_ok, run};

fn wav_samples(path: &std::path::Path) -> (Vec<i16>, u32) {
    let mut r = hound::WavReader::open(path).expect("a WAV file");
    let rate = r.spec().sample_rate;
    (r.samples::<i16>().map(|s| s.unwrap()).collect(), rate)
}

fn s16le(bytes: &[u8]) -> Vec<i16> {
    assert_eq!(bytes.len() % 2, 0, "a whole number of 16-bit samples");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

const TEXT: &str = "Raw audio streams out as it is made. A second sentence follows.";

#[test]
fn raw_output_equals_the_wav_render() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("whole.wav");
    assert_ok(&run(&["render", TEXT, "-o", wav.to_str().unwrap()], None));
    let (whole, rate) = wav_samples(&wav);
    assert_eq!(rate, 22_050);
    let raw = run(&["render", TEXT, "--output-raw"], None);
    assert_ok(&raw);
    assert_eq!(s16le(&raw.stdout), whole);
}

#[test]
fn a_wav_stream_on_stdout_has_a_header_and_the_same_samples() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("whole.wav");
    assert_ok(&run(
        &[
            "render",
            TEXT,
            "--sample-rate",
            "16000",
            "-o",
            wav.to_str().unwrap(),
        ],
        None,
    ));
    let (whole, _) = wav_samples(&wav);
    let out = run(&["render", TEXT, "--sample-rate", "16000", "-o", "-"], None);
    assert_ok(&out);
    let bytes = &out.stdout;
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..16], b"WAVEfmt ");
    assert_eq!(
        u32::from_le_bytes(bytes[24..28].try_into().unwrap()),
        16_000
    );
    assert_eq!(&bytes[36..40], b"data");
    assert_eq!(s16le(&bytes[44..]), whole);
}

#[test]
fn standard_input_is_spoken_line_by_line_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for (i, line) in ["First line.", "Second line, a little longer."]
        .iter()
        .enumerate()
    {
        let wav = dir.path().join(format!("{i}.wav"));
        assert_ok(&run(&["render", line, "-o", wav.to_str().unwrap()], None));
        expected.extend(wav_samples(&wav).0);
    }
    let out = run(
        &["render", "--output-raw"],
        Some(b"First line.\n\n   \nSecond line, a little longer.\n"),
    );
    assert_ok(&out);
    assert_eq!(s16le(&out.stdout), expected);
}

#[test]
fn a_bad_line_is_reported_and_the_others_still_stream() {
    let out = run(
        &["render", "--output-raw"],
        Some("Good.\n😀😀😀\nAlso good.\n".as_bytes()),
    );
    assert_fails_with(&out, "utterance 2");
    assert!(out.stdout.len() > 22_050, "the good lines were spoken");
}

#[test]
fn streaming_refuses_what_it_cannot_stream() {
    assert_fails_with(&run(&["render", "--output-raw"], Some(b"")), "no text");
    assert_fails_with(
        &run(&["render", "--output-raw", "--phonemes", "həloʊ"], None),
        "-o FILE.wav",
    );
    assert_fails_with(
        &run(&["render", "hi", "--output-raw", "-o", "x.wav"], None),
        "cannot be used with",
    );
    assert_fails_with(
        &run(&["render", "hi", "--output-raw", "--steps", "0"], None),
        "steps",
    );
    assert_fails_with(
        &run(&["render", "--output-raw"], Some(&[0xff, 0xfe, b'\n'])),
        "standard input",
    );
}
