//! Signal processing with no model and no threads: STFT/ISTFT, log-mel, mel-domain pitch
//! shifts, the output limiters and loudness meter, resampling, PCM/WAV encoding and output files, `.npy` matrices.

pub mod f0;
pub mod limit;
pub mod loudness;
pub mod mel;
pub mod npy;
pub mod output_file;
pub mod pitch;
pub mod resample;
pub mod stft;
pub mod wav;

pub use mel::{MelConfig, MelSpectrogram};
pub use stft::{Istft, Stft};
