//! The background half: a thread that renders every phrase with the engine whenever the text, a
//! synthesis parameter or the host's rate changes, and hands the audio thread a new phrase bank.
//! Notes therefore play at once, with no synthesis in `process()`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{SynthesisOptions, Synthesizer, Voice};

use crate::phrases::{phrase_lines, NoteMapping, PITCH_RANGE};
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

/// What the renderer reports (to the editor and the tests).
#[derive(Default)]
pub struct RenderStatus {
    /// Banks handed to the audio thread so far.
    pub published: AtomicU64,
    pub busy: AtomicBool,
    /// The last line that could not be spoken, and why.
    pub error: Mutex<Option<String>>,
    /// Each line's peak envelope at its own pitch, for the editor's waveform.
    previews: Mutex<Vec<Vec<f32>>>,
    shutdown: AtomicBool,
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

    fn set_previews(&self, bank: &PhraseBank) {
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

/// Pitch offsets in the order they are rendered under pitch follow: the root first, then outward,
/// and the bank is handed over after these many offsets, so near notes are ready first.
const PITCH_ORDER_READY_AFTER: [usize; 5] = [1, 3, 7, 13, 25];

fn pitch_order() -> Vec<i32> {
    let mut order = vec![0];
    for d in 1..=PITCH_RANGE {
        order.push(d);
        order.push(-d);
    }
    order
}

pub struct Renderer {
    status: Arc<RenderStatus>,
    thread: Option<JoinHandle<()>>,
}

impl Renderer {
    /// Starts rendering; `settings` is polled for changes.
    pub fn start(
        settings: impl Fn() -> RenderSettings + Send + 'static,
        to_audio: rtrb::Producer<Box<PhraseBank>>,
        retired: rtrb::Consumer<Box<PhraseBank>>,
    ) -> Renderer {
        let status = Arc::new(RenderStatus::default());
        let shared = status.clone();
        let thread = std::thread::Builder::new()
            .name("mellow-phrase-renderer".into())
            .spawn(move || {
                let mut handoff = Handoff { to_audio, retired };
                let mut synth: Option<(String, Synthesizer)> = None;
                let mut last: Option<RenderSettings> = None;
                while !shared.shutdown.load(Ordering::Acquire) {
                    handoff.free_retired();
                    let wanted = settings();
                    if wanted.sample_rate > 0 && last.as_ref() != Some(&wanted) {
                        shared.busy.store(true, Ordering::Release);
                        let done = render(&wanted, &mut synth, &settings, &shared, &mut handoff);
                        shared.busy.store(false, Ordering::Release);
                        if done {
                            last = Some(wanted);
                        }
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .expect("a thread for the phrase renderer");
        Renderer {
            status,
            thread: Some(thread),
        }
    }

    pub fn status(&self) -> &Arc<RenderStatus> {
        &self.status
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        self.status.shutdown.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Renders every line of `s` and publishes banks as pitch offsets become ready. Returns false
/// when the settings changed midway (the caller starts over) or the renderer is shutting down.
fn render(
    s: &RenderSettings,
    synth: &mut Option<(String, Synthesizer)>,
    current: &impl Fn() -> RenderSettings,
    status: &RenderStatus,
    handoff: &mut Handoff,
) -> bool {
    if synth.as_ref().is_none_or(|(path, _)| *path != s.voice) {
        *synth = None;
        match load(&s.voice) {
            Ok(loaded) => *synth = Some((s.voice.clone(), loaded)),
            Err(e) => {
                set_error(status, format!("voice: {e}"));
                return true;
            }
        }
    }
    let (_, synth) = synth.as_mut().expect("loaded above");
    let lines = phrase_lines(&s.text);
    let offsets = match s.mapping {
        NoteMapping::KeyPerLine => vec![0],
        NoteMapping::PitchFollow { .. } => pitch_order(),
    };
    let mut bank = PhraseBank {
        sample_rate: s.sample_rate,
        mapping: s.mapping,
        lines: vec![Vec::new(); lines.len()],
    };
    let mut error = None;
    for (done, &semitones) in offsets.iter().enumerate() {
        for (i, line) in lines.iter().enumerate() {
            if status.shutdown.load(Ordering::Acquire) || current() != *s {
                return false;
            }
            match speak(synth, line, s, semitones) {
                Ok(samples) => bank.lines[i].push((semitones, samples)),
                Err(e) => error = Some(format!("line {}: {e}", i + 1)),
            }
        }
        if done == 0 {
            status.set_previews(&bank);
        }
        let ready = PITCH_ORDER_READY_AFTER.contains(&(done + 1)) || done + 1 == offsets.len();
        if ready && !handoff.publish(Box::new(bank.clone()), status) {
            return false;
        }
    }
    *status.error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    true
}

/// The voice file at `path`, or the built-in voice when it is empty.
fn load(path: &str) -> Result<Synthesizer, String> {
    let voice = if path.trim().is_empty() {
        default_voice()
            .ok_or("this build has no built-in voice")?
            .map_err(|e| e.to_string())?
    } else {
        Voice::load(std::path::Path::new(path.trim())).map_err(|e| e.to_string())?
    };
    Synthesizer::new(&voice, None).map_err(|e| e.to_string())
}

/// One line at `semitones` from its own pitch, at the host's rate. The engine moves the pitch like
/// a tape played faster or slower without the speed change (it speaks the line slower by the pitch
/// ratio, then plays it that much faster): the length stays, the fundamental and formants move.
fn speak(
    synth: &mut Synthesizer,
    line: &str,
    s: &RenderSettings,
    semitones: i32,
) -> Result<Vec<f32>, String> {
    let options = SynthesisOptions {
        steps: Some(s.steps),
        temperature: Some(s.temperature as f64),
        rate: Some(s.rate),
        pitch: semitones as f32,
        ..Default::default()
    };
    let (audio, _) = synth.speak(line, &options).map_err(|e| e.to_string())?;
    Ok(audio
        .resampled(s.sample_rate)
        .map_err(|e| e.to_string())?
        .samples)
}

fn set_error(status: &RenderStatus, message: String) {
    *status.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
}

/// The two queues to and from the audio thread.
struct Handoff {
    to_audio: rtrb::Producer<Box<PhraseBank>>,
    retired: rtrb::Consumer<Box<PhraseBank>>,
}

impl Handoff {
    /// Frees the banks the audio thread let go of (it never frees memory itself).
    fn free_retired(&mut self) {
        while self.retired.pop().is_ok() {}
    }

    /// Hands `bank` to the audio thread, waiting while its queue is full.
    fn publish(&mut self, mut bank: Box<PhraseBank>, status: &RenderStatus) -> bool {
        loop {
            self.free_retired();
            match self.to_audio.push(bank) {
                Ok(()) => {
                    status.published.fetch_add(1, Ordering::AcqRel);
                    return true;
                }
                Err(rtrb::PushError::Full(back)) => {
                    if status.shutdown.load(Ordering::Acquire) {
                        return false;
                    }
                    bank = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn pitch_follow_moves_the_pitch_and_keeps_the_length() {
        let mut synth = load("").unwrap();
        let settings = RenderSettings {
            text: String::new(),
            voice: String::new(),
            steps: 2,
            temperature: 0.667,
            rate: 1.0,
            mapping: NoteMapping::PitchFollow { root: 60 },
            sample_rate: 22_050,
        };
        let line = "Hello from Mellow, this is a pitch test.";
        let root = speak(&mut synth, line, &settings, 0).unwrap();
        for semitones in [-4, 5, 12] {
            let moved = speak(&mut synth, line, &settings, semitones).unwrap();
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
    use super::*;

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
        let (audio, _) = synth.speak("Hi.", &SynthesisOptions::default()).unwrap();
        assert!(!audio.samples.is_empty());
        let err = load("/nonexistent/voice.safetensors").err().unwrap();
        assert!(err.contains("/nonexistent/voice.safetensors"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
