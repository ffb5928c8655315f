//! The activations a dense kernel (`kernels`) applies in its one pass over the product (with
//! the bias), and their gradients from the output. The logistic sigmoid and tanh compute
//! their exponential with a polynomial the compiler vectorises (8 or 16 values an instruction
//! with AVX2 or AVX-512, chosen at run time: [`vectorised`]): Burn's CPU sigmoids call libm's
//! scalar `expf` (flex) or chain four operations through fresh tensors (ndarray), its tanh
//! libm's scalar `tanhf`; on flex the sigmoid was 6 ns a value, 23 % of a [512,512] sigmoid
//! network's `digits bench` by `perf`. Exact GELU is fused for inference only (the
//! classifier's blocks): its derivative needs the input, which the dense kernel's backward does
//! not keep.

use std::mem::MaybeUninit;

use super::simd::vectorised;

/// The activation fused into a dense kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fused {
    /// None: the product and the bias only.
    Identity,
    Relu,
    Sigmoid,
    Tanh,
    /// Exact GELU, `x/2 · (1 + erf(x/√2))`: inference only ([`backward`] does not take it).
    Gelu,
}

/// `y[r][j] = act(y[r][j] + bias[j])` for every row `r` of `y` (rows of `bias.len()`).
pub fn add_bias_and_activate(y: &mut [f32], bias: &[f32], act: Fused) {
    if bias.is_empty() {
        return;
    }
    vectorised(
        #[inline(always)]
        || {
            for row in y.chunks_mut(bias.len()) {
                let pairs = row.iter_mut().zip(bias);
                match act {
                    Fused::Identity => pairs.for_each(|(v, b)| *v += b),
                    // NaN stays NaN, as in Burn's `relu`.
                    Fused::Relu => pairs.for_each(|(v, b)| *v = relu(*v + b)),
                    Fused::Sigmoid => pairs.for_each(|(v, b)| *v = sigmoid(*v + b)),
                    Fused::Tanh => pairs.for_each(|(v, b)| *v = tanh(*v + b)),
                    Fused::Gelu => pairs.for_each(|(v, b)| *v = gelu(*v + b)),
                }
            }
        },
    )
}

/// `y[i] = act(y[i])` for every value.
pub fn activate(y: &mut [f32], act: Fused) {
    vectorised(
        #[inline(always)]
        || match act {
            Fused::Identity => {}
            Fused::Relu => y.iter_mut().for_each(|v| *v = relu(*v)),
            Fused::Sigmoid => y.iter_mut().for_each(|v| *v = sigmoid(*v)),
            Fused::Tanh => y.iter_mut().for_each(|v| *v = tanh(*v)),
            Fused::Gelu => y.iter_mut().for_each(|v| *v = gelu(*v)),
        },
    )
}

/// `grad` through the activation into `out` (as long), given its output `y`: ReLU's mask,
/// the sigmoid's derivative `y(1 − y)` or tanh's `1 − y²` (multiplied in Burn's order).
pub fn backward_into(grad: &[f32], y: &[f32], act: Fused, out: &mut [MaybeUninit<f32>]) {
    let values = (grad, y, out);
    match act {
        Fused::Identity => each(values, |g, _| g),
        Fused::Relu => each(values, |g, y| if y > 0.0 { g } else { 0.0 }),
        Fused::Sigmoid => each(values, |g, y| g * y * (1.0 - y)),
        Fused::Tanh => each(values, |g, y| g * (1.0 - y * y)),
        // `HiddenBlock::fused_activation` never trains with it.
        Fused::Gelu => unreachable!("GELU is fused for inference only"),
    }
}

/// `out[i] = derivative(grad[i], y[i])`.
#[inline(always)]
fn each(
    (grad, y, out): (&[f32], &[f32], &mut [MaybeUninit<f32>]),
    derivative: impl Fn(f32, f32) -> f32,
) {
    for (o, (&g, &y)) in out.iter_mut().zip(grad.iter().zip(y)) {
        o.write(derivative(g, y));
    }
}

#[inline(always)]
fn relu(x: f32) -> f32 {
    if x < 0.0 { 0.0 } else { x }
}

/// `1 / (1 + e^−x)`, from `e^−|x|` (never overflows): within 2e-7 relative of libm's.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_non_positive(-x.abs());
    let s = if x >= 0.0 { 1.0 } else { e } / (1.0 + e);
    if x.is_nan() { x } else { s }
}

/// `tanh x` as Cephes' `tanhf` computes it, without branches: an odd polynomial below
/// |x| = 0.625, above it `(1 − e^−2|x|) / (1 + e^−2|x|)` with the sign of `x` (the
/// exponential never overflows). Within 3e-7 relative of libm's.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let z = x * x;
    let mut p = -5.704_988_7e-3;
    p = p * z + 2.063_909e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 1.333_144_2e-1;
    p = p * z - 3.333_328e-1;
    let small = p * z * x + x;
    let e = exp_non_positive(-2.0 * x.abs());
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    let t = if x.abs() < 0.625 { small } else { large };
    if x.is_nan() { x } else { t }
}

