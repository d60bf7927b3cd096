//! `mellow render` end to end: every input kind, every option, checked on the WAV files it writes.

mod common;

use common::*;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn text_argument_renders_a_finite_non_silent_wav() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.wav");
    let voice = test_voice();
    let o = run(
        &[
            "render",
            "Hello world. How are you?",
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--steps",
            "2",
        ],
        None,
    );
    assert_ok(&o);
    let (samples, rate) = read_wav(&out);
    assert_eq!(rate, 22_050);
    assert!(samples.len() > 22_050 / 4, "{} samples", samples.len());
    assert!(rms(&samples) > 1e-3, "silent output");
    assert!(samples.iter().all(|x| x.abs() <= 1.0));
    // Nothing but the result is left in the folder (the temp file was renamed).
    assert_eq!(files_in(dir.path()), vec!["x.wav"]);
}

#[test]
fn the_same_seed_gives_the_same_audio_and_another_seed_differs() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    let render = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        assert_ok(&run(
            &[
                "render",
                "Testing seeds.",
                "--voice",
                s(&voice),
                "-o",
                s(&out),
                "--seed",
                seed,
                "--steps",
                "2",
            ],
            None,
        ));
        std::fs::read(out).unwrap()
    };
    assert_eq!(render("a.wav", "7"), render("b.wav", "7"));
    assert_ne!(render("a.wav", "7"), render("c.wav", "8"));
}

#[test]
fn stdin_input_file_and_out_dir_render_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    let out = dir.path().join("stdin.wav");
    assert_ok(&run(
        &[
            "render",
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--steps",
            "1",
        ],
        Some("From standard input.".as_bytes()),
    ));
    assert!(read_wav(&out).0.len() > 1000);

    let input = dir.path().join("lines.txt");
    std::fs::write(&input, "First line.\n\nSecond line here.\nThird.\n").unwrap();
    let out_dir = dir.path().join("out");
    assert_ok(&run(
        &[
            "render",
            "--input",
            s(&input),
            "--out-dir",
            s(&out_dir),
            "--voice",
            s(&voice),
            "--steps",
            "1",
        ],
        None,
    ));
    assert_eq!(files_in(&out_dir), vec!["0000.wav", "0001.wav", "0002.wav"]);
}

#[test]
fn piper_json_lines_name_their_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    let lines = format!("{{\"text\": \"One.\", \"output_file\": \"{}\"}}\n{{\"text\": \"Two.\", \"output_file\": \"{}\"}}\n", s(&a), s(&b));
    assert_ok(&run(
        &[
            "render",
            "--json-input",
            "--voice",
            s(&voice),
            "--steps",
            "1",
            "--out-dir",
            s(dir.path()),
        ],
        Some(lines.as_bytes()),
    ));
    assert!(a.exists() && b.exists());
}

/// "hello" with per-symbol durations summing to 31 frames, as `DIR/c.json`.
fn hello_conditioning(dir: &std::path::Path) -> std::path::PathBuf {
    let cond = dir.join("c.json");
    std::fs::write(
        &cond,
        r#"{"phonemes": ["h", "ə", "l", "ˈ", "o", "ʊ"], "durations": [4, 6, 5, 0, 9, 7]}"#,
    )
    .unwrap();
    cond
}

#[test]
fn phonemes_conditioning_and_rate_control_the_length() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    // Per-symbol durations: the output is exactly their sum in frames.
    let cond = hello_conditioning(dir.path());
    let out = dir.path().join("c.wav");
    assert_ok(&run(
        &[
            "render",
            "--conditioning",
            s(&cond),
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--steps",
            "1",
        ],
        None,
    ));
    assert_eq!(read_wav(&out).0.len(), 31 * 256);
    // Ids with durations, at half the rate: twice the frames.
    std::fs::write(
        &cond,
        r#"{"ids": [0, 50, 0, 83, 0], "durations": [1, 5, 1, 6, 1]}"#,
    )
    .unwrap();
    assert_ok(&run(
        &[
            "render",
            "--conditioning",
            s(&cond),
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--rate",
            "0.5",
        ],
        None,
    ));
    assert_eq!(read_wav(&out).0.len(), 28 * 256);
    // Raw phonemes, and the speaking rate shortens the model's own durations.
    let slow = dir.path().join("slow.wav");
    let fast = dir.path().join("fast.wav");
    assert_ok(&run(
        &[
            "render",
            "--phonemes",
            "həlˈoʊ wˈɜːld",
            "--voice",
            s(&voice),
            "-o",
            s(&slow),
            "--rate",
            "0.5",
            "--steps",
            "1",
        ],
        None,
    ));
    assert_ok(&run(
        &[
            "render",
            "--phonemes",
            "həlˈoʊ wˈɜːld",
            "--voice",
            s(&voice),
            "-o",
            s(&fast),
            "--rate",
            "2",
            "--steps",
            "1",
        ],
        None,
    ));
    let (slow_len, fast_len) = (read_wav(&slow).0.len(), read_wav(&fast).0.len());
    assert!(
        slow_len > 3 * fast_len,
        "rate 0.5 gave {slow_len} samples, rate 2 gave {fast_len}"
    );
}

