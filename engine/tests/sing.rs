//! Singing, measured on what the built-in voice sings through the built-in harmonic vocoder:
//! each note's pitch, the vowel held to note-off, pitch bend, and the lyric's notation.

use mellow_engine::audio::f0::track_f0;
use mellow_engine::sing::tune::{parse_tune, tune_melody};
use mellow_engine::sing::{Lyric, Melody, Note, SingSettings, Slot, Song};
use mellow_engine::synth::load_vocoder;
use mellow_engine::voice::embedded::{default_voice, f0_vocoder};
use mellow_engine::{SynthesisOptions, Synthesizer};

fn singer() -> Synthesizer {
    let voice = default_voice().expect("embedded").expect("loads");
    let vocoder = load_vocoder(&f0_vocoder().expect("loads")).expect("builds");
    Synthesizer::new(&voice, Some(vocoder)).expect("the voice builds")
}

/// `lyric` sung on `melody` with the default settings.
fn sing(synth: &mut Synthesizer, lyric: &Lyric, melody: &Melody) -> Song {
    synth
        .sing(
            lyric,
            melody,
            &SingSettings::default(),
            &SynthesisOptions::default(),
        )
        .expect("sings")
}

fn semitones(hz: f64) -> f64 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

/// Median F0 (Hz) heard between `from` and `to` seconds.
fn sung_hz(samples: &[f32], rate: u32, from: f64, to: f64) -> Option<f64> {
    let hop = rate as usize / 200;
    let track = track_f0(samples, rate, hop);
    let mut heard: Vec<f64> = track
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let t = (*i as f64 + 0.5) * hop as f64 / rate as f64;
            t >= from && t <= to
        })
        .filter_map(|(_, f)| f.map(|f| f as f64))
        .collect();
    if heard.len() < 5 {
        return None;
    }
    heard.sort_by(f64::total_cmp);
    Some(heard[heard.len() / 2])
}

#[test]
fn every_note_is_sung_at_its_pitch() {
    let mut synth = singer();
    let lyric = synth.lyric("La la la la la la la la").unwrap();
    assert_eq!(lyric.notes_needed(), 8);
    // Two octaves of the voice's range, A2 (110 Hz) to A3.
    let melody = tune_melody(
        &parse_tune("A2 C3 E3 G3 A3 F3 D3 B2").unwrap(),
        8,
        90.0,
        0.9,
    )
    .unwrap();
    let song = sing(&mut synth, &lyric, &melody);
    let rate = song.audio.sample_rate;
    for (note, s) in melody.notes.iter().zip(&song.score.syllables) {
        let heard = sung_hz(
            &song.audio.samples,
            rate,
            s.vowel_start + 0.08,
            s.vowel_end - 0.04,
        )
        .unwrap_or_else(|| panic!("the note at {} s is not voiced", note.start));
        let error = semitones(heard) - note.key as f64;
        assert!(
            error.abs() <= 0.3,
            "key {} at {} s: heard {heard:.1} Hz ({error:+.2} st)",
            note.key,
            note.start
        );
    }
}

#[test]
fn the_vowel_lasts_to_note_off_and_silence_follows() {
    let mut synth = singer();
    let lyric = synth.lyric("la la la").unwrap();
    let notes = [(0.3, 0.38), (1.0, 2.0), (2.5, 6.5)]
        .map(|(start, end)| Note {
            start,
            end,
            key: 50,
            velocity: 100,
        })
        .to_vec();
    let melody = Melody::from_notes(notes.clone()).unwrap();
    let song = sing(&mut synth, &lyric, &melody);
    let rate = song.audio.sample_rate as f64;
    let samples = &song.audio.samples;
    // Where the sound of each note ends: the last 5 ms window above -40 dB of the loudest.
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    let window = (rate * 0.005) as usize;
    let loud = |at: usize| {
        let w = &samples[at.min(samples.len())..(at + window).min(samples.len())];
        w.iter().fold(0f32, |m, s| m.max(s.abs())) > peak * 0.01
    };
    for note in &notes {
        let from = (note.start * rate) as usize;
        let to = ((note.end + 0.3) * rate) as usize;
        let end = (from..to.min(samples.len()))
            .step_by(window)
            .rfind(|&at| loud(at))
            .expect("the note sounds") as f64
            / rate
            + 0.005;
        assert!(
            (end - note.end).abs() <= 0.02,
            "note {:.2}-{:.2} s sounds until {end:.3} s",
            note.start,
            note.end
        );
    }
    // The 4 s note is voiced all along its vowel.
    let long = &song.score.syllables[2];
    let heard = sung_hz(
        samples,
        song.audio.sample_rate,
        long.vowel_end - 0.5,
        long.vowel_end - 0.05,
    )
    .unwrap();
    assert!((semitones(heard) - 50.0).abs() <= 0.3, "{heard}");
}

