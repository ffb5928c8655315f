//! Plain SGD's step `W ← W − η∇` and Adam's, each in one pass over a parameter on every
//! thread. Burn's `Sgd` makes two passes (`η∇` into the gradient, then the difference), each
//! on one thread — 3.6 ms of a 22 ms step of the [2048,2048] network on the Intel host
//! (docs/EXPERIMENTS.md); its `Adam` thirteen (each moment, the correction, the step), each
//! into a new tensor. SGD writes its result over the gradient where nothing else holds it
//! (the gradient is spent once the step is taken), else over a copy of it; never over the
//! parameter: written in place, two-device runs on flex came out different from one-device
//! runs now and then under load, and never did without it.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::squares::{LANES, Squares};
use super::sum;
use crate::model::simd::vectorised;

/// Values a task: 256 KB of each slice; the runs of [`sum::squared_sum`], so that a measured
/// step's sum of squares is that function's, bit for bit.
const CHUNK: usize = sum::RUN;

/// `grad[i] ← param[i] − lr · grad[i]`, rounded as Burn's `Sgd` rounds it (the product in f32,
/// then the difference): the same values bit for bit, written over the gradient — no new
/// buffer (16 MB for a [2048,2048] layer, fresh pages the kernel zeroes first) and each line of
/// the gradient read and written once. Each task's loop is compiled for AVX2 or AVX-512 (rayon's
/// element-wise `map` ran one value an instruction, reading `lr` through a pointer each time).
/// `measure`: also the gradient's sum of squares as [`sum::squared_sum`] gives it (the same
/// runs, their values added the same way, the runs in order), in the same pass
/// ([`Squares::add_and_step`]): the gradient norms training reports then cost no read of their
/// own (a sixteenth of a [2048,2048] step).
pub fn sgd_over_grad(param: &[f32], grad: &mut [f32], lr: f32, measure: bool) -> Option<f32> {
    assert_eq!(param.len(), grad.len(), "a gradient for every value");
    let tasks = grad.par_chunks_mut(CHUNK).zip(param.par_chunks(CHUNK));
    let runs: Vec<f64> = tasks
        .map(|(grad, param)| match measure {
            false => {
                vectorised(
                    #[inline(always)]
                    || step_over(grad, param, lr),
                );
                0.0
            }
            true => {
                let mut squares = Squares::new();
                let (grads, rest) = grad.as_chunks_mut::<LANES>();
                let (params, param_rest) = param.as_chunks::<LANES>();
                squares.add_and_step(grads, params, lr);
                let sum = squares.total(rest);
                // The last values, fewer than a group: nothing to vectorise.
                step_over(rest, param_rest, lr);
                sum
            }
        })
        .collect();
    total(runs, measure)
}

/// `grad[i] = param[i] − lr · grad[i]`.
#[inline(always)]
fn step_over(grad: &mut [f32], param: &[f32], lr: f32) {
    for (g, p) in grad.iter_mut().zip(param) {
        *g = p - *g * lr;
    }
}

/// The runs' sums added in order, as [`sum::squared_sum`] adds them.
fn total(runs: Vec<f64>, measure: bool) -> Option<f32> {
    measure.then(|| runs.into_iter().sum::<f64>() as f32)
}

/// Adam's constants for one step: Burn's `Adam` with its defaults, at step `time` (1 for
/// the first) and learning rate `lr`, each factor rounded to f32 as Burn rounds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    pub beta_1: f32,
    pub beta_2: f32,
    /// `1 − β₁` and `1 − β₂`.
    pub factor_1: f32,
    pub factor_2: f32,
    /// `√(1 − β₂ᵗ) / (1 − β₁ᵗ)`: both bias corrections in one factor of the first moment.
    pub combined: f32,
    /// `ε·√(1 − β₂ᵗ)`, added to the second moment's square root.
    pub epsilon: f32,
    pub lr: f32,
}

impl AdamStep {
    /// Burn's `AdamConfig` defaults (β₁ 0.9, β₂ 0.999, ε 1e-5), which `digits` trains with.
    pub fn new(time: usize, lr: f64) -> AdamStep {
        let (beta_1, beta_2, epsilon) = (0.9f32, 0.999f32, 1e-5f32);
        let time = time as i32;
        let correction_2 = (1.0 - beta_2.powi(time)).sqrt();
        AdamStep {
            beta_1,
            beta_2,
            factor_1: 1.0 - beta_1,
            factor_2: 1.0 - beta_2,
            combined: correction_2 / (1.0 - beta_1.powi(time)),
            epsilon: epsilon * correction_2,
            lr: lr as f32,
        }
    }
}

