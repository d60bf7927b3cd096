//! Whether the host is rendering faster than real time without saying so. Some hosts (Ardour 7
//! among them) export a session by running their engine free, as fast as the plugins allow,
//! without telling a VST3 that it runs offline. Sing mode must then wait for each note's take, as
//! in a bounce the host does announce, or every note would come late. A sound card plays one
//! second of audio a second; a free-running export plays many. [`PaceMeter`] compares the audio
//! `process()` is asked for with the time the host itself takes between calls (the time the
//! plugin spent waiting does not count), over windows of at least [`WINDOW_SECONDS`] of audio.
//!
//! Reading the clock is a vDSO call on the platforms we build for: no system call, no lock.

use std::time::{Duration, Instant};

/// Audio measured at once: long enough that a sound card's uneven callbacks (and the periods a
/// sound server asks for back to back as a stream starts) average out.
pub const WINDOW_SECONDS: f64 = 0.1;
/// Faster than this, the host runs free.
const FREE_RUNNING: f64 = 4.0;
/// Slower than this again, it plays in real time.
const REAL_TIME: f64 = 1.5;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct PaceMeter {
    window_start: Option<Instant>,
    /// Audio (seconds) and own waiting within the current window.
    audio: f64,
    waited: Duration,
    free_running: bool,
}

impl PaceMeter {
    /// Counts a block of `seconds` of audio asked for now; true while the host runs faster than
    /// real time.
    pub fn block(&mut self, seconds: f64) -> bool {
        let now = Instant::now();
        let start = *self.window_start.get_or_insert(now);
        self.audio += seconds;
        if self.audio >= WINDOW_SECONDS {
            let host_time = now
                .saturating_duration_since(start)
                .saturating_sub(self.waited)
                .as_secs_f64();
            self.update(self.audio, host_time);
            self.window_start = Some(now);
            self.audio = 0.0;
            self.waited = Duration::ZERO;
        }
        self.free_running
    }

    /// The plugin itself waited this long in the current block (not the host's pace).
    pub fn waited(&mut self, time: Duration) {
        self.waited += time;
    }

    /// Forgets the pace measured so far (the host stopped and starts again).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// One window: `audio` seconds asked for in `host_time` seconds of the host's own time.
    fn update(&mut self, audio: f64, host_time: f64) {
        // A window's first call opens it, so its audio arrived in the time after that call:
        // less than the window holds, which only makes real time look slower.
        let speed = audio / host_time.max(1e-6);
        if speed > FREE_RUNNING {
            self.free_running = true;
        } else if speed < REAL_TIME {
            self.free_running = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_running_free_is_noticed_and_real_time_again_is_too() {
        let mut pace = PaceMeter::default();
        assert!(!pace.free_running);
        // A sound card: 0.1 s of audio in 0.1 s.
        pace.update(0.1, 0.1);
        assert!(!pace.free_running);
        // An export: 0.1 s of audio in 2 ms.
        pace.update(0.1, 0.002);
        assert!(pace.free_running);
        // Between the two thresholds nothing changes.
        pace.update(0.1, 0.04);
        assert!(pace.free_running);
        pace.update(0.1, 0.1);
        assert!(!pace.free_running);
    }

    #[test]
    fn blocks_asked_for_at_once_run_free_and_waiting_does_not_slow_them() {
        let mut pace = PaceMeter::default();
        let mut free = false;
        for _ in 0..30 {
            free = pace.block(0.01);
            // The plugin waits a while each block; the host itself asks at once.
            std::thread::sleep(Duration::from_millis(2));
            pace.waited(Duration::from_millis(2));
        }
        assert!(free);
        pace.reset();
        for _ in 0..25 {
            free = pace.block(0.01);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!free);
    }
}
