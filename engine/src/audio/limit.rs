//! A soft limiter, sample by sample: it never lets a bad model send a full-scale burst, and it
//! needs no look-ahead, so a stream and a whole render limit alike.

/// Samples up to this level pass unchanged; louder ones bend smoothly towards [`LIMIT_CEILING`].
pub const LIMIT_KNEE: f32 = 0.9;
/// The level no limited sample reaches.
pub const LIMIT_CEILING: f32 = 0.99;

/// Limits `samples` in place.
///
/// ```
/// let mut s = [0.5, 3.0, -40.0];
/// mellow_engine::audio::limit::limit(&mut s);
/// assert_eq!(s[0], 0.5);
/// assert!(s[1] <= 0.99 && s[2] >= -0.99);
/// ```
pub fn limit(samples: &mut [f32]) {
    let room = LIMIT_CEILING - LIMIT_KNEE;
    for s in samples {
        let magnitude = s.abs();
        if magnitude > LIMIT_KNEE {
            *s = s.signum() * (LIMIT_KNEE + room * ((magnitude - LIMIT_KNEE) / room).tanh());
        }
    }
}

/// Sample-peak ceiling of loudness-normalised speech, in dBFS: the true peak stays under -1 dBTP
/// (EBU R128's and the streaming services' ceiling) with half a decibel left for the overshoot
/// between samples.
pub const NORMALISED_CEILING_DB: f32 = -1.5;
/// How fast a [`PeakLimiter`] gives back its gain reduction (to 1/e of it).
pub const RELEASE_SECONDS: f32 = 0.05;

/// A peak limiter without look-ahead: where a sample would pass the ceiling the gain drops at
/// once to put it exactly there, then recovers over [`RELEASE_SECONDS`], so the cycles after a
/// peak are turned down rather than clipped. Without look-ahead it delays nothing, so a stream
/// and a whole render limit alike.
///
/// ```
/// use mellow_engine::audio::limit::PeakLimiter;
/// let mut limiter = PeakLimiter::new(-6.0, 22_050);
/// let mut s = [0.1, 0.9, -0.9, 0.1];
/// limiter.process(&mut s);
/// assert_eq!(s[0], 0.1);
/// assert!(s[1..].iter().all(|v| v.abs() <= 0.502));
/// ```
#[derive(Debug, Clone)]
pub struct PeakLimiter {
    ceiling: f32,
    release: f32,
    gain: f32,
}

impl PeakLimiter {
    pub fn new(ceiling_db: f32, rate: u32) -> Self {
        Self {
            ceiling: 10f32.powf(ceiling_db / 20.0),
            release: 1.0 - (-1.0 / (RELEASE_SECONDS * rate.max(1) as f32)).exp(),
            gain: 1.0,
        }
    }

    /// Limits `samples` in place (NaN passes to the soft limiter after it, which the callers run).
    pub fn process(&mut self, samples: &mut [f32]) {
        for s in samples {
            self.gain += (1.0 - self.gain) * self.release;
            let magnitude = s.abs();
            if magnitude * self.gain > self.ceiling {
                self.gain = self.ceiling / magnitude;
            }
            *s *= self.gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_holds_the_ceiling_and_lets_go_after_the_peak() {
        let rate = 22_050;
        let mut limiter = PeakLimiter::new(-1.5, rate);
        let ceiling = 10f32.powf(-1.5 / 20.0);
        let tone = |amplitude: f32, n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| amplitude * (i as f32 * 0.07).sin())
                .collect()
        };
        let mut loud = tone(2.0, 2_000);
        limiter.process(&mut loud);
        assert!(loud.iter().all(|v| v.abs() <= ceiling + 1e-6));
        // After half a second of quiet the gain is back at 1 (within 0.01 dB).
        let mut quiet = tone(0.1, rate as usize / 2);
        limiter.process(&mut quiet);
        let expected = tone(0.1, rate as usize / 2);
        let last = quiet.len() - 50;
        assert!((quiet[last] - expected[last]).abs() <= 0.1 * 0.0012);
        // Below the ceiling nothing changes.
        let mut fresh = PeakLimiter::new(-1.5, rate);
        let mut soft = tone(0.5, 1_000);
        fresh.process(&mut soft);
        assert_eq!(soft, tone(0.5, 1_000));
    }

    #[test]
    fn chunks_limit_as_the_whole_does() {
        let signal: Vec<f32> = (0..5_000)
            .map(|i| 1.5 * (i as f32 * 0.03).sin() * (i as f32 * 0.001).cos())
            .collect();
        let mut whole = signal.clone();
        PeakLimiter::new(-1.5, 22_050).process(&mut whole);
        let mut limiter = PeakLimiter::new(-1.5, 22_050);
        let mut pieces = signal.clone();
        for chunk in pieces.chunks_mut(333) {
            limiter.process(chunk);
        }
        assert_eq!(whole, pieces);
    }
}
