//! The Matcha-style acoustic model: phoneme ids → encoder → durations → prior per frame → the
//! flow-matching (or score-diffusion) sampler over the U-Net decoder → mel. No file or device I/O
//! here: voice/ loads, acoustic/ computes, on the kernels of nn/.

pub mod config;
pub mod encoder;
pub mod estimator;
pub mod intonation;
pub mod mel_stream;
pub mod model;
pub mod noise;
pub mod pitch_condition;
pub mod sampler;
pub mod windows;

pub use config::AcousticConfig;
pub use mel_stream::{DecodeSettings, MelStream};
pub use model::{AcousticModel, FramePrior};
pub use pitch_condition::{FramePitch, PitchCondition};
pub use sampler::Sampler;
