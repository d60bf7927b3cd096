//! SSML, the lexicon and timings, measured on what the built-in voice speaks: breaks are the
//! silence asked for, a prosody rate stretches its span by its factor, timings point at the
//! audio, and the streaming pipeline reports the same words as a render.

use std::time::Duration;

use mellow_engine::stream::Event;
use mellow_engine::synth::{TimingEvent, Timings};
use mellow_engine::text::{Lexicon, PhonemeMap};
use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{Pipeline, PipelineConfig, SpeechSink, SynthesisOptions, Synthesizer};

fn synthesizer() -> Synthesizer {
    let voice = default_voice()
        .expect("this build embeds the default voice")
        .expect("the embedded voice loads");
    Synthesizer::new(&voice, None).expect("the voice builds")
}

struct Timed {
    samples: Vec<f32>,
    timings: Timings,
}

impl SpeechSink for Timed {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        self.samples.extend_from_slice(samples);
        Ok(true)
    }

    fn timing(&mut self, event: TimingEvent) {
        self.timings.add(event);
    }
}

fn speak(synth: &mut Synthesizer, text: &str) -> Timed {
    let opts = synth.resolve(&SynthesisOptions::default()).unwrap();
    let utterance = synth.utterance(text).unwrap();
    let rate = synth.sample_rate();
    let mut out = Timed {
        samples: Vec::new(),
        timings: Timings::new(rate),
    };
    synth.speak(&utterance, &opts, rate, &mut out).unwrap();
    out
}

fn word<'a>(t: &'a Timings, text: &str) -> &'a mellow_engine::synth::timing::WordTiming {
    t.words
        .iter()
        .find(|w| w.text.trim_end_matches(['.', ',']) == text)
        .unwrap_or_else(|| panic!("no word {text} in {:?}", t.words))
}

/// The longest run of 5 ms frames 40 dB below the peak within `range`, in seconds.
fn longest_silence(samples: &[f32], rate: u32, range: std::ops::Range<usize>) -> f32 {
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    let hop = rate as usize / 200;
    let (mut best, mut run) = (0, 0);
    for frame in samples[range].chunks(hop) {
        let rms = (frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32).sqrt();
        run = if rms < peak * 0.01 { run + 1 } else { 0 };
        best = best.max(run);
    }
    best as f32 * hop as f32 / rate as f32
}

#[test]
fn a_break_is_the_silence_asked_for_between_the_words() {
    let mut synth = synthesizer();
    let spoken = speak(
        &mut synth,
        r#"<speak>I will wait here <break time="500ms"/> and then go on.</speak>"#,
    );
    let rate = synth.sample_rate();
    let (here, and) = (word(&spoken.timings, "here"), word(&spoken.timings, "and"));
    // The timings start a word at the blank before its first sound: a little under the break.
    let between = (and.start - here.end) as f32 / rate as f32;
    assert!(
        (0.45..=0.5).contains(&between),
        "{between} s between the words"
    );
    let margin = rate as usize / 7;
    let silence = longest_silence(
        &spoken.samples,
        rate,
        here.end as usize - margin..and.start as usize + margin,
    );
    assert!(
        (silence - 0.5).abs() <= 0.015,
        "{silence} s of silence on the audio"
    );
}

#[test]
fn a_prosody_rate_stretches_its_span_and_nothing_else() {
    let mut synth = synthesizer();
    let plain = speak(&mut synth, "I will say these four words slowly.");
    let slow = speak(
        &mut synth,
        r#"<speak>I will say <prosody rate="50%">these four words</prosody> slowly.</speak>"#,
    );
    let span = |t: &Timings| (word(t, "words").end - word(t, "these").start) as f32;
    let ratio = span(&slow.timings) / span(&plain.timings);
    assert!(
        (ratio - 2.0).abs() < 0.1,
        "the span is {ratio} times as long"
    );
    let before = |t: &Timings| word(t, "say").end;
    assert_eq!(before(&slow.timings), before(&plain.timings));
}

