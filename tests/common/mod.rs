//! Helpers shared by the user-level tests: run the `mellow` binary on real files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures")
}

pub fn mellow() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mellow"));
    // Keep error output free of backtraces, as a user sees it.
    c.env_remove("RUST_BACKTRACE");
    c.env("MELLOW_VOICES", "/nonexistent-voice-folder");
    c
}

/// Runs mellow with `args`, feeding `stdin` when given.
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = mellow();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("mellow starts");
    if let Some(bytes) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("piped stdin");
        // A command that refuses its input early may close the pipe; that is its answer.
        let _ = pipe.write_all(bytes);
    }
    child.wait_with_output().expect("mellow finishes")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "mellow failed: {}", stderr(o));
}

/// A clean failure: non-zero exit, a message containing `needle`, no panic.
pub fn assert_fails_with(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected a failure mentioning {needle:?}, but it succeeded"
    );
    assert!(!err.contains("panicked"), "mellow panicked: {err}");
    assert!(
        err.to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in: {err}"
    );
}

fn shared_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

/// A voice file converted from the parity fixture's random weights (Matcha symbols).
pub fn test_voice() -> PathBuf {
    static VOICE: OnceLock<PathBuf> = OnceLock::new();
    VOICE
        .get_or_init(|| {
            let out = shared_dir().join("voice.safetensors");
            let src = fixtures().join("matcha_weights.safetensors");
            let o = run(
                &[
                    "convert",
                    "matcha",
                    src.to_str().unwrap(),
                    "-o",
                    out.to_str().unwrap(),
                ],
                None,
            );
            assert_ok(&o);
            out
        })
        .clone()
}

/// Reads a WAV file: samples in [-1, 1] and the sample rate.
pub fn read_wav(path: &Path) -> (Vec<f32>, u32) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = r.spec().sample_rate;
    let samples = r
        .samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect();
    (samples, rate)
}

pub fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
