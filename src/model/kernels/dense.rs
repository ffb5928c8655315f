//! A dense layer `y = act(x·W + b)` (act: none, ReLU, the sigmoid or tanh) on contiguous f32
//! values, `x` `[B, I]`, `W` `[I, O]` (Burn's `Linear` layout), `b` `[O]`: the product, then
//! the bias and the activation in one pass over it in place (no second or third tensor);
//! backward, the activation's derivative applied once and the three gradients as products over
//! it, each on every thread ([`new_product`]). The passes around the products are shared
//! between the threads too where the layer is wide (a thread waited on each of them alone).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::Wanted;
use super::product::new_product;
use crate::model::fused::{self, Fused};

/// The sizes of one dense layer: `batch` rows of `inputs` values in, `outputs` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenseDims {
    pub batch: usize,
    pub inputs: usize,
    pub outputs: usize,
}

/// Values from which a pass over a layer's outputs (bias and activation, the activation's
/// derivative, the bias's gradient) is shared between the threads: half a megabyte, some 50 µs
/// on one thread, where handing half to the other (10–20 µs) pays. A [2048]-wide layer at batch
/// 128 has 262,144; at batch 32, 65,536 (shared, [2048,2048] at batch 32 measured 2–7 % slower
/// in three runs); the seed network's 2,048.
const PARALLEL_VALUES: usize = 1 << 17;

/// Values a task of such a pass: 64 KB of each slice it reads or writes.
const TASK_VALUES: usize = 1 << 14;

/// `[B, O]`: `act(x·W + b)`.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], d: DenseDims, act: Fused) -> Vec<f32> {
    let (i, o) = (d.inputs, d.outputs);
    let mut y = new_product([d.batch, i, o], (x, i, 1), (weight, o, 1));
    // The bias added after the product (as Burn's `Linear` adds it), each row on its own.
    match y.len() < PARALLEL_VALUES {
        true => fused::add_bias_and_activate(&mut y, bias, act),
        false => y
            .par_chunks_mut(TASK_VALUES.next_multiple_of(o.max(1)))
            .for_each(|rows| fused::add_bias_and_activate(rows, bias, act)),
    }
    y
}

/// The gradients of [`forward`]'s input `[B, I]`, weights `[I, O]` and bias `[O]`, given its
/// output's `grad`, and its output `y` with the activation it went through (none: `None`).
/// Those not wanted are `None`.
pub fn backward(
    x: &[f32],
    weight: &[f32],
    grad: &[f32],
    activated: Option<(&[f32], Fused)>,
    d: DenseDims,
    want: Wanted,
) -> [Option<Vec<f32>>; 3] {
    let (b, i, o) = (d.batch, d.inputs, d.outputs);
    // Back through the activation, once for the three products.
    let through;
    let grad = match activated {
        Some((y, act)) => {
            through = through_activation(grad, y, act);
            &through[..]
        }
        None => grad,
    };
    let input = want.input.then(|| {
        // gx = g·Wᵀ.
        new_product([b, o, i], (grad, o, 1), (weight, 1, o))
    });
    let weight_grad = want.weight.then(|| {
        // gW = xᵀ·g.
        new_product([i, b, o], (x, 1, i), (grad, o, 1))
    });
    let bias = want.bias.then(|| bias_gradient(grad, o));
    [input, weight_grad, bias]
}

/// `grad` through the activation whose output was `y` ([`fused::backward_into`]), into a new
/// vector, by parts on every thread where it is long.
fn through_activation(grad: &[f32], y: &[f32], act: Fused) -> Vec<f32> {
    let n = grad.len();
    assert_eq!(y.len(), n, "an output for every gradient");
    let mut through = Vec::with_capacity(n);
    let out: &mut [MaybeUninit<f32>] = &mut through.spare_capacity_mut()[..n];
    match n < PARALLEL_VALUES {
        true => fused::backward_into(grad, y, act, out),
        false => out
            .par_chunks_mut(TASK_VALUES)
            .zip(grad.par_chunks(TASK_VALUES).zip(y.par_chunks(TASK_VALUES)))
            .for_each(|(out, (grad, y))| fused::backward_into(grad, y, act, out)),
    }
    // SAFETY: `backward_into` wrote each of the `n` values (its parts cover them all).
    unsafe { through.set_len(n) };
    through
}

/// The bias's gradient: `grad`'s rows (of `outputs`) summed, each column in row order
/// whether or not its columns are shared between the threads (blocks of columns, a task
/// each), so the sums do not depend on the thread count.
fn bias_gradient(grad: &[f32], outputs: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; outputs];
    // The columns from `first` on, as many as `sums` has.
    let columns = |sums: &mut [f32], first: usize| {
        for row in grad.chunks(outputs.max(1)) {
            sums.iter_mut()
                .zip(&row[first..])
                .for_each(|(s, g)| *s += g);
        }
    };
    match grad.len() < PARALLEL_VALUES {
        true => columns(&mut sums, 0),
        false => {
            let width = outputs
                .div_ceil(rayon::current_num_threads())
                .next_multiple_of(16);
            sums.par_chunks_mut(width)
                .enumerate()
                .for_each(|(block, sums)| columns(sums, block * width));
        }
    }
    sums
}
