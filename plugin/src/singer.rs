//! Sing mode on the audio thread: note events go to the engine's worker as [`SingCommand`]s, the
//! takes it sings come back as fixed-size [`TakeBlock`]s, and [`SingPlayer`] plays them, every
//! event [`SING_LATENCY_SECONDS`] after it came (the latency the plugin reports, so hosts line
//! recorded notes up and the worker has that long to sing each take).
//!
//! A take holds its vowel for a little over half a second (see `mellow_engine::sing::live`);
//! while the key stays down the player loops the vowel's steady middle, a whole number of the
//! note's periods long, with a crossfade. At note-off it jumps (crossfading) to the end of the
//! vowel, so the coda comes at the release. A legato take starts in the held note's vowel: the
//! held note fades out as it fades in. Pitch bend moved after the note-on and the mod wheel's
//! vibrato play by reading the take faster or slower (a few percent: formants stay put).
//!
//! Nothing here allocates, locks or waits: buffers are sized at activation.

use std::sync::atomic::{AtomicU64, Ordering};

/// Latency of sing mode: note-on to first sound, as reported to the host. The worker makes the
/// next takes' mels between notes, so a note-on waits only for the vocoder's first samples (5 to
/// 10 ms on one core of a 2-core machine) and a host block or two; a note that comes before its
/// take's mel is ready starts late, when its samples come.
pub const SING_LATENCY_SECONDS: f32 = 0.03;
/// Samples in a [`TakeBlock`].
pub const BLOCK: usize = 256;
/// Blocks in flight from the worker to the audio thread (about six seconds at 44.1 kHz).
pub const BLOCK_QUEUE: usize = 1024;
/// Commands in flight from the audio thread to the worker.
pub const COMMAND_QUEUE: usize = 256;
/// Takes sounding at once: the held note, the notes still ending and a legato crossfade.
pub const TAKE_VOICES: usize = 6;
/// Longest take kept, in seconds (a take is the onset, 0.6 s of vowel and the coda).
pub const MAX_TAKE_SECONDS: f32 = 2.0;
/// Events waiting out the latency.
const EVENT_QUEUE: usize = 512;
/// Crossfade of a loop or a release jump.
const JUMP_CROSSFADE_SECONDS: f32 = 0.015;
/// Crossfade from a held note into a legato take.
const LEGATO_CROSSFADE_SECONDS: f32 = 0.02;
/// The loop starts this far into the vowel (its attack is over by then).
const LOOP_START_SHARE: f64 = 0.4;
/// A note released within its onset still sings this much vowel.
const MIN_VOWEL_SECONDS: f32 = 0.03;
/// Fade of a take cut short (its voice taken, the lyric restarted).
const STOP_FADE_SECONDS: f32 = 0.005;

/// What the audio thread asks of the worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SingCommand {
    /// Sing the next syllable as take `take` at MIDI `key`, `velocity` 1–127, the pitch bend at
    /// `bend` (-1..=1 of the bend range).
    NoteOn {
        take: u32,
        key: u8,
        velocity: u8,
        bend: f32,
    },
    NoteOff {
        key: u8,
    },
    /// Back to the lyric's first syllable.
    Restart,
}

/// Where a take's held vowel lies, in samples, and how to loop it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TakeShape {
    pub vowel_start: u32,
    pub vowel_end: u32,
    /// The note's period in samples.
    pub period: f32,
    pub legato: bool,
}

/// A piece of a take, from the worker.
#[derive(Debug, Clone, Copy)]
pub struct TakeBlock {
    pub take: u32,
    pub part: TakePart,
}

#[derive(Debug, Clone, Copy)]
#[expect(
    clippy::large_enum_variant,
    reason = "blocks travel by value in a preallocated queue: boxing the samples would allocate"
)]
pub enum TakePart {
    /// The first block of a take.
    Shape(TakeShape),
    /// The next `len` samples.
    Samples { len: u16, samples: [f32; BLOCK] },
    /// Every sample has come.
    End,
    /// The take could not be sung (the error is in the render status).
    Failed,
}

