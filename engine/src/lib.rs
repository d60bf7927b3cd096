//! Mellow's engine: text → phonemes → encoder → durations → prior → sampler → mel → vocoder → PCM.

pub mod audio;
pub mod error;
pub mod text;

pub use error::{Error, Result};
