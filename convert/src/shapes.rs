//! Sizes read off a checkpoint's tensor shapes.

use std::collections::HashMap;

use anyhow::{Context, Result};
use candle_core::Tensor;

/// The shape of tensor `name`, or an error saying the checkpoint may be of another kind.
pub fn dims(tensors: &HashMap<String, Tensor>, name: &str) -> Result<Vec<usize>> {
    Ok(tensors
        .get(name)
        .with_context(|| format!("the checkpoint has no tensor `{name}`: is it the right kind?"))?
        .dims()
        .to_vec())
}

/// How many numbered children `prefix.0.`, `prefix.1.`, ... the checkpoint holds.
pub fn count(tensors: &HashMap<String, Tensor>, prefix: &str) -> usize {
    (0..)
        .take_while(|i| {
            let child = format!("{prefix}.{i}.");
            tensors.keys().any(|k| k.starts_with(&child))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_counted_until_the_first_gap() {
        let t = |n: usize| {
            Tensor::zeros(n, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap()
        };
        let tensors: HashMap<String, Tensor> = [
            ("blocks.0.w".to_string(), t(2)),
            ("blocks.1.w".to_string(), t(3)),
            ("blocks.3.w".to_string(), t(3)),
        ]
        .into_iter()
        .collect();
        assert_eq!(count(&tensors, "blocks"), 2);
        assert_eq!(dims(&tensors, "blocks.1.w").unwrap(), vec![3]);
        assert!(dims(&tensors, "other")
            .unwrap_err()
            .to_string()
            .contains("right kind"));
    }
}