#[test]
fn every_sampler_and_vocoder_renders() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    let out = dir.path().join("x.wav");
    for sampler in ["euler", "heun", "midpoint"] {
        assert_ok(&run(
            &[
                "render",
                "Samplers.",
                "--voice",
                s(&voice),
                "-o",
                s(&out),
                "--sampler",
                sampler,
                "--steps",
                "2",
            ],
            None,
        ));
    }
    // A flow-matching voice refuses the diffusion samplers with a reason.
    assert_fails_with(
        &run(
            &[
                "render",
                "x",
                "--voice",
                s(&voice),
                "-o",
                s(&out),
                "--sampler",
                "sde",
            ],
            None,
        ),
        "does not fit",
    );
    let hifigan = dir.path().join("hifigan.safetensors");
    let pt = fixtures().join("checkpoints/generator_v3.pt");
    assert_ok(&run(
        &[
            "convert",
            "hifigan",
            s(&pt),
            "--variant",
            "v3",
            "-o",
            s(&hifigan),
        ],
        None,
    ));
    let vocos = dir.path().join("vocos.safetensors");
    let st = fixtures().join("vocos_weights.safetensors");
    assert_ok(&run(&["convert", "vocos", s(&st), "-o", s(&vocos)], None));
    for vocoder in [s(&hifigan), s(&vocos), "phase"] {
        assert_ok(&run(
            &[
                "render",
                "Vocoders.",
                "--voice",
                s(&voice),
                "-o",
                s(&out),
                "--vocoder",
                vocoder,
                "--steps",
                "1",
            ],
            None,
        ));
        let (samples, _) = read_wav(&out);
        assert!(
            !samples.is_empty() && samples.iter().all(|x| x.is_finite()),
            "{vocoder}"
        );
    }
}

#[test]
fn output_sample_rate_is_converted() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    assert_ok(&run(
        &[
            "render",
            "Rates.",
            "--voice",
            s(&voice),
            "-o",
            s(&a),
            "--steps",
            "1",
        ],
        None,
    ));
    assert_ok(&run(
        &[
            "render",
            "Rates.",
            "--voice",
            s(&voice),
            "-o",
            s(&b),
            "--steps",
            "1",
            "--sample-rate",
            "48000",
        ],
        None,
    ));
    let (sa, ra) = read_wav(&a);
    let (sb, rb) = read_wav(&b);
    assert_eq!((ra, rb), (22_050, 48_000));
    let expected = (sa.len() as u64 * 48_000).div_ceil(22_050) as usize;
    assert_eq!(sb.len(), expected);
}

