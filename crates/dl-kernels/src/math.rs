//! `exp`, `sigmoid`, `tanh`, `erf` and GELU on slices of `f32`: branch-free
//! polynomial approximations (Cephes' `expf` and `tanhf` coefficients,
//! Abramowitz & Stegun 7.1.26 for `erf`) that the compiler turns into SIMD
//! loops, with AVX-512 and AVX2 versions chosen at run time. Absolute error below 1e-6
//! over the whole range (tested against `f64`).

// The coefficients are Cephes' as published (more digits than f32 holds).
#![allow(clippy::excessive_precision)]

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// `1.5 * 2^23`: adding and subtracting it rounds to the nearest integer
/// with plain SSE2 arithmetic (no `roundps`).
const ROUND: f32 = 12_582_912.0;

/// `e^x`, clamped above to the range of `f32`; 0 below -87 (where `e^x`
/// leaves the normal range), so that masked scores weigh exactly nothing.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let tiny = x < -87.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    // `n` as an integer, read from `t`'s low mantissa bits (an `as i32`
    // conversion saturates, which the compiler cannot vectorise).
    let k = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let e = y * f32::from_bits((k.wrapping_add(127) as u32) << 23);
    if tiny { 0.0 } else { e }
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh(x)`: an odd polynomial below 0.625, `1 - 2 / (e^2|x| + 1)` above.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3_f32;
    p = p * z + 2.063_908_9e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 1.333_144_2e-1;
    p = p * z - 3.333_328_2e-1;
    let small = p * z * x + x;
    let large = (1.0 - 2.0 / (exp(2.0 * a) + 1.0)).copysign(x);
    if a < 0.625 { small } else { large }
}

/// `erf(x)`: Abramowitz & Stegun 7.1.26 (error below 1.5e-7), odd.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let mut p = 1.061_405_429_f32;
    p = p * t - 1.453_152_027;
    p = p * t + 1.421_413_741;
    p = p * t - 0.284_496_736;
    p = p * t + 0.254_829_592;
    (1.0 - p * t * exp(-a * a)).copysign(x)
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// `1 / √(2π)`.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// GELU, `x Φ(x) = x (1 + erf(x / √2)) / 2`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2))
}

/// GELU's derivative, `Φ(x) + x φ(x)`.
#[inline(always)]
pub fn gelu_derivative(x: f32) -> f32 {
    0.5 * (1.0 + erf(x * FRAC_1_SQRT_2)) + x * FRAC_1_SQRT_2PI * exp(-0.5 * x * x)
}

/// Defines a function compiled three times, for AVX-512, for AVX2 with FMA
/// and for the baseline, and picks the first the CPU supports at run time.
/// The body's `#[inline(always)]` helpers are compiled into each version.
macro_rules! multiversion {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) $(-> $ret)? $body
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? $body
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body
        }
    };
}
pub(crate) use multiversion;

/// Lanes of the reductions below: 16 independent partial results, so that
/// a sum is a SIMD loop instead of one chain of dependent additions.
const LANES: usize = 16;

