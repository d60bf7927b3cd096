//! The audio thread's half: voices that play pre-rendered phrases. Rendered phrase banks arrive
//! from the renderer through a lock-free queue and go back through another to be freed there, so
//! nothing here allocates, frees, locks or waits.

use crate::phrases::{NoteMapping, PhraseSelector};

/// Voices that can sound at once; a note beyond that takes the place of the oldest.
pub const MAX_VOICES: usize = 16;
/// Fade-out after a note-off, so a phrase cut short does not click.
pub const RELEASE_SECONDS: f32 = 0.03;
/// Fade-in of a note that starts late because its phrase was still rendering when it was played.
pub const LATE_FADE_IN_SECONDS: f32 = 0.01;
/// Notes remembered while the phrases render (live); more drop the oldest.
pub const MAX_PENDING: usize = 16;

/// Every phrase rendered at the host's rate, as the audio thread plays them.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseBank {
    pub sample_rate: u32,
    pub mapping: NoteMapping,
    /// `lines[line]`: the line rendered at each pitch offset that is ready, in semitones.
    pub lines: Vec<Vec<(i32, Vec<f32>)>>,
}

impl PhraseBank {
    /// The line's samples at `semitones`, or at the nearest offset rendered so far.
    pub fn samples(&self, line: usize, semitones: i32) -> Option<&[f32]> {
        self.lines
            .get(line)?
            .iter()
            .min_by_key(|(offset, _)| (offset - semitones).abs())
            .map(|(_, samples)| samples.as_slice())
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Voice {
    active: bool,
    key: u8,
    line: usize,
    semitones: i32,
    position: usize,
    level: f32,
    /// Samples left of the release fade, once the note is off.
    release_left: Option<u32>,
    /// Samples left of the fade-in of a note that starts late (0: none).
    fade_in_left: u32,
    /// Notes started since the player began: the oldest voice is stolen first.
    started: u64,
}

/// A note played before its phrase was ready: it starts, late and faded in, when the bank comes.
#[derive(Debug, Clone, Copy)]
struct PendingNote {
    key: u8,
    velocity: f32,
}

pub struct Player {
    bank: Option<Box<PhraseBank>>,
    /// The host's rate: a bank rendered at another rate is never played.
    host_rate: u32,
    pending: [Option<PendingNote>; MAX_PENDING],
    fade_in_samples: u32,
    incoming: rtrb::Consumer<Box<PhraseBank>>,
    retired: rtrb::Producer<Box<PhraseBank>>,
    voices: [Voice; MAX_VOICES],
    selector: PhraseSelector,
    release_samples: u32,
    notes_started: u64,
}

impl Player {
    pub fn new(
        incoming: rtrb::Consumer<Box<PhraseBank>>,
        retired: rtrb::Producer<Box<PhraseBank>>,
    ) -> Self {
        Self {
            bank: None,
            host_rate: 0,
            pending: [None; MAX_PENDING],
            fade_in_samples: (44_100.0 * LATE_FADE_IN_SECONDS) as u32,
            incoming,
            retired,
            voices: [Voice::default(); MAX_VOICES],
            selector: PhraseSelector::default(),
            release_samples: (44_100.0 * RELEASE_SECONDS) as u32,
            notes_started: 0,
        }
    }

    /// The host's rate (at activation, never on the audio thread): a bank made for another rate
    /// goes back to be freed and the notes wait for one made for this rate.
    pub fn set_sample_rate(&mut self, rate: f32) {
        self.release_samples = (rate * RELEASE_SECONDS).max(1.0) as u32;
        self.fade_in_samples = (rate * LATE_FADE_IN_SECONDS).max(1.0) as u32;
        self.host_rate = rate.round() as u32;
        if self
            .bank
            .as_ref()
            .is_some_and(|b| b.sample_rate != self.host_rate)
        {
            self.stop_all();
            if let Some(old) = self.bank.take() {
                self.retire(old);
            }
        }
    }

    /// Sends a bank back to be freed off the audio thread.
    #[expect(
        clippy::mem_forget,
        reason = "leaking a bank the full queue cannot take beats freeing it on the audio thread"
    )]
    fn retire(&mut self, bank: Box<PhraseBank>) {
        // Room is checked before taking a bank; a failed push hands the bank back, never drops it.
        if let Err(rtrb::PushError::Full(bank)) = self.retired.push(bank) {
            std::mem::forget(bank);
        }
    }

