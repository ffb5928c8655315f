//! A dense layer `y = act(x·W + b)` (act: none or ReLU) on contiguous f32 values, `x` `[B, I]`,
//! `W` `[I, O]` (Burn's `Linear` layout), `b` `[O]`: the product, then the bias and ReLU in one
//! pass over it in place (no second or third tensor); backward, the
//! ReLU's mask applied once and the three gradients as products over it, each on every thread
//! ([`parallel_product`]).

use super::Wanted;
use super::product::parallel_product;

/// The sizes of one dense layer: `batch` rows of `inputs` values in, `outputs` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenseDims {
    pub batch: usize,
    pub inputs: usize,
    pub outputs: usize,
}

/// `[B, O]`: `x·W + b`, through ReLU when `relu` (NaN stays NaN, as in Burn's `relu`).
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], d: DenseDims, relu: bool) -> Vec<f32> {
    let (i, o) = (d.inputs, d.outputs);
    let mut y = vec![0.0f32; d.batch * o];
    if y.is_empty() {
        return y;
    }
    if i > 0 {
        parallel_product([d.batch, i, o], (x, i, 1), (weight, o, 1), 0.0, &mut y);
    }
    // The bias added after the product (as Burn's `Linear` adds it) and ReLU, in one pass.
    for row in y.chunks_mut(o) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
            if relu && *v < 0.0 {
                *v = 0.0;
            }
        }
    }
    y
}

/// The gradients of [`forward`]'s input `[B, I]`, weights `[I, O]` and bias `[O]`, given its
/// output's `grad`, and its output `y` when it went through ReLU. Those not wanted are `None`.
pub fn backward(
    x: &[f32],
    weight: &[f32],
    grad: &[f32],
    relu_output: Option<&[f32]>,
    d: DenseDims,
    want: Wanted,
) -> [Option<Vec<f32>>; 3] {
    let (b, i, o) = (d.batch, d.inputs, d.outputs);
    // Through ReLU: the gradient only where the output was above zero.
    let masked;
    let grad = match relu_output {
        Some(y) => {
            masked = grad
                .iter()
                .zip(y)
                .map(|(&g, &y)| if y > 0.0 { g } else { 0.0 })
                .collect::<Vec<f32>>();
            &masked[..]
        }
        None => grad,
    };
    let input = want.input.then(|| {
        // gx = g·Wᵀ.
        let mut gx = vec![0.0f32; b * i];
        if o > 0 {
            parallel_product([b, o, i], (grad, o, 1), (weight, 1, o), 0.0, &mut gx);
        }
        gx
    });
    let weight_grad = want.weight.then(|| {
        // gW = xᵀ·g.
        let mut gw = vec![0.0f32; i * o];
        if b > 0 {
            parallel_product([i, b, o], (x, 1, i), (grad, o, 1), 0.0, &mut gw);
        }
        gw
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