#[test]
fn a_prosody_volume_changes_its_span_only() {
    let mut synth = synthesizer();
    let plain = speak(&mut synth, "Speak up for these words please.");
    let soft = speak(
        &mut synth,
        r#"<speak>Speak up for <prosody volume="-12dB">these words</prosody> please.</speak>"#,
    );
    let level = |t: &Timed, w: &str| {
        // The middle of the word: the gain settles over a few milliseconds at its edges.
        let w = word(&t.timings, w);
        let cut = (w.end - w.start) as usize / 10;
        let s = &t.samples[w.start as usize + cut..w.end as usize - cut];
        (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt()
    };
    let drop = 20.0 * (level(&soft, "these") / level(&plain, "these")).log10();
    // The limiter holds the unmarked render's loudest peaks down, so a little less than 12.
    assert!((drop + 12.0).abs() < 2.0, "{drop} dB");
    let kept = 20.0 * (level(&soft, "Speak") / level(&plain, "Speak")).log10();
    assert!(kept.abs() < 0.5, "{kept} dB before the span");
}

#[test]
fn timings_cover_the_audio_in_order_with_every_written_word() {
    let mut synth = synthesizer();
    let text = "Dr. Smith paid $47.99 on 3/4. Is it fine?";
    let spoken = speak(&mut synth, text);
    let words: Vec<&str> = spoken
        .timings
        .words
        .iter()
        .map(|w| w.text.as_str())
        .collect();
    assert_eq!(
        words,
        ["Dr.", "Smith", "paid", "$47.99", "on", "3/4.", "Is", "it", "fine?"]
    );
    let mut last = 0;
    for w in &spoken.timings.words {
        assert_eq!(&text[w.source.clone()], w.text);
        assert!(w.start >= last && w.end > w.start, "{w:?}");
        last = w.end;
    }
    assert!(last <= spoken.samples.len() as u64);
    // Each word's stretch of audio holds sound.
    for w in &spoken.timings.words {
        let s = &spoken.samples[w.start as usize..w.end as usize];
        assert!(s.iter().any(|x| x.abs() > 0.02), "{} is silent", w.text);
    }
    assert!(spoken.timings.phonemes.len() > 30);
}

#[test]
fn a_lexicon_entry_is_what_the_voice_says() {
    let mut synth = synthesizer();
    let lexicon = Lexicon::parse("mellow zˈuːm", "test", &PhonemeMap::matcha()).unwrap();
    synth.set_lexicon(Some(lexicon));
    let utterance = synth.utterance("Mellow speaks.").unwrap();
    assert!(utterance.segments[0]
        .sentence
        .phonemes
        .starts_with("zˈuːm "));
}

#[test]
fn bad_ssml_is_an_error_or_a_warning_never_a_crash() {
    let synth = synthesizer();
    let err = synth
        .utterance("<speak>\n<prosody rate='x'>a</speak>")
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let warned = synth
        .utterance("<speak>Hi <blink>you</blink></speak>")
        .unwrap();
    assert!(warned.warnings.iter().any(|w| w.contains("<blink>")));
    // Ten thousand levels deep, and a megabyte of markup, read in moments.
    let deep = format!(
        "<speak>{}deep{}</speak>",
        "<p>".repeat(10_000),
        "</p>".repeat(10_000)
    );
    assert_eq!(synth.utterance(&deep).unwrap().segments.len(), 1);
    let big = format!(
        "<speak>{}</speak>",
        "<s>Hello <break time=\"10ms\"/> you.</s>".repeat(25_000)
    );
    let started = std::time::Instant::now();
    let read = synth.utterance(&big).unwrap();
    assert_eq!(read.segments.len(), 50_000);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_pipeline_reports_the_words_a_render_times() {
    let mut synth = synthesizer();
    let text = "<speak>One, two. <break time=\"300ms\"/> Three.</speak>";
    let rendered = speak(&mut synth, text);
    let mut config = PipelineConfig::new(synth.sample_rate());
    config.word_events = true;
    let (mut pipeline, mut reader) =
        Pipeline::start(synth, SynthesisOptions::default(), config).unwrap();
    pipeline.speak(text).unwrap();
    let mut words = Vec::new();
    let mut block = vec![0f32; 4096];
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        reader.read_available(&mut block);
        match pipeline.events().recv_timeout(Duration::from_millis(5)) {
            Ok(Event::Word { word, .. }) => words.push(word),
            Ok(Event::Synthesized { .. }) => break,
            Ok(Event::Failed { message, .. }) => panic!("{message}"),
            _ => assert!(std::time::Instant::now() < deadline, "no end"),
        }
    }
    assert_eq!(words, rendered.timings.words);
}

#[test]
fn an_overlong_language_tag_is_read_in_the_voices_language_with_a_warning() {
    // Found by the SSML fuzz target: such a tag, handed to espeak-ng as a voice name, overflowed
    // a buffer inside it and aborted the process.
    let tag = format!("en-{}.GB", "+".repeat(90));
    let ssml = format!(r#"<speak>One <lang xml:lang="{tag}">colour</lang> two.</speak>"#);
    let synth = synthesizer();
    let utterance = synth.ssml_utterance(&ssml).unwrap();
    assert!(
        utterance.warnings.iter().any(|w| w.contains("xml:lang")),
        "{:?}",
        utterance.warnings
    );
    let words: Vec<&str> = utterance.segments[0]
        .sentence
        .words
        .iter()
        .map(|w| w.text.as_str())
        .collect();
    assert_eq!(words, ["One", "colour", "two."]);
}
