//! Sample-rate conversion with rubato's synchronous FFT resampler, of a whole buffer or of a
//! signal that arrives in pieces.

use rubato::{FftFixedIn, Resampler};

/// Input samples per resampler call.
const CHUNK: usize = 1024;

/// Resamples mono `input` from `from_rate` to `to_rate`, compensating the resampler's delay so the
/// output lines up with the input and has `ceil(len * to / from)` samples.
pub fn resample(input: &[f32], from_rate: u32, to_rate: u32) -> Result<Vec<f32>, String> {
    let mut resampler = StreamResampler::new(from_rate, to_rate)?;
    let mut output = Vec::with_capacity(
        (input.len() as u64 * to_rate as u64 / from_rate.max(1) as u64) as usize + CHUNK,
    );
    resampler.push(input, &mut output)?;
    resampler.finish(&mut output)?;
    Ok(output)
}

/// Sample-rate conversion of a signal that arrives in pieces: the pieces' outputs joined are the
/// samples [`resample`] gives for the whole signal.
pub struct StreamResampler {
    /// `None` when the rates are equal.
    inner: Option<FftFixedIn<f32>>,
    from_rate: u32,
    to_rate: u32,
    /// Input not yet a whole chunk.
    pending: Vec<f32>,
    output: Vec<Vec<f32>>,
    /// Output samples still to drop at the start (the resampler's delay).
    delay_left: usize,
    consumed: u64,
    produced: u64,
}

impl StreamResampler {
    pub fn new(from_rate: u32, to_rate: u32) -> Result<Self, String> {
        if from_rate == 0 || to_rate == 0 {
            return Err(format!(
                "cannot resample between {from_rate} Hz and {to_rate} Hz"
            ));
        }
        let inner = if from_rate == to_rate {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(from_rate as usize, to_rate as usize, CHUNK, 2, 1)
                    .map_err(|e| format!("resampler for {from_rate} Hz -> {to_rate} Hz: {e}"))?,
            )
        };
        let (delay_left, output) = match &inner {
            Some(r) => (r.output_delay(), vec![vec![0f32; r.output_frames_max()]]),
            None => (0, Vec::new()),
        };
        Ok(Self {
            inner,
            from_rate,
            to_rate,
            pending: Vec::with_capacity(CHUNK),
            output,
            delay_left,
            consumed: 0,
            produced: 0,
        })
    }

    /// Converts `input`, appending what is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), String> {
        self.consumed += input.len() as u64;
        let Some(resampler) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            self.produced += input.len() as u64;
            return Ok(());
        };
        let mut input = input;
        while !input.is_empty() {
            let take = (CHUNK - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() == CHUNK {
                let (_, n) = resampler
                    .process_into_buffer(&[&self.pending], &mut self.output, None)
                    .map_err(|e| format!("resampling failed: {e}"))?;
                self.pending.clear();
                emit(
                    &self.output[0][..n],
                    &mut self.delay_left,
                    &mut self.produced,
                    out,
                    u64::MAX,
                );
            }
        }
        Ok(())
    }

    /// Converts what is left, ending the output at `ceil(input length * to / from)` samples.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), String> {
        let expected = (self.consumed * self.to_rate as u64).div_ceil(self.from_rate as u64);
        if self.inner.is_none() {
            return Ok(());
        }
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let resampler = self.inner.as_mut().expect("checked above");
            let (_, n) = resampler
                .process_partial_into_buffer(Some(&[&pending]), &mut self.output, None)
                .map_err(|e| format!("resampling failed: {e}"))?;
            emit(
                &self.output[0][..n],
                &mut self.delay_left,
                &mut self.produced,
                out,
                expected,
            );
        }
        while self.produced < expected {
            let resampler = self.inner.as_mut().expect("checked above");
            let (_, n) = resampler
                .process_partial_into_buffer::<&[f32], _>(None, &mut self.output, None)
                .map_err(|e| format!("resampling failed: {e}"))?;
            emit(
                &self.output[0][..n],
                &mut self.delay_left,
                &mut self.produced,
                out,
                expected,
            );
        }
        Ok(())
    }
}

/// Appends fresh output samples, minus the delay still to drop, up to `limit` in all.
fn emit(fresh: &[f32], delay_left: &mut usize, produced: &mut u64, out: &mut Vec<f32>, limit: u64) {
    let skip = (*delay_left).min(fresh.len());
    *delay_left -= skip;
    let room = limit
        .saturating_sub(*produced)
        .min((fresh.len() - skip) as u64) as usize;
    out.extend_from_slice(&fresh[skip..skip + room]);
    *produced += room as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_keeps_its_frequency_and_length() {
        let from = 22_050;
        let to = 48_000;
        let tone: Vec<f32> = (0..22_050)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / from as f32).sin() * 0.5)
            .collect();
        let out = resample(&tone, from, to).unwrap();
        assert_eq!(out.len(), 48_000);
        // Away from the edges the output is the same tone sampled at the new rate.
        for (i, sample) in out.iter().enumerate().take(46_000).skip(2000) {
            let expected = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / to as f32).sin() * 0.5;
            assert!(
                (sample - expected).abs() < 2e-3,
                "sample {i}: {sample} vs {expected}"
            );
        }
    }

    #[test]
    fn pieces_resample_to_the_whole_signals_samples() {
        let input: Vec<f32> = (0..10_000)
            .map(|i| ((i as f32) * 0.013).sin() * 0.3)
            .collect();
        let whole = resample(&input, 22_050, 48_000).unwrap();
        let mut stream = StreamResampler::new(22_050, 48_000).unwrap();
        let mut pieces = Vec::new();
        for piece in input.chunks(333) {
            stream.push(piece, &mut pieces).unwrap();
        }
        stream.finish(&mut pieces).unwrap();
        assert_eq!(whole, pieces);
        assert_eq!(pieces.len(), (10_000u64 * 48_000).div_ceil(22_050) as usize);
    }
}
