//! Singing played live, a note at a time, as a keyboard plays it: nothing is known of a note but
//! its key and velocity until it ends. Each note-on takes the next syllable of the lyric and
//! becomes one short render, a [`Take`]: the syllable's onset consonants, its vowel held for
//! [`SUSTAIN_SECONDS`] and its coda. A player holds the vowel for as long as the key is down by
//! looping the vowel's steady part, and at note-off goes on from the end of the vowel, so the
//! coda follows the release. A note played before the held one is released (legato) takes the
//! way from one syllable into the next instead: the held vowel, its coda, the next onset and
//! vowel, with a glide between the pitches, and the player crossfades into it from the held
//! vowel, so there is no new onset gap. A `+` in the lyric glides the held vowel to the new key.
//!
//! ```no_run
//! # fn main() -> mellow_engine::Result<()> {
//! use mellow_engine::sing::SingSettings;
//! use mellow_engine::{SynthesisOptions, Synthesizer};
//! let mut synth = Synthesizer::for_names("", None, true)?;
//! let mut singer = synth.live_singer("Hel-lo world", SingSettings::default())?;
//! let opts = synth.sing_options(&SynthesisOptions::default())?;
//! let take = singer.note_on(60, 100, 0.0).expect("the lyric has syllables");
//! let mut samples: Vec<f32> = Vec::new();
//! synth.sing_take(&singer, &take, &[], &opts, 48_000, &mut samples)?;
//! assert!(take.vowel.end > take.vowel.start);
//! # Ok(()) }
//! ```

use std::ops::Range;

use super::melody::{Melody, Note};
use super::score::{score, LyricSyllable, Phrase, SingSettings, Slot, Timing};
use super::syllables::Syllable;
use super::{Lyric, SUNG_VOICED_NOISE};
use crate::error::{Error, Result};
use crate::synth::{
    MadeMel, Outcome, ResolvedOptions, Segment, SpeechSink, Synthesizer, Utterance,
};
use crate::text::Sentence;

/// How long a take holds its vowel. Long enough that its middle is steady (the player loops
/// it), short enough that a take renders within a few milliseconds.
pub const SUSTAIN_SECONDS: f64 = 0.6;
/// In a legato take, how long the held vowel sounds before its coda: the player's crossfade
/// from the held note into the take lies within it.
pub const LEGATO_LEAD_SECONDS: f64 = 0.04;
/// Longest onset or coda taken into account when placing a legato take's next vowel (the
/// score squeezes longer clusters to this too).
const MAX_CLUSTER_SECONDS: f64 = 0.25;

/// A note being sung: the syllable it holds and its key.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Held {
    syllable: usize,
    key: i32,
    velocity: u8,
}

/// One note's render, as [`Synthesizer::sing_take`] makes it.
#[derive(Debug, Clone)]
pub struct Take {
    /// The durations, F0 and gains the model is given.
    pub phrase: Phrase,
    /// The held vowel (the take's last), in seconds from the take's start.
    pub vowel: Range<f64>,
    /// The held vowel's pitch in Hz (its period makes the player's loop seamless).
    pub hz: f64,
    /// The syllable sung (an index into [`Lyric::syllables`]) and what it says.
    pub syllable: usize,
    pub phonemes: String,
    /// The take starts in the vowel of the note still held: crossfade into it from that note
    /// instead of letting it end with its coda.
    pub legato: bool,
}

/// The live state of a lyric: which syllable comes next and which is held.
#[derive(Debug, Clone)]
pub struct LiveSinger {
    lyric: Lyric,
    natural: Vec<Vec<f32>>,
    frames_per_second: f64,
    settings: SingSettings,
    next: usize,
    held: Option<Held>,
}

impl LiveSinger {
    /// The lyric it sings.
    pub fn lyric(&self) -> &Lyric {
        &self.lyric
    }

    /// The next note sings the lyric's first syllable again.
    pub fn restart(&mut self) {
        self.next = 0;
        self.held = None;
    }

    /// Which slot of the lyric (see [`Lyric::slots`]) the next note takes.
    pub fn position(&self) -> usize {
        self.next
    }

