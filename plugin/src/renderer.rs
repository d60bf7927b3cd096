//! An instance's side of rendering: what its phrases are rendered from, what it is told back, and
//! its registration with the process-wide engine (`engine.rs`), which renders every phrase
//! whenever the text, a synthesis parameter or the host's rate changes and hands the audio thread
//! a new phrase bank. Notes therefore play with no synthesis in `process()`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::{Client, Handoff, SharedEngine, SingLink};
use crate::phrases::NoteMapping;
use crate::player::PhraseBank;

/// What the phrases are rendered from; a change starts a new render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    pub text: String,
    /// A voice file, or empty for the built-in voice.
    pub voice: String,
    pub steps: usize,
    pub temperature: f32,
    pub rate: f32,
    pub mapping: NoteMapping,
    /// The host's sample rate (0 before activation: nothing is rendered yet).
    pub sample_rate: u32,
}

impl RenderSettings {
    /// A hash of every field, as [`settings_fingerprint`] computes it from borrowed parts.
    pub fn fingerprint(&self) -> u64 {
        settings_fingerprint(
            &self.text,
            &self.voice,
            self.steps,
            self.temperature,
            self.rate,
            self.mapping,
            self.sample_rate,
        )
    }
}

/// A hash of render settings from borrowed parts: no allocation, so the audio thread of an
/// offline bounce can tell whether the phrases it has were rendered from the current settings.
pub fn settings_fingerprint(
    text: &str,
    voice: &str,
    steps: usize,
    temperature: f32,
    rate: f32,
    mapping: NoteMapping,
    sample_rate: u32,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    voice.hash(&mut h);
    steps.hash(&mut h);
    temperature.to_bits().hash(&mut h);
    rate.to_bits().hash(&mut h);
    match mapping {
        NoteMapping::KeyPerLine => 0u16.hash(&mut h),
        NoteMapping::PitchFollow { root } => (1u16 << 8 | root as u16).hash(&mut h),
        NoteMapping::Sing {
            bend_range,
            portamento_ms,
        } => (2u16, bend_range, portamento_ms).hash(&mut h),
    }
    sample_rate.hash(&mut h);
    h.finish()
}

/// What the renderer reports (to the editor and the tests).
#[derive(Default)]
pub struct RenderStatus {
    /// Banks handed to the audio thread so far.
    pub published: AtomicU64,
    pub busy: AtomicBool,
    /// The last bank published was rendered from the current settings, complete.
    pub up_to_date: AtomicBool,
    /// The settings of the last complete bank handed to the audio thread.
    pub(crate) delivered: Mutex<Option<RenderSettings>>,
    /// Their fingerprint (see [`settings_fingerprint`]), for the audio thread.
    pub delivered_fingerprint: AtomicU64,
    /// The last line that could not be spoken, and why.
    pub error: Mutex<Option<String>>,
    /// Each line's peak envelope at its own pitch, for the editor's waveform.
    previews: Mutex<Vec<Vec<f32>>>,
}

/// Points in a preview envelope.
const PREVIEW_POINTS: usize = 400;

