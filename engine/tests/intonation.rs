//! The voice's own intonation, heard in the audio: with the harmonic vocoder the built-in voice's
//! intonation predictor sets F0, and `pitch_range` scales its swings (0: one pitch, at the
//! voice's mean). F0 is measured from the samples with the engine's autocorrelation tracker
//! (itself checked on tones and glides).

use mellow_engine::audio::f0::track_f0;
use mellow_engine::{SynthesisOptions, Synthesizer};

const HARMONIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/voices/harmonic.safetensors");
const TEXT: &str = "Who left the door open? She finished the report before noon.";

fn render(synth: &mut Synthesizer, range: f32) -> Vec<f32> {
    let options = SynthesisOptions {
        pitch_range: Some(range),
        ..Default::default()
    };
    synth.speak_text(TEXT, &options).unwrap().samples
}

/// F0 of each voiced frame, 10 ms apart.
fn f0_track(samples: &[f32], rate: u32) -> Vec<f32> {
    located_f0_track(samples, rate)
        .into_iter()
        .map(|(_, f0)| f0)
        .collect()
}

/// [`f0_track`] with each frame's centre sample.
fn located_f0_track(samples: &[f32], rate: u32) -> Vec<(usize, f32)> {
    let hop = rate as usize / 100;
    track_f0(samples, rate, hop)
        .into_iter()
        .enumerate()
        .filter_map(|(k, f0)| Some((k * hop + hop / 2, f0?)))
        .collect()
}

/// p10, p50 and p90 of a track.
fn percentiles(track: &[f32]) -> [f32; 3] {
    let mut sorted = track.to_vec();
    sorted.sort_by(f32::total_cmp);
    let at = |q: f32| sorted[((sorted.len() - 1) as f32 * q) as usize];
    [at(0.1), at(0.5), at(0.9)]
}

fn semitones(low: f32, high: f32) -> f32 {
    12.0 * (high / low).log2()
}

#[test]
fn the_pitch_range_scales_the_voices_own_intonation() {
    let mut synth = Synthesizer::for_names("", Some(HARMONIC), true).unwrap();
    let rate = synth.sample_rate();
    let tracks: Vec<[f32; 3]> = [0.0, 1.0, 2.0]
        .iter()
        .map(|&range| {
            let track = f0_track(&render(&mut synth, range), rate);
            assert!(track.len() > 50, "{} voiced frames", track.len());
            let [p10, p50, p90] = percentiles(&track);
            println!("range {range}: F0 p10 {p10:.1} p50 {p50:.1} p90 {p90:.1} Hz");
            [p10, p50, p90]
        })
        .collect();
    let [flat_p10, flat_median, flat_p90] = tracks[0];
    let flat = semitones(flat_p10, flat_p90);
    let own = semitones(tracks[1][0], tracks[1][2]);
    // One pitch, at the voice's mean (about 90 Hz for the built-in voice).
    assert!(flat < 1.0, "monotone span {flat} st");
    assert!((80.0..100.0).contains(&flat_median), "{flat_median} Hz");
    // The voice's own intonation moves (the mel's own pitch spanned 2–4 semitones here).
    assert!(own > 4.5, "span {own} st");
    // The range scales swings around the voice's mean, so the rise of the high notes above the
    // monotone doubles. (The low notes are no measure: doubled, they fall below the tracker's
    // 60 Hz floor and drop out.)
    let rise = |[_, _, p90]: [f32; 3]| semitones(flat_median, p90);
    let (own_rise, doubled_rise) = (rise(tracks[1]), rise(tracks[2]));
    assert!(
        (1.6..2.4).contains(&(doubled_rise / own_rise)),
        "range 2 rises {doubled_rise} st above the monotone against {own_rise}"
    );
}

#[test]
fn a_pitch_range_without_an_f0_aware_vocoder_is_refused_by_name() {
    let mut synth = Synthesizer::for_names("", Some("vocos"), true).unwrap();
    let options = SynthesisOptions {
        pitch_range: Some(0.5),
        ..Default::default()
    };
    let err = synth.speak_text(TEXT, &options).unwrap_err().to_string();
    assert!(
        err.contains("pitch range") && err.contains("harmonic vocoder"),
        "{err}"
    );
    // The voice's own range is no change at all, and speaks.
    let own = SynthesisOptions {
        pitch_range: Some(1.0),
        ..Default::default()
    };
    assert!(!synth.speak_text(TEXT, &own).unwrap().samples.is_empty());
}

