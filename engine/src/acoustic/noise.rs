//! Seeded Gaussian noise: the same seed gives the same voice on every machine.

use candle_core::{Device, Result, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

pub struct NoiseSource {
    rng: ChaCha8Rng,
}

impl NoiseSource {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Standard normal noise of the given shape.
    pub fn normal(&mut self, shape: &[usize], device: &Device) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| StandardNormal.sample(&mut self.rng))
            .collect();
        Tensor::from_vec(values, shape, device)
    }
}

/// Standard normal noise for one frame: `values.len()` draws from a stream of its own, so a frame's
/// noise does not depend on how the utterance is cut into windows. `pass` separates the start noise
/// (0) from each later draw of the SDE sampler (1, 2, ...).
pub fn frame_noise(seed: u64, pass: u64, frame: usize, values: &mut [f32]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((pass << 40) | frame as u64);
    for v in values {
        *v = StandardNormal.sample(&mut rng);
    }
}
