//! Reading weights out of PyTorch checkpoints and safetensors files.

use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::Device;

pub use crate::pickle::Checkpoint;

/// All tensors of `path`: a safetensors file, or a PyTorch file whose weights sit under one of
/// `keys` (a Lightning `state_dict`, a HiFi-GAN `generator`) or at the top level; with the
/// checkpoint's hyper-parameters when it has them.
pub fn read_checkpoint(path: &Path, keys: &[&str]) -> Result<Checkpoint> {
    if !path.is_file() {
        bail!("{} does not exist or is not a file", path.display());
    }
    if path.extension().is_some_and(|e| e == "safetensors") {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(Checkpoint {
            tensors,
            hyper_parameters: None,
            settings: Default::default(),
        });
    }
    // Only our own reader: it refuses unknown globals and oversized entries, which a fallback
    // to a more trusting reader would let through.
    crate::pickle::read_torch_zip(path, keys)
        .with_context(|| format!("cannot read weights from {}", path.display()))
}
