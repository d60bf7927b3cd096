//! Syllables on notes: where each phoneme starts and ends, the F0 of every frame and the gain of
//! every id. A syllable's vowel holds from its note-on to its note-off; its onset consonants
//! come before the note-on (as singers place them, so the vowel lands on the beat) and its coda
//! after the note-off; where the next note leaves no room, the consonants between take it from
//! the end of the vowel before. A silence between notes cuts the melody into phrases, each
//! spoken by the model at once.

use std::ops::Range;

use super::melody::{Melody, Note};
use super::syllables::Syllable;

/// Longest onset or coda, in seconds: a consonant cluster is squeezed to this at most.
const MAX_CLUSTER_SECONDS: f64 = 0.25;
/// The shortest a vowel may be squeezed to by the consonants after it.
const MIN_VOWEL_SECONDS: f64 = 0.03;
/// Of a nucleus, what is not its first vowel (a diphthong's glide, marks) takes at most this
/// share; the first vowel holds the rest.
const MAX_GLIDE_SHARE: f64 = 0.35;
/// Vibrato starts this long after a note-on and reaches its depth over the same time again.
const VIBRATO_ONSET_SECONDS: f64 = 0.2;
/// Velocity 100 plays at the voice's level; the gain follows velocity squared (40·log10).
const REFERENCE_VELOCITY: f64 = 100.0;
const VELOCITY_DB: std::ops::RangeInclusive<f64> = -30.0..=4.0;

/// How notes become pitch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SingSettings {
    /// Semitones of a full pitch bend (default 2).
    pub bend_range: f32,
    /// Vibrato depth at full mod wheel, in semitones either way (default 0.5).
    pub vibrato_depth: f32,
    /// Vibrato rate in Hz (default 5.5).
    pub vibrato_rate: f32,
    /// The mod wheel (0–1) wherever the melody has none (default 0: no vibrato).
    pub vibrato: f32,
    /// Time to glide into a note from the one before, in seconds (default 0.04).
    pub portamento: f32,
}

impl Default for SingSettings {
    fn default() -> Self {
        Self {
            bend_range: 2.0,
            vibrato_depth: 0.5,
            vibrato_rate: 5.5,
            vibrato: 0.0,
            portamento: 0.04,
        }
    }
}

/// Bounds of the settings, named in errors.
pub(super) const BEND_RANGE: std::ops::RangeInclusive<f32> = 0.0..=24.0;
pub(super) const VIBRATO_DEPTH: std::ops::RangeInclusive<f32> = 0.0..=3.0;
pub(super) const VIBRATO_RATE: std::ops::RangeInclusive<f32> = 0.1..=20.0;
pub(super) const PORTAMENTO: std::ops::RangeInclusive<f32> = 0.0..=2.0;

/// One syllable of the lyric: which sentence of the reading holds it, its ids there, and what
/// it says.
#[derive(Debug, Clone)]
pub struct LyricSyllable {
    pub sentence: usize,
    pub syllable: Syllable,
    pub phonemes: String,
}

/// What a note sings: the next syllable, or the one before held over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Syllable(usize),
    Hold,
}

/// A syllable with its notes, as sung.
#[derive(Debug, Clone)]
pub struct SungSyllable {
    pub syllable: usize,
    pub notes: Range<usize>,
    /// Onset start, vowel start, vowel end, coda end (seconds).
    pub onset_start: f64,
    pub vowel_start: f64,
    pub vowel_end: f64,
    pub coda_end: f64,
}

/// A stretch of singing without a silence, spoken by the model at once.
#[derive(Debug, Clone)]
pub struct Phrase {
    pub sentence: usize,
    /// When its first frame starts, in seconds.
    pub start: f64,
    /// Frames per id of the sentence (0 outside the phrase).
    pub durations: Vec<f32>,
    /// F0 in Hz of each of its frames.
    pub f0_hz: Vec<f32>,
    /// Gain of each id in dB (velocity).
    pub gains_db: Vec<f32>,
}

