//! Singing: a lyric on a melody. The lyric is read by the text front end and cut into
//! syllables ([`syllables`]); each note takes the next syllable ([`lyrics`]: `-`, `+`, `[[ ]]`);
//! [`score`] times every phoneme to the notes and asks the F0 of the notes (with bend,
//! vibrato and glides); the voice then speaks each phrase through the one utterance loop with
//! those durations, with an F0-aware vocoder playing the notes' pitch.
//!
//! ```no_run
//! # fn main() -> mellow_engine::Result<()> {
//! use mellow_engine::sing::{tune, SingSettings};
//! use mellow_engine::{SynthesisOptions, Synthesizer};
//! let mut synth = Synthesizer::for_names("", None, true)?; // the built-in voice sings
//! let lyric = synth.lyric("Twin-kle twin-kle lit-tle star")?;
//! let melody = tune::tune_melody(&tune::parse_tune("C4 C4 G4 G4 A4 A4 G4:2")?, lyric.notes_needed(), 100.0, 0.95)?;
//! let song = synth.sing(&lyric, &melody, &SingSettings::default(), &SynthesisOptions::default())?;
//! assert!(song.audio.duration_seconds() > 4.0);
//! # Ok(()) }
//! ```

pub mod live;
pub mod lyrics;
pub mod melody;
pub mod score;
pub mod syllables;
pub mod tune;

pub use live::{LiveSinger, PreparedTake, Take};
pub use melody::{Melody, Note};
pub use score::{SingSettings, Slot};

use crate::error::{Error, Result};
use crate::synth::{Audio, ResolvedOptions, Segment, SynthesisOptions, Synthesizer, Utterance};
use crate::text::Sentence;
use lyrics::{parse_lyrics, LyricToken};
use score::{score, LyricSyllable, Score, Timing};

/// Gain of the breath noise in sung voiced sounds (-20 dB). A sustained vowel is sung with far
/// less breath than it is spoken, and the vocoder's noise, shaped frame by frame, repeats at its
/// frame rate (86 Hz): above the voice's own range, where the harmonics are weaker, Praat heard
/// notes G4-A4 at a third to a fifth of their pitch with the noise as spoken, two of ten an
/// octave low at -12 dB, and all ten right at -20 dB.
const SUNG_VOICED_NOISE: f32 = 0.1;

/// A lyric read by a voice: its sentences, syllables, and what each note takes.
#[derive(Debug, Clone)]
pub struct Lyric {
    pub sentences: Vec<Sentence>,
    pub syllables: Vec<LyricSyllable>,
    pub slots: Vec<Slot>,
    pub warnings: Vec<String>,
}

impl Lyric {
    /// How many notes sing every syllable and hold of it.
    pub fn notes_needed(&self) -> usize {
        self.slots.len()
    }
}

/// A sung melody: the audio (at the voice's rate), the score it followed, and the F0 asked of
/// each frame of each phrase (start in seconds, F0 per frame).
#[derive(Debug, Clone)]
pub struct Song {
    pub audio: Audio,
    pub score: Score,
    pub warnings: Vec<String>,
}

impl Synthesizer {
    /// Reads a lyric (see [`lyrics`]) into syllables for this voice.
    pub fn lyric(&self, text: &str) -> Result<Lyric> {
        let tokens = parse_lyrics(text)?;
        let words: Vec<&LyricToken> = tokens
            .iter()
            .filter(|t| matches!(t, LyricToken::Word { .. }))
            .collect();
        let reading_text = words
            .iter()
            .filter_map(|t| match t {
                LyricToken::Word { text, .. } => Some(text.as_str()),
                LyricToken::Hold => None,
            })
            .collect::<Vec<_>>()
            .join(" ");
        let utterance = self.utterance(&reading_text)?;
        let mut warnings = utterance.warnings.clone();
        let sentences: Vec<Sentence> = utterance.segments.into_iter().map(|s| s.sentence).collect();
        // Each written word's syllables, in order.
        let mut per_word: Vec<Vec<LyricSyllable>> = Vec::new();
        for (index, sentence) in sentences.iter().enumerate() {
            let symbols = self.symbols(&sentence.ids);
            for word in &sentence.words {
                let cut = syllables::syllables(&symbols, word.ids.clone());
                per_word.push(
                    cut.into_iter()
                        .map(|syllable| LyricSyllable {
                            sentence: index,
                            phonemes: symbols[syllable.ids()].concat(),
                            syllable,
                        })
                        .collect(),
                );
            }
        }
        if per_word.len() != words.len() {
            return Err(Error::input(format!(
                "the lyric has {} words and the voice read {}: leave out what is not a word",
                words.len(),
                per_word.len()
            )));
        }
        let mut syllables = Vec::new();
        let mut slots = Vec::new();
        let mut word = 0;
        for token in &tokens {
            match token {
                LyricToken::Hold => slots.push(Slot::Hold),
                LyricToken::Word { text, parts } => {
                    let sung = &per_word[word];
                    if *parts > 1 && *parts != sung.len() {
                        warnings.push(format!(
                            "\"{text}\" is written in {parts} parts and sung in {} syllables ({})",
                            sung.len(),
                            sung.iter()
                                .map(|s| s.phonemes.as_str())
                                .collect::<Vec<_>>()
                                .join("-")
                        ));
                    }
                    for s in sung {
                        slots.push(Slot::Syllable(syllables.len()));
                        syllables.push(s.clone());
                    }
                    word += 1;
                }
            }
        }
        Ok(Lyric {
            sentences,
            syllables,
            slots,
            warnings,
        })
    }