/// What the player counts, for the editor and the tests.
#[derive(Debug, Default)]
pub struct SingStats {
    /// Takes that started later than their note-on plus the latency, waiting for samples.
    pub late_takes: AtomicU64,
    pub takes_played: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    /// A take is due: the voice it was given starts when its samples have come.
    NoteOn,
    NoteOff {
        key: u8,
    },
    Bend(f32),
    Wheel(f32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Free,
    /// Asked for, not yet sounding (its samples have not come).
    Waiting,
    Playing,
}

/// One take's samples and where the player is in them.
struct TakeVoice {
    phase: Phase,
    take: u32,
    key: u8,
    samples: Vec<f32>,
    received: usize,
    complete: bool,
    shape: Option<TakeShape>,
    /// Read position (fractional: bend and vibrato read faster or slower).
    position: f64,
    held: bool,
    /// Released: jump to the vowel's end once at least this position is reached.
    release_from: Option<f64>,
    /// A jump's crossfade: the position left, and samples of the crossfade to go.
    jump: Option<(f64, u32)>,
    /// Gain ramp: current gain, step per sample (negative fades out; the voice ends at 0).
    gain: f32,
    gain_step: f32,
    /// The pitch bend the take was sung with.
    bend_sung: f32,
    /// When it was due to sound (the player's sample clock).
    due: u64,
    /// Seconds since the vowel began, for the vibrato's phase.
    vibrato_phase: f64,
}

impl TakeVoice {
    fn new(capacity: usize) -> Self {
        Self {
            phase: Phase::Free,
            take: 0,
            key: 0,
            samples: vec![0.0; capacity],
            received: 0,
            complete: false,
            shape: None,
            position: 0.0,
            held: false,
            release_from: None,
            jump: None,
            gain: 1.0,
            gain_step: 0.0,
            bend_sung: 0.0,
            due: 0,
            vibrato_phase: 0.0,
        }
    }

    /// The sample at fractional `at` (linear interpolation), 0 past what has come.
    fn at(&self, at: f64) -> f32 {
        let i = at as usize;
        if i + 1 >= self.received {
            return if i < self.received {
                self.samples[i]
            } else {
                0.0
            };
        }
        let frac = (at - i as f64) as f32;
        self.samples[i] + (self.samples[i + 1] - self.samples[i]) * frac
    }
}

/// The controls the player reads each block (host parameters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SingControls {
    pub bend_range: f32,
    pub vibrato_depth: f32,
    pub vibrato_rate: f32,
    /// The key that restarts the lyric instead of singing.
    pub restart_key: u8,
}

pub struct SingPlayer {
    commands: rtrb::Producer<SingCommand>,
    blocks: rtrb::Consumer<TakeBlock>,
    voices: Vec<TakeVoice>,
    events: [(u64, Event); EVENT_QUEUE],
    /// Events waiting: `events[head..head + len]` (wrapping), in due order.
    head: usize,
    len: usize,
    rate: f32,
    latency: u32,
    /// Samples played since activation.
    clock: u64,
    next_take: u32,
    /// The pitch bend as it came (sent with note-ons) and as it plays (a latency later).
    bend_asked: f32,
    bend: f32,
    wheel: f32,
    stats: std::sync::Arc<SingStats>,
}

impl SingPlayer {
    pub fn new(
        commands: rtrb::Producer<SingCommand>,
        blocks: rtrb::Consumer<TakeBlock>,
        stats: std::sync::Arc<SingStats>,
    ) -> Self {
        Self {
            commands,
            blocks,
            voices: Vec::new(),
            events: [(0, Event::NoteOn); EVENT_QUEUE],
            head: 0,
            len: 0,
            rate: 44_100.0,
            latency: 0,
            clock: 0,
            next_take: 1,
            bend_asked: 0.0,
            bend: 0.0,
            wheel: 0.0,
            stats,
        }
    }

    /// Sizes the buffers for `rate` (at activation, never on the audio thread).
    pub fn set_sample_rate(&mut self, rate: f32) {
        self.rate = rate;
        self.latency = latency_samples(rate);
        let capacity = (rate * MAX_TAKE_SECONDS) as usize;
        self.voices = (0..TAKE_VOICES).map(|_| TakeVoice::new(capacity)).collect();
        self.len = 0;
        self.clock = 0;
    }

    pub fn latency(&self) -> u32 {
        self.latency
    }