/// The lyric laid on the melody.
#[derive(Debug, Clone, Default)]
pub struct Score {
    pub syllables: Vec<SungSyllable>,
    pub phrases: Vec<Phrase>,
    pub warnings: Vec<String>,
}

/// Frames of the acoustic model per second, and its natural durations per id of each sentence.
pub struct Timing<'a> {
    pub frames_per_second: f64,
    pub natural: &'a [Vec<f32>],
}

/// Lays `syllables` (with `slots`, one per note) on `melody`.
pub fn score(
    syllables: &[LyricSyllable],
    slots: &[Slot],
    melody: &Melody,
    timing: &Timing,
    settings: &SingSettings,
) -> Score {
    let mut out = Score::default();
    let notes = &melody.notes;
    // Notes to syllables.
    for (n, slot) in slots.iter().enumerate().take(notes.len()) {
        match slot {
            Slot::Syllable(s) => out.syllables.push(SungSyllable {
                syllable: *s,
                notes: n..n + 1,
                onset_start: 0.0,
                vowel_start: 0.0,
                vowel_end: 0.0,
                coda_end: 0.0,
            }),
            Slot::Hold => match out.syllables.last_mut() {
                Some(last) => last.notes.end = n + 1,
                None => out
                    .warnings
                    .push("a `+` before the first syllable holds nothing".into()),
            },
        }
    }
    if notes.len() > slots.len() {
        out.warnings.push(format!(
            "the melody has {} notes and the lyric {} syllables and holds: the last {} notes stay silent",
            notes.len(),
            slots.len(),
            notes.len() - slots.len()
        ));
    } else if slots.len() > notes.len() {
        out.warnings.push(format!(
            "the lyric has {} syllables and holds and the melody {} notes: the last {} are not sung",
            slots.len(),
            notes.len(),
            slots.len() - notes.len()
        ));
    }
    let seconds = |sentence: usize, ids: Range<usize>| -> f64 {
        ids.map(|i| timing.natural[sentence][i] as f64).sum::<f64>() / timing.frames_per_second
    };
    let cluster =
        |s: &LyricSyllable, ids: Range<usize>| seconds(s.sentence, ids).min(MAX_CLUSTER_SECONDS);
    // Vowels on the notes, consonants around them.
    let count = out.syllables.len();
    for g in 0..count {
        let lyric = &syllables[out.syllables[g].syllable];
        let onset = cluster(lyric, lyric.syllable.onset.clone());
        let coda = cluster(lyric, lyric.syllable.coda.clone());
        let on = notes[out.syllables[g].notes.start].start;
        let off = notes[out.syllables[g].notes.end - 1].end;
        if g == 0 {
            let start = (on - onset).max(0.0);
            out.syllables[g].onset_start = start;
            out.syllables[g].vowel_start = on.max(start + onset);
        } else {
            let prev = &out.syllables[g - 1];
            let prev_lyric = &syllables[prev.syllable];
            let prev_coda = cluster(prev_lyric, prev_lyric.syllable.coda.clone());
            let prev_off = notes[prev.notes.end - 1].end;
            let (vowel_end, coda_end, onset_start, vowel_start);
            if on - prev_off >= prev_coda + onset {
                vowel_end = prev_off;
                coda_end = prev_off + prev_coda;
                onset_start = on - onset;
                vowel_start = on;
            } else {
                let earliest = prev.vowel_start + MIN_VOWEL_SECONDS;
                let start = (on - prev_coda - onset).max(earliest).min(on);
                let room = on - start;
                let squeeze = if prev_coda + onset > 0.0 {
                    room / (prev_coda + onset)
                } else {
                    1.0
                };
                vowel_end = start;
                coda_end = start + prev_coda * squeeze;
                onset_start = coda_end;
                vowel_start = on;
            }
            let prev = &mut out.syllables[g - 1];
            prev.vowel_end = vowel_end.max(prev.vowel_start);
            prev.coda_end = coda_end.max(prev.vowel_end);
            out.syllables[g].onset_start = onset_start.max(out.syllables[g - 1].coda_end);
            out.syllables[g].vowel_start = vowel_start.max(out.syllables[g].onset_start);
        }
        if g + 1 == count {
            let last = &mut out.syllables[g];
            last.vowel_end = off.max(last.vowel_start);
            last.coda_end = last.vowel_end + coda;
        }
    }
    // Phrases: cut where a silence or a new sentence comes between syllables.
    let mut start = 0;
    for g in 0..count {
        let ends_here = g + 1 == count
            || out.syllables[g + 1].onset_start > out.syllables[g].coda_end + 1e-9
            || syllables[out.syllables[g + 1].syllable].sentence
                != syllables[out.syllables[g].syllable].sentence;
        if ends_here {
            let phrase = phrase(
                &out.syllables[start..=g],
                syllables,
                melody,
                timing,
                settings,
            );
            out.phrases.push(phrase);
            start = g + 1;
        }
    }
    out
}