    /// Sings `lyric` on `melody`: the whole song at the voice's rate, silence where the melody
    /// rests, time 0 the melody's time 0. Needs an F0-aware vocoder. `options` give the steps,
    /// seed, temperature, loudness and speaker; rate and pitch come from the notes.
    pub fn sing(
        &mut self,
        lyric: &Lyric,
        melody: &Melody,
        settings: &SingSettings,
        options: &SynthesisOptions,
    ) -> Result<Song> {
        check_settings(settings)?;
        let opts = self.sing_options(options)?;
        let natural = lyric
            .sentences
            .iter()
            .map(|s| self.natural_durations(&s.ids, opts.speaker))
            .collect::<Result<Vec<_>>>()?;
        let rate = self.sample_rate();
        let timing = Timing {
            frames_per_second: rate as f64 / self.hop_length() as f64,
            natural: &natural,
        };
        let score = score(&lyric.syllables, &lyric.slots, melody, &timing, settings);
        self.set_voiced_noise(SUNG_VOICED_NOISE);
        let sung = self.sing_phrases(lyric, &score, &opts);
        self.set_voiced_noise(1.0);
        let samples = sung?;
        let mut warnings = lyric.warnings.clone();
        warnings.extend(score.warnings.iter().cloned());
        Ok(Song {
            audio: Audio {
                samples,
                sample_rate: rate,
            },
            score,
            warnings,
        })
    }

    /// `options` as singing takes them: the steps, seed, temperature, loudness and speaker; rate
    /// and pitch come from the notes. Fails for a vocoder that cannot play a given F0.
    pub fn sing_options(&self, options: &SynthesisOptions) -> Result<ResolvedOptions> {
        self.check_sings()?;
        self.resolve(&SynthesisOptions {
            rate: Some(1.0),
            pitch: 0.0,
            pitch_range: None,
            lead_in: Some(0.0),
            ..options.clone()
        })
    }

    /// Singing needs a vocoder that plays the F0 it is given.
    fn check_sings(&self) -> Result<()> {
        if self.follows_f0() {
            return Ok(());
        }
        Err(Error::input(format!(
            "singing needs an F0-aware vocoder, and `{}` plays the pitch its mel holds: \
             use a harmonic vocoder (the built-in voice's own)",
            self.vocoder_name()
        )))
    }

    /// Each phrase spoken and laid at its time.
    fn sing_phrases(
        &mut self,
        lyric: &Lyric,
        score: &Score,
        opts: &ResolvedOptions,
    ) -> Result<Vec<f32>> {
        let rate = self.sample_rate();
        let mut samples: Vec<f32> = Vec::new();
        for phrase in &score.phrases {
            let sentence = Sentence {
                id_gains_db: phrase.gains_db.clone(),
                ..lyric.sentences[phrase.sentence].clone()
            };
            let utterance = Utterance {
                segments: vec![Segment {
                    sentence,
                    durations: Some(phrase.durations.clone()),
                    pitch_curve: None,
                    f0_hz: Some(phrase.f0_hz.clone()),
                    sung: true,
                    mel: None,
                }],
                lead_in: 0.0,
                warnings: Vec::new(),
            };
            let mut sung = Vec::new();
            self.speak(&utterance, opts, rate, &mut sung)?;
            let at = (phrase.start * rate as f64).round() as usize;
            if samples.len() < at + sung.len() {
                samples.resize(at + sung.len(), 0.0);
            }
            for (out, s) in samples[at..].iter_mut().zip(&sung) {
                *out += s;
            }
        }
        Ok(samples)
    }
}

fn check_settings(s: &SingSettings) -> Result<()> {
    let within = |name: &str, v: f32, r: std::ops::RangeInclusive<f32>| {
        if r.contains(&v) {
            Ok(())
        } else {
            Err(Error::input(format!(
                "{name} must be {}..={} (got {v})",
                r.start(),
                r.end()
            )))
        }
    };
    within("bend range (semitones)", s.bend_range, score::BEND_RANGE)?;
    within(
        "vibrato depth (semitones)",
        s.vibrato_depth,
        score::VIBRATO_DEPTH,
    )?;
    within("vibrato rate (Hz)", s.vibrato_rate, score::VIBRATO_RATE)?;
    within("vibrato", s.vibrato, 0.0..=1.0)?;
    within("portamento (seconds)", s.portamento, score::PORTAMENTO)
}
