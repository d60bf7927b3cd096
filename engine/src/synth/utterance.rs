//! What to say, once the front end (text, phonemes or a conditioning file) has read it: segments
//! of phoneme ids, each with what is given of its durations and pitch.

use candle_core::Tensor;

use crate::text::Sentence;

/// What to say: segments spoken in order with a short pause between, and what the front end
/// had to skip to get them.
#[derive(Debug, Clone, Default)]
pub struct Utterance {
    pub segments: Vec<Segment>,
    /// Silence before the first segment, in seconds: [`super::LEAD_IN`] for text and phonemes,
    /// none for a conditioning file (its timing is kept) or where a sound must start at once
    /// (a note in the plugin).
    pub lead_in: f32,
    /// Characters or words the voice could not read (the rest speaks).
    pub warnings: Vec<String>,
}

/// One stretch of speech the model takes at once: a sentence's ids, with the durations (frames
/// per id at rate 1) and the pitch curve (semitones over the segment) when they are given.
#[derive(Debug, Clone)]
pub struct Segment {
    pub sentence: Sentence,
    pub durations: Option<Vec<f32>>,
    pub pitch_curve: Option<Vec<f32>>,
    /// F0 in Hz over time, stretched over the segment's frames (an F0-aware vocoder plays it).
    pub f0_hz: Option<Vec<f32>>,
    /// `f0_hz` is a sung melody: an F0-conditioned decoder makes the mel at its own pitch and
    /// the vocoder alone plays the notes (told the notes, the decoder is misheard more).
    pub sung: bool,
    /// The segment's mel, made beforehand by [`super::Synthesizer::segment_mel`] (a sung take
    /// prepared before its note): speaking it runs only the vocoder and what follows it.
    pub mel: Option<MadeMel>,
}

/// A segment's mel as the acoustic model made it, with what speaking it needs besides.
#[derive(Debug, Clone)]
pub struct MadeMel {
    /// `[1, n_mels, frames]`, de-normalised.
    pub mel: Tensor,
    /// Frames per id, as the model spread them.
    pub durations: Vec<f32>,
    /// The voice's own F0 of each frame (natural log of Hz), when its intonation was asked for.
    pub intonation: Option<Vec<f32>>,
}

impl From<Sentence> for Segment {
    fn from(sentence: Sentence) -> Self {
        Self {
            sentence,
            durations: None,
            pitch_curve: None,
            f0_hz: None,
            sung: false,
            mel: None,
        }
    }
}
