//! Signal processing with no model and no threads: STFT/ISTFT, log-mel, WAV files, resampling.

pub mod mel;
pub mod npy;
pub mod output_file;
pub mod pitch;
pub mod resample;
pub mod stft;
pub mod wav;

pub use mel::{MelConfig, MelSpectrogram};
pub use stft::{Istft, Stft};
