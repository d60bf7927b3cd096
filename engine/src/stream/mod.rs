//! Streaming: a synthesis worker thread (the producer) and an audio consumer joined by a lock-free
//! ring of samples, with bounded channels for control. Only the consumer half runs on an audio
//! thread; it never allocates, locks or waits.

pub mod feeder;
pub mod pipeline;
pub mod ring;

pub use feeder::{Feeder, TextSource};
pub use pipeline::{Event, EventReceiver, Pipeline, PipelineConfig};
pub use ring::{SampleReader, StreamState};
