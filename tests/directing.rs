//! `mellow render`, `phonemize` and streams with SSML, a lexicon, timings and subtitles: the files
//! they write and the errors they give.

mod common;

use common::*;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn timings_and_subtitles_are_written_beside_the_wav() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.wav");
    let o = run(
        &[
            "render",
            "Hello there. It costs $5.",
            "-o",
            s(&out),
            "--timings",
            "--subtitles",
            "--steps",
            "2",
        ],
        None,
    );
    assert_ok(&o);
    assert_eq!(files_in(dir.path()), ["x.json", "x.srt", "x.wav"]);
    let timings = json(&dir.path().join("x.json"));
    let words: Vec<&str> = timings["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["text"].as_str().unwrap())
        .collect();
    assert_eq!(words, ["Hello", "there.", "It", "costs", "$5."]);
    let (samples, rate) = read_wav(&out);
    let last_end = timings["words"][4]["end"].as_u64().unwrap();
    assert!(
        last_end <= samples.len() as u64 && rate == timings["sample_rate"].as_u64().unwrap() as u32
    );
    let srt = std::fs::read_to_string(dir.path().join("x.srt")).unwrap();
    assert!(srt.starts_with("1\n00:00:00,"), "{srt}");
    assert!(srt.contains("\nIt costs $5.\n"), "{srt}");
}

#[test]
fn named_subtitle_files_take_their_format_from_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let (out, vtt) = (dir.path().join("x.wav"), dir.path().join("words.vtt"));
    let o = run(
        &[
            "render",
            "One two three.",
            "-o",
            s(&out),
            "--subtitles",
            s(&vtt),
            "--subtitle-level",
            "word",
            "--steps",
            "2",
        ],
        None,
    );
    assert_ok(&o);
    let text = std::fs::read_to_string(&vtt).unwrap();
    assert!(text.starts_with("WEBVTT\n\n"), "{text}");
    assert_eq!(text.matches(" --> ").count(), 3, "{text}");
}

#[test]
fn out_dir_writes_timings_for_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lines.txt");
    std::fs::write(&input, "First line.\nSecond line.\n").unwrap();
    let out = dir.path().join("out");
    let o = run(
        &[
            "render",
            "--input",
            s(&input),
            "--out-dir",
            s(&out),
            "--timings",
            "--steps",
            "2",
        ],
        None,
    );
    assert_ok(&o);
    assert_eq!(
        files_in(&out),
        ["0000.json", "0000.wav", "0001.json", "0001.wav"]
    );
    let named = run(
        &[
            "render",
            "--input",
            s(&input),
            "--out-dir",
            s(&out),
            "--timings",
            "t.json",
        ],
        None,
    );
    assert_fails_with(&named, "beside each WAV");
}

#[test]
fn raw_streams_write_word_timings_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("words.jsonl");
    let o = run(
        &[
            "render",
            "--output-raw",
            "--timings",
            s(&log),
            "--steps",
            "2",
        ],
        Some(b"One two.\nThree four.\n"),
    );
    assert_ok(&o);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let words: Vec<&str> = lines.iter().map(|l| l["text"].as_str().unwrap()).collect();
    assert_eq!(words, ["One", "two.", "Three", "four."]);
    // Stream times: the second line's words come after the first line's audio.
    let samples = (o.stdout.len() / 2) as u64;
    assert!(lines[2]["start"].as_u64().unwrap() > lines[1]["end"].as_u64().unwrap());
    assert!(lines[3]["end"].as_u64().unwrap() <= samples);
}

#[test]
fn ssml_renders_and_bad_ssml_names_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.wav");
    let doc = r#"<speak>Wait <break time="300ms"/> <say-as interpret-as="characters">ok</say-as>.</speak>"#;
    assert_ok(&run(&["render", doc, "-o", s(&out), "--steps", "2"], None));
    let fragment = run(
        &[
            "render",
            "--ssml",
            "Hi <break time='1s'/> you",
            "-o",
            s(&out),
            "--steps",
            "2",
        ],
        None,
    );
    assert_ok(&fragment);
    let bad = run(
        &["render", "<speak>\n  <s>open</speak>", "-o", s(&out)],
        None,
    );
    assert_fails_with(&bad, "SSML line 2");
    let unknown = run(
        &[
            "render",
            "<speak>Hi <blink>you</blink></speak>",
            "-o",
            s(&out),
            "--steps",
            "2",
        ],
        None,
    );
    assert_ok(&unknown);
    assert!(stderr(&unknown).contains("<blink>"), "{}", stderr(&unknown));
}

#[test]
fn a_lexicon_changes_its_words_and_phonemize_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let lexicon = dir.path().join("mine.lex");
    std::fs::write(&lexicon, "# mine\ngif  dʒˈɪf\n").unwrap();
    let o = run(
        &["phonemize", "--lexicon", s(&lexicon), "A GIF file."],
        None,
    );
    assert_ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("dʒˈɪf"), "{stdout}");
    assert!(
        stderr(&o).contains("GIF: dʒˈɪf (espeak-ng: "),
        "{}",
        stderr(&o)
    );
    std::fs::write(&lexicon, "gif  dʒ☃f\n").unwrap();
    let bad = run(&["phonemize", "--lexicon", s(&lexicon), "A GIF."], None);
    assert_fails_with(&bad, "line 1: unknown phoneme '☃'");
}

#[test]
fn shards_render_every_nth_line_and_keep_the_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("book.txt");
    std::fs::write(&input, "One.\nTwo.\n\nThree.\nFour.\nFive.\n").unwrap();
    let out = dir.path().join("wavs");
    for shard in ["0/2", "1/2"] {
        let o = run(
            &[
                "render",
                "--input",
                s(&input),
                "--out-dir",
                s(&out),
                "--shard",
                shard,
                "--steps",
                "2",
            ],
            None,
        );
        assert_ok(&o);
        if shard == "0/2" {
            assert_eq!(files_in(&out), ["0000.wav", "0002.wav", "0004.wav"]);
        }
    }
    assert_eq!(
        files_in(&out),
        ["0000.wav", "0001.wav", "0002.wav", "0003.wav", "0004.wav"]
    );
    for bad in ["2/2", "1/0", "x/3"] {
        let o = run(
            &[
                "render",
                "--input",
                s(&input),
                "--out-dir",
                s(&out),
                "--shard",
                bad,
            ],
            None,
        );
        assert_fails_with(&o, "shard");
    }
}
