//! The acoustic model in candle: no file or device I/O here (voice/ loads, model/ computes).

pub mod acoustic;
pub mod config;
pub mod conv_direct;
pub mod dense;
pub mod encoder;
pub mod estimator;
pub mod fast_math;
pub mod layers;
pub mod mel_stream;
pub mod noise;
pub mod sampler;
pub mod windows;

pub use acoustic::{AcousticModel, FramePrior};
pub use config::AcousticConfig;
pub use mel_stream::{DecodeSettings, MelStream};
pub use sampler::Sampler;