    /// Takes the newest bank from the renderer, if one came; the one it replaces goes back to be
    /// freed off this thread. Voices go on in the new bank (its phrases changed with the text or a
    /// parameter).
    pub fn take_new_bank(&mut self) {
        while self.retired.slots() > 0 {
            let Ok(bank) = self.incoming.pop() else {
                break;
            };
            if bank.sample_rate != self.host_rate {
                self.retire(bank);
                continue;
            }
            if bank.mapping != self.bank.as_ref().map_or(bank.mapping, |b| b.mapping) {
                self.selector.restart();
            }
            if let Some(old) = self.bank.replace(bank) {
                self.retire(old);
            }
        }
        if self.bank.is_some() {
            self.start_pending();
        }
    }

    pub fn has_bank(&self) -> bool {
        self.bank.is_some()
    }

    /// Notes are waiting for their phrases.
    pub fn has_pending(&self) -> bool {
        self.pending.iter().any(Option::is_some)
    }

    /// Starts the notes played while there was no bank, late, each with a short fade-in.
    fn start_pending(&mut self) {
        for i in 0..MAX_PENDING {
            if let Some(note) = self.pending[i].take() {
                self.start(note.key, note.velocity, self.fade_in_samples);
            }
        }
    }

    /// Starts the phrase `key` selects, at `velocity` (0..1). Before the first bank has come (the
    /// phrases are still rendering) the note waits and starts as soon as it comes.
    pub fn note_on(&mut self, key: u8, velocity: f32) {
        if self.bank.is_none() {
            // A key played again while it waits still makes one note.
            let slot = self
                .pending
                .iter()
                .position(|p| p.is_some_and(|n| n.key == key))
                .or_else(|| self.pending.iter().position(Option::is_none))
                .unwrap_or_else(|| {
                    // Full: the oldest waiting note gives way.
                    self.pending.rotate_left(1);
                    MAX_PENDING - 1
                });
            self.pending[slot] = Some(PendingNote { key, velocity });
            return;
        }
        self.start(key, velocity, 0);
    }