    /// A note-on of MIDI `key` at `velocity` (1–127) with the pitch bend at `bend` (-1..=1 of
    /// the bend range): the take it sings, or `None` for a lyric without syllables. After the
    /// last syllable the lyric starts over.
    pub fn note_on(&mut self, key: i32, velocity: u8, bend: f64) -> Option<Take> {
        let slots = self.lyric.slots.len();
        if self.lyric.syllables.is_empty() || slots == 0 {
            return None;
        }
        let slot = self.lyric.slots[self.next % slots];
        self.next = (self.next + 1) % slots;
        let velocity = velocity.clamp(1, 127);
        let held = self.held;
        let take = match (slot, held) {
            (Slot::Hold, Some(h)) => self.glide(h, key, velocity, bend),
            (Slot::Hold, None) => {
                // A `+` with nothing held sings the syllable it would have held, afresh.
                let before = self.syllable_before(self.next);
                self.fresh(before, key, velocity, bend)
            }
            (Slot::Syllable(s), Some(h))
                if self.lyric.syllables[s].sentence
                    == self.lyric.syllables[h.syllable].sentence =>
            {
                self.legato(h, s, key, velocity, bend)
            }
            (Slot::Syllable(s), _) => self.fresh(s, key, velocity, bend),
        };
        self.held = Some(Held {
            syllable: take.syllable,
            key,
            velocity,
        });
        Some(take)
    }

    /// The takes the next note-on may sing, the likelier first, so that they can be prepared
    /// (see [`Synthesizer::prepare_take`]): the next syllable sung afresh, and while a note is
    /// held, the way from it (legato). Their key, bend and velocity are the held note's or
    /// middle C's: a take's mel depends only on its syllables and their timing.
    pub fn upcoming(&self) -> Vec<Take> {
        let (key, velocity) = self.held.map_or((60, 100), |h| (h.key, h.velocity));
        let mut takes = Vec::new();
        let mut released = self.clone();
        released.held = None;
        takes.extend(released.note_on(key, velocity, 0.0));
        if self.held.is_some() {
            takes.extend(self.clone().note_on(key, velocity, 0.0));
        }
        takes
    }

    /// A note-off of `key`: true when it ends the held note (a key that legato has already
    /// replaced ends nothing).
    pub fn note_off(&mut self, key: i32) -> bool {
        let ends = self.held.is_some_and(|h| h.key == key);
        if ends {
            self.held = None;
        }
        ends
    }

    /// The syllable of the last `Syllable` slot before slot `next` (wrapping).
    fn syllable_before(&self, next: usize) -> usize {
        let slots = &self.lyric.slots;
        (1..=slots.len())
            .map(|back| slots[(next + 2 * slots.len() - 1 - back) % slots.len()])
            .find_map(|slot| match slot {
                Slot::Syllable(s) => Some(s),
                Slot::Hold => None,
            })
            .unwrap_or(0)
    }

    /// Seconds of a syllable's onset or coda, as the score squeezes them.
    fn cluster(&self, syllable: usize, ids: Range<usize>) -> f64 {
        let sentence = self.lyric.syllables[syllable].sentence;
        let frames: f64 = ids.map(|i| self.natural[sentence][i] as f64).sum();
        (frames / self.frames_per_second).min(MAX_CLUSTER_SECONDS)
    }

    /// A syllable sung from its onset.
    fn fresh(&self, syllable: usize, key: i32, velocity: u8, bend: f64) -> Take {
        let lyric = &self.lyric.syllables[syllable];
        let onset = self.cluster(syllable, lyric.syllable.onset.clone());
        let notes = [note(onset, onset + SUSTAIN_SECONDS, key, velocity)];
        self.take(
            syllable,
            std::slice::from_ref(lyric),
            &[Slot::Syllable(0)],
            &notes,
            bend,
            false,
        )
    }

    /// From the held vowel, through its coda and the next onset, into the next vowel.
    fn legato(&self, held: Held, syllable: usize, key: i32, velocity: u8, bend: f64) -> Take {
        let from = &self.lyric.syllables[held.syllable];
        let to = &self.lyric.syllables[syllable];
        let between = self.cluster(held.syllable, from.syllable.coda.clone())
            + self.cluster(syllable, to.syllable.onset.clone());
        let on = LEGATO_LEAD_SECONDS + between;
        let notes = [
            note(0.0, on, held.key, held.velocity),
            note(on, on + SUSTAIN_SECONDS, key, velocity),
        ];
        let syllables = [vowel_on(from), to.clone()];
        self.take(
            syllable,
            &syllables,
            &[Slot::Syllable(0), Slot::Syllable(1)],
            &notes,
            bend,
            true,
        )
    }

