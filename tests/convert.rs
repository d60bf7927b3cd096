//! `mellow convert` on checkpoints laid out as the reference packages save them.

mod common;

use std::path::Path;

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_lightning_checkpoint_with_attribute_dict_hyper_parameters_converts() {
    let dir = tempfile::tempdir().unwrap();
    let from_ckpt = dir.path().join("ckpt.safetensors");
    let ckpt = fixtures().join("checkpoints/matcha.ckpt");
    assert_ok(&run(
        &["convert", "matcha", s(&ckpt), "-o", s(&from_ckpt)],
        None,
    ));
    // The same weights as the safetensors fixture: the same audio, byte for byte.
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    assert_ok(&run(
        &[
            "render",
            "Same weights.",
            "--voice",
            s(&from_ckpt),
            "-o",
            s(&a),
            "--steps",
            "2",
        ],
        None,
    ));
    assert_ok(&run(
        &[
            "render",
            "Same weights.",
            "--voice",
            s(&test_voice()),
            "-o",
            s(&b),
            "--steps",
            "2",
        ],
        None,
    ));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // f16 storage halves the file and still loads.
    let half = dir.path().join("half.safetensors");
    assert_ok(&run(
        &["convert", "matcha", s(&ckpt), "-o", s(&half), "--f16"],
        None,
    ));
    let (full_len, half_len) = (
        std::fs::metadata(&from_ckpt).unwrap().len(),
        std::fs::metadata(&half).unwrap().len(),
    );
    assert!(half_len * 10 < full_len * 6, "{half_len} vs {full_len}");
    assert_ok(&run(
        &[
            "render",
            "Half.",
            "--voice",
            s(&half),
            "-o",
            s(&a),
            "--steps",
            "1",
        ],
        None,
    ));
}

#[test]
fn hifigan_generator_and_vocos_checkpoints_convert() {
    let dir = tempfile::tempdir().unwrap();
    let vocos = dir.path().join("vocos.safetensors");
    let ckpt = fixtures().join("checkpoints/vocos.ckpt");
    assert_ok(&run(&["convert", "vocos", s(&ckpt), "-o", s(&vocos)], None));
    let info = run(&["info", s(&vocos)], None);
    assert!(String::from_utf8_lossy(&info.stdout).contains("vocos"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.safetensors");
    let pt = fixtures().join("checkpoints/generator_v3.pt");
    assert_ok(&run(
        &[
            "convert",
            "hifigan",
            s(&pt),
            "--variant",
            "v3",
            "-o",
            s(&out),
        ],
        None,
    ));
    let info = run(&["info", s(&out)], None);
    assert!(String::from_utf8_lossy(&info.stdout).contains("hifigan"));
}

#[test]
fn a_checkpoint_of_the_wrong_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.safetensors");
    let pt = fixtures().join("checkpoints/generator_v3.pt");
    assert_fails_with(
        &run(&["convert", "matcha", s(&pt), "-o", s(&out)], None),
        "cannot read weights",
    );
    assert!(!out.exists());
    assert_fails_with(
        &run(
            &["convert", "matcha", "/nonexistent.ckpt", "-o", s(&out)],
            None,
        ),
        "does not exist",
    );
}