#[test]
fn a_full_bend_moves_the_note_by_the_bend_range() {
    let mut synth = singer();
    let lyric = synth.lyric("la").unwrap();
    let mut melody = Melody::from_notes(vec![Note {
        start: 0.1,
        end: 2.1,
        key: 48,
        velocity: 100,
    }])
    .unwrap();
    melody.bends = vec![(1.1, 1.0)];
    let song = sing(&mut synth, &lyric, &melody);
    let rate = song.audio.sample_rate;
    let before = sung_hz(&song.audio.samples, rate, 0.5, 1.0).unwrap();
    let after = sung_hz(&song.audio.samples, rate, 1.4, 1.9).unwrap();
    let bend = semitones(after) - semitones(before);
    assert!((bend - 2.0).abs() <= 0.2, "bend {bend:+.2} st");
}

#[test]
fn hyphens_holds_and_counts() {
    let synth = singer();
    let lyric = synth.lyric("Twin-kle + star").unwrap();
    assert_eq!(
        lyric.slots,
        [
            Slot::Syllable(0),
            Slot::Syllable(1),
            Slot::Hold,
            Slot::Syllable(2)
        ]
    );
    let split = synth.lyric("s-tar").unwrap();
    assert!(
        split.warnings[0].contains("2 parts and sung in 1 syllables"),
        "{:?}",
        split.warnings
    );
    let mut synth = singer();
    let lyric = synth.lyric("la la").unwrap();
    let one = Melody::from_notes(vec![Note {
        start: 0.0,
        end: 0.5,
        key: 50,
        velocity: 100,
    }])
    .unwrap();
    let song = sing(&mut synth, &lyric, &one);
    assert!(song
        .warnings
        .iter()
        .any(|w| w.contains("the last 1 are not sung")));
}

#[test]
fn singing_needs_a_vocoder_that_follows_f0() {
    let mut plain = Synthesizer::for_names("", Some("vocos"), true).unwrap();
    let lyric = plain.lyric("la").unwrap();
    let melody = Melody::from_notes(vec![Note {
        start: 0.0,
        end: 0.5,
        key: 50,
        velocity: 100,
    }])
    .unwrap();
    let err = plain
        .sing(
            &lyric,
            &melody,
            &SingSettings::default(),
            &SynthesisOptions::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("F0-aware vocoder"), "{err}");
    let bad = SingSettings {
        vibrato_rate: 0.0,
        ..Default::default()
    };
    let mut synth = singer();
    assert!(synth
        .sing(&lyric, &melody, &bad, &SynthesisOptions::default())
        .unwrap_err()
        .to_string()
        .contains("vibrato rate"));
}

