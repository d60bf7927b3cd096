//! The synthesis pool: worker threads, each owning its synthesizers (loaded on first use, kept),
//! taking jobs from one bounded queue. A job's audio goes to its requester through a small bounded
//! channel as the utterance loop makes it; a requester that goes away (a client that disconnects)
//! stops its synthesis at the next chunk, as do a timeout and a shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use mellow_engine::audio::wav::pcm16;
use mellow_engine::synth::TimingEvent;
use mellow_engine::{Outcome, SpeechSink, SynthesisOptions, Synthesizer};
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::voices::{Catalogue, VoiceEntry};
use crate::ServerError;

/// What to say and how.
#[derive(Debug, Clone)]
pub struct Job {
    pub voice: VoiceEntry,
    pub text: String,
    /// The text is SSML (a fragment is taken as inside `<speak>`).
    pub ssml: bool,
    pub options: SynthesisOptions,
    pub output_rate: u32,
    /// When the request arrived (its deadline counts from here).
    pub arrived: Instant,
    pub timeout: Duration,
    /// Send word and phoneme timings too.
    pub timings: bool,
}

/// What a job sends back, in order.
#[derive(Debug)]
pub enum Reply {
    /// Warnings about what the text holds (skipped characters, unknown SSML elements).
    Warnings(Vec<String>),
    /// 16-bit little-endian mono PCM at the job's output rate.
    Audio(Vec<u8>),
    /// A word, phoneme or mark and when it is heard (output samples), before its audio.
    Timing(TimingEvent),
    /// Every sample was sent.
    Done { audio_seconds: f64 },
    /// It could not be spoken: the message says why; `client` when the request was at fault.
    Failed { message: String, client: bool },
}

/// Chunks of audio in flight to one requester: a few, so a slow reader holds back its worker
/// rather than growing memory.
const REPLY_ROOM: usize = 8;

struct Queued {
    job: Job,
    replies: mpsc::Sender<Reply>,
}

/// The pool's handle.
pub struct Workers {
    jobs: Sender<Queued>,
    count: usize,
    shutting_down: Arc<AtomicBool>,
}

/// Why a job was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full: try again shortly.
    Full,
    /// The server is stopping.
    Stopping,
}

impl Workers {
    /// Starts `count` worker threads behind a queue of `queue` jobs.
    pub fn start(
        count: usize,
        queue: usize,
        catalogue: Catalogue,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ServerError> {
        let (jobs, taken) = bounded::<Queued>(queue);
        let shutting_down = Arc::new(AtomicBool::new(false));
        for n in 0..count {
            let worker = Worker {
                taken: taken.clone(),
                catalogue: catalogue.clone(),
                synthesizers: HashMap::new(),
                metrics: metrics.clone(),
                shutting_down: shutting_down.clone(),
            };
            std::thread::Builder::new()
                .name(format!("mellow-worker-{n}"))
                .spawn(move || worker.run())
                .map_err(|e| ServerError::Runtime(format!("cannot start a worker thread: {e}")))?;
        }
        Ok(Self {
            jobs,
            count,
            shutting_down,
        })
    }

    /// Queues `job`; its replies arrive on the returned receiver. Never waits.
    pub fn submit(&self, job: Job) -> Result<mpsc::Receiver<Reply>, Refused> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(Refused::Stopping);
        }
        let (replies, receiver) = mpsc::channel(REPLY_ROOM);
        match self.jobs.try_send(Queued { job, replies }) {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(_)) => Err(Refused::Full),
            Err(TrySendError::Disconnected(_)) => Err(Refused::Stopping),
        }
    }

    /// Jobs waiting for a worker.
    pub fn queue_depth(&self) -> usize {
        self.jobs.len()
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Stops every job at its next chunk and refuses new ones.
    pub fn cancel_all(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }
}

struct Worker {
    taken: Receiver<Queued>,
    catalogue: Catalogue,
    synthesizers: HashMap<String, Synthesizer>,
    metrics: Arc<Metrics>,
    shutting_down: Arc<AtomicBool>,
}

