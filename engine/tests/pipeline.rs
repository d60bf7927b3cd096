//! The streaming pipeline with the built-in voice: what a consumer receives equals the whole
//! render, a cancel silences the output within 20 ms, and errors come back as events.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mellow_engine::stream::{Event, Pipeline, PipelineConfig, SampleReader};
use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{SynthesisOptions, Synthesizer};

const TEXT: &str =
    "Streaming starts before the text is done. The second sentence follows a short pause.";

fn synthesizer() -> Synthesizer {
    let voice = default_voice()
        .expect("this build embeds the default voice")
        .expect("the embedded voice loads");
    Synthesizer::new(&voice, None).expect("the voice builds")
}

/// Everything the consumer receives until `utterance` has been played to its end.
fn collect(reader: &mut SampleReader, utterance: u64) -> Vec<f32> {
    let mut all = Vec::new();
    let mut buf = vec![0f32; 4096];
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n = reader.read_available(&mut buf);
        all.extend_from_slice(&buf[..n]);
        if n == 0 {
            if reader.state().finished_utterance() >= utterance {
                return all;
            }
            assert!(Instant::now() < deadline, "the pipeline stalled");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn streamed_audio_equals_the_whole_render() {
    let options = SynthesisOptions::default();
    let whole = synthesizer().speak_text(TEXT, &options).unwrap();
    let rate = whole.sample_rate;
    let (mut pipeline, mut reader) =
        Pipeline::start(synthesizer(), options, PipelineConfig::new(rate)).unwrap();
    let id = pipeline.speak(TEXT).unwrap();
    let streamed = collect(&mut reader, id);
    let diff = max_abs_diff(&whole.samples, &streamed);
    println!("chunked vs whole render: max abs difference {diff:e}");
    assert!(diff <= 1e-4, "max abs difference {diff}");
    assert_eq!(reader.state().underruns(), 0);
    let events: Vec<Event> = pipeline.events().try_iter().collect();
    assert!(matches!(events[0], Event::FirstAudio { utterance, .. } if utterance == id));
    assert!(events.contains(&Event::Synthesized {
        utterance: id,
        samples: whole.samples.len() as u64
    }));
}

#[test]
fn a_stream_with_the_voices_intonation_equals_the_whole_render() {
    // The harmonic vocoder plays the intonation predictor's F0, made window by window.
    let harmonic = concat!(env!("CARGO_MANIFEST_DIR"), "/voices/harmonic.safetensors");
    let text = "Streaming starts before the text is done, and the intonation is made window by \
                window as the encoder runs. The second sentence follows a short pause.";
    let options = SynthesisOptions {
        pitch_range: Some(1.5),
        pitch: 2.0,
        ..Default::default()
    };
    let synth = || Synthesizer::for_names("", Some(harmonic), true).unwrap();
    let whole = synth().speak_text(text, &options).unwrap();
    let (mut pipeline, mut reader) =
        Pipeline::start(synth(), options, PipelineConfig::new(whole.sample_rate)).unwrap();
    let id = pipeline.speak(text).unwrap();
    let streamed = collect(&mut reader, id);
    let diff = max_abs_diff(&whole.samples, &streamed);
    assert!(diff <= 1e-4, "max abs difference {diff}");
}

#[test]
fn streamed_audio_at_the_device_rate_equals_the_resampled_render() {
    let options = SynthesisOptions::default();
    let whole = synthesizer().speak_text(TEXT, &options).unwrap();
    let whole = mellow_engine::audio::resample::resample(&whole.samples, whole.sample_rate, 48_000)
        .unwrap();
    let (mut pipeline, mut reader) =
        Pipeline::start(synthesizer(), options, PipelineConfig::new(48_000)).unwrap();
    let id = pipeline.speak(TEXT).unwrap();
    let streamed = collect(&mut reader, id);
    let diff = max_abs_diff(&whole, &streamed);
    assert!(diff <= 1e-4, "max abs difference {diff}");
}

#[test]
fn a_cancel_silences_the_output_within_20_ms_and_the_next_text_plays() {
    let rate = 22_050;
    let (mut pipeline, mut reader) = Pipeline::start(
        synthesizer(),
        SynthesisOptions::default(),
        PipelineConfig::new(rate),
    )
    .unwrap();
    let epoch = Instant::now();
    let cancelled_at = Arc::new(AtomicU64::new(u64::MAX));
    let silent_at = Arc::new(AtomicU64::new(u64::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    // A device asking for 5 ms of audio every 5 ms.
    let device = {
        let (cancelled_at, silent_at, stop) =
            (cancelled_at.clone(), silent_at.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut period = vec![0f32; rate as usize / 200];
            let mut heard_after_cancel = false;
            while !stop.load(Ordering::Relaxed) {
                reader.fill(&mut period);
                let now = epoch.elapsed().as_micros() as u64;
                let loud = period.iter().any(|s| s.abs() > 1e-3);
                if now > cancelled_at.load(Ordering::Acquire) && !loud && !heard_after_cancel {
                    heard_after_cancel = true;
                    silent_at.store(now, Ordering::Release);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            reader
        })
    };
    pipeline
        .speak("This sentence is long enough to be cut off in the middle of a word, long before it ends.")
        .unwrap();
    wait_for(&pipeline, |e| matches!(e, Event::FirstAudio { .. }));
    std::thread::sleep(Duration::from_millis(300));
    cancelled_at.store(epoch.elapsed().as_micros() as u64, Ordering::Release);
    pipeline.cancel();
    std::thread::sleep(Duration::from_millis(100));
    let delay_ms =
        (silent_at.load(Ordering::Acquire) - cancelled_at.load(Ordering::Acquire)) as f64 / 1000.0;
    println!("cancel → silence: {delay_ms:.1} ms");
    assert!(
        delay_ms <= 20.0,
        "silence came {delay_ms} ms after the cancel"
    );
    // The pipeline goes on with the next text.
    let next = pipeline.speak("Next.").unwrap();
    wait_for(
        &pipeline,
        |e| matches!(e, Event::Synthesized { utterance, .. } if *utterance == next),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while pipeline.state().finished_utterance() < next {
        assert!(
            Instant::now() < deadline,
            "the text after a cancel did not play"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    device.join().unwrap();
}

#[test]
fn bad_text_is_reported_and_the_pipeline_goes_on() {
    let (mut pipeline, mut reader) = Pipeline::start(
        synthesizer(),
        SynthesisOptions::default(),
        PipelineConfig::new(22_050),
    )
    .unwrap();
    let bad = pipeline.speak("   ").unwrap();
    let event = wait_for(&pipeline, |e| matches!(e, Event::Failed { .. }));
    match event {
        Event::Failed { utterance, message } => {
            assert_eq!(utterance, bad);
            assert!(
                message.contains("nothing to speak") || message.contains("empty"),
                "{message}"
            );
        }
        _ => unreachable!(),
    }
    let good = pipeline.speak("Fine.").unwrap();
    assert!(!collect(&mut reader, good).is_empty());
}

#[test]
fn options_are_checked_when_the_pipeline_starts() {
    let options = SynthesisOptions {
        steps: Some(0),
        ..Default::default()
    };
    let err = Pipeline::start(synthesizer(), options, PipelineConfig::new(22_050)).err();
    assert!(err.unwrap().to_string().contains("steps"));
    let err = Pipeline::start(
        synthesizer(),
        SynthesisOptions::default(),
        PipelineConfig::new(1_000),
    )
    .err();
    assert!(err.unwrap().to_string().contains("1000 Hz"));
}

fn wait_for(pipeline: &Pipeline, wanted: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match pipeline.events().recv_timeout(left) {
            Ok(e) if wanted(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("the expected event did not come"),
        }
    }
}

#[test]
fn text_faster_than_playback_is_held_back_and_nothing_is_lost() {
    let mut config = PipelineConfig::new(22_050);
    config.ring_seconds = 1.0;
    let (mut pipeline, mut reader) =
        Pipeline::start(synthesizer(), SynthesisOptions::default(), config).unwrap();
    // Nobody plays yet: the ring fills, the worker waits, then the queue fills.
    let mut queued = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while pipeline.try_speak("One more line.").unwrap().is_some() {
        queued += 1;
        assert!(Instant::now() < deadline, "the queue never filled");
    }
    assert!(queued >= mellow_engine::stream::pipeline::QUEUE_LENGTH);
    // Playback starts; a blocking speak waits for room instead of failing.
    let last = std::thread::scope(|s| {
        let player = s.spawn(|| collect(&mut reader, queued as u64 + 1));
        let last = pipeline.speak("The last line.").unwrap();
        let played = player.join().unwrap();
        assert_eq!(last, queued as u64 + 1);
        played
    });
    let synthesized: u64 = pipeline
        .events()
        .try_iter()
        .filter_map(|e| match e {
            Event::Synthesized { samples, .. } => Some(samples),
            _ => None,
        })
        .sum();
    assert_eq!(
        last.len() as u64,
        synthesized,
        "every synthesised sample was played"
    );
    assert!(pipeline
        .events()
        .try_iter()
        .all(|e| !matches!(e, Event::Failed { .. })));
}