#[test]
fn a_mel_file_is_vocoded_without_an_acoustic_model() {
    let dir = tempfile::tempdir().unwrap();
    let mel = dir.path().join("mel.npy");
    // A log-mel of a real signal: the fixture's reference mel.
    let t = candle_core::safetensors::load(
        fixtures().join("mel.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    t["mel"].write_npy(&mel).unwrap();
    let out = dir.path().join("x.wav");
    let plot = dir.path().join("x.png");
    assert_ok(&run(
        &[
            "render",
            "--mel",
            s(&mel),
            "--vocoder",
            "phase",
            "-o",
            s(&out),
            "--plot",
            s(&plot),
        ],
        None,
    ));
    let frames = t["mel"].dims()[1];
    assert_eq!(read_wav(&out).0.len(), frames * 256);
    assert_eq!(&std::fs::read(&plot).unwrap()[1..4], b"PNG");
}

#[test]
fn plot_voices_and_info() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    let out = dir.path().join("x.wav");
    let plot = dir.path().join("x.png");
    assert_ok(&run(
        &[
            "render",
            "Plot me.",
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--plot",
            s(&plot),
            "--steps",
            "1",
        ],
        None,
    ));
    assert_eq!(&std::fs::read(&plot).unwrap()[1..4], b"PNG");
    let info = run(&["info", s(&voice)], None);
    assert_ok(&info);
    assert!(String::from_utf8_lossy(&info.stdout).contains("80 mel bands"));
    assert_ok(&run(&["voices"], None));
    let ph = run(&["phonemize", "Hello, world!"], None);
    assert_ok(&ph);
    assert_eq!(
        String::from_utf8_lossy(&ph.stdout).trim(),
        "həlˈoʊ, wˈɜːld!"
    );
}

#[test]
fn the_built_in_voice_speaks_without_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hello.wav");
    assert_ok(&run(&["render", "Hello from Mellow.", "-o", s(&out)], None));
    let (samples, rate) = read_wav(&out);
    assert_eq!(rate, 22_050);
    assert!(samples.len() > 22_050 / 2 && rms(&samples) > 1e-3);
    let info = run(&["info"], None);
    assert_ok(&info);
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("the built-in voice"));
    assert!(
        info.contains("intonation predicted; --pitch keeps formants; --pitch-range scales"),
        "{info}"
    );
}

#[test]
fn score_diffusion_voices_take_the_ode_and_sde_samplers() {
    let dir = tempfile::tempdir().unwrap();
    let voice = dir.path().join("diffusion.safetensors");
    let src = fixtures().join("matcha_weights.safetensors");
    assert_ok(&run(
        &[
            "convert",
            "matcha",
            s(&src),
            "--score-diffusion",
            "-o",
            s(&voice),
        ],
        None,
    ));
    let render = |name: &str, sampler: &str, seed: &str| {
        let out = dir.path().join(name);
        let args = [
            "render",
            "Diffusion.",
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--sampler",
            sampler,
            "--steps",
            "3",
            "--seed",
            seed,
        ];
        assert_ok(&run(&args, None));
        let (samples, _) = read_wav(&out);
        assert!(!samples.is_empty() && samples.iter().all(|x| x.is_finite()));
        std::fs::read(out).unwrap()
    };
    // The reverse SDE draws fresh noise each step: a different seed changes more than the start.
    assert_eq!(render("a.wav", "ode", "1"), render("b.wav", "ode", "1"));
    assert_eq!(render("c.wav", "sde", "1"), render("d.wav", "sde", "1"));
    assert_ne!(render("e.wav", "ode", "1"), render("f.wav", "sde", "1"));
    // Flow-matching samplers do not fit a score model.
    assert_fails_with(
        &run(
            &[
                "render",
                "x",
                "--voice",
                s(&voice),
                "-o",
                s(&dir.path().join("g.wav")),
                "--sampler",
                "euler",
            ],
            None,
        ),
        "does not fit",
    );
}

#[test]
fn pitch_shifts_keep_the_length() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    let render = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "render",
            "Pitch.",
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--steps",
            "1",
        ];
        args.extend_from_slice(extra);
        assert_ok(&run(&args, None));
        read_wav(&out).0
    };
    let plain = render("a.wav", &[]);
    let up = render("b.wav", &["--pitch", "3"]);
    let down = render("c.wav", &["--pitch", "-2.5"]);
    // Spoken slower by the pitch ratio, then played faster: the length is kept to a fraction of a
    // frame per phoneme.
    for shifted in [&up, &down] {
        let ratio = shifted.len() as f64 / plain.len() as f64;
        assert!((ratio - 1.0).abs() < 0.03, "length ×{ratio}");
    }
    assert_ne!(plain, up);
    // A pitch curve in a conditioning file, on top of --pitch.
    let cond = dir.path().join("c.json");
    std::fs::write(
        &cond,
        r#"{"phonemes": "həlˈoʊ", "durations": [5, 6, 7, 0, 9, 9], "pitch": [-2, 0, 4]}"#,
    )
    .unwrap();
    let out = dir.path().join("d.wav");
    assert_ok(&run(
        &[
            "render",
            "--conditioning",
            s(&cond),
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--pitch",
            "1",
        ],
        None,
    ));
    assert_eq!(read_wav(&out).0.len(), 36 * 256);
}