    /// A note-on `offset` samples into the coming block: asks the worker for its take now, gives
    /// it a voice and plays it a latency later. The restart key restarts the lyric instead.
    pub fn note_on(&mut self, offset: u32, key: u8, velocity: f32, controls: &SingControls) {
        if key == controls.restart_key {
            // The worker restarts the lyric; nothing here plays differently.
            let _ = self.commands.push(SingCommand::Restart);
            return;
        }
        let take = self.next_take;
        self.next_take = self.next_take.wrapping_add(1).max(1);
        let command = SingCommand::NoteOn {
            take,
            key,
            velocity: (velocity.clamp(0.0, 1.0) * 127.0).round().clamp(1.0, 127.0) as u8,
            bend: self.bend_asked,
        };
        if self.len < EVENT_QUEUE && self.commands.push(command).is_ok() {
            let due = self.clock + offset as u64 + self.latency as u64;
            self.start(take, key, due);
            self.queue(offset, Event::NoteOn);
        }
    }

    pub fn note_off(&mut self, offset: u32, key: u8) {
        if self.commands.push(SingCommand::NoteOff { key }).is_ok() {
            self.queue(offset, Event::NoteOff { key });
        }
    }

    /// Pitch bend, -1..=1.
    pub fn bend(&mut self, offset: u32, bend: f32) {
        self.bend_asked = bend.clamp(-1.0, 1.0);
        self.queue(offset, Event::Bend(self.bend_asked));
    }

    /// Mod wheel, 0..=1.
    pub fn wheel(&mut self, offset: u32, wheel: f32) {
        self.queue(offset, Event::Wheel(wheel.clamp(0.0, 1.0)));
    }

    /// Every note ends now (the host stopped, a wildcard note-off): no coda, a short fade.
    pub fn stop_all(&mut self) {
        let fade = self.fade_step(STOP_FADE_SECONDS);
        for v in self.voices.iter_mut().filter(|v| v.phase != Phase::Free) {
            v.gain_step = -fade;
            v.held = false;
        }
        self.len = 0;
    }

    /// Nothing sounds or waits to.
    pub fn is_silent(&self) -> bool {
        self.len == 0 && self.voices.iter().all(|v| v.phase == Phase::Free)
    }

    fn queue(&mut self, offset: u32, event: Event) {
        if self.len == EVENT_QUEUE {
            return;
        }
        let due = self.clock + offset as u64 + self.latency as u64;
        self.events[(self.head + self.len) % EVENT_QUEUE] = (due, event);
        self.len += 1;
    }

    fn fade_step(&self, seconds: f32) -> f32 {
        1.0 / (self.rate * seconds).max(1.0)
    }

    /// Takes what the worker has sent.
    pub fn receive(&mut self) {
        while let Ok(block) = self.blocks.pop() {
            let Some(v) = self
                .voices
                .iter_mut()
                .find(|v| v.phase != Phase::Free && v.take == block.take)
            else {
                continue;
            };
            match block.part {
                TakePart::Shape(shape) => v.shape = Some(shape),
                TakePart::Samples { len, samples } => {
                    let n = (len as usize).min(v.samples.len() - v.received);
                    v.samples[v.received..v.received + n].copy_from_slice(&samples[..n]);
                    v.received += n;
                }
                TakePart::End => v.complete = true,
                TakePart::Failed => v.phase = Phase::Free,
            }
        }
    }

    /// Whether every take due within `samples` from now has what it needs to play them: an
    /// offline bounce waits for this before rendering a block.
    pub fn ready_for(&self, samples: usize) -> bool {
        let end = self.clock + samples as u64;
        self.voices.iter().all(|v| {
            v.phase == Phase::Free
                || v.due >= end
                || v.complete
                || v.received as f64 > v.position + 1.3 * samples as f64 + 2.0
        })
    }

    /// Adds `out.len()` samples of singing into `out` (mono), handling the events due in them.
    pub fn render(&mut self, out: &mut [f32], controls: &SingControls) {
        let mut done = 0;
        while done < out.len() {
            self.apply_due_events();
            let until = if self.len > 0 {
                let (due, _) = self.events[self.head];
                ((due.saturating_sub(self.clock)) as usize).clamp(1, out.len() - done)
            } else {
                out.len() - done
            };
            self.render_voices(&mut out[done..done + until], controls);
            self.clock += until as u64;
            done += until;
        }
    }