/// Median distance in semitones between a track and the curve asked, frame by frame (the
/// curve stretched over the samples as over the frames).
fn median_error(track: &[(usize, f32)], asked: impl Fn(f32) -> f32, samples: usize) -> f32 {
    let mut errors: Vec<f32> = track
        .iter()
        .map(|&(at, f0)| semitones(asked(at as f32 / samples as f32), f0).abs())
        .collect();
    errors.sort_by(f32::total_cmp);
    errors[errors.len() / 2]
}

#[test]
fn a_conditioning_files_curve_in_hz_is_the_pitch_heard() {
    use mellow_engine::conditioning::Conditioning;
    let mut synth = Synthesizer::for_names("", Some(HARMONIC), true).unwrap();
    let rate = synth.sample_rate();
    let opts = synth.resolve(&SynthesisOptions::default()).unwrap();
    let say = |synth: &mut Synthesizer, curve: &str| {
        let json = format!(
            r#"{{"phonemes": "maɪ nˈeɪm ɪz ɐ lˈɔŋ wˈʌn", "durations": [9, 12, 14, 6, 8, 12, 16, 9, 8, 12, 9, 8, 9, 12, 16, 12, 6, 10, 12, 16, 14, 12, 10, 12], "pitch_hz": {curve}}}"#
        );
        let utterance = synth
            .conditioned_utterance(&Conditioning::from_json(&json).unwrap())
            .unwrap();
        let mut samples = Vec::new();
        synth.speak(&utterance, &opts, rate, &mut samples).unwrap();
        samples
    };
    let monotone = say(&mut synth, "[120]");
    let track = located_f0_track(&monotone, rate);
    let error = median_error(&track, |_| 120.0, monotone.len());
    println!(
        "monotone 120 Hz: median error {error:.3} st over {} frames",
        track.len()
    );
    assert!(track.len() > 40 && error < 0.5, "{error} st");
    let glide = say(&mut synth, "[100, 220]");
    let track = located_f0_track(&glide, rate);
    let error = median_error(&track, |x| 100.0 * 2.2f32.powf(x), glide.len());
    println!(
        "glide 100-220 Hz: median error {error:.3} st over {} frames",
        track.len()
    );
    assert!(track.len() > 40 && error < 0.5, "{error} st");

    // Without an F0-aware vocoder the curve cannot be played, and that is said.
    let mut plain = Synthesizer::for_names("", Some("vocos"), true).unwrap();
    let json = r#"{"phonemes": "maɪ", "durations": [9, 12, 10], "pitch_hz": [120]}"#;
    let utterance = plain
        .conditioned_utterance(&Conditioning::from_json(json).unwrap())
        .unwrap();
    let opts = plain.resolve(&SynthesisOptions::default()).unwrap();
    let err = plain
        .speak(&utterance, &opts, rate, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("F0-aware vocoder"), "{err}");
}

#[test]
fn a_voices_duration_scale_lengthens_its_phonemes_and_is_checked() {
    use mellow_engine::voice::embedded::default_voice;
    use std::collections::HashMap;
    let with_scale = |scale: f32| {
        let tensor = candle_core::Tensor::new(&[scale], &candle_core::Device::Cpu).unwrap();
        default_voice()
            .unwrap()
            .unwrap()
            .with_tensors(HashMap::from([(
                "prosody.duration_scale".to_string(),
                tensor,
            )]))
    };
    let length = |scale: f32| {
        let mut synth = Synthesizer::new(&with_scale(scale), None).unwrap();
        synth
            .speak_text(TEXT, &SynthesisOptions::default())
            .unwrap()
            .samples
            .len() as f32
    };
    let (plain, slower) = (length(1.0), length(1.5));
    assert!(
        (1.4..1.6).contains(&(slower / plain)),
        "{slower} samples against {plain}"
    );
    let err = Synthesizer::new(&with_scale(3.0), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("prosody.duration_scale"), "{err}");
}
