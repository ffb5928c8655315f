//! Plain SGD's step `W ← W − η∇` in one pass over each parameter, on every thread: Burn's
//! `Sgd` makes two passes (`η∇` into the gradient, then the difference), each on one thread —
//! 3.6 ms of a 22 ms step of the [2048,2048] network on the Intel host (docs/EXPERIMENTS.md).

use rayon::prelude::*;

/// Values a task: 256 KB of each slice.
const CHUNK: usize = 1 << 16;

/// `param[i] −= lr · grad[i]`, rounded as Burn's `Sgd` rounds it (the product in f32, then the
/// difference): the same values bit for bit.
pub fn sgd(param: &mut [f32], grad: &[f32], lr: f32) {
    assert_eq!(param.len(), grad.len(), "a gradient for every value");
    let step = |(p, g): (&mut [f32], &[f32])| {
        p.iter_mut().zip(g).for_each(|(p, g)| *p -= g * lr);
    };
    if param.len() <= CHUNK {
        return step((param, grad));
    }
    param
        .par_chunks_mut(CHUNK)
        .zip(grad.par_chunks(CHUNK))
        .for_each(step);
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
        let mut ours = param.clone();
        super::sgd(&mut ours, &grad, lr as f32);
        for i in 0..n {
            let delta = grad[i] * lr as f32;
            assert_eq!(ours[i].to_bits(), (param[i] - delta).to_bits(), "value {i}");
        }
    }
}
