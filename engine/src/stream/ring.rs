//! The lock-free ring between the synthesis worker and the audio consumer: fixed-size blocks of
//! samples (rtrb, single producer, single consumer), each stamped with its utterance's id, so a
//! cancel can drop stale audio on the consumer side without a lock or a handshake.
//!
//! The consumer half ([`SampleReader`]) is what an audio callback calls: it only copies, reads and
//! writes atomics, and never allocates, locks, waits or makes a system call.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Samples per block: 256 is 11.6 ms at 22 050 Hz, 5.3 ms at 48 kHz.
pub const BLOCK_SAMPLES: usize = 256;

/// Samples of fade to silence when a cancel cuts a sound short (2.7 ms at 48 kHz).
const CANCEL_FADE: usize = 128;

#[derive(Clone, Copy)]
struct Block {
    utterance: u64,
    len: u16,
    /// The utterance's last block: after it, silence is not an underrun.
    last: bool,
    samples: [f32; BLOCK_SAMPLES],
}

impl Block {
    fn empty(utterance: u64) -> Self {
        Self {
            utterance,
            len: 0,
            last: false,
            samples: [0.0; BLOCK_SAMPLES],
        }
    }
}

/// What both halves and the control side see.
#[derive(Default)]
pub struct StreamState {
    /// Utterances with a smaller id are cancelled: their blocks are dropped unplayed.
    cancelled_below: AtomicU64,
    /// Times the consumer needed samples in the middle of an utterance and the ring was empty.
    underruns: AtomicU64,
    /// Samples handed to the output (silence between utterances not counted).
    played: AtomicU64,
    /// Id of the last utterance whose final block the consumer has played.
    finished_utterance: AtomicU64,
    /// The consumer is gone (device lost, writer stopped): the producer stops waiting for room.
    consumer_closed: AtomicBool,
}

impl StreamState {
    pub fn cancel_below(&self, utterance: u64) {
        self.cancelled_below.fetch_max(utterance, Ordering::AcqRel);
    }

    pub fn is_cancelled(&self, utterance: u64) -> bool {
        utterance < self.cancelled_below.load(Ordering::Acquire)
    }

    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    pub fn played(&self) -> u64 {
        self.played.load(Ordering::Relaxed)
    }

    /// Id of the last utterance played to its end (0 before any).
    pub fn finished_utterance(&self) -> u64 {
        self.finished_utterance.load(Ordering::Acquire)
    }

    pub fn close_consumer(&self) {
        self.consumer_closed.store(true, Ordering::Release);
    }

    pub fn consumer_closed(&self) -> bool {
        self.consumer_closed.load(Ordering::Acquire)
    }
}

/// A ring that holds `seconds` of audio at `rate`, split into its two halves.
pub fn sample_ring(
    rate: u32,
    seconds: f32,
    state: Arc<StreamState>,
) -> (SampleWriter, SampleReader) {
    let blocks = ((rate as f32 * seconds) as usize / BLOCK_SAMPLES).max(4);
    let (producer, consumer) = rtrb::RingBuffer::new(blocks);
    (
        SampleWriter {
            producer,
            state: state.clone(),
            pending: Block::empty(0),
        },
        SampleReader {
            consumer,
            state,
            offset: 0,
            in_utterance: false,
            prebuffer_blocks: 0,
            last_sample: 0.0,
            fade_left: 0,
        },
    )
}

/// The producer half, owned by the synthesis worker.
pub struct SampleWriter {
    producer: rtrb::Producer<Block>,
    state: Arc<StreamState>,
    pending: Block,
}

/// Why a write stopped before all samples were in the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStop {
    Cancelled,
    ConsumerClosed,
}

impl SampleWriter {
    pub fn state(&self) -> &Arc<StreamState> {
        &self.state
    }

