//! A melody: notes in seconds with their keys and velocities, the pitch-bend and mod-wheel curves,
//! read from a Standard MIDI File (any format, metrical or SMPTE timing, tempo changes included).

use std::ops::RangeInclusive;

use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};

use crate::error::{Error, Result};

/// Most notes a melody may hold (an hour of sixteenth notes at 120 bpm).
pub const MAX_NOTES: usize = 30_000;
/// Longest melody, in seconds.
pub const MAX_SECONDS: f64 = 3_600.0;
/// Keys a note may have once transposed: C0 (16 Hz) … C8 (4.2 kHz); what a voice can sing is
/// narrower, and is checked where F0 is made.
pub const KEYS: RangeInclusive<i32> = 12..=108;
/// The mod wheel (controller 1), which scales the vibrato.
const MOD_WHEEL: u8 = 1;

/// One note: from `start` to `end` seconds, MIDI `key` (60 is middle C), `velocity` 1–127.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Note {
    pub start: f64,
    pub end: f64,
    pub key: i32,
    pub velocity: u8,
}

impl Note {
    /// Its frequency in Hz (A4 = key 69 = 440 Hz).
    pub fn hz(&self) -> f64 {
        440.0 * 2f64.powf((self.key as f64 - 69.0) / 12.0)
    }
}

/// Notes in time order, one at a time (a note that starts before the previous one ends is a
/// legato into it), with the controller curves as (seconds, value) steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Melody {
    pub notes: Vec<Note>,
    /// Pitch bend, -1..=1 of the bend range, from each time on.
    pub bends: Vec<(f64, f64)>,
    /// Mod wheel, 0..=1, from each time on.
    pub modulation: Vec<(f64, f64)>,
}

impl Melody {
    /// A melody of notes with no controllers; notes are sorted and checked.
    ///
    /// ```
    /// use mellow_engine::sing::{Melody, Note};
    /// let m = Melody::from_notes(vec![Note { start: 0.0, end: 0.5, key: 60, velocity: 100 }]).unwrap();
    /// assert_eq!(m.notes.len(), 1);
    /// assert!(Melody::from_notes(vec![]).is_err());
    /// ```
    pub fn from_notes(notes: Vec<Note>) -> Result<Self> {
        Self {
            notes,
            ..Default::default()
        }
        .checked()
    }