/// One phrase's durations, F0 and gains.
fn phrase(
    sung: &[SungSyllable],
    syllables: &[LyricSyllable],
    melody: &Melody,
    timing: &Timing,
    settings: &SingSettings,
) -> Phrase {
    let sentence = syllables[sung[0].syllable].sentence;
    let natural = &timing.natural[sentence];
    let fps = timing.frames_per_second;
    let t0 = sung[0].onset_start;
    let mut durations = vec![0f32; natural.len()];
    let mut gains_db = vec![0f32; natural.len()];
    // Each id's end time, in order; frames are the rounded differences.
    let mut ends: Vec<(usize, f64)> = Vec::new();
    for s in sung {
        let lyric = &syllables[s.syllable].syllable;
        spread(
            &lyric.onset,
            natural,
            s.onset_start..s.vowel_start,
            &mut ends,
        );
        nucleus_times(lyric, natural, fps, s.vowel_start..s.vowel_end, &mut ends);
        spread(&lyric.coda, natural, s.vowel_end..s.coda_end, &mut ends);
        let velocity = melody.notes[s.notes.start].velocity as f64;
        let db = (40.0 * (velocity / REFERENCE_VELOCITY).log10())
            .clamp(*VELOCITY_DB.start(), *VELOCITY_DB.end());
        gains_db[lyric.onset.start..lyric.coda.end].fill(db as f32);
    }
    let mut frame = 0i64;
    for (id, end) in &ends {
        let end_frame = ((end - t0) * fps).round() as i64;
        durations[*id] = (end_frame - frame).max(0) as f32;
        frame = frame.max(end_frame);
    }
    let frames = frame.max(1) as usize;
    let f0_hz = (0..frames)
        .map(|k| f0_at(t0 + (k as f64 + 0.5) / fps, sung, melody, settings) as f32)
        .collect();
    Phrase {
        sentence,
        start: t0,
        durations,
        f0_hz,
        gains_db,
    }
}

/// `ids` spread over `time` in proportion to their natural durations (equally where those are
/// all zero).
fn spread(ids: &Range<usize>, natural: &[f32], time: Range<f64>, ends: &mut Vec<(usize, f64)>) {
    let total: f64 = ids.clone().map(|i| natural[i] as f64).sum();
    let mut t = time.start;
    for i in ids.clone() {
        let share = match total > 0.0 {
            true => natural[i] as f64 / total,
            false => 1.0 / ids.len() as f64,
        };
        t += (time.end - time.start) * share;
        ends.push((i, t));
    }
}

