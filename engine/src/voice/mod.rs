//! Voice files: one safetensors file whose metadata holds the JSON config (sizes, mel settings,
//! phoneme map, sampler defaults, provenance, license) and whose tensors hold the weights.

pub mod config;
pub mod embedded;
pub mod file;
pub mod pitch_control;
pub mod resolve;

pub use config::{SynthesisDefaults, VoiceConfig};
pub use file::Voice;
pub use pitch_control::PitchControl;
pub use resolve::resolve_voice;
