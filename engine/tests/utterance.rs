//! The utterance loop's framing: text starts after a short lead-in (a soft first sound at the very
//! first sample gets lost), a conditioning file at its first frame; a sink may stop an utterance.

use mellow_engine::conditioning::Conditioning;
use mellow_engine::synth::LEAD_IN;
use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{Outcome, SpeechSink, SynthesisOptions, Synthesizer};

fn synthesizer() -> Synthesizer {
    let voice = default_voice()
        .expect("this build embeds the default voice")
        .expect("the embedded voice loads");
    Synthesizer::new(&voice, None).expect("the voice builds")
}

fn loudest(samples: &[f32]) -> f32 {
    samples.iter().fold(0f32, |m, s| m.max(s.abs()))
}

#[test]
fn text_starts_after_the_lead_in_and_conditioning_at_once() {
    let mut synth = synthesizer();
    let rate = synth.sample_rate();
    let lead_in = (LEAD_IN * rate as f32) as usize;
    let opts = synth.resolve(&SynthesisOptions::default()).unwrap();
    let text = synth.utterance("She finished the report.").unwrap();
    let mut spoken = Vec::new();
    synth.speak(&text, &opts, rate, &mut spoken).unwrap();
    assert_eq!(loudest(&spoken[..lead_in]), 0.0);
    assert!(loudest(&spoken[lead_in..lead_in + rate as usize / 10]) > 0.01);

    let conditioning =
        Conditioning::from_json(r#"{"phonemes": "ʃiː", "durations": [9, 9, 9]}"#).unwrap();
    let given = synth.conditioned_utterance(&conditioning).unwrap();
    let mut spoken = Vec::new();
    synth.speak(&given, &opts, rate, &mut spoken).unwrap();
    assert_eq!(spoken.len(), 27 * 256);
    assert!(loudest(&spoken[..lead_in]) > 0.0);
}

#[test]
fn the_lead_in_is_an_option() {
    let mut synth = synthesizer();
    let rate = synth.sample_rate();
    let text = synth.utterance("She finished the report.").unwrap();
    let at_once = SynthesisOptions {
        lead_in: Some(0.0),
        ..Default::default()
    };
    let opts = synth.resolve(&at_once).unwrap();
    let mut spoken = Vec::new();
    synth.speak(&text, &opts, rate, &mut spoken).unwrap();
    assert!(loudest(&spoken[..(LEAD_IN * rate as f32) as usize]) > 0.0);
    let endless = SynthesisOptions {
        lead_in: Some(11.0),
        ..Default::default()
    };
    let err = synth.resolve(&endless).unwrap_err().to_string();
    assert!(err.contains("lead-in"), "{err}");
}

/// Takes samples until it has `wanted`, then says stop.
struct Enough {
    samples: Vec<f32>,
    wanted: usize,
}

impl SpeechSink for Enough {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        self.samples.extend_from_slice(samples);
        Ok(self.samples.len() < self.wanted)
    }
}

#[test]
fn a_sink_stops_the_utterance_at_the_next_chunk() {
    let mut synth = synthesizer();
    let opts = synth.resolve(&SynthesisOptions::default()).unwrap();
    let utterance = synth
        .utterance("A long first sentence that goes on and on. And a second one after it.")
        .unwrap();
    let mut sink = Enough {
        samples: Vec::new(),
        wanted: 4096,
    };
    let outcome = synth.speak(&utterance, &opts, 48_000, &mut sink).unwrap();
    assert_eq!(outcome, Outcome::Stopped);
    assert!(
        sink.samples.len() < 48_000,
        "{} samples",
        sink.samples.len()
    );
}

#[test]
fn a_segment_spoken_from_its_made_mel_sounds_the_same_and_another_segments_mel_is_refused() {
    let mut synth = synthesizer();
    let rate = synth.sample_rate();
    let opts = synth.resolve(&SynthesisOptions::default()).unwrap();
    let mut text = synth.utterance("Ready when you are.").unwrap();
    let mut spoken = Vec::new();
    synth.speak(&text, &opts, rate, &mut spoken).unwrap();
    let made = synth
        .segment_mel(&text.segments[0], &opts, &mut || true)
        .unwrap()
        .expect("not stopped");
    text.segments[0].mel = Some(made.clone());
    let mut from_mel = Vec::new();
    synth.speak(&text, &opts, rate, &mut from_mel).unwrap();
    assert_eq!(from_mel.len(), spoken.len());
    let worst = from_mel
        .iter()
        .zip(&spoken)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 1e-5, "{worst}");
    // A mel made for another sentence does not fit this one's ids: an error naming both.
    let mut other = synth
        .utterance("A much longer sentence than that one.")
        .unwrap();
    other.segments[0].mel = Some(made);
    let err = synth
        .speak(&other, &opts, rate, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not fit a segment"), "{err}");
}