/// Exact GELU as Burn computes it, `x/2 · (1 + erf(x/√2))` (Burn's CPU backends call libm's
/// scalar `erff`), without branches: `1 + erf` as `2 − q` for `x ≥ 0` and `q` below, where
/// `q = erfc(|x|/√2)` by Abramowitz and Stegun's 7.1.26 on the vectorised exponential
/// (absolute error under 1.5e-7; no cancellation for negative `x`).
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let z = (x * std::f32::consts::FRAC_1_SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let mut p = 1.061_405_4;
    p = p * t - 1.453_152;
    p = p * t + 1.421_413_7;
    p = p * t - 0.284_496_74;
    p = p * t + 0.254_829_6;
    let q = p * t * exp_non_positive(-z * z);
    let one_plus_erf = if x >= 0.0 { 2.0 - q } else { q };
    let g = 0.5 * x * one_plus_erf;
    if x.is_nan() { x } else { g }
}

/// `e^x` for `x ≤ 0` without branches: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, `e^r` by
/// Cephes' `expf` polynomial, `2^n` written into the exponent bits. 0 below −87.34 (under f32's
/// smallest normal number, where libm returns a subnormal).
#[inline(always)]
fn exp_non_positive(x: f32) -> f32 {
    // Adding 1.5·2²³ rounds to an integer, which then sits in the low bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    let clamped = x.max(-87.34);
    let shifted = clamped * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (clamped - n * LN2_HIGH) - n * LN2_LOW;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let e_r = p * r * r + r + 1.0;
    let exponent = (shifted.to_bits() as i32 - ROUND.to_bits() as i32 + 127) as u32;
    let e = e_r * f32::from_bits(exponent << 23);
    if x < -87.34 { 0.0 } else { e }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libm's sigmoid, as Burn's flex computes it.
    fn reference(x: f32) -> f32 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        }
    }

    #[test]
    fn the_sigmoid_is_libms_within_rounding_over_the_whole_range() {
        let mut worst = 0.0f32;
        // Every 1/1024 from −90 to 90, and the edges.
        let xs = (-92_160..=92_160).map(|i| i as f32 / 1024.0);
        for x in xs.chain([0.0, -0.0, 1e-30, -1e-30, f32::MAX, f32::MIN]) {
            let (ours, libm) = (sigmoid(x), reference(x));
            if libm > f32::MIN_POSITIVE {
                worst = worst.max((ours - libm).abs() / libm);
            } else {
                assert!(ours.abs() < 1e-37, "sigmoid({x}) = {ours}, libm {libm}");
            }
        }
        assert!(worst < 2e-7, "worst relative difference {worst}");
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert!(sigmoid(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_is_libms_within_rounding_over_the_whole_range() {
        let mut worst = 0.0f64;
        // Every 1/4096 from −20 to 20, tiny values, and the edges.
        let xs = (-81_920..=81_920).map(|i| i as f32 / 4096.0);
        for x in xs.chain([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            1e-6,
            0.625,
            -0.625,
            f32::MAX,
            f32::MIN,
        ]) {
            let (ours, libm) = (f64::from(tanh(x)), f64::from(x).tanh());
            if libm != 0.0 {
                worst = worst.max((ours - libm).abs() / libm.abs());
            } else {
                assert_eq!(ours, 0.0, "tanh({x})");
            }
        }
        assert!(worst < 3e-7, "worst relative difference {worst}");
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert!(tanh(f32::NAN).is_nan());
    }

    #[test]
    fn the_pass_adds_the_bias_then_activates_each_row() {
        let mut y = vec![-1.0, 0.5, 2.0, -3.0, f32::NAN, 0.0];
        let bias = [0.5, -1.0, 1.0];
        let mut relu_y = y.clone();
        add_bias_and_activate(&mut relu_y, &bias, Fused::Relu);
        assert_eq!(&relu_y[..4], &[0.0, 0.0, 3.0, 0.0]);
        assert!(relu_y[4].is_nan());
        assert_eq!(relu_y[5], 1.0);
        add_bias_and_activate(&mut y, &bias, Fused::Sigmoid);
        for (got, x) in y.iter().zip([-0.5f32, -0.5, 3.0, -2.5, f32::NAN, 1.0]) {
            assert!(got.is_nan() == x.is_nan());
            assert!(
                x.is_nan() || (got - reference(x)).abs() < 1e-7,
                "{got} for {x}"
            );
        }
    }
}
