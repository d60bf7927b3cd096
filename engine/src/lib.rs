//! Mellow's engine: text → phonemes → encoder → durations → prior → sampler → mel → vocoder → PCM.
//!
//! The public face is [`Synthesizer`] (load a [`Voice`], then `speak`, `mel`, `vocode`); the
//! modules below it are the stages, each usable on its own.

pub mod audio;
pub mod conditioning;
pub mod error;
pub mod model;
pub mod pool;
pub mod stream;
pub mod synth;
pub mod text;
pub mod vocoder;
pub mod voice;

pub use error::{Error, Result};
pub use model::Sampler;
pub use synth::{Audio, MelOutput, ResolvedOptions, SynthesisOptions, Synthesizer};
pub use voice::{Voice, VoiceConfig};

/// Runs candle's element-wise operations on the calling thread (`CANDLE_NUM_THREADS=1`) unless
/// the user has chosen otherwise. candle spreads them over a pool of its own whose workers spin
/// while they wait; beside the engine's own threads (batch workers, the streaming worker, an
/// audio callback) that spinning only takes cores away.
///
/// # Safety
/// Sets an environment variable: call it first thing in `main`, before any other thread exists.
pub unsafe fn keep_candle_on_calling_threads() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}