    fn apply_due_events(&mut self) {
        while self.len > 0 {
            let (due, event) = self.events[self.head];
            if due > self.clock {
                break;
            }
            self.head = (self.head + 1) % EVENT_QUEUE;
            self.len -= 1;
            match event {
                Event::NoteOn => {}
                Event::NoteOff { key } => {
                    let min_vowel = (MIN_VOWEL_SECONDS * self.rate) as f64;
                    // Not a take of the same key played after this note-off.
                    let ended = |v: &TakeVoice| v.held && v.key == key && v.due <= due;
                    for v in self.voices.iter_mut().filter(|v| ended(v)) {
                        v.held = false;
                        let vowel = v.shape.map_or(0.0, |s| s.vowel_start as f64);
                        v.release_from = Some((vowel + min_vowel).max(v.position));
                    }
                }
                Event::Bend(b) => self.bend = b,
                Event::Wheel(w) => self.wheel = w,
            }
        }
    }

    /// Gives take `take`, due at `due`, a voice to wait in for its samples (with none free, the
    /// oldest voice gives way, a released one first).
    fn start(&mut self, take: u32, key: u8, due: u64) {
        let Some(slot) = self
            .voices
            .iter()
            .position(|v| v.phase == Phase::Free)
            .or_else(|| {
                self.voices
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, v)| (v.held, v.due))
                    .map(|(i, _)| i)
            })
        else {
            return;
        };
        let v = &mut self.voices[slot];
        v.phase = Phase::Waiting;
        v.take = take;
        v.key = key;
        v.received = 0;
        v.complete = false;
        v.shape = None;
        v.position = 0.0;
        v.held = true;
        v.release_from = None;
        v.jump = None;
        v.gain = 1.0;
        v.gain_step = 0.0;
        v.bend_sung = self.bend_asked;
        v.due = due;
        v.vibrato_phase = 0.0;
    }

    fn render_voices(&mut self, out: &mut [f32], controls: &SingControls) {
        let rate = self.rate as f64;
        let jump_len = (JUMP_CROSSFADE_SECONDS * self.rate).max(1.0) as u32;
        let legato_step = self.fade_step(LEGATO_CROSSFADE_SECONDS);
        let (bend, wheel) = (self.bend, self.wheel);
        // A take that starts now, legato, takes over from the held notes.
        for i in 0..self.voices.len() {
            let v = &self.voices[i];
            if v.phase != Phase::Waiting
                || v.due > self.clock
                || v.shape.is_none()
                || v.received == 0
            {
                continue;
            }
            let legato = v.shape.is_some_and(|s| s.legato);
            let take = v.take;
            for (j, other) in self.voices.iter_mut().enumerate() {
                if j != i && other.phase == Phase::Playing && other.take != take && other.held {
                    other.held = false;
                    if legato {
                        // Its vowel goes on under the crossfade; the take sings what follows.
                        other.gain_step = -legato_step;
                    } else {
                        other.release_from.get_or_insert(other.position);
                    }
                }
            }
            let v = &mut self.voices[i];
            if self.clock > v.due + 64 {
                self.stats.late_takes.fetch_add(1, Ordering::Relaxed);
            }
            self.stats.takes_played.fetch_add(1, Ordering::Relaxed);
            v.phase = Phase::Playing;
            if legato {
                v.gain = 0.0;
                v.gain_step = legato_step;
            }
        }
        for v in self.voices.iter_mut().filter(|v| v.phase == Phase::Playing) {
            let Some(shape) = v.shape else { continue };
            let vowel = shape.vowel_start as f64..shape.vowel_end as f64;
            let jump = jump_len as f64;
            let loop_end = vowel.end - 2.0 * jump;
            let loop_start = {
                let start = vowel.start + (vowel.end - vowel.start) * LOOP_START_SHARE;
                let periods = ((loop_end - start) / shape.period as f64).floor().max(1.0);
                loop_end - periods * shape.period as f64
            };
            let release_to = vowel.end - jump;
            for slot in out.iter_mut() {
                // Waiting for samples (live: the take is late).
                if !v.complete && v.position + 2.0 >= v.received as f64 {
                    break;
                }
                if v.position >= v.received as f64 || v.gain <= 0.0 && v.gain_step < 0.0 {
                    v.phase = Phase::Free;
                    break;
                }
                if v.jump.is_none() {
                    if v.held && v.position >= loop_end && loop_start > vowel.start {
                        v.jump = Some((v.position, jump_len));
                        v.position -= loop_end - loop_start;
                    } else if v.release_from.is_some_and(|from| v.position >= from) {
                        v.release_from = None;
                        if v.position < release_to {
                            v.jump = Some((v.position, jump_len));
                            v.position = release_to;
                        }
                    }
                }
                let mut sample = v.at(v.position);
                if let Some((from, left)) = v.jump {
                    let w = left as f32 / jump_len as f32;
                    sample = sample * (1.0 - w) + v.at(from) * w;
                    v.jump = (left > 1).then_some((from + 1.0, left - 1));
                }
                *slot += sample * v.gain.clamp(0.0, 1.0);
                v.gain = (v.gain + v.gain_step).min(1.0);
                // Bend moved since the take was sung, and the vibrato once in the vowel.
                let mut semitones = (bend - v.bend_sung) * controls.bend_range;
                if v.position >= vowel.start {
                    v.vibrato_phase += 1.0 / rate;
                    semitones += wheel
                        * controls.vibrato_depth
                        * (std::f64::consts::TAU * controls.vibrato_rate as f64 * v.vibrato_phase)
                            .sin() as f32;
                }
                v.position += (semitones as f64 / 12.0).exp2();
            }
        }
    }
}

