//! A dense layer `y = act(x·W + b)` (act: none, ReLU, the sigmoid or tanh) on contiguous f32
//! values, `x` `[B, I]`, `W` `[I, O]` (Burn's `Linear` layout), `b` `[O]`: the product, then
//! the bias and the activation in one pass over it in place (no second or third tensor);
//! backward, the activation's derivative applied once and the three gradients as products over
//! it, each on every thread ([`new_product`]).

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

/// `[B, O]`: `act(x·W + b)`.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], d: DenseDims, act: Fused) -> Vec<f32> {
    let (i, o) = (d.inputs, d.outputs);
    let mut y = new_product([d.batch, i, o], (x, i, 1), (weight, o, 1));
    // The bias added after the product (as Burn's `Linear` adds it).
    fused::add_bias_and_activate(&mut y, bias, act);
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
            through = fused::backward(grad, y, act);
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
    let bias = want.bias.then(|| {
        let mut gb = vec![0.0f32; o];
        for row in grad.chunks(o.max(1)) {
            gb.iter_mut().zip(row).for_each(|(s, g)| *s += g);
        }
        gb
    });
    [input, weight_grad, bias]
}
