//! Mellow's engine: text → phonemes → encoder → durations → prior → sampler → mel → vocoder → PCM.
//!
//! The face: load a [`Voice`] (`voice::resolve_voice` takes a built-in name, a voice-folder name
//! or a path), make a [`Synthesizer`], turn what to say into an [`Utterance`] and
//! [`Synthesizer::speak`] it into any [`SpeechSink`]; a [`Pipeline`] runs that loop on a worker
//! thread for live playback. The modules are the floors of the house, each usable on its own,
//! each importing only from the floors below it:
//!
//! ```text
//! stream/  pipeline (worker, control channel) and the real-time ring      ─┐
//! sing/    lyrics → syllables on a melody's notes (MIDI, tunes)            │
//! synth/   options, the Synthesizer, the one utterance loop                │ uses
//! voice/   file format, built-in voice, resolution; conditioning files     │ what is
//! acoustic/ the Matcha-style model    vocoder/ vocoders + chunked vocoding  │ below
//! nn/      shared kernels             text/ front end    audio/ DSP, WAV    ▼
//! ```
//!
//! ```no_run
//! # fn main() -> mellow_engine::Result<()> {
//! use mellow_engine::{voice::resolve_voice, SynthesisOptions, Synthesizer};
//! let mut synth = Synthesizer::new(&resolve_voice("mellow-joe")?, None)?;
//! let audio = synth.speak_text("Hello from Mellow.", &SynthesisOptions::default())?;
//! mellow_engine::audio::wav::write_wav_atomic("hello.wav".as_ref(), &audio.samples, audio.sample_rate)?;
//! # Ok(()) }
//! ```

pub mod acoustic;
pub mod audio;
pub mod conditioning;
pub mod error;
pub mod input;
pub mod nn;
pub mod pool;
pub mod sing;
pub mod stream;
pub mod synth;
pub mod text;
pub mod vocoder;
pub mod voice;

pub use acoustic::Sampler;
pub use error::{Error, Result};
pub use stream::{Pipeline, PipelineConfig};
pub use synth::{
    Audio, MelOutput, Outcome, ResolvedOptions, Segment, SpeechSink, SynthesisOptions, Synthesizer,
    Utterance,
};
pub use voice::{Voice, VoiceConfig};

/// Settles how candle uses threads, where the user has not chosen otherwise:
/// - its element-wise operations run on the calling thread (`CANDLE_NUM_THREADS=1`): candle
///   spreads them over a pool of its own whose workers spin while they wait; beside the engine's
///   own threads (batch workers, the streaming worker, an audio callback) that spinning only
///   takes cores away;
/// - its matrix products split over as many threads as rayon's pool has (`RAYON_NUM_THREADS`, set
///   to the CPUs this process may use, rayon's own default): without it candle counts the cores
///   anew for every product by reading `/proc/cpuinfo`, hundreds of times a sentence.
///
/// ```no_run
/// // First thing in `main`:
/// unsafe { mellow_engine::settle_candle_threads() };
/// ```
///
/// # Safety
/// Sets environment variables: call it first thing in `main`, before any other thread exists.
pub unsafe fn settle_candle_threads() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        std::env::set_var("RAYON_NUM_THREADS", cpus.to_string());
    }
}
