//! Vocoding a mel in overlapping chunks as its frames arrive. Each chunk is vocoded with the
//! vocoder's full context on both sides and only its own samples are kept, so the chunks join into
//! exactly the samples the whole mel gives (up to float rounding): no cross-fade, no seam.

use candle_core::Tensor;

use crate::error::Result;
use crate::vocoder::Vocoder;

/// The first chunk is short so the first samples come early; each later one doubles, up to
/// `MAX_CHUNK_FRAMES`, so that each chunk takes less time to make than the audio before it
/// takes to play.
pub const FIRST_CHUNK_FRAMES: usize = 4;
pub const MAX_CHUNK_FRAMES: usize = 256;

/// Mel frames waiting to be vocoded, and how far vocoding has got.
pub struct ChunkedVocoding {
    /// Every frame received so far, `[1, n_mels, received]`.
    mel: Option<Tensor>,
    received: usize,
    vocoded: usize,
    next_chunk: usize,
}

impl Default for ChunkedVocoding {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedVocoding {
    pub fn new() -> Self {
        Self {
            mel: None,
            received: 0,
            vocoded: 0,
            next_chunk: FIRST_CHUNK_FRAMES,
        }
    }

    /// Appends final mel frames `[1, n_mels, n]`.
    pub fn push(&mut self, frames: &Tensor) -> Result<()> {
        self.received += frames.dim(2)?;
        self.mel = Some(match self.mel.take() {
            Some(mel) => Tensor::cat(&[&mel, frames], 2)?,
            None => frames.clone(),
        });
        Ok(())
    }

    /// Vocodes every chunk whose context has arrived (all that is left when `last`), handing each
    /// chunk's samples to `emit` in order. `emit` returns `Ok(false)` to stop early, and so
    /// does `drain` then.
    pub fn drain(
        &mut self,
        vocoder: &mut dyn Vocoder,
        last: bool,
        emit: &mut dyn FnMut(Vec<f32>) -> Result<bool>,
    ) -> Result<bool> {
        let Some(mel) = &self.mel else {
            return Ok(true);
        };
        if self.vocoded == 0 {
            // A new signal: nothing an earlier one left may carry over.
            vocoder.reset();
        }
        let Some(context) = vocoder.context_frames() else {
            // Only a whole mel vocodes correctly.
            if last && self.vocoded < self.received {
                self.vocoded = self.received;
                return emit(vocoder.vocode(mel)?);
            }
            return Ok(true);
        };
        while self.vocoded < self.received {
            let start = self.vocoded;
            let mut end = start + self.next_chunk;
            // Strictly more frames than the chunk and its context: only then is it certain that
            // the end of the mel is far enough away not to join this chunk (below).
            if end + context >= self.received {
                if !last {
                    return Ok(true);
                }
                end = end.min(self.received);
            }
            // The end of the mel needs no context beyond it; a remainder shorter than the context
            // joins this chunk rather than making a tiny one.
            if last && end + context >= self.received {
                end = self.received;
            }
            let span_start = start.saturating_sub(context);
            let span_end = (end + context).min(self.received);
            let chunk = mel.narrow(2, span_start, span_end - span_start)?;
            let samples = vocoder.vocode_span(&chunk, start - span_start..end - span_start)?;
            self.vocoded = end;
            self.next_chunk = (self.next_chunk * 2).min(MAX_CHUNK_FRAMES);
            if !emit(samples)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
