//! One engine per process: a single worker thread renders the phrases of every plugin instance,
//! with one loaded copy of each voice between them. It starts when the first instance activates
//! (a host that only scans starts nothing), sleeps on its message queue while no instance is
//! active, and ends, freeing the models, when the last instance goes.
//!
//! Settings that change through host automation arrive on the audio thread, which may not send
//! messages (a wake-up is a system call), so while instances are registered the worker also looks
//! at their settings every [`SETTINGS_TICK`]. Cancellation is checked between the audio chunks the
//! engine makes, so a removed instance or changed text stops its render within one chunk.
//!
//! In sing mode the worker keeps the instance's lyric ready (a [`LiveSinger`]) and sings each
//! note's take as its note-on comes, looking at the instances' command queues every
//! [`SING_TICK`] while any instance sings. The pitch of the next note is not known, but its
//! syllable is, and the acoustic model needs nothing else: between notes the worker makes the mels
//! of the takes the next note may sing (afresh, or legato from the held note), so that a note-on
//! runs only the vocoder. A note that comes while a mel is being made waits for the model's
//! current window at most.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use mellow_engine::sing::{LiveSinger, PreparedTake, SingSettings, Take};
use mellow_engine::synth::{Loudness, ResolvedOptions};
use mellow_engine::voice::resolve_voice;
use mellow_engine::{Outcome, SpeechSink, SynthesisOptions, Synthesizer};

use crate::phrases::{phrase_lines, NoteMapping, PITCH_RANGE};
use crate::player::PhraseBank;
use crate::renderer::{RenderSettings, RenderStatus};
use crate::singer::{SingCommand, TakeBlock, TakePart, TakeShape, BLOCK};

/// How often registered instances' settings are compared with what was rendered.
pub const SETTINGS_TICK: Duration = Duration::from_millis(20);
/// How often singing instances' note queues are looked at: a small part of the latency.
pub const SING_TICK: Duration = Duration::from_millis(1);
/// Longest the worker waits for room in an instance's queue of sung blocks (a host that stopped
/// processing) before it drops the take.
const BLOCK_WAIT: Duration = Duration::from_millis(200);

/// What the worker needs of one instance.
pub struct Client {
    pub id: u64,
    pub settings: Box<dyn Fn() -> RenderSettings + Send + Sync>,
    pub status: Arc<RenderStatus>,
    pub handoff: Mutex<Handoff>,
    /// Notes from the audio thread and the takes sung for them (sing mode).
    pub sing: Mutex<SingLink>,
    /// Set when the instance goes away: its render stops at the next chunk.
    pub removed: AtomicBool,
}

enum Message {
    Register(Arc<Client>),
    Unregister(u64),
    /// Something changed (text from the editor, a state load, an activation): look now.
    Wake,
}

/// A handle on the process-wide worker; the worker ends when the last handle is dropped.
pub struct SharedEngine {
    messages: Sender<Message>,
    shutdown: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

static ENGINE: Mutex<Weak<SharedEngine>> = Mutex::new(Weak::new());
static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);
/// The worker of an engine whose last instance went: told to stop, ending within one chunk, and
/// joined by the next engine or when the library is unloaded, never by a host's destroy call.
static STOPPING: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

/// Waits for a stopping worker to end.
fn join_stopping_worker() {
    let stopping = STOPPING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(thread) = stopping {
        let _ = thread.join();
    }
}

/// Runs when the library is unloaded (or the process ends), so no code of a stopping worker can
/// outlive it.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".fini_array"]
static JOIN_AT_UNLOAD: extern "C" fn() = {
    extern "C" fn join_at_unload() {
        join_stopping_worker();
    }
    join_at_unload
};

