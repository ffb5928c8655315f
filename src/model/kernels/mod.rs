//! Our own kernels for the two CNN operations Burn's CPU backends spend most on, registered
//! through Burn's backend extension for ndarray and flex, each with its own backward pass under
//! Burn's autodiff (so Burn's optimizers, Learner and checkpointing work around them unchanged):
//!
//! - **max pooling** of `model.conv`'s blocks (k×k windows, stride k, no padding). Burn's
//!   `max_pool2d` is general (strides, padding, dilation, ceil mode); its CPU versions were the
//!   largest single cost of a CNN (22–30 % of `eval` on ndarray by `perf`, 28 % of a training
//!   step on flex). Windows that do not overlap make each pass one read of the input: the
//!   forward keeps each window's largest value, the backward finds it again in the input (kept
//!   by autodiff, as Burn's pooling keeps it) and hands it the gradient: no index tensor.
//! - **unfolding** (im2col) for [`super::unfolded_conv`]: each output pixel's k×k patch of
//!   every channel gathered in one pass, where k² slices and a concatenation (and, backward,
//!   k² zero-padded copies) did it before. Its backward folds the patches' gradients back.
//!
//! GPU and remote devices run Burn's own operations ([`has_kernels`] says which).

// burn-ndarray is deprecated upstream in favour of flex; our users asked to keep it.
#![allow(deprecated)]

mod cpu;
mod pool;
mod unfold;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::prelude::*;

/// The operations digits runs with its own kernels where a backend has them.
#[backend_extension(NdArray: cfg(feature = "ndarray"), Flex: cfg(feature = "flex"), Autodiff)]
pub trait CpuKernels: Backend {
    /// `[B, C, H, W]` → `[B, C, H / k, W / k]`: each k×k window's largest value (rows and
    /// columns past the last whole window dropped, as Burn's `MaxPool2d` does).
    fn max_pool_square(x: FloatTensor<Self>, k: usize) -> FloatTensor<Self>;

    /// `[B, C, H, W]` → `[B, C·k², H'·W']` (H' = H + 2·padding − k + 1, W' likewise): the k×k
    /// patch (stride 1, zeros outside the image) under each output pixel, rows in (channel,
    /// dy, dx) order, as a convolution's weights `[out, C, k, k]` flatten.
    fn unfold(x: FloatTensor<Self>, k: usize, padding: usize) -> FloatTensor<Self>;
}

/// The backward passes of [`CpuKernels`] on a backend without autodiff.
pub trait CpuBackward: Backend {
    /// The gradient of `x` for `max_pool_square`: zero but where each window's largest value
    /// was (its first, on ties), which gets that window's `grad`.
    fn max_pool_square_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        k: usize,
    ) -> FloatTensor<Self>;

    /// The gradient of `unfold`'s `[B, C, H, W]` input: each patch value's gradient added back
    /// to the pixel it came from.
    fn fold(grad: FloatTensor<Self>, dims: [usize; 4], k: usize, padding: usize)
    -> FloatTensor<Self>;
}

/// Whether [`max_pool_square`] and [`unfold`] run on `device` (ndarray and flex, autodiff or
/// not); other backends (GPUs, a remote device) run Burn's operations.
pub fn has_kernels(device: &Device) -> bool {
    let inner = device.clone().inner();
    #[cfg(feature = "ndarray")]
    if inner == Device::ndarray() {
        return true;
    }
    #[cfg(feature = "flex")]
    if inner == Device::flex() {
        return true;
    }
    let _ = inner;
    false
}

/// k×k max pooling with stride k (the device must have the kernels: [`has_kernels`]).
pub fn max_pool_square(x: Tensor<4>, k: usize) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::max_pool_square(x.into_dispatch(), k))
}

/// [`CpuKernels::unfold`] (the device must have the kernels: [`has_kernels`]).
pub fn unfold(x: Tensor<4>, k: usize, padding: usize) -> Tensor<3> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::unfold(x.into_dispatch(), k, padding))
}

/// The autodiff node of `max_pool_square`; its state: the input (checkpointed) and k.
#[derive(Debug)]
struct MaxPoolSquare;

impl<B: Backend + CpuBackward> Backward<B, 1> for MaxPoolSquare {
    type State = (NodeId, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, k) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        if let Some(parent) = parent {
            grads.register::<B>(parent.id, B::max_pool_square_backward(x, grad, k));
        }
    }
}

/// The autodiff node of `unfold`; its state: the input's dims, k and the padding.
#[derive(Debug)]
struct Unfold;

impl<B: Backend + CpuBackward> Backward<B, 1> for Unfold {
    type State = ([usize; 4], usize, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (dims, k, padding) = ops.state;
        if let Some(parent) = parent {
            grads.register::<B>(parent.id, B::fold(grad, dims, k, padding));
        }
    }
}

impl<B: Backend + CpuKernels + CpuBackward, C: CheckpointStrategy> CpuKernels for Autodiff<B, C> {
    fn max_pool_square(x: FloatTensor<Self>, k: usize) -> FloatTensor<Self> {
        match MaxPoolSquare
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                prep.finish((x_state, k), B::max_pool_square(x.into_primitive(), k))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::max_pool_square(x.into_primitive(), k)),
        }
    }

    fn unfold(x: FloatTensor<Self>, k: usize, padding: usize) -> FloatTensor<Self> {
        let dims = cpu::dims4(&x);
        match Unfold.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                prep.finish((dims, k, padding), B::unfold(x.into_primitive(), k, padding))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::unfold(x.into_primitive(), k, padding)),
        }
    }
}
