//! Mellow's engine: text → phonemes → encoder → durations → prior → sampler → mel → vocoder → PCM.
//!
//! The public face is [`Synthesizer`] (load a [`Voice`], then `speak`, `mel`, `vocode`); the
//! modules below it are the stages, each usable on its own.

pub mod audio;
pub mod error;
pub mod model;
pub mod stream;
pub mod synth;
pub mod text;
pub mod vocoder;
pub mod voice;

pub use error::{Error, Result};
pub use model::Sampler;
pub use synth::{Audio, MelOutput, ResolvedOptions, SynthesisOptions, Synthesizer};
pub use voice::{Voice, VoiceConfig};
