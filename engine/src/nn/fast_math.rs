//! Element-wise activations over slices without libm calls: GELU (erf form), Mish and the
//! SnakeBeta periodic activation. libm's `erff`, `sinf`, `expm1f` and `tanhf` are scalar calls
//! that no loop around them can vectorise; these branch-free forms can, and stay within a few
//! units in the last place of f32 over the ranges the models see.

use std::f64::consts::PI;

/// Runs `$body` in a copy of the function compiled for AVX2 + FMA when the CPU has them.
macro_rules! vectorised {
    ($name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide($($arg: $ty),*) $body
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features `wide` is compiled for.
                    unsafe { wide($($arg),*) };
                    return;
                }
            }
            $body
        }
    };
}

vectorised!(gelu_in_place(x: &mut [f32]) {
    // GELU with the exact (erf) form, as PyTorch's default `F.gelu`.
    for v in x.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
});

vectorised!(mish_in_place(x: &mut [f32]) {
    // Mish: x · tanh(softplus(x)); with n = eˣ, tanh(ln(1 + n)) = n(n + 2) / (n(n + 2) + 2).
    for v in x.iter_mut() {
        let n = exp(v.min(20.0));
        let m = n * (n + 2.0);
        *v *= m / (m + 2.0);
    }
});

vectorised!(snake_beta_rows(x: &mut [f32], alpha: &[f32], inv_beta: &[f32]) {
    // SnakeBeta over rows of `alpha.len()` channels: x + 1/β · sin²(αx).
    for row in x.chunks_exact_mut(alpha.len()) {
        for ((v, a), b) in row.iter_mut().zip(alpha).zip(inv_beta) {
            *v += b * sin_squared(a * *v);
        }
    }
});

/// The error function to within 4e-7 (a rational approximation on [-4, 4], beyond which f32's
/// erf is ±1).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_600_1e-3;
    p = p * x2 + -1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// eˣ for x in [-87, 88] to a few ulp: x = k·ln2 + f with |f| ≤ ln2/2, e^f by its Taylor series
/// to f⁷, 2ᵏ put straight into the exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let k = (x * std::f32::consts::LOG2_E).round_ties_even();
    // ln 2 in two parts, so that k · LN2_HI is exact.
    let f = (x - k * 0.693_145_75) - k * 1.428_606_8e-6;
    let mut p = 1.0 / 5040.0;
    p = p * f + 1.0 / 720.0;
    p = p * f + 1.0 / 120.0;
    p = p * f + 1.0 / 24.0;
    p = p * f + 1.0 / 6.0;
    p = p * f + 0.5;
    p = p * f + 1.0;
    p = p * f + 1.0;
    p * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

/// sin²(x): sin² has period π, so x is reduced by the nearest multiple of π (in f64, exact for
/// any argument an activation sees) and sin(r), |r| ≤ π/2, taken from its Taylor series to r¹³.
#[inline(always)]
pub fn sin_squared(x: f32) -> f32 {
    let y = x as f64;
    let r = (y - (y * (1.0 / PI)).round_ties_even() * PI) as f32;
    let r2 = r * r;
    let mut p = -1.0 / 6_227_020_800.0;
    p = p * r2 + 1.0 / 39_916_800.0;
    p = p * r2 - 1.0 / 362_880.0;
    p = p * r2 + 1.0 / 5040.0;
    p = p * r2 - 1.0 / 120.0;
    p = p * r2 + 1.0 / 6.0;
    p = p * r2 - 1.0;
    let s = r * p;
    s * s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    #[test]
    fn erf_matches_libm() {
        let worst = grid(-6.0, 6.0, 12_000)
            .map(|x| (erf(x) - libm::erff(x)).abs())
            .fold(0f32, f32::max);
        assert!(worst < 5e-7, "erf error {worst:e}");
    }

    #[test]
    fn exp_matches_libm_relatively() {
        let worst = grid(-80.0, 80.0, 160_000)
            .map(|x| ((exp(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs())
            .fold(0f64, f64::max);
        assert!(worst < 4e-7, "exp relative error {worst:e}");
    }

    #[test]
    fn sin_squared_matches_libm() {
        let worst = grid(-2000.0, 2000.0, 400_000)
            .map(|x| (sin_squared(x) as f64 - (x as f64).sin().powi(2)).abs())
            .fold(0f64, f64::max);
        assert!(worst < 1e-6, "sin² error {worst:e}");
    }

    #[test]
    fn activations_match_their_definitions() {
        let xs: Vec<f32> = grid(-30.0, 30.0, 6000).collect();
        let mut gelu = xs.clone();
        gelu_in_place(&mut gelu);
        let mut mish = xs.clone();
        mish_in_place(&mut mish);
        let alpha = [0.7f32, 2.5, 13.0];
        let inv_beta = [1.5f32, 0.2, 0.9];
        let mut snake = xs[..5997].to_vec();
        snake_beta_rows(&mut snake, &alpha, &inv_beta);
        for (i, &x) in xs.iter().enumerate() {
            let x64 = x as f64;
            let want_gelu = 0.5 * x64 * (1.0 + libm::erf(x64 / 2f64.sqrt()));
            let want_mish = x64 * (x64.exp().ln_1p()).tanh();
            assert!(
                (gelu[i] as f64 - want_gelu).abs() < 2e-6 * x64.abs().max(1.0),
                "gelu({x})"
            );
            assert!(
                (mish[i] as f64 - want_mish).abs() < 2e-6 * x64.abs().max(1.0),
                "mish({x})"
            );
            if i < snake.len() {
                let (a, b) = (alpha[i % 3] as f64, inv_beta[i % 3] as f64);
                let want = x64 + b * (a * x64).sin().powi(2);
                assert!(
                    (snake[i] as f64 - want).abs() < 4e-6 * want.abs().max(1.0),
                    "snake({x})"
                );
            }
        }
    }
}
