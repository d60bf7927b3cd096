//! The producer: a worker thread that owns the synthesizer and turns each text it is sent into
//! samples in the ring, sentence by sentence and chunk by chunk, resampled to the output's rate.
//! Control goes in and events come out through bounded crossbeam channels; a cancel is an atomic,
//! seen by the consumer at its next callback and by the worker between chunks.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use super::ring::{sample_ring, SampleReader, SampleWriter, StreamState};
use crate::error::{Error, Result};
use crate::synth::timing::{TimingEvent, WordTiming};
use crate::synth::{Outcome, SpeechSink, SynthesisOptions, Synthesizer};

/// Texts that may wait for the worker; a sender beyond that waits (or is told, with `try_speak`).
pub const QUEUE_LENGTH: usize = 16;

/// Where the pipeline's events arrive.
pub type EventReceiver = Receiver<Event>;

/// How the pipeline is set up.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The consumer's sample rate; the worker resamples to it.
    pub output_rate: u32,
    /// Audio the ring holds ahead of the consumer.
    pub ring_seconds: f32,
    /// Audio gathered before an utterance starts playing (0 for writers that can wait).
    pub prebuffer_seconds: f32,
    /// Every text is SSML (a fragment is taken as inside `<speak>`); otherwise only texts that
    /// start with `<speak` are.
    pub ssml: bool,
    /// Report each word ([`Event::Word`]) as its first samples go into the ring.
    pub word_events: bool,
}

impl PipelineConfig {
    pub fn new(output_rate: u32) -> Self {
        Self {
            output_rate,
            ring_seconds: 20.0,
            prebuffer_seconds: 0.0,
            ssml: false,
            word_events: false,
        }
    }
}

enum Command {
    Speak {
        utterance: u64,
        text: String,
        queued: Instant,
    },
    Options(SynthesisOptions),
    Flush,
    Shutdown,
}

/// What the worker reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The first samples of the utterance are in the ring, `latency` after it was queued.
    FirstAudio { utterance: u64, latency: Duration },
    /// Every sample of the utterance is in the ring.
    Synthesized { utterance: u64, samples: u64 },
    /// The utterance could not be spoken; nothing more of it will play.
    Failed { utterance: u64, message: String },
    /// Everything queued before the flush has been synthesised.
    Flushed,
    /// Part of the utterance was skipped (characters the voice cannot read); the rest speaks.
    Warning { utterance: u64, message: String },
    /// A word's first samples are in the ring (with [`PipelineConfig::word_events`]); its
    /// times count output samples from the utterance's start.
    Word { utterance: u64, word: WordTiming },
}