impl Worker {
    fn run(mut self) {
        // A one-thread pool of its own: the engine then runs this worker's acoustic model right
        // here instead of queueing it behind the other workers' on a shared thread.
        let own_pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().ok();
        match own_pool {
            Some(pool) => pool.install(|| self.serve_jobs()),
            None => self.serve_jobs(),
        }
    }

    fn serve_jobs(&mut self) {
        while let Ok(Queued { job, replies }) = self.taken.recv() {
            // A requester that left while its job waited: nothing to do.
            if replies.is_closed() {
                continue;
            }
            if self.shutting_down.load(Ordering::Acquire) {
                let _ = replies.blocking_send(Reply::Failed {
                    message: "the server is shutting down".into(),
                    client: false,
                });
                continue;
            }
            let started = Instant::now();
            let result = self.speak(&job, &replies);
            match result {
                Ok(Some(audio_seconds)) => {
                    self.metrics
                        .synthesized(started.elapsed().as_secs_f64(), audio_seconds);
                    let _ = replies.blocking_send(Reply::Done { audio_seconds });
                }
                // Stopped: the requester left, the deadline passed or the server is stopping.
                Ok(None) => {
                    if Instant::now() >= job.arrived + job.timeout {
                        let _ = replies.blocking_send(Reply::Failed {
                            message: format!(
                                "the request took longer than {} s",
                                job.timeout.as_secs()
                            ),
                            client: false,
                        });
                    }
                }
                Err((message, client)) => {
                    let _ = replies.blocking_send(Reply::Failed { message, client });
                }
            }
        }
    }

    /// `Ok(Some(seconds of audio))`, `Ok(None)` when stopped, or the error and whether the
    /// request was at fault.
    fn speak(
        &mut self,
        job: &Job,
        replies: &mpsc::Sender<Reply>,
    ) -> Result<Option<f64>, (String, bool)> {
        if !self.synthesizers.contains_key(&job.voice.name) {
            let synth = self
                .catalogue
                .synthesizer(&job.voice)
                .map_err(|e| (e.to_string(), false))?;
            self.synthesizers.insert(job.voice.name.clone(), synth);
        }
        let Some(synth) = self.synthesizers.get_mut(&job.voice.name) else {
            return Err(("the voice did not load".into(), false));
        };
        let client = |e: mellow_engine::Error| (e.to_string(), true);
        let opts = synth.resolve(&job.options).map_err(client)?;
        let utterance = match job.ssml {
            true => synth.ssml_utterance(&job.text),
            false => synth.utterance(&job.text),
        }
        .map_err(client)?;
        if !utterance.warnings.is_empty() {
            let _ = replies.blocking_send(Reply::Warnings(utterance.warnings.clone()));
        }
        let mut sink = ReplySink {
            replies,
            deadline: job.arrived + job.timeout,
            shutting_down: &self.shutting_down,
            samples: 0,
            timings: job.timings,
        };
        let outcome = synth
            .speak(&utterance, &opts, job.output_rate, &mut sink)
            .map_err(|e| (e.to_string(), matches!(e, mellow_engine::Error::Input(_))))?;
        Ok((outcome == Outcome::Complete).then(|| sink.samples as f64 / job.output_rate as f64))
    }
}

/// Audio to the requester as 16-bit PCM; stops when it has gone, at the deadline, or at shutdown.
struct ReplySink<'a> {
    replies: &'a mpsc::Sender<Reply>,
    deadline: Instant,
    shutting_down: &'a AtomicBool,
    samples: u64,
    /// Whether the requester wants timings.
    timings: bool,
}

impl SpeechSink for ReplySink<'_> {
    fn samples(&mut self, samples: &[f32]) -> mellow_engine::Result<bool> {
        if Instant::now() >= self.deadline || self.shutting_down.load(Ordering::Acquire) {
            return Ok(false);
        }
        let mut bytes = Vec::with_capacity(samples.len() * 2);
        for s in samples {
            bytes.extend_from_slice(&pcm16(*s).to_le_bytes());
        }
        self.samples += samples.len() as u64;
        // Fails only when the requester has gone: stop there.
        Ok(self.replies.blocking_send(Reply::Audio(bytes)).is_ok())
    }

    fn timing(&mut self, event: TimingEvent) {
        if self.timings {
            let _ = self.replies.blocking_send(Reply::Timing(event));
        }
    }
}
