//! Mellow's engine: text → phonemes → encoder → durations → prior → sampler → mel → vocoder → PCM.

pub mod audio;
pub mod error;
pub mod model;
pub mod vocoder;
pub mod text;

pub use error::{Error, Result};