/// The nucleus over `time`: its main vowel (the longest in a normal reading) holds, the rest
/// keep their natural length (together at most [`MAX_GLIDE_SHARE`] of it).
fn nucleus_times(
    syllable: &Syllable,
    natural: &[f32],
    frames_per_second: f64,
    time: Range<f64>,
    ends: &mut Vec<(usize, f64)>,
) {
    let ids = syllable.nucleus.clone();
    let Some(main) = ids
        .clone()
        .max_by(|&a, &b| natural[a].total_cmp(&natural[b]).then(b.cmp(&a)))
    else {
        return;
    };
    let length = (time.end - time.start).max(0.0);
    let seconds = |r: Range<usize>| r.map(|i| natural[i] as f64).sum::<f64>() / frames_per_second;
    let rest = seconds(ids.start..main) + seconds(main + 1..ids.end);
    let scale = match rest > length * MAX_GLIDE_SHARE {
        true => length * MAX_GLIDE_SHARE / rest,
        false => 1.0,
    };
    let mut t = time.start;
    for (i, d) in natural.iter().enumerate().take(main).skip(ids.start) {
        t += *d as f64 / frames_per_second * scale;
        ends.push((i, t));
    }
    t = time.end - seconds(main + 1..ids.end) * scale;
    ends.push((main, t));
    for (i, d) in natural.iter().enumerate().take(ids.end).skip(main + 1) {
        t += *d as f64 / frames_per_second * scale;
        ends.push((i, t));
    }
}