/// The control side of a running pipeline. Dropping it stops the worker.
///
/// ```no_run
/// # fn main() -> mellow_engine::Result<()> {
/// use mellow_engine::stream::Event;
/// use mellow_engine::{voice::resolve_voice, Pipeline, PipelineConfig, SynthesisOptions, Synthesizer};
/// let synth = Synthesizer::new(&resolve_voice("")?, None)?;
/// let (mut pipeline, mut reader) =
///     Pipeline::start(synth, SynthesisOptions::default(), PipelineConfig::new(48_000))?;
/// let utterance = pipeline.speak("Hello.")?;
/// // The audio callback's only call: copies what is ready, silence where nothing is.
/// let mut block = [0f32; 480];
/// reader.fill(&mut block);
/// for event in pipeline.events().try_iter() {
///     if let Event::Failed { utterance: u, message } = event {
///         eprintln!("utterance {u} of {utterance}: {message}");
///     }
/// }
/// pipeline.cancel(); // silent at the reader's next call
/// # Ok(()) }
/// ```
pub struct Pipeline {
    commands: Sender<Command>,
    events: Receiver<Event>,
    state: Arc<StreamState>,
    next_utterance: u64,
    worker: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the worker with `synth`; returns the control side and the consumer half.
    pub fn start(
        synth: Synthesizer,
        options: SynthesisOptions,
        config: PipelineConfig,
    ) -> Result<(Pipeline, SampleReader)> {
        crate::synth::check_output_rate(config.output_rate)?;
        synth.resolve(&options)?;
        let state = Arc::new(StreamState::default());
        let (writer, mut reader) =
            sample_ring(config.output_rate, config.ring_seconds, state.clone());
        reader.set_prebuffer(config.output_rate, config.prebuffer_seconds);
        let (commands, command_rx) = bounded(QUEUE_LENGTH);
        // Word events come many to an utterance: room for a few sentences' worth.
        let events_room = match config.word_events {
            true => 64 * QUEUE_LENGTH,
            false => 4 * QUEUE_LENGTH,
        };
        let (event_tx, events) = bounded(events_room);
        let worker = Worker {
            synth,
            options,
            ssml: config.ssml,
            word_events: config.word_events,
            output_rate: config.output_rate,
            writer,
            commands: command_rx,
            events: event_tx,
        };
        let worker = std::thread::Builder::new()
            .name("mellow-synthesis".into())
            .spawn(move || worker.run())
            .map_err(|e| Error::runtime(format!("cannot start the synthesis thread: {e}")))?;
        Ok((
            Pipeline {
                commands,
                events,
                state,
                next_utterance: 1,
                worker: Some(worker),
            },
            reader,
        ))
    }

    /// Queues `text`, waiting while the queue is full; returns the utterance's id.
    pub fn speak(&mut self, text: impl Into<String>) -> Result<u64> {
        let utterance = self.next_utterance;
        self.commands
            .send(Command::Speak {
                utterance,
                text: text.into(),
                queued: Instant::now(),
            })
            .map_err(|_| Error::runtime("the synthesis thread has stopped"))?;
        self.next_utterance += 1;
        Ok(utterance)
    }

    /// Queues `text` unless the queue is full (`Ok(None)` then).
    pub fn try_speak(&mut self, text: impl Into<String>) -> Result<Option<u64>> {
        let utterance = self.next_utterance;
        match self.commands.try_send(Command::Speak {
            utterance,
            text: text.into(),
            queued: Instant::now(),
        }) {
            Ok(()) => {
                self.next_utterance += 1;
                Ok(Some(utterance))
            }
            Err(TrySendError::Full(_)) => Ok(None),
            Err(TrySendError::Disconnected(_)) => {
                Err(Error::runtime("the synthesis thread has stopped"))
            }
        }
    }

    /// Stops everything queued or playing: the consumer drops it at its next callback, the worker
    /// between two chunks.
    pub fn cancel(&self) {
        self.state.cancel_below(self.next_utterance);
    }

    /// New options for the texts queued from now on.
    pub fn set_options(&self, options: SynthesisOptions) -> Result<()> {
        self.commands
            .send(Command::Options(options))
            .map_err(|_| Error::runtime("the synthesis thread has stopped"))
    }

    /// Asks for an [`Event::Flushed`] once everything queued so far is synthesised.
    pub fn flush(&self) -> Result<()> {
        self.commands
            .send(Command::Flush)
            .map_err(|_| Error::runtime("the synthesis thread has stopped"))
    }

    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    pub fn state(&self) -> &Arc<StreamState> {
        &self.state
    }

    /// Id of the last utterance queued (0 before any).
    pub fn last_utterance(&self) -> u64 {
        self.next_utterance - 1
    }

    /// Stops the worker after the text it is on, without waiting for playback.
    pub fn shutdown(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.cancel();
        self.shutdown();
    }
}

struct Worker {
    synth: Synthesizer,
    options: SynthesisOptions,
    ssml: bool,
    word_events: bool,
    output_rate: u32,
    writer: SampleWriter,
    commands: Receiver<Command>,
    events: Sender<Event>,
}