impl SharedEngine {
    /// The running engine, or a new one (its thread started now).
    pub fn acquire() -> Result<Arc<SharedEngine>, String> {
        let mut slot = ENGINE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(engine) = slot.upgrade() {
            return Ok(engine);
        }
        // One worker at a time: the previous one has stopped, or will within a chunk.
        join_stopping_worker();
        let (messages, inbox) = crossbeam_channel::unbounded();
        let shutdown = Arc::new(AtomicBool::new(false));
        let stop = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("mellow-engine".into())
            .spawn(move || Worker::new(inbox, stop).run())
            .map_err(|e| format!("cannot start the engine thread: {e}"))?;
        let engine = Arc::new(SharedEngine {
            messages,
            shutdown,
            thread: Some(thread),
        });
        *slot = Arc::downgrade(&engine);
        Ok(engine)
    }

    /// A fresh client id.
    pub fn next_client_id() -> u64 {
        NEXT_CLIENT.fetch_add(1, Ordering::Relaxed)
    }

    pub fn register(&self, client: Arc<Client>) {
        let _ = self.messages.send(Message::Register(client));
    }

    pub fn unregister(&self, id: u64) {
        let _ = self.messages.send(Message::Unregister(id));
    }

    pub fn wake(&self) {
        let _ = self.messages.send(Message::Wake);
    }
}

impl Drop for SharedEngine {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Release);
        let _ = self.messages.send(Message::Wake);
        // The worker stops within one chunk, on its own: a host's destroy call does not wait.
        if let Some(thread) = self.thread.take() {
            let previous = STOPPING
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .replace(thread);
            if let Some(previous) = previous {
                let _ = previous.join();
            }
            #[cfg(not(target_os = "linux"))]
            join_stopping_worker();
        }
    }
}

struct Worker {
    inbox: Receiver<Message>,
    shutdown: Arc<AtomicBool>,
    clients: Vec<Arc<Client>>,
    rendered: HashMap<u64, RenderSettings>,
    /// One synthesizer per voice in use, shared by every instance that speaks with it.
    voices: HashMap<String, Synthesizer>,
    /// Instances in sing mode: their lyric, ready for notes.
    singers: HashMap<u64, Singing>,
}

/// An instance's lyric as the worker sings it.
struct Singing {
    singer: LiveSinger,
    opts: ResolvedOptions,
    voice: String,
    sample_rate: u32,
    /// The mels of the takes the next note may sing, made while nothing else waits.
    prepared: Vec<PreparedTake>,
    /// Every take the next note may sing is prepared (or failed to be): nothing to do until a
    /// note moves the lyric on.
    prepared_all: bool,
}

impl Worker {
    fn new(inbox: Receiver<Message>, shutdown: Arc<AtomicBool>) -> Self {
        Self {
            inbox,
            shutdown,
            clients: Vec::new(),
            rendered: HashMap::new(),
            voices: HashMap::new(),
            singers: HashMap::new(),
        }
    }