    /// Appends samples of `utterance`, waiting for room while the ring is full (back-pressure on
    /// the producer only). `interrupted` is polled while waiting: the worker's control check.
    pub fn write(
        &mut self,
        utterance: u64,
        mut samples: &[f32],
        interrupted: &mut dyn FnMut() -> bool,
    ) -> Result<(), WriteStop> {
        if self.pending.utterance != utterance {
            self.pending = Block::empty(utterance);
        }
        while !samples.is_empty() {
            let at = self.pending.len as usize;
            let n = (BLOCK_SAMPLES - at).min(samples.len());
            self.pending.samples[at..at + n].copy_from_slice(&samples[..n]);
            self.pending.len += n as u16;
            samples = &samples[n..];
            if self.pending.len as usize == BLOCK_SAMPLES {
                self.push_pending(interrupted)?;
            }
        }
        Ok(())
    }

    /// Sends what is left of `utterance`, marked as its end.
    pub fn end_utterance(
        &mut self,
        utterance: u64,
        interrupted: &mut dyn FnMut() -> bool,
    ) -> Result<(), WriteStop> {
        if self.pending.utterance != utterance {
            self.pending = Block::empty(utterance);
        }
        self.pending.last = true;
        self.push_pending(interrupted)
    }

    fn push_pending(&mut self, interrupted: &mut dyn FnMut() -> bool) -> Result<(), WriteStop> {
        let utterance = self.pending.utterance;
        loop {
            if self.state.is_cancelled(utterance) || interrupted() {
                self.pending = Block::empty(utterance);
                return Err(WriteStop::Cancelled);
            }
            if self.state.consumer_closed() {
                return Err(WriteStop::ConsumerClosed);
            }
            match self.producer.push(self.pending) {
                Ok(()) => {
                    self.pending = Block::empty(utterance);
                    return Ok(());
                }
                // Full: the consumer plays a block every few milliseconds.
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    }
}

/// The consumer half: called from the audio callback (or a writer thread).
pub struct SampleReader {
    consumer: rtrb::Consumer<Block>,
    state: Arc<StreamState>,
    /// Samples of the front block already played.
    offset: usize,
    /// Between an utterance's first played block and its last.
    in_utterance: bool,
    /// Blocks to gather before an utterance starts playing, so the first chunks' jitter is
    /// absorbed (0: play at once).
    prebuffer_blocks: usize,
    last_sample: f32,
    fade_left: usize,
}

impl SampleReader {
    pub fn state(&self) -> &Arc<StreamState> {
        &self.state
    }

    /// Waits for `seconds` of an utterance (or its end) before starting to play it.
    pub fn set_prebuffer(&mut self, rate: u32, seconds: f32) {
        self.prebuffer_blocks = (rate as f32 * seconds / BLOCK_SAMPLES as f32).ceil() as usize;
    }

    /// Fills `out` with mono samples, silence where there are none; counts an underrun when an
    /// utterance has started and its samples do not arrive in time. Real-time safe.
    pub fn fill(&mut self, out: &mut [f32]) {
        let mut written = 0;
        let mut starved = false;
        while written < out.len() {
            self.drop_cancelled();
            if !self.in_utterance && !self.ready_to_start() {
                break;
            }
            match self.copy_front(&mut out[written..]) {
                None => {
                    starved = self.in_utterance;
                    break;
                }
                Some((n, ended)) => {
                    written += n;
                    self.in_utterance = !ended;
                }
            }
        }
        if written > 0 {
            self.last_sample = out[written - 1];
            self.state
                .played
                .fetch_add(written as u64, Ordering::Relaxed);
        }
        // Silence for the rest, faded in from a cancelled sound so it does not click.
        for s in &mut out[written..] {
            *s = if self.fade_left > 0 {
                self.fade_left -= 1;
                self.last_sample * self.fade_left as f32 / CANCEL_FADE as f32
            } else {
                0.0
            };
        }
        if written < out.len() && self.fade_left == 0 {
            self.last_sample = 0.0;
        }
        if starved {
            self.state.underruns.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes up to `out.len()` samples that are ready, without padding or underrun counting (for
    /// file and pipe writers, which can wait). Returns how many were taken.
    pub fn read_available(&mut self, out: &mut [f32]) -> usize {
        let mut written = 0;
        while written < out.len() {
            self.drop_cancelled();
            match self.copy_front(&mut out[written..]) {
                None => break,
                Some((n, _)) => written += n,
            }
        }
        self.state
            .played
            .fetch_add(written as u64, Ordering::Relaxed);
        written
    }

    /// Fills an interleaved buffer of `channels` channels with the mono signal converted to the
    /// device's sample type, through `scratch` (allocated before the stream starts).
    pub fn fill_interleaved<T: FromMono>(
        &mut self,
        out: &mut [T],
        channels: usize,
        scratch: &mut [f32],
    ) {
        let channels = channels.max(1);
        for frames in out.chunks_mut(scratch.len().max(1) * channels) {
            let n = frames.len() / channels;
            let mono = &mut scratch[..n];
            self.fill(mono);
            for (frame, &s) in frames.chunks_mut(channels).zip(mono.iter()) {
                frame.fill(T::from_mono(s));
            }
        }
    }

    /// Copies what `out` takes of the front block; `None` when the ring is empty, else the count
    /// and whether an utterance's last block was used up (it is then marked finished).
    fn copy_front(&mut self, out: &mut [f32]) -> Option<(usize, bool)> {
        let block = self.consumer.peek().ok()?;
        let len = block.len as usize;
        let n = (len - self.offset).min(out.len());
        out[..n].copy_from_slice(&block.samples[self.offset..self.offset + n]);
        self.offset += n;
        if self.offset < len {
            return Some((n, false));
        }
        let (last, utterance) = (block.last, block.utterance);
        self.pop_block();
        if last {
            self.state
                .finished_utterance
                .fetch_max(utterance, Ordering::AcqRel);
        }
        Some((n, last))
    }

    fn pop_block(&mut self) {
        // The block was peeked, so popping cannot fail.
        let _ = self.consumer.pop();
        self.offset = 0;
    }

    /// Drops the blocks of cancelled utterances at the front of the ring.
    fn drop_cancelled(&mut self) {
        let mut dropped = false;
        while let Ok(block) = self.consumer.peek() {
            if !self.state.is_cancelled(block.utterance) {
                break;
            }
            self.pop_block();
            dropped = true;
        }
        if dropped && self.in_utterance {
            self.in_utterance = false;
            self.fade_left = CANCEL_FADE;
        }
    }

    /// An utterance may start once enough of it is buffered, or all of it.
    fn ready_to_start(&mut self) -> bool {
        let available = self.consumer.slots();
        if available == 0 {
            return false;
        }
        if available >= self.prebuffer_blocks {
            return true;
        }
        match self.consumer.read_chunk(available) {
            Ok(chunk) => {
                let (a, b) = chunk.as_slices();
                a.iter().chain(b).any(|block| block.last)
            }
            Err(_) => false,
        }
    }
}

/// Conversion of a mono f32 sample to an output sample type.
pub trait FromMono: Copy {
    fn from_mono(sample: f32) -> Self;
}

impl FromMono for f32 {
    fn from_mono(sample: f32) -> Self {
        sample
    }
}

impl FromMono for i16 {
    fn from_mono(sample: f32) -> Self {
        crate::audio::wav::pcm16(sample)
    }
}

impl FromMono for i32 {
    fn from_mono(sample: f32) -> Self {
        (sample.clamp(-1.0, 1.0) as f64 * i32::MAX as f64).round() as i32
    }
}

impl FromMono for u16 {
    fn from_mono(sample: f32) -> Self {
        ((sample.clamp(-1.0, 1.0) + 1.0) * 32767.5).round() as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> (SampleWriter, SampleReader) {
        sample_ring(22_050, 1.0, Arc::new(StreamState::default()))
    }

    fn never() -> impl FnMut() -> bool {
        || false
    }

    #[test]
    fn samples_come_out_in_order_across_blocks() {
        let (mut w, mut r) = ring();
        let input: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        w.write(1, &input, &mut never()).unwrap();
        w.end_utterance(1, &mut never()).unwrap();
        let mut out = vec![9.0; 1200];
        r.fill(&mut out);
        assert_eq!(&out[..1000], &input[..]);
        assert!(out[1000..].iter().all(|&s| s == 0.0));
        assert_eq!(r.state().underruns(), 0);
        assert_eq!(r.state().finished_utterance(), 1);
        assert_eq!(r.state().played(), 1000);
    }

    #[test]
    fn a_gap_inside_an_utterance_is_an_underrun_and_silence_after_its_end_is_not() {
        let (mut w, mut r) = ring();
        w.write(1, &[0.5; BLOCK_SAMPLES], &mut never()).unwrap();
        let mut out = vec![0.0; 2 * BLOCK_SAMPLES];
        r.fill(&mut out);
        assert_eq!(r.state().underruns(), 1);
        w.end_utterance(1, &mut never()).unwrap();
        r.fill(&mut out);
        r.fill(&mut out);
        assert_eq!(r.state().underruns(), 1);
    }

    #[test]
    fn a_cancel_drops_queued_audio_at_the_next_fill_and_fades_out() {
        let (mut w, mut r) = ring();
        w.write(1, &vec![0.8; 10 * BLOCK_SAMPLES], &mut never())
            .unwrap();
        let mut out = vec![0.0; 64];
        r.fill(&mut out);
        assert_eq!(out[63], 0.8);
        r.state().cancel_below(2);
        r.fill(&mut out);
        assert!(out[0] < 0.8 && out[0] > 0.7, "fades from the last level");
        assert!(out.windows(2).all(|p| p[1] <= p[0]));
        let mut rest = vec![0.0; 4 * BLOCK_SAMPLES];
        r.fill(&mut rest);
        let fade_end = CANCEL_FADE - out.len();
        assert!(rest[..fade_end]
            .iter()
            .all(|&s| (0.0..out[63]).contains(&s)));
        assert!(rest[fade_end..].iter().all(|&s| s == 0.0));
        // The next utterance plays normally.
        w.write(2, &[0.25; 10], &mut never()).unwrap();
        w.end_utterance(2, &mut never()).unwrap();
        r.fill(&mut rest);
        assert_eq!(&rest[..10], &[0.25; 10]);
        assert_eq!(r.state().underruns(), 0);
    }

    #[test]
    fn the_writer_stops_waiting_when_cancelled() {
        let (mut w, _r) = sample_ring(22_050, 0.05, Arc::new(StreamState::default()));
        let state = w.state().clone();
        let mut polls = 0;
        let result = w.write(1, &vec![0.1; 100 * BLOCK_SAMPLES], &mut || {
            polls += 1;
            if polls > 3 {
                state.cancel_below(2);
            }
            false
        });
        assert_eq!(result, Err(WriteStop::Cancelled));
    }

    #[test]
    fn prebuffering_waits_for_enough_audio_or_the_end() {
        let (mut w, mut r) = ring();
        r.set_prebuffer(22_050, 0.05); // 5 blocks
        w.write(1, &[0.5; 2 * BLOCK_SAMPLES], &mut never()).unwrap();
        let mut out = vec![1.0; 16];
        r.fill(&mut out);
        assert!(out.iter().all(|&s| s == 0.0));
        assert_eq!(r.state().underruns(), 0);
        w.write(1, &[0.5; 3 * BLOCK_SAMPLES], &mut never()).unwrap();
        r.fill(&mut out);
        assert!(out.iter().all(|&s| s == 0.5));
        // A short utterance plays once its end is in.
        let (mut w, mut r) = ring();
        r.set_prebuffer(22_050, 0.05);
        w.write(1, &[0.5; 10], &mut never()).unwrap();
        w.end_utterance(1, &mut never()).unwrap();
        r.fill(&mut out);
        assert!(out[..10].iter().all(|&s| s == 0.5));
    }

    #[test]
    fn interleaved_output_copies_mono_to_every_channel() {
        let (mut w, mut r) = ring();
        w.write(1, &[0.5, -0.5, 1.5], &mut never()).unwrap();
        w.end_utterance(1, &mut never()).unwrap();
        let mut out = vec![0i16; 8];
        let mut scratch = vec![0.0; 2];
        r.fill_interleaved(&mut out, 2, &mut scratch);
        assert_eq!(out[..6], [16384, 16384, -16384, -16384, 32767, 32767]);
        assert_eq!(out[6..], [0, 0]);
    }
}