#[test]
fn the_acoustic_models_mel_is_written_and_vocodes_to_the_same_audio() {
    let dir = tempfile::tempdir().unwrap();
    let voice = test_voice();
    let cond = hello_conditioning(dir.path());
    let (out, mel) = (dir.path().join("c.wav"), dir.path().join("c.npy"));
    assert_ok(&run(
        &[
            "render",
            "--conditioning",
            s(&cond),
            "--voice",
            s(&voice),
            "-o",
            s(&out),
            "--mel-out",
            s(&mel),
        ],
        None,
    ));
    let t = candle_core::Tensor::read_npy(&mel).unwrap();
    assert_eq!(t.dims(), &[80, 31]);
    // The written mel, vocoded on its own, gives the render's samples.
    let again = dir.path().join("again.wav");
    assert_ok(&run(
        &[
            "render",
            "--mel",
            s(&mel),
            "--voice",
            s(&voice),
            "-o",
            s(&again),
        ],
        None,
    ));
    assert_eq!(read_wav(&out).0, read_wav(&again).0);
    // Text with two sentences: their mels one after another.
    let text_mel = dir.path().join("t.npy");
    assert_ok(&run(
        &[
            "render",
            "One. Two.",
            "--voice",
            s(&voice),
            "-o",
            s(&dir.path().join("t.wav")),
            "--mel-out",
            s(&text_mel),
        ],
        None,
    ));
    let frames = candle_core::Tensor::read_npy(&text_mel).unwrap().dims()[1];
    assert!(frames > 10, "{frames} frames");
    let o = run(
        &[
            "render",
            "--input",
            s(&cond),
            "--out-dir",
            s(dir.path()),
            "--mel-out",
            s(&mel),
        ],
        None,
    );
    assert!(!o.status.success(), "--mel-out with --out-dir was accepted");
}

#[test]
fn the_built_in_voice_answers_to_its_listed_name() {
    let listed = run(&["voices"], None);
    assert_ok(&listed);
    let list = String::from_utf8_lossy(&listed.stdout).into_owned();
    let name = list
        .lines()
        .find(|l| l.starts_with("(built-in)"))
        .and_then(|l| l.split('\t').nth(1))
        .expect("the built-in voice is listed")
        .to_string();
    let info = run(&["info", &name], None);
    assert_ok(&info);
    assert!(String::from_utf8_lossy(&info.stdout).contains("the built-in voice"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("named.wav");
    assert_ok(&run(
        &[
            "render",
            "Hi.",
            "--voice",
            &name,
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    ));
    assert!(out.is_file());
    let missing = run(&["info", "no-such-voice"], None);
    assert_fails_with(&missing, "mellow voices");
}

#[test]
fn the_plot_shows_the_pitch_asked_and_the_pitch_heard_together() {
    let dir = tempfile::tempdir().unwrap();
    let harmonic = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../engine/voices/harmonic.safetensors");
    let (out, plot) = (dir.path().join("x.wav"), dir.path().join("x.png"));
    assert_ok(&run(
        &[
            "render",
            "Who left the door open?",
            "--vocoder",
            s(&harmonic),
            "--pitch",
            "5",
            "-o",
            s(&out),
            "--plot",
            s(&plot),
        ],
        None,
    ));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&plot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    // 80 mel bands of 3 pixels, then the pitch panel.
    assert_eq!(h, 80 * 3 + 150);
    let at = |x: usize, y: usize| &pixels[(y * w + x) * 3..(y * w + x) * 3 + 3];
    let rows_of = |x: usize, colour: [u8; 3]| -> Vec<usize> {
        (240..h).filter(|&y| at(x, y) == colour).collect()
    };
    // Where a column has both, the heard F0 (orange dots) lies on the asked line (white):
    // 50 pixels are an octave, so 3 pixels are under a semitone.
    let mut gaps = Vec::new();
    for x in 0..w {
        let (asked, heard) = (rows_of(x, [255, 255, 255]), rows_of(x, [255, 140, 0]));
        if let Some(&a) = asked.first() {
            if let Some(gap) = heard.iter().map(|&h| h.abs_diff(a)).min() {
                gaps.push(gap);
            }
        }
    }
    gaps.sort_unstable();
    assert!(gaps.len() > 60, "{} columns with both", gaps.len());
    assert!(
        gaps[gaps.len() / 2] <= 3,
        "median gap {} px",
        gaps[gaps.len() / 2]
    );
}
