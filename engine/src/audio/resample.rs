//! Whole-buffer sample-rate conversion with rubato's synchronous FFT resampler.

use rubato::{FftFixedIn, Resampler};

/// Resamples mono `input` from `from_rate` to `to_rate`, compensating the resampler's delay so the
/// output lines up with the input and has `ceil(len * to / from)` samples.
pub fn resample(input: &[f32], from_rate: u32, to_rate: u32) -> Result<Vec<f32>, String> {
    if from_rate == 0 || to_rate == 0 {
        return Err(format!(
            "cannot resample between {from_rate} Hz and {to_rate} Hz"
        ));
    }
    if from_rate == to_rate || input.is_empty() {
        return Ok(input.to_vec());
    }
    let chunk = 1024;
    let mut resampler =
        FftFixedIn::<f32>::new(from_rate as usize, to_rate as usize, chunk, 2, 1)
            .map_err(|e| format!("resampler for {from_rate} Hz -> {to_rate} Hz: {e}"))?;
    let expected = (input.len() as u64 * to_rate as u64).div_ceil(from_rate as u64) as usize;
    let delay = resampler.output_delay();
    let mut output = Vec::with_capacity(expected + delay + chunk * 4);
    let mut pos = 0;
    while pos < input.len() {
        let need = resampler.input_frames_next();
        let end = (pos + need).min(input.len());
        let block = [&input[pos..end]];
        let out = if end - pos == need {
            resampler.process(&block, None)
        } else {
            resampler.process_partial(Some(&block), None)
        }
        .map_err(|e| format!("resampling failed: {e}"))?;
        output.extend_from_slice(&out[0]);
        pos = end;
    }
    while output.len() < expected + delay {
        let out = resampler
            .process_partial::<&[f32]>(None, None)
            .map_err(|e| format!("resampling failed: {e}"))?;
        output.extend_from_slice(&out[0]);
    }
    Ok(output[delay..delay + expected].to_vec())
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
}