    /// The held vowel carried over to a new key (a `+` in the lyric).
    fn glide(&self, held: Held, key: i32, velocity: u8, bend: f64) -> Take {
        let from = &self.lyric.syllables[held.syllable];
        let notes = [
            note(0.0, LEGATO_LEAD_SECONDS, held.key, held.velocity),
            note(
                LEGATO_LEAD_SECONDS,
                LEGATO_LEAD_SECONDS + SUSTAIN_SECONDS,
                key,
                velocity,
            ),
        ];
        self.take(
            held.syllable,
            &[vowel_on(from)],
            &[Slot::Syllable(0), Slot::Hold],
            &notes,
            bend,
            true,
        )
    }

    /// Scores `syllables` on `notes`; the last is the lyric's `syllable`, its vowel the one held.
    fn take(
        &self,
        syllable: usize,
        syllables: &[LyricSyllable],
        slots: &[Slot],
        notes: &[Note],
        bend: f64,
        legato: bool,
    ) -> Take {
        let melody = Melody {
            notes: notes.to_vec(),
            bends: vec![(0.0, bend.clamp(-1.0, 1.0))],
            modulation: Vec::new(),
        };
        let timing = Timing {
            frames_per_second: self.frames_per_second,
            natural: &self.natural,
        };
        let settings = SingSettings {
            // Vibrato follows the mod wheel live, in the player.
            vibrato: 0.0,
            vibrato_depth: 0.0,
            ..self.settings
        };
        let mut scored = score(syllables, slots, &melody, &timing, &settings);
        let last = scored
            .syllables
            .last()
            .expect("a take has a syllable")
            .clone();
        let phrase = scored.phrases.swap_remove(0);
        let start = phrase.start;
        let sung = &syllables[last.syllable];
        let key = notes.last().expect("a take has a note").key as f64
            + melody.bend_at(0.0) * settings.bend_range as f64;
        // Frames are whole: the take may end a little before a vowel that ends it.
        let length = phrase.durations.iter().sum::<f32>() as f64 / self.frames_per_second;
        Take {
            vowel: last.vowel_start - start..(last.vowel_end - start).min(length),
            hz: 440.0 * 2f64.powf((key - 69.0) / 12.0),
            syllable,
            phonemes: sung.phonemes.clone(),
            legato,
            phrase,
        }
    }
}

fn note(start: f64, end: f64, key: i32, velocity: u8) -> Note {
    Note {
        start,
        end,
        key,
        velocity,
    }
}

/// A syllable from its vowel on: its onset is already sung.
fn vowel_on(syllable: &LyricSyllable) -> LyricSyllable {
    let nucleus = syllable.syllable.nucleus.clone();
    LyricSyllable {
        syllable: Syllable {
            onset: nucleus.start..nucleus.start,
            nucleus,
            coda: syllable.syllable.coda.clone(),
        },
        ..syllable.clone()
    }
}

impl Synthesizer {
    /// A lyric ready to be played note by note (see [`LiveSinger`]). Needs an F0-aware vocoder.
    pub fn live_singer(&self, lyric: &str, settings: SingSettings) -> Result<LiveSinger> {
        self.check_sings()?;
        super::check_settings(&settings)?;
        let lyric = self.lyric(lyric)?;
        let natural = lyric
            .sentences
            .iter()
            .map(|s| self.natural_durations(&s.ids, 0))
            .collect::<Result<Vec<_>>>()?;
        Ok(LiveSinger {
            lyric,
            natural,
            frames_per_second: self.sample_rate() as f64 / self.hop_length() as f64,
            settings,
            next: 0,
            held: None,
        })
    }