    fn run(mut self) {
        let mut settings_looked = Instant::now();
        loop {
            // Asleep on the queue while nothing is registered; a tick while something is.
            let tick = match self.singers.is_empty() {
                true => SETTINGS_TICK,
                false => SING_TICK,
            };
            let first = if self.clients.is_empty() {
                self.inbox.recv().ok()
            } else {
                match self.inbox.recv_timeout(tick) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            let messages: Vec<Message> = first.into_iter().chain(self.inbox.try_iter()).collect();
            let woken = !messages.is_empty();
            for message in messages {
                self.handle(message);
            }
            if self.shutdown.load(Ordering::Acquire) {
                break;
            }
            self.sing_pending();
            self.prepare_takes();
            // Singing ticks every millisecond; settings are looked at every SETTINGS_TICK (or
            // when a message came), as without singing.
            if woken || settings_looked.elapsed() >= SETTINGS_TICK {
                settings_looked = Instant::now();
                self.render_pending();
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Register(client) => {
                client.status.up_to_date.store(false, Ordering::Release);
                self.clients.retain(|c| c.id != client.id);
                self.clients.push(client);
            }
            Message::Unregister(id) => {
                self.clients.retain(|c| c.id != id);
                self.rendered.remove(&id);
                self.singers.remove(&id);
                // Voices nobody speaks with any more are freed.
                let in_use: Vec<String> = self
                    .clients
                    .iter()
                    .filter_map(|c| self.rendered.get(&c.id).map(|s| s.voice.clone()))
                    .collect();
                self.voices.retain(|voice, _| in_use.contains(voice));
                if self.clients.is_empty() {
                    give_back_freed_memory();
                }
            }
            Message::Wake => {}
        }
    }

    /// Renders every client whose settings differ from what it was last given.
    fn render_pending(&mut self) {
        for client in self.clients.clone() {
            // Gone, its unregistration still in the queue: nothing more for it.
            if client.removed.load(Ordering::Acquire) || self.shutdown.load(Ordering::Acquire) {
                continue;
            }
            let delivered = match client.handoff.lock() {
                Ok(mut handoff) => handoff.deliver(&client.status),
                Err(_) => false,
            };
            let wanted = (client.settings)();
            if wanted.sample_rate == 0 {
                continue;
            }
            if self.rendered.get(&client.id) == Some(&wanted) {
                // Rendered already (an activation at the same rate asked again, or the last bank
                // has just reached a queue that was full): record the delivery once, when it
                // happens, not at every look.
                if delivered && !client.status.up_to_date.load(Ordering::Acquire) {
                    client.status.set_delivered(&wanted);
                }
                client.status.up_to_date.store(delivered, Ordering::Release);
                continue;
            }
            client.status.up_to_date.store(false, Ordering::Release);
            client.status.busy.store(true, Ordering::Release);
            let done = match wanted.mapping {
                NoteMapping::Sing { .. } => self.prepare_lyric(&client, &wanted),
                _ => {
                    self.singers.remove(&client.id);
                    self.render(&client, &wanted)
                }
            };
            client.status.busy.store(false, Ordering::Release);
            if done {
                let delivered = client
                    .handoff
                    .lock()
                    .map(|mut h| h.deliver(&client.status))
                    .unwrap_or(false);
                if delivered {
                    client.status.set_delivered(&wanted);
                }
                self.rendered.insert(client.id, wanted);
                client.status.up_to_date.store(delivered, Ordering::Release);
            }
        }
    }

    /// The voice named `name`, loaded once for every instance.
    fn voice(&mut self, name: &str) -> Result<&mut Synthesizer, String> {
        match self.voices.entry(name.to_string()) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => Ok(e.insert(load(name)?)),
        }
    }

    /// Sing mode: reads `s`'s text as a lyric for `client`'s notes. Always done (an error is
    /// reported, and notes then sing nothing).
    fn prepare_lyric(&mut self, client: &Client, s: &RenderSettings) -> bool {
        self.singers.remove(&client.id);
        let NoteMapping::Sing {
            bend_range,
            portamento_ms,
        } = s.mapping
        else {
            return true;
        };
        let settings = SingSettings {
            bend_range: bend_range as f32,
            portamento: portamento_ms as f32 / 1000.0,
            ..SingSettings::default()
        };
        let lyric = phrase_lines(&s.text).join(" ");
        let prepared = self.voice(&s.voice).and_then(|synth| {
            let options = SynthesisOptions {
                steps: Some(s.steps),
                temperature: Some(s.temperature as f64),
                loudness: Some(match synth.loudness_reference() {
                    Some(_) => Loudness::Target(PHRASE_LOUDNESS),
                    None => Loudness::Raw,
                }),
                ..Default::default()
            };
            let opts = synth.sing_options(&options).map_err(|e| e.to_string())?;
            let singer = synth
                .live_singer(&lyric, settings)
                .map_err(|e| format!("lyric: {e}"))?;
            Ok((singer, opts))
        });
        match prepared {
            Ok((singer, opts)) => {
                client
                    .status
                    .set_error(singer.lyric().warnings.first().cloned());
                self.singers.insert(
                    client.id,
                    Singing {
                        singer,
                        opts,
                        voice: s.voice.clone(),
                        sample_rate: s.sample_rate,
                        prepared: Vec::new(),
                        prepared_all: false,
                    },
                );
            }
            Err(e) => client.status.set_error(Some(e)),
        }
        true
    }

    /// Sings the takes every singing instance's notes ask for. Of the note-ons waiting, only the
    /// last is sung (a player that is behind skips notes rather than falling further behind);
    /// every one still moves the lyric on. Notes that come before a new lyric has been read wait
    /// for it (a host may switch sing mode on and play at once, as a project loads for export).
    fn sing_pending(&mut self) {
        for client in self.clients.clone() {
            let Ok(mut link) = client.sing.lock() else {
                continue;
            };
            if link.commands.is_empty() || self.lyric_pending(&client) {
                continue;
            }
            let commands: Vec<SingCommand> =
                std::iter::from_fn(|| link.commands.pop().ok()).collect();
            let last_note_on = commands
                .iter()
                .rposition(|c| matches!(c, SingCommand::NoteOn { .. }));
            for (i, command) in commands.into_iter().enumerate() {
                let Some(singing) = self.singers.get_mut(&client.id) else {
                    // Not singing (the mode changed on the way): its notes sing nothing.
                    if let SingCommand::NoteOn { take, .. } = command {
                        link.send(take, TakePart::Failed);
                    }
                    continue;
                };
                singing.prepared_all = false;
                match command {
                    SingCommand::Restart => singing.singer.restart(),
                    SingCommand::NoteOff { key } => {
                        singing.singer.note_off(key as i32);
                    }
                    SingCommand::NoteOn {
                        take,
                        key,
                        velocity,
                        bend,
                    } => {
                        let sung = singing.singer.note_on(key as i32, velocity, bend as f64);
                        let synth = self.voices.get_mut(&singing.voice);
                        let (Some(sung), Some(synth), true) =
                            (sung, synth, Some(i) == last_note_on)
                        else {
                            link.send(take, TakePart::Failed);
                            continue;
                        };
                        if let Err(e) = sing_take(synth, singing, &sung, take, &mut link) {
                            client.status.set_error(Some(format!("sung note: {e}")));
                            link.send(take, TakePart::Failed);
                        }
                    }
                }
            }
        }
    }

    /// Whether `client` is in sing mode with a lyric still to be read (not yet looked at, or
    /// changed since): its notes are kept for it. A lyric that could not be read was looked at.
    fn lyric_pending(&self, client: &Client) -> bool {
        if self.singers.contains_key(&client.id) {
            return false;
        }
        let wanted = (client.settings)();
        matches!(wanted.mapping, NoteMapping::Sing { .. })
            && self.rendered.get(&client.id) != Some(&wanted)
    }

    /// Makes the mels of the takes each singing instance's next note may sing (see
    /// [`LiveSinger::upcoming`]), so that a note-on finds only the vocoder left to run. Gives way
    /// (dropping what it was making) as soon as any instance has a note waiting.
    fn prepare_takes(&mut self) {
        let clients = self.clients.clone();
        let shutdown = self.shutdown.clone();
        let mut keep_going = || {
            !shutdown.load(Ordering::Acquire)
                && clients.iter().all(|c| {
                    c.sing
                        .try_lock()
                        .map_or(true, |link| link.commands.is_empty())
                })
        };
        for client in &clients {
            let Some(singing) = self.singers.get_mut(&client.id) else {
                continue;
            };
            if singing.prepared_all {
                continue;
            }
            let upcoming = singing.singer.upcoming();
            let opts = singing.opts;
            singing
                .prepared
                .retain(|p| upcoming.iter().any(|take| p.fits(take, &opts)));
            let Some(synth) = self.voices.get_mut(&singing.voice) else {
                continue;
            };
            for take in &upcoming {
                if singing.prepared.iter().any(|p| p.fits(take, &opts)) {
                    continue;
                }
                match synth.prepare_take(&singing.singer, take, &opts, &mut keep_going) {
                    Ok(Some(made)) => singing.prepared.push(made),
                    // A note is waiting: it goes first.
                    Ok(None) => return,
                    // The note sings it the long way, and reports the error then.
                    Err(_) => {}
                }
            }
            singing.prepared_all = true;
        }
    }

    /// Renders every line of `s` for `client`, publishing banks as pitch offsets become ready.
    /// Returns false when it was cancelled (settings changed, instance removed, shutdown).
    fn render(&mut self, client: &Client, s: &RenderSettings) -> bool {
        let shutdown = self.shutdown.clone();
        let cancelled = || {
            shutdown.load(Ordering::Acquire)
                || client.removed.load(Ordering::Acquire)
                || (client.settings)() != *s
        };
        let synth = match self.voice(&s.voice) {
            Ok(synth) => synth,
            Err(err) => {
                client.status.set_error(Some(format!("voice: {err}")));
                return true;
            }
        };
        let lines = phrase_lines(&s.text);
        let offsets = match s.mapping {
            NoteMapping::KeyPerLine | NoteMapping::Sing { .. } => vec![0],
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
                if cancelled() {
                    return false;
                }
                match speak(synth, line, s, semitones, &cancelled) {
                    Ok(Some(samples)) => bank.lines[i].push((semitones, samples)),
                    Ok(None) => return false,
                    Err(e) => error = Some(format!("line {}: {e}", i + 1)),
                }
            }
            if done == 0 {
                client.status.set_previews(&bank);
            }
            let ready = PITCH_ORDER_READY_AFTER.contains(&(done + 1)) || done + 1 == offsets.len();
            if ready {
                if let Ok(mut handoff) = client.handoff.lock() {
                    handoff.publish(Box::new(bank.clone()), &client.status);
                }
            }
        }
        client.status.set_error(error);
        true
    }
}

