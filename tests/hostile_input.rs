//! Input that once crashed, hung or destroyed something: each case here failed before the
//! engine was hardened against it, and must keep speaking, or failing cleanly, ever after.

mod common;

use std::io::Read;
use std::path::Path;

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Renders `text` with the test voice into a fresh folder; returns the output and the WAV path.
fn render(args: &[&str], stdin: Option<&[u8]>) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.wav");
    let voice = test_voice();
    let mut full = vec!["render", "--voice", s(&voice)];
    full.extend_from_slice(args);
    if !args.contains(&"-o") && !args.contains(&"--out-dir") {
        full.extend_from_slice(&["-o", s(&out)]);
    }
    let o = run(&full, stdin);
    (o, dir)
}

#[test]
fn words_that_abort_espeak_ng_speak() {
    let suffixes = "s'".repeat(68);
    let o = run(&["phonemize", &suffixes], None);
    assert_ok(&o);
    assert!(!o.stdout.is_empty());
    for text in [
        suffixes.clone(),
        format!("kind{}", "ness".repeat(67)),
        "w.w. ".repeat(43),
        format!("{suffixes} and more words after it."),
    ] {
        let (o, dir) = render(&[&text], None);
        assert_ok(&o);
        assert!(dir.path().join("out.wav").is_file(), "{text}");
    }
    let o = run(
        &[
            "render",
            "--voice",
            s(&test_voice()),
            "--output-raw",
            &suffixes,
        ],
        None,
    );
    assert_ok(&o);
    assert!(!o.stdout.is_empty());
}

#[cfg(unix)]
#[test]
fn special_files_are_written_into_never_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let (o, _dir) = render(&["Hi.", "-o", "/dev/null"], None);
    assert_ok(&o);
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    let (o, _dir) = render(&["Hi.", "-o", "/dev/full"], None);
    assert_fails_with(&o, "no space left");
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());

    // A FIFO with a reader waiting (what `-o >(cat > x.wav)` hands over) gets a whole WAV.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.wav");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_end(&mut bytes)
                .unwrap();
            bytes
        })
    };
    let (o, _dir) = render(&["Hi there.", "-o", s(&fifo)], None);
    assert_ok(&o);
    let bytes = reader.join().unwrap();
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let wav = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
    assert!(wav.duration() > 1000);
}

#[cfg(unix)]
#[test]
fn endless_input_is_refused_at_the_limit() {
    let (o, dir) = render(&["--input", "/dev/zero"], None);
    assert_fails_with(&o, "more than 200000 bytes");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    let o = run(
        &[
            "render",
            "--voice",
            s(&test_voice()),
            "--output-raw",
            "--input",
            "/dev/zero",
        ],
        None,
    );
    assert_fails_with(&o, "200000");
    let (o, _dir) = render(&["--mel", "/dev/zero", "--vocoder", "phase"], None);
    assert_fails_with(&o, "bytes");
}

#[test]
fn a_mel_header_claiming_terabytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("huge.npy");
    let header = format!(
        "{:<117}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (80, 1000000000000), }"
    );
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, 3000));
    std::fs::write(&npy, bytes).unwrap();
    let (o, _dir) = render(&["--mel", s(&npy), "--vocoder", "phase"], None);
    assert_fails_with(&o, "holds 3000 bytes");
}

#[test]
fn conditioning_requests_beyond_the_caps_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.json");
    let ids = vec!["5"; 2000].join(",");
    let durations = vec!["1000"; 2000].join(",");
    std::fs::write(
        &huge,
        format!(r#"{{"ids": [{ids}], "durations": [{durations}]}}"#),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (o, _dir) = render(&["--conditioning", s(&huge)], None);
    assert_fails_with(&o, "more than 52000");
    assert!(started.elapsed().as_secs() < 20);
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, r#"{"ids": [], "durations": []}"#).unwrap();
    let (o, _dir) = render(&["--conditioning", s(&empty)], None);
    assert_fails_with(&o, "nothing to speak");
    let typed = dir.path().join("typed.json");
    std::fs::write(&typed, r#"{"ids": [1, 2], "durations": [3, "four"]}"#).unwrap();
    let (o, _dir) = render(&["--conditioning", s(&typed)], None);
    assert_fails_with(&o, "durations[1]");
}

#[test]
fn a_long_sentence_of_ordinary_prose_speaks() {
    let clause = "the committee, having weighed the evidence with care; and the town, which had waited all winter";
    let text = format!("{}.", vec![clause; 13].join(", "));
    assert!(text.len() > 1150);
    let (o, dir) = render(&[&text], None);
    assert_ok(&o);
    let wav = hound::WavReader::open(dir.path().join("out.wav")).unwrap();
    assert!(wav.duration() > 22_050 * 10, "{}", wav.duration());
}

#[test]
fn windows_files_decomposed_accents_and_stray_symbols_speak() {
    let dir = tempfile::tempdir().unwrap();
    let bom = dir.path().join("bom.txt");
    std::fs::write(&bom, "\u{FEFF}Cafe\u{301} au lait.").unwrap();
    let (o, _out) = render(&["--input", s(&bom)], None);
    assert_ok(&o);
    let (o, _out) = render(&["I ❤ you → 😀 and 日本 too.\u{7}"], None);
    assert_ok(&o);
    let err = stderr(&o);
    assert_eq!(err.matches("U+2764").count(), 1, "{err}");
    for code in ["U+2192", "U+1F600", "U+65E5", "U+0007"] {
        assert!(err.contains(code), "{code} in {err}");
    }
}

#[test]
fn a_speaker_the_voice_lacks_is_refused() {
    let (o, _dir) = render(&["Hi.", "--speaker", "5"], None);
    assert_fails_with(&o, "has 1 speaker");
    let line = br#"{"text": "Hi.", "speaker_id": 3}"#;
    let dir = tempfile::tempdir().unwrap();
    let (o, _d) = render(&["--json-input", "--out-dir", s(dir.path())], Some(line));
    assert_fails_with(&o, "has 1 speaker");
    let (o, _d) = render(
        &["--json-input", "--out-dir", s(dir.path())],
        Some(br#"{"text": "Hi.", "speaker_id": "two"}"#),
    );
    assert_fails_with(&o, "speaker_id");
}
