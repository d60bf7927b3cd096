//! Reading weights out of PyTorch checkpoints and safetensors files.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use mellow_engine::error::candle_message;

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
        });
    }
    // Our own reader first: it also reads checkpoints holding arbitrary Python objects.
    let mut errors = Vec::new();
    match crate::pickle::read_torch_zip(path, keys) {
        Ok(t) => return Ok(t),
        Err(e) => errors.push(format!("{e:#}")),
    }
    for key in keys.iter().map(|k| Some(*k)).chain([None]) {
        match candle_core::pickle::read_all_with_key(path, key) {
            Ok(list) if !list.is_empty() => {
                let tensors: HashMap<String, Tensor> = list.into_iter().collect();
                return Ok(Checkpoint {
                    tensors,
                    hyper_parameters: None,
                });
            }
            Ok(_) => errors.push(format!(
                "no tensors under {}",
                key.unwrap_or("the top level")
            )),
            Err(e) => errors.push(format!(
                "{}: {}",
                key.unwrap_or("top level"),
                candle_message(&e)
            )),
        }
    }
    bail!(
        "cannot read weights from {}: {}",
        path.display(),
        errors.join("; ")
    )
}
