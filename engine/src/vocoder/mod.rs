//! Vocoders: mel → waveform. One trait; the neural Vocos and HiFi-GAN vocoders, the F0-aware
//! harmonic-plus-noise vocoder and the weights-free phase-reconstruction vocoder are
//! interchangeable behind it.

pub mod chunked;
pub mod config;
pub mod convnext;
pub mod factory;
pub mod harmonic;
pub mod hifigan;
pub mod phase;
pub mod vocos;

use std::ops::Range;

use candle_core::Tensor;

pub use config::{IstftPadding, ResBlockKind, VocoderConfig};

use crate::error::Result;

pub trait Vocoder: Send {
    /// A short name for messages and `mellow info`.
    fn name(&self) -> &'static str;
    /// Output samples per mel frame.
    fn hop_length(&self) -> usize;
    /// Mel frames of context on each side that make a chunk vocode exactly as in the whole mel
    /// (see [`VocoderConfig::context_frames`]); `None` when only whole mels vocode correctly.
    fn context_frames(&self) -> Option<usize>;
    /// Forgets what earlier spans left (a running phase): the next span starts a new signal.
    /// Spans between two resets must follow each other.
    fn reset(&mut self) {}
    /// Moves the pitch played, with the spectral envelope kept, by `semitones[t]` at frame `t`
    /// counted from the last reset (the last value holds beyond; one value is a constant), for
    /// the spans after it; false when this vocoder cannot (it plays the pitch its mel holds).
    fn shift_pitch(&mut self, _semitones: &[f32]) -> bool {
        false
    }
    /// Plays F0 `exp(log_f0[t])` Hz at frame `t` counted from the last reset, where the mel is
    /// voiced, instead of the F0 the mel holds (frames past the curve keep the mel's; empty:
    /// the mel's everywhere). A shift from [`Vocoder::shift_pitch`] still applies on top. False
    /// when this vocoder cannot.
    /// Scales the noise the vocoder adds to voiced frames (1 = as trained) for the spans after
    /// it: a sustained sung vowel carries less breath than speech. False when this vocoder has
    /// no separate noise.
    fn set_voiced_noise(&mut self, _gain: f32) -> bool {
        false
    }
    fn follow_f0(&mut self, _log_f0: &[f32]) -> bool {
        false
    }
    /// Whether [`Vocoder::follow_f0`] and [`Vocoder::shift_pitch`] work here.
    fn follows_f0(&self) -> bool {
        false
    }
    /// Turns a log-mel `[1, n_mels, T]` into mono samples (`T * hop_length` of them).
    fn vocode(&mut self, mel: &Tensor) -> Result<Vec<f32>>;
    /// The samples of frames `keep` only, the rest of `mel` being context. A vocoder may skip
    /// the work whose output would be thrown away.
    fn vocode_span(&mut self, mel: &Tensor, keep: Range<usize>) -> Result<Vec<f32>> {
        let hop = self.hop_length();
        let mut samples = self.vocode(mel)?;
        let end = (keep.end * hop).min(samples.len());
        samples.truncate(end);
        samples.drain(..(keep.start * hop).min(end));
        Ok(samples)
    }
}
