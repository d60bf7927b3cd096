//! Row-major kernels for time-major activations (`[frames][channels]`): a matrix product with
//! bias, a per-row LayerNorm and depthwise convolution over time.
//!
//! A vocoder's ConvNeXt blocks at batch 1 spend more time in candle's per-op dispatch, strided
//! copies for transposes and scalar `erf` calls than in their matrix products; on one buffer
//! layout with these loops (which the compiler vectorises) the products dominate again.

/// `out[r][j] = bias[j] + Σ_i a[r][i] · b[i][j]`: `a` is `[rows][inner]`, `b` `[inner][cols]`,
/// `out` `[rows][cols]`, all row-major.
pub fn matmul_bias(a: &[f32], b: &[f32], bias: &[f32], rows: usize, inner: usize, out: &mut [f32]) {
    let cols = bias.len();
    assert_eq!(a.len(), rows * inner);
    assert_eq!(b.len(), inner * cols);
    assert_eq!(out.len(), rows * cols);
    for row in out.chunks_exact_mut(cols) {
        row.copy_from_slice(bias);
    }
    if rows == 0 {
        return;
    }
    // Share large products with the current rayon pool; small ones cost more to hand over.
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 && rows * inner * cols >= 1 << 22 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the pointers cover `rows × cols`, `rows × inner` and `inner × cols` elements with
    // the row and column strides given (checked above); `out` does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            rows,
            cols,
            inner,
            out.as_mut_ptr(),
            1,
            cols as isize,
            true,
            a.as_ptr(),
            1,
            inner as isize,
            b.as_ptr(),
            1,
            cols as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// PyTorch's `LayerNorm` over each row of `x` (`[rows][weight.len()]`), in place.
pub fn layer_norm_rows(x: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let dim = weight.len();
    for row in x.chunks_exact_mut(dim) {
        let mean = sum(row) / dim as f32;
        let var = row
            .iter()
            .map(|v| (v - mean) * (v - mean))
            .fold(0.0, |a, b| a + b)
            / dim as f32;
        let scale = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(weight).zip(bias) {
            *v = (*v - mean) * scale * w + b;
        }
    }
}

/// A sum in eight independent lanes, which the compiler can keep in one vector register.
fn sum(x: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Depthwise convolution over time with zero padding: `out[t][c] = bias[c] + Σ_k w[k][c] ·
/// x[t + k − k/2][c]` for output frames `out_start ..`, where `x` holds frames `x_start ..` of a
/// signal whose frames outside `0 .. signal_len` are zero. `w` is tap-major (`[kernel][channels]`)
/// so the inner loop runs over channels.
pub fn depthwise_conv_rows(
    x: &[f32],
    x_start: usize,
    signal_len: usize,
    w: &[f32],
    bias: &[f32],
    out_start: usize,
    out: &mut [f32],
) {
    let frames = DepthwiseFrames {
        x_start,
        signal_len,
        out_start,
    };
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function is compiled for.
            unsafe { depthwise_avx2(x, w, bias, frames, out) };
            return;
        }
    }
    depthwise_portable(x, w, bias, frames, out);
}

#[derive(Clone, Copy)]
struct DepthwiseFrames {
    x_start: usize,
    signal_len: usize,
    out_start: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn depthwise_avx2(x: &[f32], w: &[f32], bias: &[f32], f: DepthwiseFrames, out: &mut [f32]) {
    depthwise_portable(x, w, bias, f, out);
}

#[inline(always)]
fn depthwise_portable(x: &[f32], w: &[f32], bias: &[f32], f: DepthwiseFrames, out: &mut [f32]) {
    let dim = bias.len();
    let kernel = w.len() / dim;
    let half = kernel / 2;
    let x_rows = x.len() / dim;
    for (i, row) in out.chunks_exact_mut(dim).enumerate() {
        let t = f.out_start + i;
        row.copy_from_slice(bias);
        for k in 0..kernel {
            // Input frame t + k - half, skipped where it is padding.
            let Some(src) = (t + k).checked_sub(half) else {
                continue;
            };
            if src >= f.signal_len || src < f.x_start || src - f.x_start >= x_rows {
                continue;
            }
            let input = &x[(src - f.x_start) * dim..(src - f.x_start + 1) * dim];
            let taps = &w[k * dim..(k + 1) * dim];
            for ((o, v), tap) in row.iter_mut().zip(input).zip(taps) {
                *o += tap * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_bias_matches_a_naive_product() {
        let (rows, inner, cols) = (37, 19, 23);
        let a: Vec<f32> = (0..rows * inner)
            .map(|i| ((i * 7) % 13) as f32 - 6.0)
            .collect();
        let b: Vec<f32> = (0..inner * cols)
            .map(|i| ((i * 5) % 11) as f32 * 0.1)
            .collect();
        let bias: Vec<f32> = (0..cols).map(|j| j as f32).collect();
        let mut out = vec![0.0; rows * cols];
        matmul_bias(&a, &b, &bias, rows, inner, &mut out);
        for r in 0..rows {
            for j in 0..cols {
                let want = bias[j]
                    + (0..inner)
                        .map(|i| a[r * inner + i] * b[i * cols + j])
                        .sum::<f32>();
                assert!((out[r * cols + j] - want).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn layer_norm_gives_zero_mean_unit_variance() {
        let mut x: Vec<f32> = (0..3 * 10).map(|i| (i * i % 17) as f32).collect();
        layer_norm_rows(&mut x, &[1.0; 10], &[0.0; 10], 1e-6);
        for row in x.chunks(10) {
            let mean = row.iter().sum::<f32>() / 10.0;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 10.0;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3,
                "{mean} {var}"
            );
        }
    }

    #[test]
    fn depthwise_conv_of_a_window_equals_the_whole() {
        let (dim, len, kernel) = (4, 20, 7);
        let x: Vec<f32> = (0..len * dim).map(|i| ((i * 3) % 7) as f32 - 3.0).collect();
        let w: Vec<f32> = (0..kernel * dim).map(|i| (i % 5) as f32 * 0.2).collect();
        let bias = vec![0.5; dim];
        let mut whole = vec![0.0; len * dim];
        depthwise_conv_rows(&x, 0, len, &w, &bias, 0, &mut whole);
        // Frames 2..18 of the input, outputs 5..15.
        let mut part = vec![0.0; 10 * dim];
        depthwise_conv_rows(&x[2 * dim..18 * dim], 2, len, &w, &bias, 5, &mut part);
        assert_eq!(&whole[5 * dim..15 * dim], &part[..]);
        // The first output sees zero padding, not wrapped frames.
        let mut want = bias[0];
        for k in 3..kernel {
            want += w[k * dim] * x[(k - 3) * dim];
        }
        assert!((whole[0] - want).abs() < 1e-6);
    }
}
