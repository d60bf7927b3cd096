//! A melody typed as text: note names with lengths in beats, `r` for a rest, repeated until
//! every syllable of a lyric has its note: `C4 D4 E4:2 r G4:0.5`.

use super::melody::{Melody, Note};
use crate::error::{Error, Result};

/// Tempi a tune may be played at, in beats per minute.
pub const BPM: std::ops::RangeInclusive<f64> = 20.0..=400.0;
/// Most steps a tune may have.
const MAX_STEPS: usize = 10_000;

/// One step of a tune: a key (MIDI number) or a rest, for some beats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TuneStep {
    pub key: Option<i32>,
    pub beats: f64,
}

/// Reads `C4`, `F#3:2`, `Bb4:0.5`, `r:1` (octave 4 holds middle C; the length in beats after a
/// colon, 1 when left out).
///
/// ```
/// use mellow_engine::sing::tune::parse_tune;
/// let steps = parse_tune("C4 A4:2 r:0.5").unwrap();
/// assert_eq!(steps[0].key, Some(60));
/// assert_eq!((steps[1].key, steps[1].beats), (Some(69), 2.0));
/// assert_eq!(steps[2].key, None);
/// assert!(parse_tune("H4").is_err());
/// ```
pub fn parse_tune(tune: &str) -> Result<Vec<TuneStep>> {
    let steps: Vec<TuneStep> = tune
        .split_whitespace()
        .map(parse_step)
        .collect::<Result<_>>()?;
    if !steps.iter().any(|s| s.key.is_some()) {
        return Err(Error::input("the tune has no notes"));
    }
    if steps.len() > MAX_STEPS {
        return Err(Error::input(format!(
            "the tune has more than {MAX_STEPS} steps"
        )));
    }
    Ok(steps)
}

fn parse_step(token: &str) -> Result<TuneStep> {
    let bad = |why: &str| Error::input(format!("tune step `{token}`: {why}"));
    let (name, beats) = match token.split_once(':') {
        Some((name, beats)) => (
            name,
            beats
                .parse::<f64>()
                .ok()
                .filter(|b| b.is_finite() && *b > 0.0 && *b <= 64.0)
                .ok_or_else(|| bad("the length must be 0..=64 beats"))?,
        ),
        None => (token, 1.0),
    };
    if name.eq_ignore_ascii_case("r") {
        return Ok(TuneStep { key: None, beats });
    }
    let mut chars = name.chars();
    let letter = chars.next().ok_or_else(|| bad("no note name"))?;
    let pitch_class = match letter.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return Err(bad("a note is C, D, E, F, G, A or B, or r for a rest")),
    };
    let rest = chars.as_str();
    let (accidental, octave) = match rest.chars().next() {
        Some('#') => (1, &rest[1..]),
        Some('b') => (-1, &rest[1..]),
        _ => (0, rest),
    };
    let octave: i32 = octave
        .parse()
        .ok()
        .filter(|o| (-1..=9).contains(o))
        .ok_or_else(|| bad("the octave must be -1..=9"))?;
    Ok(TuneStep {
        key: Some(12 * (octave + 1) + pitch_class + accidental),
        beats,
    })
}

/// `notes` notes of the tune at `bpm`, its steps repeated as often as needed (rests keep their
/// time), each note `legato` of its step (1 = to the next step's start).
///
/// ```
/// use mellow_engine::sing::tune::{parse_tune, tune_melody};
/// let m = tune_melody(&parse_tune("C4 r E4").unwrap(), 3, 120.0, 0.9).unwrap();
/// assert_eq!(m.notes.len(), 3);
/// assert!((m.notes[1].start - 1.0).abs() < 1e-9); // after the rest
/// assert!((m.notes[2].start - 1.5).abs() < 1e-9); // the tune again from its start
/// ```
pub fn tune_melody(steps: &[TuneStep], notes: usize, bpm: f64, legato: f64) -> Result<Melody> {
    if !BPM.contains(&bpm) {
        return Err(Error::input(format!(
            "a tempo of {bpm} bpm is outside {}..={}",
            BPM.start(),
            BPM.end()
        )));
    }
    if !(legato > 0.0 && legato <= 1.0) {
        return Err(Error::input("legato must be in 0..=1 (of each step)"));
    }
    let beat = 60.0 / bpm;
    let mut out = Vec::with_capacity(notes);
    let mut time = 0.0;
    for step in steps.iter().cycle() {
        if out.len() == notes {
            break;
        }
        if let Some(key) = step.key {
            out.push(Note {
                start: time,
                end: time + step.beats * beat * legato,
                key,
                velocity: 100,
            });
        }
        time += step.beats * beat;
    }
    Melody::from_notes(out)
}