/// Returns the memory of the freed models to the system: glibc keeps a worker thread's freed
/// memory in its arena otherwise, and a DAW would show it resident after the last instance went.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
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

/// The voice the editor names (see [`resolve_voice`]): a file, a voice's name, or empty for the
/// built-in one.
pub fn load(spec: &str) -> Result<Synthesizer, String> {
    let voice = resolve_voice(spec).map_err(|e| e.to_string())?;
    Synthesizer::new(&voice, None).map_err(|e| e.to_string())
}

/// Loudness of a phrase, in LUFS: 6 LU under the engine's default, so that a few notes played
/// together stay under full scale (the mix is soft-limited as well).
pub const PHRASE_LOUDNESS: f32 = -26.0;

/// One line at `semitones` from its own pitch, at the host's rate; `Ok(None)` when `cancelled`
/// said stop (checked after every chunk the engine makes). With an F0-aware vocoder (the
/// built-in voice's) the engine moves the pitch with the formants kept; with one that plays its
/// mel's pitch, like a tape played faster or slower without the speed change.
pub fn speak(
    synth: &mut Synthesizer,
    line: &str,
    s: &RenderSettings,
    semitones: i32,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<Vec<f32>>, String> {
    let options = SynthesisOptions {
        steps: Some(s.steps),
        temperature: Some(s.temperature as f64),
        rate: Some(s.rate),
        pitch: semitones as f32,
        // A note sounds at once.
        lead_in: Some(0.0),
        loudness: Some(match synth.loudness_reference() {
            Some(_) => Loudness::Target(PHRASE_LOUDNESS),
            None => Loudness::Raw,
        }),
        ..Default::default()
    };
    let opts = synth.resolve(&options).map_err(|e| e.to_string())?;
    let utterance = synth.utterance(line).map_err(|e| e.to_string())?;
    let mut phrase = Phrase {
        samples: Vec::new(),
        cancelled,
    };
    let outcome = synth
        .speak(&utterance, &opts, s.sample_rate, &mut phrase)
        .map_err(|e| e.to_string())?;
    Ok((outcome == Outcome::Complete).then_some(phrase.samples))
}

/// A phrase's samples, collected until the instance says stop.
struct Phrase<'c> {
    samples: Vec<f32>,
    cancelled: &'c dyn Fn() -> bool,
}