    /// Reads a Standard MIDI File. Notes come from `channel` (0–15) or, by default, from the
    /// first channel that has any; when notes overlap, the later one takes over (legato).
    ///
    /// ```
    /// use mellow_engine::sing::Melody;
    /// let err = Melody::from_midi(b"not a midi file", None).unwrap_err();
    /// assert!(err.to_string().contains("MIDI"));
    /// ```
    pub fn from_midi(bytes: &[u8], channel: Option<u8>) -> Result<Self> {
        let smf = Smf::parse(bytes)
            .map_err(|e| Error::input(format!("not a readable MIDI file: {e}")))?;
        let clock = TempoMap::of(&smf)?;
        // Every channel event with its absolute tick, in time order (tracks play together).
        let mut events = Vec::new();
        for track in &smf.tracks {
            let mut tick = 0u64;
            for event in track {
                tick += event.delta.as_int() as u64;
                if let TrackEventKind::Midi { channel, message } = event.kind {
                    events.push((tick, channel.as_int(), message));
                }
            }
        }
        events.sort_by_key(|(tick, _, _)| *tick);
        let channel = match channel {
            Some(c) if c > 15 => {
                return Err(Error::input(format!(
                    "MIDI channel {c} does not exist (0–15)"
                )))
            }
            Some(c) => c,
            None => events
                .iter()
                .find(|(_, _, m)| matches!(m, MidiMessage::NoteOn { vel, .. } if vel.as_int() > 0))
                .map(|(_, c, _)| *c)
                .ok_or_else(|| Error::input("the MIDI file has no notes"))?,
        };
        let mut melody = Melody::default();
        let mut sounding: Option<(f64, i32, u8)> = None;
        for (tick, _, message) in events.iter().filter(|(_, c, _)| *c == channel) {
            let time = clock.seconds(*tick);
            match *message {
                MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                    if let Some((start, k, v)) = sounding.take() {
                        melody.push_note(start, time, k, v);
                    }
                    sounding = Some((time, key.as_int() as i32, vel.as_int()));
                }
                MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                    if let Some((start, k, v)) = sounding {
                        if k == key.as_int() as i32 {
                            melody.push_note(start, time, k, v);
                            sounding = None;
                        }
                    }
                }
                MidiMessage::PitchBend { bend } => melody.bends.push((time, bend.as_f64())),
                MidiMessage::Controller { controller, value }
                    if controller.as_int() == MOD_WHEEL =>
                {
                    melody
                        .modulation
                        .push((time, value.as_int() as f64 / 127.0));
                }
                _ => {}
            }
        }
        if let Some((start, k, v)) = sounding {
            // A note left on at the end of the file ends with its last event.
            let end = events.last().map_or(start, |(t, _, _)| clock.seconds(*t));
            melody.push_note(start, end, k, v);
        }
        melody.checked()
    }

    fn push_note(&mut self, start: f64, end: f64, key: i32, velocity: u8) {
        if end > start {
            self.notes.push(Note {
                start,
                end,
                key,
                velocity,
            });
        }
    }

    /// Every key moved by `semitones`.
    pub fn transposed(mut self, semitones: i32) -> Result<Self> {
        for note in &mut self.notes {
            note.key += semitones;
        }
        self.checked()
    }

    /// The pitch bend (-1..=1) at `time`.
    pub fn bend_at(&self, time: f64) -> f64 {
        step_value(&self.bends, time)
    }

    /// The mod wheel (0..=1) at `time`.
    pub fn modulation_at(&self, time: f64) -> f64 {
        step_value(&self.modulation, time)
    }

    fn checked(mut self) -> Result<Self> {
        self.notes
            .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
        if self.notes.is_empty() {
            return Err(Error::input("the melody has no notes"));
        }
        if self.notes.len() > MAX_NOTES {
            return Err(Error::input(format!(
                "the melody has {} notes, more than {MAX_NOTES}",
                self.notes.len()
            )));
        }
        for note in &self.notes {
            if !(note.start.is_finite() && note.end.is_finite() && note.start >= 0.0)
                || note.end <= note.start
                || note.end > MAX_SECONDS
            {
                return Err(Error::input(format!(
                    "a note from {:.3} s to {:.3} s is not a note within 0..{MAX_SECONDS} s",
                    note.start, note.end
                )));
            }
            if !KEYS.contains(&note.key) {
                return Err(Error::input(format!(
                    "key {} at {:.3} s is outside {}..={} (C0..C8)",
                    note.key,
                    note.start,
                    KEYS.start(),
                    KEYS.end()
                )));
            }
            if note.velocity == 0 || note.velocity > 127 {
                return Err(Error::input(format!(
                    "velocity {} at {:.3} s is outside 1..=127",
                    note.velocity, note.start
                )));
            }
        }
        // One voice: a note that starts before the previous ends cuts it there (legato).
        for i in 1..self.notes.len() {
            let start = self.notes[i].start;
            if self.notes[i - 1].end > start {
                self.notes[i - 1].end = start;
            }
        }
        self.notes.retain(|n| n.end > n.start);
        self.bends.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.modulation.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(self)
    }
}

fn step_value(steps: &[(f64, f64)], time: f64) -> f64 {
    match steps.partition_point(|(t, _)| *t <= time) {
        0 => 0.0,
        i => steps[i - 1].1,
    }
}

/// Ticks → seconds through the file's tempo changes (from any track, as format 1 keeps them in
/// the first).
struct TempoMap {
    /// (tick, seconds at that tick, seconds per tick from there)
    segments: Vec<(u64, f64, f64)>,
}

impl TempoMap {
    fn of(smf: &Smf) -> Result<Self> {
        match smf.header.timing {
            Timing::Timecode(fps, subframes) => {
                let per_tick = 1.0 / (fps.as_f32() as f64 * subframes.max(1) as f64);
                Ok(Self {
                    segments: vec![(0, 0.0, per_tick)],
                })
            }
            Timing::Metrical(ticks_per_beat) => {
                let ticks_per_beat = ticks_per_beat.as_int().max(1) as f64;
                let mut changes = Vec::new();
                for track in &smf.tracks {
                    let mut tick = 0u64;
                    for event in track {
                        tick += event.delta.as_int() as u64;
                        if let TrackEventKind::Meta(MetaMessage::Tempo(us)) = event.kind {
                            changes.push((tick, us.as_int().max(1) as f64 / 1e6));
                        }
                    }
                }
                changes.sort_by_key(|(tick, _)| *tick);
                // 120 bpm until the first tempo event, as the standard says.
                let mut segments = vec![(0u64, 0.0f64, 0.5 / ticks_per_beat)];
                for (tick, seconds_per_beat) in changes {
                    let &(t0, s0, per_tick) = segments.last().expect("starts with one");
                    let at = s0 + (tick - t0) as f64 * per_tick;
                    segments.push((tick, at, seconds_per_beat / ticks_per_beat));
                }
                Ok(Self { segments })
            }
        }
    }