/// `Σ x`, in 16 interleaved partial sums.
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ a·b`, in 16 interleaved partial sums.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ (x - c)²`, in 16 interleaved partial sums.
#[inline(always)]
pub fn sum_sq_dev(x: &[f32], c: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| (v - c) * (v - c)).sum();
    for ch in chunks {
        for i in 0..LANES {
            acc[i] += (ch[i] - c) * (ch[i] - c);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The largest value (`-inf` for none; NaN-free inputs assumed, as
/// `f32::max` ignores NaN).
#[inline(always)]
pub fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for c in chunks {
        for i in 0..LANES {
            acc[i] = acc[i].max(c[i]);
        }
    }
    acc.iter().fold(tail, |m, &v| m.max(v))
}

multiversion! {
    /// `dy` becomes `dy · gelu'(x)`.
    pub fn gelu_backward(dy: &mut [f32], x: &[f32]) {
        dy.iter_mut().zip(x).for_each(|(d, &x)| *d *= gelu_derivative(x));
    }
}

multiversion! {
    /// `sigmoid` of every value, in place.
    pub fn sigmoid_in_place(values: &mut [f32]) {
        values.iter_mut().for_each(|v| *v = sigmoid(*v));
    }
}

multiversion! {
    /// `tanh` of every value, in place.
    pub fn tanh_in_place(values: &mut [f32]) {
        values.iter_mut().for_each(|v| *v = tanh(*v));
    }
}

multiversion! {
    /// `exp` of every value, in place.
    pub fn exp_in_place(values: &mut [f32]) {
        values.iter_mut().for_each(|v| *v = exp(*v));
    }
}

multiversion! {
    /// GELU of every value, in place.
    pub fn gelu_in_place(values: &mut [f32]) {
        values.iter_mut().for_each(|v| *v = gelu(*v));
    }
}

multiversion! {
    /// `out` becomes GELU of `x` (one pass, `x` kept for the backward pass).
    pub fn gelu_into(out: &mut [f32], x: &[f32]) {
        out.iter_mut().zip(x).for_each(|(o, &x)| *o = gelu(x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-200_000..=200_000).map(|i| i as f32 * 1e-4).chain([-90.0, -50.0, -20.0, 20.0, 50.0, 90.0, 1e-8, -1e-8, 0.0])
    }

    #[test]
    fn exp_sigmoid_and_tanh_are_within_1e_6() {
        for x in grid() {
            let xd = f64::from(x);
            let s = 1.0 / (1.0 + (-xd).exp());
            assert!((f64::from(sigmoid(x)) - s).abs() < 1e-6, "sigmoid({x})");
            assert!((f64::from(tanh(x)) - xd.tanh()).abs() < 1e-6, "tanh({x})");
            if x.abs() < 10.0 {
                let e = xd.exp();
                assert!((f64::from(exp(x)) - e).abs() / e < 1e-6, "exp({x})");
            }
        }
        assert_eq!(tanh(0.0), 0.0);
        assert!(tanh(1e-8) > 0.0 && tanh(-1e-8) < 0.0);
    }

    /// `erf` in `f64`: its Taylor series up to |x| = 3 (terms below 1e3,
    /// so about 1e-13 lost to cancellation), the asymptotic series of
    /// `erfc` above (truncation below 1e-8 there).
    fn erf64(x: f64) -> f64 {
        let a = x.abs();
        if a > 3.0 {
            let z = 1.0 / (2.0 * a * a);
            let series = 1.0 - z + 3.0 * z * z - 15.0 * z.powi(3) + 105.0 * z.powi(4) - 945.0 * z.powi(5);
            let erfc = (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * series;
            return (1.0 - erfc).copysign(x);
        }
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_and_gelu_are_within_1e_6() {
        for x in (-80_000..=80_000).map(|i| i as f32 * 1e-4).chain([-20.0, 20.0, 1e-8, -1e-8, 0.0]) {
            let xd = f64::from(x);
            assert!((f64::from(erf(x)) - erf64(xd)).abs() < 1e-6, "erf({x})");
            let phi = 0.5 * (1.0 + erf64(xd / 2f64.sqrt()));
            // GELU's own rounding grows with |x|: within 1e-6 relative to max(1, |x|).
            let scale = xd.abs().max(1.0);
            assert!((f64::from(gelu(x)) - xd * phi).abs() < 1e-6 * scale, "gelu({x})");
            let d = phi + xd * (-0.5 * xd * xd).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!((f64::from(gelu_derivative(x)) - d).abs() < 1e-6 * scale, "gelu'({x})");
        }
        assert_eq!(erf(0.0), 0.0);
    }

    #[test]
    fn slice_kernels_match_the_scalar_functions() {
        let mut a: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.037).collect();
        let mut b = a.clone();
        let expected_s: Vec<f32> = a.iter().map(|&x| sigmoid(x)).collect();
        let expected_t: Vec<f32> = b.iter().map(|&x| tanh(x)).collect();
        sigmoid_in_place(&mut a);
        tanh_in_place(&mut b);
        for i in 0..a.len() {
            assert!((a[i] - expected_s[i]).abs() <= 1e-7 && (b[i] - expected_t[i]).abs() <= 1e-7);
        }
    }
}
