//! `mellow sing`: a lyric on a typed tune or a MIDI file becomes a WAV with its notes' timing,
//! and what is wrong with a lyric, a tune, a MIDI file or the vocoder is named.

mod common;

use common::*;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// A one-track MIDI file at 120 bpm: (beat, beats, key) notes.
fn midi(notes: &[(u32, u32, u8)]) -> Vec<u8> {
    let ticks = 480u32;
    let mut events: Vec<(u32, [u8; 3])> = Vec::new();
    for &(beat, beats, key) in notes {
        events.push((beat * ticks, [0x90, key, 100]));
        events.push(((beat + beats) * ticks, [0x80, key, 0]));
    }
    events.sort_by_key(|(t, e)| (*t, e[0] == 0x90));
    let mut body = vec![0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20]; // 500 000 µs a beat
    let mut last = 0;
    for (t, e) in events {
        let delta = t - last;
        last = t;
        // Deltas here are under 2^14 ticks: two bytes of variable length at most.
        if delta >= 0x80 {
            body.push(0x80 | (delta >> 7) as u8);
        }
        body.push((delta & 0x7F) as u8);
        body.extend_from_slice(&e);
    }
    body.extend_from_slice(&[0x00, 0xFF, 0x2F, 0x00]);
    let mut file = b"MThd".to_vec();
    file.extend_from_slice(&[0, 0, 0, 6, 0, 0, 0, 1]);
    file.extend_from_slice(&(ticks as u16).to_be_bytes());
    file.extend_from_slice(b"MTrk");
    file.extend_from_slice(&(body.len() as u32).to_be_bytes());
    file.extend_from_slice(&body);
    file
}

#[test]
fn a_tune_and_a_midi_file_are_sung_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tune.wav");
    let notes = dir.path().join("tune.json");
    let plot = dir.path().join("tune.png");
    let o = run(
        &[
            "sing",
            "--lyrics",
            "Twin-kle twin-kle lit-tle star",
            "--tune",
            "C3 C3 G3 G3 A3 A3 G3:2",
            "--bpm",
            "120",
            "-o",
            s(&wav),
            "--notes-out",
            s(&notes),
            "--plot",
            s(&plot),
        ],
        None,
    );
    assert_ok(&o);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&notes).unwrap()).unwrap();
    let sung = json["notes"].as_array().unwrap();
    assert_eq!(sung.len(), 7);
    assert_eq!(sung[6]["key"], 55);
    assert!((sung[6]["end"].as_f64().unwrap() - 3.0 - 2.0 * 0.95 * 0.5).abs() < 1e-6);
    let (samples, rate) = read_wav(&wav);
    let seconds = samples.len() as f64 / rate as f64;
    assert!(seconds > 3.9 && seconds < 4.3, "{seconds} s");
    assert!(std::fs::metadata(&plot).unwrap().len() > 1000);

    let mid = dir.path().join("song.mid");
    std::fs::write(&mid, midi(&[(0, 1, 48), (1, 1, 52), (3, 2, 55)])).unwrap();
    let out = dir.path().join("midi.wav");
    let o = run(
        &[
            "sing",
            "--lyrics",
            "one two three",
            "--midi",
            s(&mid),
            "-o",
            s(&out),
            "--sample-rate",
            "48000",
        ],
        None,
    );
    assert_ok(&o);
    let (samples, rate) = read_wav(&out);
    assert_eq!(rate, 48_000);
    // The last note ends at beat 5 (2.5 s): "three" has no coda, so the song ends with its vowel
    // (to the frame, 11.6 ms).
    let seconds = samples.len() as f64 / rate as f64;
    assert!((seconds - 2.5).abs() < 0.012, "{seconds} s");
    // The rest between the second and third notes is silent.
    let rest = &samples[(1.1 * rate as f64) as usize..(1.25 * rate as f64) as usize];
    assert!(rms(rest) < 1e-4, "{}", rms(rest));
}

#[test]
fn what_is_wrong_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.wav");
    let o = run(
        &["sing", "--lyrics", "la", "--tune", "H4", "-o", s(&out)],
        None,
    );
    assert_fails_with(&o, "tune step `H4`");
    let bad = dir.path().join("bad.mid");
    std::fs::write(&bad, b"MThd nonsense").unwrap();
    let o = run(
        &["sing", "--lyrics", "la", "--midi", s(&bad), "-o", s(&out)],
        None,
    );
    assert_fails_with(&o, "not a readable MIDI file");
    let o = run(
        &[
            "sing",
            "--lyrics",
            "la",
            "--tune",
            "C3",
            "--vocoder",
            "phase",
            "-o",
            s(&out),
        ],
        None,
    );
    assert_fails_with(&o, "F0-aware vocoder");
    let o = run(
        &["sing", "--lyrics", ", + !", "--tune", "C3", "-o", s(&out)],
        None,
    );
    assert_fails_with(&o, "no words to sing");
    let o = run(
        &[
            "sing",
            "--lyrics",
            "la la",
            "--tune",
            "C3",
            "--transpose",
            "90",
            "-o",
            s(&out),
        ],
        None,
    );
    assert_fails_with(&o, "outside");
    assert!(!out.exists());
}
