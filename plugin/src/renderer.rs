//! The background half: a thread that renders every phrase with the engine whenever the text, a
//! synthesis parameter or the host's rate changes, and hands the audio thread a new phrase bank.
//! Notes therefore play at once, with no synthesis in `process()`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{SynthesisOptions, Synthesizer};

use crate::phrases::{phrase_lines, NoteMapping, PITCH_RANGE};
use crate::player::PhraseBank;

/// What the phrases are rendered from; a change starts a new render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    pub text: String,
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
                let mut synth: Option<Synthesizer> = None;
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
    synth: &mut Option<Synthesizer>,
    current: &impl Fn() -> RenderSettings,
    status: &RenderStatus,
    handoff: &mut Handoff,
) -> bool {
    let synth = match synth {
        Some(synth) => synth,
        None => match load() {
            Ok(loaded) => synth.insert(loaded),
            Err(e) => {
                set_error(status, e);
                return true;
            }
        },
    };
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

fn load() -> Result<Synthesizer, String> {
    let voice = default_voice()
        .ok_or("this build has no built-in voice")?
        .map_err(|e| e.to_string())?;
    Synthesizer::new(&voice, None).map_err(|e| e.to_string())
}

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
