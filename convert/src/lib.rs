//! Reading weights out of PyTorch checkpoints and safetensors files, for `mellow convert`.
//!
//! A checkpoint is untrusted input: the pickle reader runs no Python, accepts only the globals a
//! tensor checkpoint needs (see [`pickle::ALLOWED_GLOBALS`]) and reads no archive entry beyond
//! the bytes its tensors need, so a crafted file is refused with a message, never executed,
//! inflated or allowed to exhaust memory.

pub mod checkpoint;
pub mod pickle;

pub use checkpoint::{read_checkpoint, Checkpoint};