/// The reported latency at `rate`, in samples.
pub fn latency_samples(rate: f32) -> u32 {
    (rate * SING_LATENCY_SECONDS).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f32 = 1000.0;

    fn controls() -> SingControls {
        SingControls {
            bend_range: 2.0,
            vibrato_depth: 0.5,
            vibrato_rate: 5.5,
            restart_key: 0,
        }
    }

    struct Rig {
        player: SingPlayer,
        commands: rtrb::Consumer<SingCommand>,
        blocks: rtrb::Producer<TakeBlock>,
    }

    fn rig() -> Rig {
        let (commands_in, commands) = rtrb::RingBuffer::new(COMMAND_QUEUE);
        let (blocks, blocks_out) = rtrb::RingBuffer::new(BLOCK_QUEUE);
        let mut player = SingPlayer::new(commands_in, blocks_out, Default::default());
        player.set_sample_rate(RATE);
        Rig {
            player,
            commands,
            blocks,
        }
    }

    impl Rig {
        /// The worker's side: a take of `samples`, its vowel over `vowel`, at `period`.
        fn sing(&mut self, take: u32, samples: &[f32], vowel: (u32, u32), legato: bool) {
            let shape = TakeShape {
                vowel_start: vowel.0,
                vowel_end: vowel.1,
                period: 10.0,
                legato,
            };
            self.blocks
                .push(TakeBlock {
                    take,
                    part: TakePart::Shape(shape),
                })
                .unwrap();
            for chunk in samples.chunks(BLOCK) {
                let mut block = [0.0; BLOCK];
                block[..chunk.len()].copy_from_slice(chunk);
                self.blocks
                    .push(TakeBlock {
                        take,
                        part: TakePart::Samples {
                            len: chunk.len() as u16,
                            samples: block,
                        },
                    })
                    .unwrap();
            }
            self.blocks
                .push(TakeBlock {
                    take,
                    part: TakePart::End,
                })
                .unwrap();
        }

        fn play(&mut self, n: usize) -> Vec<f32> {
            let mut out = vec![0.0; n];
            self.player.receive();
            self.player.render(&mut out, &controls());
            out
        }

        fn take_asked(&mut self) -> u32 {
            match self.commands.pop().unwrap() {
                SingCommand::NoteOn { take, .. } => take,
                other => panic!("{other:?}"),
            }
        }
    }

    /// A take whose samples count up: sample i is i (so positions can be read off the output).
    fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    #[test]
    fn a_note_sounds_one_latency_after_its_note_on() {
        let mut r = rig();
        r.player.note_on(5, 60, 1.0, &controls());
        let take = r.take_asked();
        r.sing(take, &vec![1.0; 800], (100, 700), false);
        let out = r.play(200);
        let latency = latency_samples(RATE) as usize;
        assert_eq!(latency, 30);
        assert!(out[..5 + latency].iter().all(|&s| s == 0.0));
        assert!(out[5 + latency..].iter().all(|&s| s == 1.0));
    }

    #[test]
    fn a_held_note_loops_its_vowel_and_its_release_plays_the_end_of_the_take() {
        let mut r = rig();
        r.player.note_on(0, 60, 1.0, &controls());
        let take = r.take_asked();
        r.sing(take, &ramp(800), (100, 700), false);
        // Held for 3 s: far past the take's 800 samples.
        let held = r.play(3000);
        let latency = latency_samples(RATE) as usize;
        // (The ramp's first sample is 0.)
        let sounding = &held[latency + 1..];
        let stopped = sounding.iter().position(|&s| s <= 0.0);
        assert!(stopped.is_none(), "the vowel stopped at {stopped:?}");
        // Never past the loop's end (the vowel's end less two crossfades).
        let max = sounding.iter().fold(0f32, |m, &s| m.max(s));
        assert!(max < 700.0 - 15.0, "{max}");
        // Loops are whole periods (10 samples): the loop's two ends match.
        r.player.note_off(0, 60);
        let tail = r.play(300);
        let end = tail.iter().position(|&s| s == 0.0).unwrap();
        // After the latency, the last 15 samples of the vowel (under the jump's crossfade) and
        // the 100 of the coda: the note ends about 115 samples after the note-off and latency.
        assert!((latency + 110..=latency + 120).contains(&end), "{end}");
        assert!((tail[end - 1] - 799.0).abs() < 1.0, "{}", tail[end - 1]);
        assert!(r.player.is_silent());
    }

    #[test]
    fn a_short_note_still_sings_its_vowel_then_its_coda() {
        let mut r = rig();
        r.player.note_on(0, 60, 1.0, &controls());
        r.player.note_off(10, 60);
        let take = r.take_asked();
        r.sing(take, &ramp(800), (100, 700), false);
        let out = r.play(600);
        let sung: Vec<f32> = out.iter().copied().filter(|&s| s > 0.0).collect();
        // The onset and 30 ms of vowel (samples 1..130), then from the vowel's end less the
        // crossfade (685) to the take's end.
        assert_eq!(sung.len(), 129 + 115, "{sung:?}");
        assert!((sung.last().unwrap() - 799.0).abs() < 1.0);
    }

    #[test]
    fn legato_crossfades_from_the_held_note_into_the_next_take() {
        let mut r = rig();
        r.player.note_on(0, 60, 1.0, &controls());
        let first = r.take_asked();
        r.sing(first, &vec![1.0; 800], (100, 700), false);
        r.play(300);
        r.player.note_on(0, 62, 1.0, &controls());
        let second = r.take_asked();
        r.sing(second, &vec![2.0; 800], (100, 700), true);
        let out = r.play(200);
        let latency = latency_samples(RATE) as usize;
        assert!(out[..latency].iter().all(|&s| s == 1.0));
        // A 20-sample crossfade: the sum of both sits between them, then the new take alone.
        assert!(out[latency + 5] > 1.0 && out[latency + 5] < 2.0);
        assert!(out[latency + 25..].iter().all(|&s| s == 2.0), "{out:?}");
    }

    #[test]
    fn bend_after_the_note_on_reads_the_take_faster() {
        let mut r = rig();
        r.player.note_on(0, 60, 1.0, &controls());
        let take = r.take_asked();
        r.sing(take, &ramp(800), (100, 700), false);
        r.play(140);
        // A full bend up of two semitones: 1.122 samples of the take a sample.
        r.player.bend(0, 1.0);
        let out = r.play(200);
        let step = out[180] - out[179];
        assert!((step - 2f32.powf(2.0 / 12.0)).abs() < 1e-3, "{step}");
    }

    #[test]
    fn a_take_that_comes_late_starts_late_and_counts_as_late() {
        let mut r = rig();
        r.player.note_on(0, 60, 1.0, &controls());
        let take = r.take_asked();
        assert!(r.play(200).iter().all(|&s| s == 0.0));
        assert!(!r.player.is_silent());
        r.sing(take, &vec![1.0; 800], (100, 700), false);
        assert!(r.play(10).iter().all(|&s| s == 1.0));
        assert_eq!(r.player.stats.late_takes.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_restart_key_asks_for_a_restart_and_sings_nothing() {
        let mut r = rig();
        let mut c = controls();
        c.restart_key = 24;
        r.player.note_on(0, 24, 1.0, &c);
        assert_eq!(r.commands.pop().unwrap(), SingCommand::Restart);
        assert!(r.play(100).iter().all(|&s| s == 0.0));
    }
}
