//! The acoustic model in candle: no file or device I/O here (voice/ loads, model/ computes).

pub mod acoustic;
pub mod config;
pub mod conv_direct;
pub mod encoder;
pub mod estimator;
pub mod layers;
pub mod noise;
pub mod sampler;

pub use acoustic::{AcousticModel, FramePrior};
pub use config::AcousticConfig;
pub use sampler::Sampler;