#[test]
fn a_live_singer_sings_every_syllable_legato_and_detached_and_times_each_take() {
    let mut synth = singer();
    let text = "Hello from Mellow. This is the second line. And a third one.";
    let mut live = synth
        .live_singer(text, SingSettings::default())
        .expect("reads the lyric");
    let opts = synth
        .sing_options(&SynthesisOptions::default())
        .expect("sings");
    let syllables = live.lyric().syllables.len();
    assert_eq!(syllables, 15, "{:?}", live.lyric().syllables);
    let mut times = Vec::new();
    for round in 0..2 {
        for k in 0..syllables {
            let key = [48, 52, 55, 60][k % 4];
            let take = live.note_on(key, 100, 0.0).expect("a take");
            // Detached in the first round, legato in the second (the key before still held).
            if round == 0 {
                live.note_off(key);
            }
            let started = std::time::Instant::now();
            let mut samples: Vec<f32> = Vec::new();
            synth
                .sing_take(&live, &take, &[], &opts, 48_000, &mut samples)
                .unwrap_or_else(|e| panic!("syllable {k} ({}): {e}", take.phonemes));
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            let end = (take.vowel.end * 48_000.0) as usize;
            let frames: f32 = take.phrase.durations.iter().sum();
            assert!(
                samples.len() >= end,
                "syllable {k}: {} samples, vowel {:?}, {frames} frames",
                samples.len(),
                take.vowel
            );
            let vowel = &samples[(take.vowel.start * 48_000.0) as usize..end];
            let sung = semitones(
                sung_hz(vowel, 48_000, 0.1, take.vowel.end - take.vowel.start - 0.05)
                    .unwrap_or_else(|| panic!("syllable {k} ({}) unvoiced", take.phonemes)),
            );
            assert!(
                (sung - key as f64).abs() <= 0.3,
                "syllable {k} ({}): key {key}, sung {sung:.2}",
                take.phonemes
            );
        }
    }
    println!("take times (ms): {times:.1?}");
}

#[test]
fn a_take_prepared_before_its_note_sings_the_same_samples_with_only_the_vocoder_left() {
    let mut synth = singer();
    let mut live = synth
        .live_singer("Hel-lo from Mel-low", SingSettings::default())
        .expect("reads the lyric");
    let opts = synth
        .sing_options(&SynthesisOptions::default())
        .expect("sings");
    let mut firsts = Vec::new();
    // Detached, then legato from the held note, then detached again after a release.
    for (key, release_before) in [(57, true), (62, false), (64, false), (59, true)] {
        if release_before {
            live.note_off(57);
            live.note_off(64);
        }
        let upcoming = live.upcoming();
        let mut prepared = Vec::new();
        for take in &upcoming {
            let made = synth
                .prepare_take(&live, take, &opts, &mut || true)
                .expect("prepares")
                .expect("not stopped");
            prepared.push(made);
        }
        // Whatever key and velocity come, one of the prepared takes is this note's.
        let take = live.note_on(key, 80, 0.25).expect("a take");
        assert!(
            prepared.iter().any(|p| p.fits(&take, &opts)),
            "key {key}: none of {} prepared takes fits",
            prepared.len()
        );
        let mut at_once: Vec<f32> = Vec::new();
        synth
            .sing_take(&live, &take, &[], &opts, 48_000, &mut at_once)
            .expect("sings");
        let mut sink = FirstSamples {
            started: Some(std::time::Instant::now()),
            ..Default::default()
        };
        synth
            .sing_take(&live, &take, &prepared, &opts, 48_000, &mut sink)
            .expect("sings prepared");
        assert_eq!(sink.samples.len(), at_once.len(), "key {key}");
        let worst = sink
            .samples
            .iter()
            .zip(&at_once)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "key {key}: prepared differs by {worst}");
        firsts.push(sink.first_ms.expect("samples came"));
    }
    // A stop asked for between the model's windows leaves nothing prepared.
    let take = live.upcoming().remove(0);
    assert!(synth
        .prepare_take(&live, &take, &opts, &mut || false)
        .expect("stops cleanly")
        .is_none());
    println!("prepared take, first samples after (ms): {firsts:.1?}");
}

/// Collects samples and when the first came after `started`.
#[derive(Default)]
struct FirstSamples {
    started: Option<std::time::Instant>,
    first_ms: Option<f64>,
    samples: Vec<f32>,
}

impl mellow_engine::SpeechSink for FirstSamples {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        let started = *self.started.get_or_insert_with(std::time::Instant::now);
        if self.first_ms.is_none() && !samples.is_empty() {
            self.first_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        }
        self.samples.extend_from_slice(samples);
        Ok(true)
    }
}