    fn start(&mut self, key: u8, velocity: f32, fade_in: u32) {
        let Some(bank) = &self.bank else {
            return;
        };
        let Some(target) = self.selector.select(key, bank.mapping, bank.lines.len()) else {
            return;
        };
        let slot = match self.voices.iter().position(|v| !v.active) {
            Some(free) => free,
            None => {
                let (oldest, _) = self
                    .voices
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, v)| v.started)
                    .expect("there are voices");
                oldest
            }
        };
        self.notes_started += 1;
        self.voices[slot] = Voice {
            active: true,
            key,
            line: target.line,
            semitones: target.semitones,
            position: 0,
            level: velocity.clamp(0.0, 1.0),
            release_left: None,
            fade_in_left: fade_in,
            started: self.notes_started,
        };
    }

    /// Fades out the notes of `key` (a note still waiting for its phrase is forgotten).
    pub fn note_off(&mut self, key: u8) {
        self.forget_pending(Some(key));
        let release = self.release_samples;
        for v in self.voices.iter_mut().filter(|v| v.active && v.key == key) {
            v.release_left.get_or_insert(release);
        }
    }

    /// Forgets waiting notes of `key`, or all of them.
    fn forget_pending(&mut self, key: Option<u8>) {
        for slot in &mut self.pending {
            if slot.is_some_and(|n| key.is_none_or(|k| n.key == k)) {
                *slot = None;
            }
        }
    }

    /// Fades out every note.
    pub fn release_all(&mut self) {
        self.forget_pending(None);
        let release = self.release_samples;
        for v in self.voices.iter_mut().filter(|v| v.active) {
            v.release_left.get_or_insert(release);
        }
    }

    /// Silences the notes of `key` at once.
    pub fn choke(&mut self, key: u8) {
        self.forget_pending(Some(key));
        for v in self.voices.iter_mut().filter(|v| v.key == key) {
            v.active = false;
        }
    }

    pub fn stop_all(&mut self) {
        self.forget_pending(None);
        for v in &mut self.voices {
            v.active = false;
        }
    }

    pub fn is_silent(&self) -> bool {
        !self.voices.iter().any(|v| v.active) && !self.has_pending()
    }

    /// Adds the sounding voices into `out` (mono).
    pub fn render(&mut self, out: &mut [f32]) {
        let Some(bank) = &self.bank else {
            return;
        };
        let release = self.release_samples.max(1) as f32;
        let fade_in = self.fade_in_samples.max(1) as f32;
        for v in self.voices.iter_mut().filter(|v| v.active) {
            let Some(samples) = bank.samples(v.line, v.semitones) else {
                v.active = false;
                continue;
            };
            for slot in out.iter_mut() {
                if v.position >= samples.len() || v.release_left == Some(0) {
                    v.active = false;
                    break;
                }
                let mut envelope = v.release_left.map_or(1.0, |left| left as f32 / release);
                if v.fade_in_left > 0 {
                    envelope *= 1.0 - v.fade_in_left as f32 / fade_in;
                    v.fade_in_left -= 1;
                }
                *slot += samples[v.position] * v.level * envelope;
                v.position += 1;
                if let Some(left) = &mut v.release_left {
                    *left -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player_with(
        bank: PhraseBank,
    ) -> (
        Player,
        rtrb::Producer<Box<PhraseBank>>,
        rtrb::Consumer<Box<PhraseBank>>,
    ) {
        let (mut to_audio, incoming) = rtrb::RingBuffer::new(4);
        let (retired, from_audio) = rtrb::RingBuffer::new(4);
        let mut player = Player::new(incoming, retired);
        player.set_sample_rate(1000.0);
        to_audio.push(Box::new(bank)).unwrap();
        player.take_new_bank();
        (player, to_audio, from_audio)
    }

    fn bank(mapping: NoteMapping) -> PhraseBank {
        PhraseBank {
            sample_rate: 1000,
            mapping,
            lines: vec![
                vec![(0, vec![0.5; 100])],
                vec![
                    (-2, vec![-0.25; 50]),
                    (0, vec![0.25; 50]),
                    (3, vec![0.75; 50]),
                ],
            ],
        }
    }

    #[test]
    fn a_note_plays_its_line_at_its_velocity_to_the_end() {
        let (mut p, _, _) = player_with(bank(NoteMapping::KeyPerLine));
        p.note_on(61, 0.5);
        let mut out = vec![0.0; 80];
        p.render(&mut out);
        assert!(out[..50].iter().all(|&s| s == 0.125));
        assert!(out[50..].iter().all(|&s| s == 0.0));
        assert!(p.is_silent());
    }

    #[test]
    fn note_off_fades_out_over_the_release() {
        let (mut p, _, _) = player_with(bank(NoteMapping::KeyPerLine));
        p.note_on(60, 1.0);
        let mut out = vec![0.0; 10];
        p.render(&mut out);
        p.note_off(60);
        let mut tail = vec![0.0; 60];
        p.render(&mut tail);
        // 30 ms at 1 kHz: 30 samples falling from full level to silence.
        assert_eq!(tail[0], 0.5);
        assert!(tail[..30].windows(2).all(|w| w[1] < w[0]));
        assert!(tail[30..].iter().all(|&s| s == 0.0));
        assert!(p.is_silent());
    }

    #[test]
    fn pitch_follow_takes_the_nearest_rendered_offset() {
        let (mut p, _, _) = player_with(bank(NoteMapping::PitchFollow { root: 60 }));
        p.note_on(60, 1.0); // line 1
        p.choke(60);
        p.note_on(64, 1.0); // line 2, +4: nearest is +3
        let mut out = vec![0.0; 1];
        p.render(&mut out);
        assert_eq!(out[0], 0.75);
    }

    #[test]
    fn a_new_bank_is_taken_and_the_old_one_goes_back() {
        let (mut p, mut to_audio, mut from_audio) = player_with(bank(NoteMapping::KeyPerLine));
        let mut other = bank(NoteMapping::KeyPerLine);
        other.lines[0][0].1 = vec![0.1; 100];
        to_audio.push(Box::new(other)).unwrap();
        p.take_new_bank();
        assert_eq!(from_audio.pop().unwrap().lines[0][0].1[0], 0.5);
        p.note_on(60, 1.0);
        let mut out = vec![0.0; 1];
        p.render(&mut out);
        assert_eq!(out[0], 0.1);
    }

    #[test]
    fn the_oldest_voice_is_stolen_when_all_sound() {
        let (mut p, _, _) = player_with(bank(NoteMapping::KeyPerLine));
        for _ in 0..MAX_VOICES + 1 {
            p.note_on(60, 1.0);
        }
        let mut out = vec![0.0; 1];
        p.render(&mut out);
        assert_eq!(out[0], 0.5 * MAX_VOICES as f32);
    }

    #[test]
    fn notes_without_a_line_are_silent() {
        let (mut p, _, _) = player_with(bank(NoteMapping::KeyPerLine));
        p.note_on(90, 1.0);
        assert!(p.is_silent());
    }

    #[test]
    fn a_note_before_the_bank_starts_late_with_a_fade_in() {
        let (mut to_audio, incoming) = rtrb::RingBuffer::new(4);
        let (retired, _from_audio) = rtrb::RingBuffer::new(4);
        let mut p = Player::new(incoming, retired);
        p.set_sample_rate(1000.0);
        p.note_on(60, 1.0);
        p.note_on(61, 1.0);
        p.note_off(61);
        assert!(p.has_pending() && !p.is_silent());
        let mut out = vec![0.0; 5];
        p.render(&mut out);
        assert!(out.iter().all(|&s| s == 0.0));
        to_audio
            .push(Box::new(bank(NoteMapping::KeyPerLine)))
            .unwrap();
        p.take_new_bank();
        assert!(!p.has_pending());
        let mut out = vec![0.0; 20];
        p.render(&mut out);
        // 10 ms at 1 kHz: rising to the line's level, then the line as it is; the released
        // note 61 never sounds.
        assert_eq!(out[0], 0.0);
        assert!(out[..10].windows(2).all(|w| w[1] > w[0]));
        assert!(out[10..].iter().all(|&s| s == 0.5));
    }

    #[test]
    fn a_bank_made_for_another_rate_is_never_played() {
        let (mut p, mut to_audio, mut from_audio) = player_with(bank(NoteMapping::KeyPerLine));
        // The host moves to 2 kHz: the 1 kHz bank goes back, notes wait for a 2 kHz one.
        p.set_sample_rate(2000.0);
        assert!(!p.has_bank());
        assert!(from_audio.pop().is_ok());
        to_audio
            .push(Box::new(bank(NoteMapping::KeyPerLine)))
            .unwrap();
        p.take_new_bank();
        assert!(!p.has_bank(), "a 1 kHz bank was taken at 2 kHz");
        assert!(from_audio.pop().is_ok());
        p.note_on(60, 1.0);
        let mut out = vec![0.0; 4];
        p.render(&mut out);
        assert!(out.iter().all(|&s| s == 0.0));
        let mut right = bank(NoteMapping::KeyPerLine);
        right.sample_rate = 2000;
        to_audio.push(Box::new(right)).unwrap();
        p.take_new_bank();
        assert!(p.has_bank());
        p.render(&mut out);
        assert!(out.iter().any(|&s| s != 0.0));
    }
}