    fn seconds(&self, tick: u64) -> f64 {
        let i = self.segments.partition_point(|(t, _, _)| *t <= tick).max(1) - 1;
        let (t0, s0, per_tick) = self.segments[i];
        s0 + (tick - t0) as f64 * per_tick
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use midly::num::{u15, u24, u28, u4, u7};
    use midly::{Format, Header, TrackEvent};

    /// A one-track file at `bpm` with (beat, beats, key, velocity) notes.
    pub(crate) fn midi_file(
        bpm: f64,
        notes: &[(f64, f64, u8, u8)],
        extra: &[(f64, MidiMessage)],
    ) -> Vec<u8> {
        let ticks_per_beat = 480u16;
        let mut timed: Vec<(u64, TrackEventKind)> = vec![(
            0,
            TrackEventKind::Meta(MetaMessage::Tempo(u24::new((60e6 / bpm) as u32))),
        )];
        let tick = |beat: f64| (beat * ticks_per_beat as f64).round() as u64;
        let midi = |message| TrackEventKind::Midi {
            channel: u4::new(0),
            message,
        };
        for &(beat, beats, key, vel) in notes {
            timed.push((
                tick(beat),
                midi(MidiMessage::NoteOn {
                    key: u7::new(key),
                    vel: u7::new(vel),
                }),
            ));
            timed.push((
                tick(beat + beats),
                midi(MidiMessage::NoteOff {
                    key: u7::new(key),
                    vel: u7::new(0),
                }),
            ));
        }
        for &(beat, message) in extra {
            timed.push((tick(beat), midi(message)));
        }
        // Offs before ons at the same tick, as sequencers write them.
        timed.sort_by_key(|(t, k)| {
            (
                *t,
                !matches!(
                    k,
                    TrackEventKind::Midi {
                        message: MidiMessage::NoteOff { .. },
                        ..
                    }
                ),
            )
        });
        let mut last = 0;
        let mut track: Vec<TrackEvent> = timed
            .into_iter()
            .map(|(t, kind)| {
                let delta = u28::new((t - last) as u32);
                last = t;
                TrackEvent { delta, kind }
            })
            .collect();
        track.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        let smf = Smf {
            header: Header::new(
                Format::SingleTrack,
                Timing::Metrical(u15::new(ticks_per_beat)),
            ),
            tracks: vec![track],
        };
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn notes_are_read_in_seconds_at_the_file_tempo() {
        let bytes = midi_file(
            100.0,
            &[(0.0, 1.0, 60, 90), (1.0, 0.5, 64, 100), (2.0, 2.0, 67, 110)],
            &[],
        );
        let m = Melody::from_midi(&bytes, None).unwrap();
        let beat = 0.6;
        assert_eq!(m.notes.len(), 3);
        assert!(
            (m.notes[1].start - beat).abs() < 1e-9 && (m.notes[1].end - 1.5 * beat).abs() < 1e-9
        );
        assert_eq!((m.notes[2].key, m.notes[2].velocity), (67, 110));
        assert!((m.notes[2].end - 4.0 * beat).abs() < 1e-9);
        assert!((m.notes[0].hz() - 261.63).abs() < 0.01);
    }

    #[test]
    fn overlaps_become_legato_and_controllers_are_curves() {
        let bend = MidiMessage::PitchBend {
            bend: midly::PitchBend::from_f64(1.0),
        };
        let wheel = MidiMessage::Controller {
            controller: u7::new(1),
            value: u7::new(127),
        };
        let bytes = midi_file(
            120.0,
            &[(0.0, 1.5, 60, 90), (1.0, 1.0, 62, 90)],
            &[(0.5, bend), (1.0, wheel)],
        );
        let m = Melody::from_midi(&bytes, None).unwrap();
        assert_eq!(m.notes.len(), 2);
        assert!((m.notes[0].end - 0.5).abs() < 1e-9, "{:?}", m.notes);
        assert_eq!(m.bend_at(0.1), 0.0);
        assert!((m.bend_at(0.3) - 1.0).abs() < 1e-3);
        assert_eq!(m.modulation_at(0.6), 1.0);
    }

    #[test]
    fn bad_melodies_are_refused_by_name() {
        assert!(Melody::from_midi(&midi_file(120.0, &[], &[]), None)
            .unwrap_err()
            .to_string()
            .contains("no notes"));
        let note = |key| Note {
            start: 0.0,
            end: 1.0,
            key,
            velocity: 64,
        };
        assert!(Melody::from_notes(vec![note(60)])
            .unwrap()
            .transposed(60)
            .unwrap_err()
            .to_string()
            .contains("key 120"));
        let long = Note {
            start: 0.0,
            end: 4000.0,
            key: 60,
            velocity: 64,
        };
        assert!(Melody::from_notes(vec![long]).is_err());
        assert!(
            Melody::from_midi(&midi_file(120.0, &[(0.0, 1.0, 60, 90)], &[]), Some(16)).is_err()
        );
    }
}
