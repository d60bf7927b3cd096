//! A direct 1-D convolution for few channels over long signals (a vocoder's last stages).
//!
//! candle lowers conv1d to im2col + matmul; with 32–64 channels over 10⁵ samples the im2col buffer
//! is hundreds of megabytes per call and the matmul is starved. Here each output row is built from
//! shifted input rows in cache-sized time tiles, which the compiler vectorises.

use rayon::prelude::*;

/// Time samples per tile: the tile's accumulators and input rows stay in the L2 cache.
const TILE: usize = 1024;

/// Shape of one convolution.
#[derive(Debug, Clone, Copy)]
pub struct ConvShape {
    pub c_in: usize,
    pub c_out: usize,
    pub kernel: usize,
    pub dilation: usize,
    /// Zero padding on each side.
    pub padding: usize,
    pub t_in: usize,
}

impl ConvShape {
    pub fn t_out(&self) -> usize {
        (self.t_in + 2 * self.padding).saturating_sub(self.dilation * (self.kernel - 1))
    }
}

/// `y[co][t] = b[co] + Σ_ci Σ_k w[co][ci][k] · x[ci][t + k·dilation − padding]`, with `x` zero
/// outside its range. `x` is `[c_in][t_in]`, `w` `[c_out][c_in][kernel]`, `y` `[c_out][t_out]`.
pub fn conv1d(x: &[f32], w: &[f32], bias: Option<&[f32]>, s: ConvShape, y: &mut [f32]) {
    let t_out = s.t_out();
    assert_eq!(x.len(), s.c_in * s.t_in);
    assert_eq!(w.len(), s.c_out * s.c_in * s.kernel);
    assert_eq!(y.len(), s.c_out * t_out);
    if t_out == 0 {
        return;
    }
    // Zero-padded rows (plus a lane's slack) so every tap of every output reads in range.
    let width = s.t_in + 2 * s.padding + LANES;
    let mut padded = vec![0f32; s.c_in * width];
    for ci in 0..s.c_in {
        padded[ci * width + s.padding..ci * width + s.padding + s.t_in]
            .copy_from_slice(&x[ci * s.t_in..(ci + 1) * s.t_in]);
    }
    y.par_chunks_mut(t_out).enumerate().for_each(|(co, row)| {
        let weights = &w[co * s.c_in * s.kernel..(co + 1) * s.c_in * s.kernel];
        let b = bias.map_or(0.0, |b| b[co]);
        dispatch_row(&padded, width, weights, b, s, row);
    });
}

/// Samples summed together in registers.
const LANES: usize = 8;

fn dispatch_row(x: &[f32], width: usize, w: &[f32], bias: f32, s: ConvShape, row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { row_avx2(x, width, w, bias, s, row) };
            return;
        }
    }
    row_generic(x, width, w, bias, s, row);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_avx2(x: &[f32], width: usize, w: &[f32], bias: f32, s: ConvShape, row: &mut [f32]) {
    row_generic(x, width, w, bias, s, row);
}

/// One output row: for each input row, all taps are summed in registers before the accumulator
/// is touched, so each output sample costs one accumulator load and store per input channel.
#[inline(always)]
fn row_generic(x: &[f32], width: usize, w: &[f32], bias: f32, s: ConvShape, row: &mut [f32]) {
    let t_out = row.len();
    let full = t_out / LANES * LANES;
    let mut start = 0;
    while start < t_out {
        let end = (start + TILE).min(t_out);
        row[start..end].fill(bias);
        for ci in 0..s.c_in {
            let xr = &x[ci * width..(ci + 1) * width];
            let taps = &w[ci * s.kernel..(ci + 1) * s.kernel];
            let mut t = start;
            while t < end.min(full) {
                let mut sum = [0f32; LANES];
                for (k, &wk) in taps.iter().enumerate() {
                    let xs: &[f32; LANES] = xr[t + k * s.dilation..t + k * s.dilation + LANES]
                        .try_into()
                        .expect("lane-sized");
                    for j in 0..LANES {
                        sum[j] += wk * xs[j];
                    }
                }
                let out: &mut [f32; LANES] =
                    (&mut row[t..t + LANES]).try_into().expect("lane-sized");
                for j in 0..LANES {
                    out[j] += sum[j];
                }
                t += LANES;
            }
            for t in t..end {
                row[t] += taps
                    .iter()
                    .enumerate()
                    .map(|(k, wk)| wk * xr[t + k * s.dilation])
                    .sum::<f32>();
            }
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn matches_candle_for_dilated_padded_convolutions() {
        for (c_in, c_out, kernel, dilation, padding, t_in) in [
            (3, 4, 3, 1, 1, 50),
            (5, 2, 7, 3, 9, 2100),
            (2, 3, 5, 12, 0, 3000),
            (4, 4, 1, 1, 0, 17),
        ] {
            let x = Tensor::randn(0f32, 1.0, (1, c_in, t_in), &Device::Cpu).unwrap();
            let w = Tensor::randn(0f32, 1.0, (c_out, c_in, kernel), &Device::Cpu).unwrap();
            let b = Tensor::randn(0f32, 1.0, c_out, &Device::Cpu).unwrap();
            let reference = x
                .conv1d(&w, padding, 1, dilation, 1)
                .unwrap()
                .broadcast_add(&b.reshape((1, c_out, 1)).unwrap())
                .unwrap();
            let shape = ConvShape {
                c_in,
                c_out,
                kernel,
                dilation,
                padding,
                t_in,
            };
            let mut y = vec![0f32; c_out * shape.t_out()];
            conv1d(
                &x.flatten_all().unwrap().to_vec1().unwrap(),
                &w.flatten_all().unwrap().to_vec1().unwrap(),
                Some(&b.to_vec1::<f32>().unwrap()),
                shape,
                &mut y,
            );
            let expected = reference.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(y.len(), expected.len());
            let err = y
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                err < 1e-4,
                "{c_in}x{c_out} k{kernel} d{dilation}: error {err}"
            );
        }
    }
}