impl Worker {
    fn run(mut self) {
        while let Ok(command) = self.commands.recv() {
            match command {
                Command::Speak {
                    utterance,
                    text,
                    queued,
                } => self.speak(utterance, &text, queued),
                Command::Options(options) => self.options = options,
                Command::Flush => report(&self.events, Event::Flushed),
                Command::Shutdown => break,
            }
        }
    }

    fn speak(&mut self, utterance: u64, text: &str, queued: Instant) {
        if self.writer.state().is_cancelled(utterance) {
            return;
        }
        match self.synthesize(utterance, text, queued) {
            Ok(Some(samples)) => {
                if self.writer.end_utterance(utterance, &mut || false).is_ok() {
                    report(&self.events, Event::Synthesized { utterance, samples });
                }
            }
            // Cancelled, or nobody is listening any more.
            Ok(None) => {}
            Err(e) => {
                let _ = self.writer.end_utterance(utterance, &mut || false);
                report(
                    &self.events,
                    Event::Failed {
                        utterance,
                        message: e.to_string(),
                    },
                );
            }
        }
    }

    /// Every sentence of `text` into the ring, with pauses between; `Ok(None)` when stopped.
    fn synthesize(&mut self, utterance: u64, text: &str, queued: Instant) -> Result<Option<u64>> {
        let opts = self.synth.resolve(&self.options)?;
        let spoken = match self.ssml {
            true => self.synth.ssml_utterance(text)?,
            false => self.synth.utterance(text)?,
        };
        for message in spoken.warnings.iter().cloned() {
            report(&self.events, Event::Warning { utterance, message });
        }
        let mut sink = RingSink {
            writer: &mut self.writer,
            utterance,
            total: 0,
            first_audio: Some(queued),
            events: &self.events,
            words: self.word_events.then(std::collections::VecDeque::new),
        };
        let outcome = self
            .synth
            .speak(&spoken, &opts, self.output_rate, &mut sink)?;
        if outcome == Outcome::Complete {
            sink.report_words(u64::MAX);
        }
        Ok((outcome == Outcome::Complete).then_some(sink.total))
    }
}

fn report(events: &Sender<Event>, event: Event) {
    // A full event queue means nobody is listening; the audio matters more.
    let _ = events.try_send(event);
}

/// The utterance's samples, at the output rate, into the ring.
struct RingSink<'a> {
    writer: &'a mut SampleWriter,
    utterance: u64,
    total: u64,
    /// When the utterance was queued, until its first samples are written.
    first_audio: Option<Instant>,
    events: &'a Sender<Event>,
    /// Words whose samples are not in the ring yet (when word events are asked for).
    words: Option<std::collections::VecDeque<WordTiming>>,
}

impl RingSink<'_> {
    /// Reports the words that start before sample `written`.
    fn report_words(&mut self, written: u64) {
        let Some(words) = &mut self.words else {
            return;
        };
        while words.front().is_some_and(|w| w.start < written) {
            if let Some(word) = words.pop_front() {
                report(
                    self.events,
                    Event::Word {
                        utterance: self.utterance,
                        word,
                    },
                );
            }
        }
    }
}

impl SpeechSink for RingSink<'_> {
    /// `Ok(false)` when the utterance was cancelled or the consumer has gone.
    fn samples(&mut self, samples: &[f32]) -> Result<bool> {
        if self
            .writer
            .write(self.utterance, samples, &mut || false)
            .is_err()
        {
            return Ok(false);
        }
        self.total += samples.len() as u64;
        if let Some(queued) = self.first_audio.take() {
            report(
                self.events,
                Event::FirstAudio {
                    utterance: self.utterance,
                    latency: queued.elapsed(),
                },
            );
        }
        self.report_words(self.total);
        Ok(true)
    }

    fn timing(&mut self, event: TimingEvent) {
        if let (Some(words), TimingEvent::Word(word)) = (&mut self.words, event) {
            words.push_back(word);
        }
    }
}