impl RenderStatus {
    /// The peak envelope of `line` (empty until it is rendered).
    pub fn preview(&self, line: usize) -> Vec<f32> {
        self.previews
            .lock()
            .map(|p| p.get(line).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    pub fn last_error(&self) -> Option<String> {
        self.error.lock().ok()?.clone()
    }

    pub(crate) fn set_delivered(&self, settings: &RenderSettings) {
        *self
            .delivered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(settings.clone());
        self.delivered_fingerprint
            .store(settings.fingerprint(), Ordering::Release);
    }

    pub(crate) fn set_error(&self, error: Option<String>) {
        *self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }

    pub(crate) fn set_previews(&self, bank: &PhraseBank) {
        let previews = bank
            .lines
            .iter()
            .map(|variants| {
                variants
                    .iter()
                    .find(|(offset, _)| *offset == 0)
                    .or(variants.first())
                    .map(|(_, samples)| peaks(samples))
                    .unwrap_or_default()
            })
            .collect();
        if let Ok(mut p) = self.previews.lock() {
            *p = previews;
        }
    }
}

/// The largest magnitude in each of `PREVIEW_POINTS` stretches of `samples`.
fn peaks(samples: &[f32]) -> Vec<f32> {
    if samples.is_empty() {
        return Vec::new();
    }
    let step = samples.len().div_ceil(PREVIEW_POINTS);
    samples
        .chunks(step)
        .map(|c| c.iter().fold(0f32, |m, s| m.max(s.abs())))
        .collect()
}

/// An instance's registration with the shared engine. Nothing runs until [`Renderer::connect`]
/// (at activation); dropping it cancels the instance's render and returns at once (the engine
/// itself ends with the last instance).
pub struct Renderer {
    client: Arc<Client>,
    engine: Option<Arc<SharedEngine>>,
}

impl Renderer {
    /// An idle renderer for the settings `settings` reads, publishing into `to_audio`; in sing
    /// mode it sings the notes of `sing`.
    pub fn new(
        settings: impl Fn() -> RenderSettings + Send + Sync + 'static,
        to_audio: rtrb::Producer<Box<PhraseBank>>,
        retired: rtrb::Consumer<Box<PhraseBank>>,
        sing: SingLink,
    ) -> Renderer {
        Renderer {
            client: Arc::new(Client {
                id: SharedEngine::next_client_id(),
                settings: Box::new(settings),
                status: Arc::new(RenderStatus::default()),
                handoff: Mutex::new(Handoff::new(to_audio, retired)),
                sing: Mutex::new(sing),
                removed: AtomicBool::new(false),
            }),
            engine: None,
        }
    }

    /// Joins the shared engine (starting it if this is the first active instance) and asks for
    /// a render of the current settings.
    pub fn connect(&mut self) -> Result<(), String> {
        match &self.engine {
            Some(engine) => engine.wake(),
            None => {
                let engine = SharedEngine::acquire()?;
                engine.register(self.client.clone());
                self.engine = Some(engine);
            }
        }
        Ok(())
    }

    /// Waits (on the caller's thread, never the audio thread) until the phrases of the current
    /// settings are rendered and handed over, or `limit` has passed; true when they are.
    pub fn wait_until_rendered(&self, limit: std::time::Duration) -> bool {
        let started = std::time::Instant::now();
        let rendered = || {
            let status = &self.client.status;
            status.up_to_date.load(Ordering::Acquire)
                && status
                    .delivered
                    .lock()
                    .is_ok_and(|d| d.as_ref() == Some(&(self.client.settings)()))
        };
        while !rendered() {
            if started.elapsed() > limit {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        true
    }

    /// Tells the engine the settings changed (text from the editor, a loaded state).
    pub fn settings_changed(&self) {
        self.client
            .status
            .up_to_date
            .store(false, Ordering::Release);
        if let Some(engine) = &self.engine {
            engine.wake();
        }
    }

    pub fn status(&self) -> &Arc<RenderStatus> {
        &self.client.status
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        self.client.removed.store(true, Ordering::Release);
        if let Some(engine) = self.engine.take() {
            engine.unregister(self.client.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{load, speak};

    /// Median F0 of the voiced frames (YIN, 40–500 Hz: the voice speaks near 85 Hz).
    /// F0 every 10 ms by YIN (cumulative mean normalised difference), `None` where unvoiced.
    fn f0_track(x: &[f32], rate: u32) -> Vec<Option<f32>> {
        let (w, hop) = ((0.04 * rate as f32) as usize, (0.01 * rate as f32) as usize);
        let (tmin, tmax) = ((rate / 500) as usize, (rate / 40) as usize);
        let mut track = Vec::new();
        let mut i = 0;
        while i + w + tmax < x.len() {
            let frame = &x[i..i + w];
            let rms = (frame.iter().map(|s| s * s).sum::<f32>() / w as f32).sqrt();
            let mut f0 = None;
            if rms > 0.02 {
                let d: Vec<f32> = (0..tmax)
                    .map(|t| (0..w).map(|j| (x[i + j] - x[i + j + t]).powi(2)).sum())
                    .collect();
                let mut running = 0.0;
                let cmnd: Vec<f32> = (0..tmax)
                    .map(|t| {
                        if t == 0 {
                            return 1.0;
                        }
                        running += d[t];
                        d[t] * t as f32 / running.max(1e-12)
                    })
                    .collect();
                if let Some(mut t) = (tmin..tmax).find(|&t| cmnd[t] < 0.3) {
                    while t + 1 < tmax && cmnd[t + 1] < cmnd[t] {
                        t += 1;
                    }
                    f0 = Some(rate as f32 / t as f32);
                }
            }
            track.push(f0);
            i += hop;
        }
        track
    }

    /// The shift in semitones from `root` to `moved` (same length, same timing): the median over
    /// frames voiced in both, so that a frame's octave error cannot move the result.
    fn pitch_shift(root: &[f32], moved: &[f32], rate: u32) -> f32 {
        let mut shifts: Vec<f32> = f0_track(root, rate)
            .into_iter()
            .zip(f0_track(moved, rate))
            .filter_map(|(a, b)| Some(12.0 * (b? / a?).log2()))
            .collect();
        assert!(shifts.len() > 10, "too few voiced frames: {}", shifts.len());
        shifts.sort_by(f32::total_cmp);
        shifts[shifts.len() / 2]
    }

    /// Settings for rendering single lines in these tests (the text and voice come from the test).
    fn line_settings(mapping: NoteMapping, sample_rate: u32) -> RenderSettings {
        RenderSettings {
            text: String::new(),
            voice: String::new(),
            steps: 2,
            temperature: 0.667,
            rate: 1.0,
            mapping,
            sample_rate,
        }
    }

    #[test]
    fn a_cancelled_line_stops_at_the_first_chunk() {
        let mut synth = load("").unwrap();
        let settings = line_settings(NoteMapping::KeyPerLine, 48_000);
        let long = "This line would take a good while to speak, were it not stopped. ".repeat(8);
        let chunks = std::cell::Cell::new(0);
        let cancel_after_one = || {
            chunks.set(chunks.get() + 1);
            true
        };
        let out = speak(&mut synth, &long, &settings, 0, &cancel_after_one).unwrap();
        assert!(out.is_none());
        assert_eq!(chunks.get(), 1, "rendering went on after it was cancelled");
    }

    #[test]
    fn pitch_follow_moves_the_pitch_and_keeps_the_length() {
        let mut synth = load("").unwrap();
        let settings = line_settings(NoteMapping::PitchFollow { root: 60 }, 22_050);
        let line = "Hello from Mellow, this is a pitch test.";
        let never = || false;
        let root = speak(&mut synth, line, &settings, 0, &never)
            .unwrap()
            .unwrap();
        for semitones in [-4, 5, 12] {
            let moved = speak(&mut synth, line, &settings, semitones, &never)
                .unwrap()
                .unwrap();
            let measured = pitch_shift(&root, &moved, 22_050);
            let length = moved.len() as f32 / root.len() as f32;
            println!("{semitones:+} semitones: measured {measured:+.2}, length ×{length:.3}");
            assert!(
                (measured - semitones as f32).abs() < 1.0,
                "{semitones}: {measured}"
            );
            assert!((length - 1.0).abs() < 0.1, "the length changed: ×{length}");
        }
    }
}

#[cfg(test)]
mod voice_tests {
    use crate::engine::load;
    use mellow_engine::SynthesisOptions;

    #[test]
    fn a_voice_file_is_loaded_by_path_and_a_missing_one_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("mellow-voice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("copy.safetensors");
        let built_in = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../engine/voices/default.safetensors"
        );
        std::fs::copy(built_in, &path).unwrap();
        let mut synth = load(path.to_str().unwrap()).expect("a voice file loads");
        let audio = synth
            .speak_text("Hi.", &SynthesisOptions::default())
            .unwrap();
        assert!(!audio.samples.is_empty());
        let err = load("/nonexistent/voice.safetensors").err().unwrap();
        assert!(err.contains("/nonexistent/voice.safetensors"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
