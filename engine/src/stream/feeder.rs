//! Feeding a running pipeline: the whole text at once, or standard input line by line as it is
//! typed, each line queued as soon as it is complete while earlier lines still play.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{Pipeline, StreamState};
use crate::error::{Error, Result};
use crate::input::BoundedLines;

/// Where the text comes from.
pub enum TextSource {
    /// One text, at most [`crate::input::MAX_TEXT_BYTES`].
    Whole(String),
    Lines(Box<dyn BufRead + Send>),
}

/// The thread that queues the text, and what it has queued so far.
pub struct Feeder {
    input_done: Arc<AtomicBool>,
    last_queued: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<Pipeline>>>,
}

impl Feeder {
    /// Starts queueing `source` into `pipeline`. A full queue makes the feeder wait, so text that
    /// comes faster than it can be spoken is held back, never dropped.
    ///
    /// ```no_run
    /// # fn main() -> mellow_engine::Result<()> {
    /// use mellow_engine::stream::{Feeder, PipelineConfig, TextSource};
    /// use mellow_engine::{voice::resolve_voice, Pipeline, SynthesisOptions, Synthesizer};
    /// let synth = Synthesizer::new(&resolve_voice("")?, None)?;
    /// let (pipeline, mut reader) =
    ///     Pipeline::start(synth, SynthesisOptions::default(), PipelineConfig::new(48_000))?;
    /// let state = pipeline.state().clone();
    /// let feeder = Feeder::start(pipeline, TextSource::Whole("Hello.".into()))?;
    /// let mut block = [0f32; 480];
    /// while !feeder.finished(&state) {
    ///     reader.read_available(&mut block); // an audio callback would play these
    /// }
    /// feeder.join()?;
    /// # Ok(()) }
    /// ```
    pub fn start(mut pipeline: Pipeline, source: TextSource) -> Result<Feeder> {
        let input_done = Arc::new(AtomicBool::new(false));
        let last_queued = Arc::new(AtomicU64::new(0));
        let (done, last) = (input_done.clone(), last_queued.clone());
        let feed = move || {
            let result = (|| -> Result<()> {
                match source {
                    TextSource::Whole(text) => {
                        last.store(pipeline.speak(text)?, Ordering::Release);
                    }
                    TextSource::Lines(reader) => {
                        for line in BoundedLines::new(reader, "standard input") {
                            let line = line?;
                            if line.trim().is_empty() {
                                continue;
                            }
                            last.store(pipeline.speak(line)?, Ordering::Release);
                        }
                    }
                }
                Ok(())
            })();
            done.store(true, Ordering::Release);
            result.map(|()| pipeline)
        };
        let thread = std::thread::Builder::new()
            .name("mellow-input".into())
            .spawn(feed)
            .map_err(|e| Error::runtime(format!("cannot start the input thread: {e}")))?;
        Ok(Feeder {
            input_done,
            last_queued,
            thread: Some(thread),
        })
    }

    /// True once the input has ended and everything queued has been played (or written).
    pub fn finished(&self, state: &StreamState) -> bool {
        self.input_done.load(Ordering::Acquire)
            && state.finished_utterance() >= self.last_queued.load(Ordering::Acquire)
    }

    /// Id of the last utterance queued (0: none).
    pub fn queued(&self) -> u64 {
        self.last_queued.load(Ordering::Acquire)
    }

    /// Waits for the feeder to end and gives back its error, if any (the pipeline stops here).
    pub fn join(mut self) -> Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(_pipeline))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(Error::runtime("the input thread panicked")),
            None => Ok(()),
        }
    }
}