impl SpeechSink for Phrase<'_> {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        self.samples.extend_from_slice(samples);
        Ok(!(self.cancelled)())
    }
}

/// One take sung into an instance's block queue: its shape, its samples as they come, its end.
fn sing_take(
    synth: &mut Synthesizer,
    singing: &Singing,
    take: &Take,
    id: u32,
    link: &mut SingLink,
) -> Result<(), String> {
    let rate = singing.sample_rate as f64;
    let shape = TakeShape {
        vowel_start: (take.vowel.start * rate).round() as u32,
        vowel_end: (take.vowel.end * rate).round() as u32,
        period: (rate / take.hz) as f32,
        legato: take.legato,
    };
    if !link.send(id, TakePart::Shape(shape)) {
        return Err("the audio thread takes no more".into());
    }
    let mut sink = TakeSink {
        link,
        take: id,
        block: [0.0; BLOCK],
        len: 0,
    };
    synth
        .sing_take(
            &singing.singer,
            take,
            &singing.prepared,
            &singing.opts,
            singing.sample_rate,
            &mut sink,
        )
        .map_err(|e| e.to_string())?;
    let (len, block) = (sink.len, sink.block);
    if len > 0 && !link.send(id, samples_part(&block, len)) {
        return Err("the audio thread takes no more".into());
    }
    link.send(id, TakePart::End);
    Ok(())
}

