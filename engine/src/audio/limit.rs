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