    /// Runs the acoustic model over `take` before its note is played (see
    /// [`LiveSinger::upcoming`]): [`Synthesizer::sing_take`] given the result runs only the
    /// vocoder, and sings the same samples. `keep_going` is asked between the model's windows;
    /// `Ok(None)` when it said stop.
    ///
    /// ```no_run
    /// # fn main() -> mellow_engine::Result<()> {
    /// use mellow_engine::sing::SingSettings;
    /// use mellow_engine::{SynthesisOptions, Synthesizer};
    /// let mut synth = Synthesizer::for_names("", None, true)?;
    /// let mut singer = synth.live_singer("Hel-lo world", SingSettings::default())?;
    /// let opts = synth.sing_options(&SynthesisOptions::default())?;
    /// // Before the note: the mels of what it may sing.
    /// let mut prepared = Vec::new();
    /// for take in singer.upcoming() {
    ///     prepared.extend(synth.prepare_take(&singer, &take, &opts, &mut || true)?);
    /// }
    /// // At the note-on (any key): only the vocoder runs.
    /// let take = singer.note_on(64, 90, 0.0).expect("the lyric has syllables");
    /// assert!(prepared.iter().any(|p| p.fits(&take, &opts)));
    /// let mut samples: Vec<f32> = Vec::new();
    /// synth.sing_take(&singer, &take, &prepared, &opts, 48_000, &mut samples)?;
    /// # Ok(()) }
    /// ```
    pub fn prepare_take(
        &mut self,
        singer: &LiveSinger,
        take: &Take,
        opts: &ResolvedOptions,
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Option<PreparedTake>> {
        self.check_sings()?;
        let segment = take_segment(singer, take)?;
        let Some(mel) = self.segment_mel(&segment, opts, keep_going)? else {
            return Ok(None);
        };
        Ok(Some(PreparedTake {
            sentence: take.phrase.sentence,
            durations: take.phrase.durations.clone(),
            opts: *opts,
            mel,
        }))
    }

    /// Renders one take of `singer` at `output_rate` into `sink`, as it comes. With a prepared
    /// take that fits it (see [`PreparedTake::fits`]) only the vocoder runs (a few milliseconds
    /// to the first samples), else the acoustic model too. `opts` from
    /// [`Synthesizer::sing_options`].
    pub fn sing_take(
        &mut self,
        singer: &LiveSinger,
        take: &Take,
        prepared: &[PreparedTake],
        opts: &ResolvedOptions,
        output_rate: u32,
        sink: &mut dyn SpeechSink,
    ) -> Result<Outcome> {
        self.check_sings()?;
        let mut segment = take_segment(singer, take)?;
        segment.mel = prepared
            .iter()
            .find(|p| p.fits(take, opts))
            .map(|p| p.mel.clone());
        let utterance = Utterance {
            segments: vec![segment],
            lead_in: 0.0,
            warnings: Vec::new(),
        };
        self.set_voiced_noise(SUNG_VOICED_NOISE);
        let outcome = self.speak(&utterance, opts, output_rate, sink);
        self.set_voiced_noise(1.0);
        outcome
    }
}

/// A take's mel, made before its note was played (see [`Synthesizer::prepare_take`]).
#[derive(Debug, Clone)]
pub struct PreparedTake {
    sentence: usize,
    durations: Vec<f32>,
    opts: ResolvedOptions,
    mel: MadeMel,
}

impl PreparedTake {
    /// Whether this is `take`'s mel at `opts`: the same phonemes with the same timing. The key,
    /// bend and velocity do not matter: they are played over the mel, by the vocoder's F0 and
    /// the take's gains.
    pub fn fits(&self, take: &Take, opts: &ResolvedOptions) -> bool {
        self.sentence == take.phrase.sentence
            && self.durations == take.phrase.durations
            && self.opts == *opts
    }
}

/// The one segment a take is spoken as.
fn take_segment(singer: &LiveSinger, take: &Take) -> Result<Segment> {
    let sentence = singer
        .lyric
        .sentences
        .get(take.phrase.sentence)
        .ok_or_else(|| Error::input("a take of another lyric"))?;
    Ok(Segment {
        sentence: Sentence {
            id_gains_db: take.phrase.gains_db.clone(),
            ..sentence.clone()
        },
        durations: Some(take.phrase.durations.clone()),
        pitch_curve: None,
        f0_hz: Some(take.phrase.f0_hz.clone()),
        sung: true,
        mel: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A singer of `n` one-syllable words [onset, nucleus, coda] of 5, 8 and 4 frames, with
    /// `slots` as given.
    fn singer(n: usize, slots: Vec<Slot>) -> LiveSinger {
        let (syllables, natural) = crate::sing::score::tests::lyric(n);
        LiveSinger {
            lyric: Lyric {
                sentences: Vec::new(),
                syllables,
                slots,
                warnings: Vec::new(),
            },
            natural,
            frames_per_second: 100.0,
            settings: SingSettings::default(),
            next: 0,
            held: None,
        }
    }

    #[test]
    fn a_note_sings_the_onset_then_holds_the_vowel_at_its_pitch() {
        let mut s = singer(2, vec![Slot::Syllable(0), Slot::Syllable(1)]);
        let take = s.note_on(69, 100, 0.0).unwrap();
        assert!(!take.legato);
        assert_eq!(take.syllable, 0);
        // The onset's 5 frames at 100 frames a second, then the vowel for the sustain.
        assert!((take.vowel.start - 0.05).abs() < 1e-9, "{:?}", take.vowel);
        assert!((take.vowel.end - take.vowel.start - SUSTAIN_SECONDS).abs() < 1e-9);
        assert!((take.hz - 440.0).abs() < 1e-9);
        let d = &take.phrase.durations;
        assert_eq!(d[0], 5.0);
        assert_eq!(d[1], 60.0);
        assert_eq!(d[2], 4.0);
        // The second syllable is not in this take.
        assert!(d[3..].iter().all(|&f| f == 0.0));
        let vowel_f0 = take.phrase.f0_hz[20];
        assert!((vowel_f0 - 440.0).abs() < 0.01, "{vowel_f0}");
    }

    #[test]
    fn legato_goes_from_the_held_vowel_through_the_consonants_into_the_next() {
        let mut s = singer(2, vec![Slot::Syllable(0), Slot::Syllable(1)]);
        s.note_on(60, 100, 0.0).unwrap();
        let take = s.note_on(62, 100, 0.0).unwrap();
        assert!(take.legato);
        assert_eq!(take.syllable, 1);
        let d = &take.phrase.durations;
        // No new onset of syllable 0; its vowel for the lead, its coda, then syllable 1.
        assert_eq!(d[0], 0.0);
        assert_eq!(d[1], 4.0);
        assert_eq!(d[2], 4.0);
        assert_eq!(d[3], 5.0);
        assert_eq!(d[4], 60.0);
        // The vowel lands after the lead and both clusters.
        assert!((take.vowel.start - (LEGATO_LEAD_SECONDS + 0.09)).abs() < 1e-9);
        // The note before still sounds at the start; the new key's pitch in the new vowel.
        let f0 = &take.phrase.f0_hz;
        assert!((f0[1] - 261.63).abs() < 0.1, "{}", f0[1]);
        assert!((f0[30] - 293.66).abs() < 0.1, "{}", f0[30]);
        // The released first key ends nothing now; the second does.
        assert!(!s.note_off(60));
        assert!(s.note_off(62));
    }

    #[test]
    fn a_hold_glides_the_vowel_and_the_lyric_starts_over_at_its_end() {
        let mut s = singer(1, vec![Slot::Syllable(0), Slot::Hold]);
        s.note_on(60, 100, 0.0).unwrap();
        let glide = s.note_on(64, 100, 0.0).unwrap();
        assert!(glide.legato);
        assert_eq!(glide.syllable, 0);
        assert_eq!(glide.phrase.durations[0], 0.0);
        assert!(s.note_off(64));
        // Back to the first syllable, sung afresh with its onset.
        let again = s.note_on(60, 100, 0.0).unwrap();
        assert!(!again.legato);
        assert_eq!(again.phrase.durations[0], 5.0);
        s.note_off(60);
        // A hold with nothing held sings its syllable from the onset.
        let lone = s.note_on(62, 100, 0.0).unwrap();
        assert!(!lone.legato);
        assert_eq!(lone.syllable, 0);
        assert_eq!(lone.phrase.durations[0], 5.0);
    }

    #[test]
    fn bend_moves_the_pitch_and_restart_goes_back_to_the_first_syllable() {
        let mut s = singer(
            3,
            vec![Slot::Syllable(0), Slot::Syllable(1), Slot::Syllable(2)],
        );
        let bent = s.note_on(69, 100, 0.5).unwrap();
        // Half of the default two semitones.
        let expected = 440.0 * 2f64.powf(1.0 / 12.0);
        assert!((bent.hz - expected).abs() < 1e-6);
        assert!((bent.phrase.f0_hz[20] as f64 - expected).abs() < 0.01);
        s.note_off(69);
        assert_eq!(s.position(), 1);
        s.restart();
        assert_eq!(s.note_on(60, 100, 0.0).unwrap().syllable, 0);
    }
}