/// Adam's step on one parameter: its new values and moments `[param, m, v]`, from the
/// gradient and the moments before (none at the first step), the operations of Burn's `Adam`
/// in its order and rounding (the same values bit for bit).
pub fn adam(
    param: &[f32],
    grad: &[f32],
    moments: Option<(&[f32], &[f32])>,
    at: AdamStep,
) -> [Vec<f32>; 3] {
    let n = param.len();
    assert_eq!(grad.len(), n, "a gradient for every value");
    let (mut p, mut m, mut v) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let tasks = p.spare_capacity_mut()[..n]
        .par_chunks_mut(CHUNK)
        .zip(m.spare_capacity_mut()[..n].par_chunks_mut(CHUNK))
        .zip(v.spare_capacity_mut()[..n].par_chunks_mut(CHUNK))
        .enumerate();
    tasks.for_each(|(task, ((p, m), v))| {
        let values = task * CHUNK..(task * CHUNK + p.len());
        let before = moments.map(|(m, v)| (&m[values.clone()], &v[values.clone()]));
        adam_into([p, m, v], &param[values.clone()], &grad[values], before, at)
    });
    // SAFETY: the chunks cover all `n` values of the three, each written by `adam_into`.
    unsafe {
        p.set_len(n);
        m.set_len(n);
        v.set_len(n);
    }
    [p, m, v]
}

/// One task's share of [`adam`].
fn adam_into(
    [to_p, to_m, to_v]: [&mut [MaybeUninit<f32>]; 3],
    param: &[f32],
    grad: &[f32],
    before: Option<(&[f32], &[f32])>,
    at: AdamStep,
) {
    let n = param.len();
    // Each slice cut to `n`, so that the compiler drops the bounds checks and vectorises.
    let (to_p, to_m, to_v, grad) = (&mut to_p[..n], &mut to_m[..n], &mut to_v[..n], &grad[..n]);
    vectorised(
        #[inline(always)]
        || match before {
            Some((m, v)) => {
                let (m, v) = (&m[..n], &v[..n]);
                for i in 0..n {
                    let g = grad[i];
                    let moment_1 = m[i] * at.beta_1 + g * at.factor_1;
                    let moment_2 = v[i] * at.beta_2 + (g * g) * at.factor_2;
                    to_p[i].write(adam_value(param[i], moment_1, moment_2, at));
                    to_m[i].write(moment_1);
                    to_v[i].write(moment_2);
                }
            }
            None => {
                for (i, &g) in grad.iter().enumerate() {
                    let (moment_1, moment_2) = (g * at.factor_1, (g * g) * at.factor_2);
                    to_p[i].write(adam_value(param[i], moment_1, moment_2, at));
                    to_m[i].write(moment_1);
                    to_v[i].write(moment_2);
                }
            }
        },
    )
}

/// One value after Adam's step, given its new moments.
#[inline(always)]
fn adam_value(param: f32, moment_1: f32, moment_2: f32, at: AdamStep) -> f32 {
    let step = (moment_1 * at.combined) / (moment_2.sqrt() + at.epsilon);
    param - step * at.lr
}

#[cfg(test)]
mod tests {
    /// The step against Burn's two operations on the same values, large enough to be split
    /// between threads, bit for bit.
    #[test]
    fn the_step_is_burns_bit_for_bit() {
        let n = super::CHUNK * 3 + 17;
        let param: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let grad: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos() * 3.0).collect();
        let lr = 0.1f64;
        let mut ours = grad.clone();
        let none = super::sgd_over_grad(&param, &mut ours, lr as f32, false);
        assert_eq!(none, None);
        let mut measured = grad.clone();
        let squares = super::sgd_over_grad(&param, &mut measured, lr as f32, true);
        for i in 0..n {
            let delta = grad[i] * lr as f32;
            assert_eq!(ours[i].to_bits(), (param[i] - delta).to_bits(), "value {i}");
            assert_eq!(
                measured[i].to_bits(),
                ours[i].to_bits(),
                "value {i}, measured"
            );
        }
        // The gradient's squared sum as the gradient norms' own kernel gives it, bit for bit.
        let expected = super::sum::squared_sum(&grad).to_bits();
        assert_eq!(squares.map(f32::to_bits), Some(expected));
    }
}