fn samples_part(block: &[f32; BLOCK], len: usize) -> TakePart {
    TakePart::Samples {
        len: len as u16,
        samples: *block,
    }
}

/// Cuts a take's samples into blocks for the audio thread.
struct TakeSink<'l> {
    link: &'l mut SingLink,
    take: u32,
    block: [f32; BLOCK],
    len: usize,
}

impl SpeechSink for TakeSink<'_> {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        for &s in samples {
            self.block[self.len] = s;
            self.len += 1;
            if self.len == BLOCK {
                self.len = 0;
                if !self.link.send(self.take, samples_part(&self.block, BLOCK)) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// The queues between one instance's audio thread and the worker, in sing mode.
pub struct SingLink {
    pub commands: rtrb::Consumer<SingCommand>,
    pub blocks: rtrb::Producer<TakeBlock>,
}

impl SingLink {
    /// Sends a part of take `take`, waiting a while for room; false when none came.
    fn send(&mut self, take: u32, part: TakePart) -> bool {
        let started = Instant::now();
        let mut block = TakeBlock { take, part };
        loop {
            match self.blocks.push(block) {
                Ok(()) => return true,
                Err(rtrb::PushError::Full(back)) => block = back,
            }
            if started.elapsed() > BLOCK_WAIT {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The two queues to and from one instance's audio thread.
pub struct Handoff {
    pub to_audio: rtrb::Producer<Box<PhraseBank>>,
    pub retired: rtrb::Consumer<Box<PhraseBank>>,
    /// The newest bank, while the audio thread's queue is full (a host that is not processing):
    /// the worker never waits on one instance, it tries again at its next look.
    pub unsent: Option<Box<PhraseBank>>,
}

impl Handoff {
    pub fn new(
        to_audio: rtrb::Producer<Box<PhraseBank>>,
        retired: rtrb::Consumer<Box<PhraseBank>>,
    ) -> Self {
        Self {
            to_audio,
            retired,
            unsent: None,
        }
    }

    /// Frees the banks the audio thread let go of (it never frees memory itself).
    pub fn free_retired(&mut self) {
        while self.retired.pop().is_ok() {}
    }

    /// Hands `bank` to the audio thread, or keeps it (replacing an older one) if its queue is full.
    fn publish(&mut self, bank: Box<PhraseBank>, status: &RenderStatus) {
        self.unsent = Some(bank);
        self.deliver(status);
    }

    /// Frees retired banks and sends the kept one; true when nothing is left to send.
    fn deliver(&mut self, status: &RenderStatus) -> bool {
        self.free_retired();
        let Some(bank) = self.unsent.take() else {
            return true;
        };
        match self.to_audio.push(bank) {
            Ok(()) => {
                status.published.fetch_add(1, Ordering::AcqRel);
                true
            }
            Err(rtrb::PushError::Full(back)) => {
                self.unsent = Some(back);
                false
            }
        }
    }
}
