//! Plain SGD's step `W ← W − η∇` in one pass over each parameter, on every thread: Burn's
//! `Sgd` makes two passes (`η∇` into the gradient, then the difference), each on one thread —
//! 3.6 ms of a 22 ms step of the [2048,2048] network on the Intel host (docs/EXPERIMENTS.md).
//! The result goes to a new buffer: written in place (where the parameter's storage was not
//! shared), two-device runs on flex came out different from one-device runs now and then
//! under load, and never did without it.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::model::simd::vectorised;

/// Values a task: 256 KB of each slice.
const CHUNK: usize = 1 << 16;

/// `param[i] − lr · grad[i]`, rounded as Burn's `Sgd` rounds it (the product in f32, then the
/// difference): the same values bit for bit. Each task's loop is compiled for AVX2 (rayon's
/// element-wise `map` ran one value an instruction, reading `lr` through a pointer each time).
pub fn sgd(param: &[f32], grad: &[f32], lr: f32) -> Vec<f32> {
    assert_eq!(param.len(), grad.len(), "a gradient for every value");
    let mut stepped = Vec::with_capacity(param.len());
    let tasks = stepped.spare_capacity_mut()[..param.len()]
        .par_chunks_mut(CHUNK)
        .zip(param.par_chunks(CHUNK))
        .zip(grad.par_chunks(CHUNK));
    tasks.for_each(|((to, param), grad)| step_into(to, param, grad, lr));
    // SAFETY: the chunks cover all `param.len()` values, each written just above.
    unsafe { stepped.set_len(param.len()) };
    stepped
}

/// One task's share of [`sgd`].
fn step_into(to: &mut [MaybeUninit<f32>], param: &[f32], grad: &[f32], lr: f32) {
    vectorised(
        #[inline(always)]
        || {
            for ((to, p), g) in to.iter_mut().zip(param).zip(grad) {
                to.write(p - g * lr);
            }
        },
    )
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
        let ours = super::sgd(&param, &grad, lr as f32);
        for i in 0..n {
            let delta = grad[i] * lr as f32;
            assert_eq!(ours[i].to_bits(), (param[i] - delta).to_bits(), "value {i}");
        }
    }
}