/// The F0 asked at `time`: the note sounding (the next one from its onset consonants on), with
/// its glide from the note before, the pitch bend and the vibrato.
fn f0_at(time: f64, sung: &[SungSyllable], melody: &Melody, settings: &SingSettings) -> f64 {
    let notes = &melody.notes;
    // The syllable whose onset has begun last.
    let g = sung.partition_point(|s| s.onset_start <= time).max(1) - 1;
    let s = &sung[g];
    // Within the syllable, the last of its notes that has started (its first before that).
    let n = (s.notes.start..s.notes.end)
        .rev()
        .find(|&n| notes[n].start <= time)
        .unwrap_or(s.notes.start);
    let note: &Note = &notes[n];
    let mut semitones = note.key as f64;
    // Portamento from the note before, where it is close enough to glide from.
    if n > 0 && settings.portamento > 0.0 {
        let before = &notes[n - 1];
        let since = time - note.start;
        if note.start - before.end < 0.1 && since < settings.portamento as f64 {
            let x = (since.max(0.0) / settings.portamento as f64).min(1.0);
            let eased = 0.5 - 0.5 * (std::f64::consts::PI * x).cos();
            semitones = before.key as f64 + (note.key - before.key) as f64 * eased;
        }
    }
    semitones += melody.bend_at(time) * settings.bend_range as f64;
    let wheel = if melody.modulation.is_empty() {
        settings.vibrato as f64
    } else {
        melody.modulation_at(time)
    };
    let since = time - note.start - VIBRATO_ONSET_SECONDS;
    if wheel > 0.0 && since > 0.0 {
        let fade = (since / VIBRATO_ONSET_SECONDS).min(1.0);
        let phase = std::f64::consts::TAU * settings.vibrato_rate as f64 * since;
        semitones += wheel * settings.vibrato_depth as f64 * fade * phase.sin();
    }
    440.0 * 2f64.powf((semitones - 69.0) / 12.0)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `n` one-syllable words of [onset, nucleus, coda] ids, and their natural frames (5, 8, 4).
    pub(in crate::sing) fn lyric(n: usize) -> (Vec<LyricSyllable>, Vec<Vec<f32>>) {
        let syllables = (0..n)
            .map(|k| LyricSyllable {
                sentence: 0,
                syllable: Syllable {
                    onset: 3 * k..3 * k + 1,
                    nucleus: 3 * k + 1..3 * k + 2,
                    coda: 3 * k + 2..3 * k + 3,
                },
                phonemes: "lal".into(),
            })
            .collect();
        (syllables, vec![[5.0, 8.0, 4.0].repeat(n)])
    }

    fn note(start: f64, end: f64, key: i32) -> Note {
        Note {
            start,
            end,
            key,
            velocity: 100,
        }
    }

    #[test]
    fn vowels_hold_from_note_on_to_note_off_and_rests_cut_phrases() {
        let (syllables, natural) = lyric(3);
        let melody = Melody::from_notes(vec![
            note(0.5, 1.0, 60),
            note(1.5, 2.0, 62),
            note(2.0, 3.0, 64),
        ])
        .unwrap();
        let slots = [Slot::Syllable(0), Slot::Syllable(1), Slot::Syllable(2)];
        let timing = Timing {
            frames_per_second: 22_050.0 / 256.0,
            natural: &natural,
        };
        let score = score(
            &syllables,
            &slots,
            &melody,
            &timing,
            &SingSettings::default(),
        );
        let s = &score.syllables;
        assert!((s[0].vowel_start - 0.5).abs() < 1e-9 && (s[0].vowel_end - 1.0).abs() < 1e-9);
        assert!((s[1].vowel_start - 1.5).abs() < 1e-9);
        // Legato into the third note: the consonants between come out of the second vowel.
        assert!(s[1].vowel_end < 2.0 && s[1].vowel_end > 1.85, "{:?}", s[1]);
        assert!((s[2].vowel_start - 2.0).abs() < 1e-9 && (s[2].vowel_end - 3.0).abs() < 1e-9);
        assert_eq!(score.phrases.len(), 2);
        let p = &score.phrases[1];
        // The phrase's frames sum to its length; the vowel of the last note covers its note.
        let frames: f32 = p.durations.iter().sum();
        assert_eq!(frames as usize, p.f0_hz.len());
        let fps = 22_050.0 / 256.0;
        assert!(((p.start + frames as f64 / fps) - s[2].coda_end).abs() < 1.0 / fps);
        // F0: the note's pitch in the middle of each vowel.
        let mid = ((2.5 - p.start) * fps) as usize;
        assert!(
            (p.f0_hz[mid] as f64 - 329.63).abs() < 0.1,
            "{}",
            p.f0_hz[mid]
        );
        assert!(score.warnings.is_empty());
    }

    #[test]
    fn holds_bends_vibrato_and_mismatched_counts() {
        let (syllables, natural) = lyric(1);
        let mut melody = Melody::from_notes(vec![
            note(0.2, 1.0, 60),
            note(1.0, 2.0, 67),
            note(2.0, 2.5, 69),
        ])
        .unwrap();
        melody.bends = vec![(1.5, 1.0)];
        let slots = [Slot::Syllable(0), Slot::Hold];
        let timing = Timing {
            frames_per_second: 100.0,
            natural: &natural,
        };
        let settings = SingSettings {
            portamento: 0.0,
            ..Default::default()
        };
        let score = score(&syllables, &slots, &melody, &timing, &settings);
        assert_eq!(score.syllables.len(), 1);
        assert_eq!(score.syllables[0].notes, 0..2);
        assert!((score.syllables[0].vowel_end - 2.0).abs() < 1e-9);
        assert!(score.warnings[0].contains("the last 1 notes stay silent"));
        let p = &score.phrases[0];
        let at = |t: f64| p.f0_hz[((t - p.start) * 100.0) as usize] as f64;
        let semis = |hz: f64| 69.0 + 12.0 * (hz / 440.0).log2();
        assert!((semis(at(0.6)) - 60.0).abs() < 1e-3);
        assert!((semis(at(1.2)) - 67.0).abs() < 1e-3);
        assert!(
            (semis(at(1.7)) - 69.0).abs() < 1e-3,
            "bend +2: {}",
            semis(at(1.7))
        );
        let vibrato = SingSettings {
            vibrato: 1.0,
            portamento: 0.0,
            ..Default::default()
        };
        let wavy = super::score(&syllables, &slots, &melody, &timing, &vibrato);
        let p = &wavy.phrases[0];
        let frame = |t: f64| ((t - p.start) * 100.0) as usize;
        let span = (frame(0.6)..frame(0.98))
            .map(|k| semis(p.f0_hz[k] as f64))
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        assert!(span.1 - span.0 > 0.8 && span.1 - span.0 < 1.01, "{span:?}");
    }
}
