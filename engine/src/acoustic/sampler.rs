//! Samplers that turn the prior mu into a mel with a few evaluations of the estimator.
//!
//! Flow matching (Matcha-TTS, arXiv 2309.03199): integrate the learned velocity from noise at t = 0
//! to the mel at t = 1 with Euler, Heun or midpoint steps. Score diffusion (Grad-TTS,
//! arXiv 2105.06337): start from N(mu, temperature² I) at t = 1 and run the reverse VP-SDE or its
//! probability-flow ODE to t = 0.

use std::str::FromStr;

use candle_core::{Result, Tensor};

use super::config::AcousticConfig;
use super::estimator::Estimator;

/// Stored in voice files by its name (`"heun"`, `"ode"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Sampler {
    /// Flow matching, first-order Euler (Matcha's `solve_euler`): one estimator call per step.
    Euler,
    /// Flow matching, Heun's second-order method: two calls per step.
    Heun,
    /// Flow matching, explicit midpoint: two calls per step.
    Midpoint,
    /// Score diffusion, reverse probability-flow ODE (deterministic given the start noise).
    DiffusionOde,
    /// Score diffusion, reverse SDE (fresh noise every step).
    DiffusionSde,
}

impl Sampler {
    pub const ALL: [Sampler; 5] = [
        Self::Euler,
        Self::Heun,
        Self::Midpoint,
        Self::DiffusionOde,
        Self::DiffusionSde,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Euler => "euler",
            Self::Heun => "heun",
            Self::Midpoint => "midpoint",
            Self::DiffusionOde => "ode",
            Self::DiffusionSde => "sde",
        }
    }

    pub fn is_flow_matching(self) -> bool {
        matches!(self, Self::Euler | Self::Heun | Self::Midpoint)
    }

    /// Estimator evaluations for `steps` steps.
    pub fn evaluations(self, steps: usize) -> usize {
        match self {
            Self::Heun | Self::Midpoint => 2 * steps,
            _ => steps,
        }
    }
}

impl FromStr for Sampler {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown sampler `{s}`: choose euler, heun, midpoint, ode or sde")
            })
    }
}

impl TryFrom<String> for Sampler {
    type Error = String;
    fn try_from(name: String) -> std::result::Result<Self, String> {
        name.parse()
    }
}

impl From<Sampler> for String {
    fn from(sampler: Sampler) -> String {
        sampler.name().into()
    }
}

impl std::fmt::Display for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a sampler run needs besides the estimator.
pub struct SamplerInput<'a> {
    pub mu: &'a Tensor,
    pub mask: &'a Tensor,
    pub speaker: Option<&'a Tensor>,
    /// Standard normal noise shaped like mu: the start point, scaled by `temperature`.
    pub noise: &'a Tensor,
    pub temperature: f64,
    pub steps: usize,
    /// Draws fresh standard normal noise shaped like mu (the SDE sampler's per-step noise).
    pub step_noise: &'a mut dyn FnMut() -> Result<Tensor>,
}

/// Runs `sampler` for `input.steps` steps and returns the normalised mel `[1, n_feats, T]`.
pub fn sample(
    sampler: Sampler,
    estimator: &Estimator,
    cfg: &AcousticConfig,
    input: SamplerInput,
) -> Result<Tensor> {
    let SamplerInput {
        mu,
        mask,
        speaker,
        noise,
        temperature,
        steps,
        step_noise,
    } = input;
    let v = |x: &Tensor, t: f64| estimator.forward(x, mask, mu, t, speaker);
    let steps = steps.max(1);
    match sampler {
        Sampler::Euler | Sampler::Heun | Sampler::Midpoint => {
            let mut x = (noise * temperature)?;
            let dt = 1.0 / steps as f64;
            for i in 0..steps {
                let t = i as f64 * dt;
                x = match sampler {
                    Sampler::Euler => (&x + (v(&x, t)? * dt)?)?,
                    Sampler::Heun => {
                        let k1 = v(&x, t)?;
                        let predicted = (&x + (&k1 * dt)?)?;
                        let k2 = v(&predicted, t + dt)?;
                        (&x + ((k1 + k2)? * (dt / 2.0))?)?
                    }
                    _ => {
                        let k1 = v(&x, t)?;
                        let half = (&x + (k1 * (dt / 2.0))?)?;
                        (&x + (v(&half, t + dt / 2.0)? * dt)?)?
                    }
                };
            }
            Ok(x)
        }
        Sampler::DiffusionOde | Sampler::DiffusionSde => {
            let h = 1.0 / steps as f64;
            let mut x = (mu + (noise * temperature)?)?.broadcast_mul(mask)?;
            for i in 0..steps {
                let t = 1.0 - (i as f64 + 0.5) * h;
                let beta = cfg.beta_min + (cfg.beta_max - cfg.beta_min) * t;
                let score = v(&x, t)?;
                let dx = if sampler == Sampler::DiffusionOde {
                    // dx = 0.5 (mu - x - score) beta h
                    (((mu - &x)? - score)? * (0.5 * beta * h))?
                } else {
                    // dx = (0.5 (mu - x) - score) beta h + sqrt(beta h) z
                    let det = ((((mu - &x)? * 0.5)? - score)? * (beta * h))?;
                    (det + (step_noise()? * (beta * h).sqrt())?)?
                };
                x = (&x - dx)?.broadcast_mul(mask)?;
            }
            Ok(x)
        }
    }
}
