//! Our own kernels for what a network spends its time on, registered through Burn's backend
//! extension for ndarray and flex, each with its own backward pass under Burn's autodiff (so
//! Burn's optimizers, Learner and checkpointing work around them unchanged):
//!
//! - **convolution** of `model.conv`'s blocks (k×k, stride 1, symmetric zero padding): one
//!   image per task, its patches unfolded into a buffer the task reuses and multiplied by the
//!   weights ([`conv`]); backward, the weights' gradient as one product per image over the
//!   same patches and the input's as the patches' gradients folded back. Burn's CPU
//!   convolutions unfold the whole batch into fresh buffers (flex) or compute the gradient
//!   with direct loops (ndarray, 40× slower for the reference CNN's second block).
//! - **max pooling** of those blocks (k×k windows, stride k, no padding). Burn's
//!   `max_pool2d` is general (strides, padding, dilation, ceil mode); its CPU versions were the
//!   largest single cost of a CNN (22–30 % of `eval` on ndarray by `perf`, 28 % of a training
//!   step on flex). Windows that do not overlap make each pass one read of the input: the
//!   forward keeps each window's largest value, the backward finds it again in the input (kept
//!   by autodiff, as Burn's pooling keeps it) and hands it the gradient: no index tensor.
//! - **dense layers** (`Linear`, and ReLU, the sigmoid or tanh when nothing comes between):
//!   the product, then the bias and the activation in one pass (the sigmoid's and tanh's
//!   exponential vectorised, [`super::fused`]); backward, the activation's derivative applied
//!   once and the three gradients as products ([`dense`]).
//!
//! Every product is [`product`]'s, one block of rows per rayon task, so each value is summed in
//! one order whatever the thread count (training reproducible, `--resume` exact). GPU and
//! remote devices run Burn's own operations ([`has_kernels`] says which), and so does every
//! device when `DIGITS_KERNELS=burn` ([`KERNELS_ENV`]).

// burn-ndarray is deprecated upstream in favour of flex; our users asked to keep it.
#![allow(deprecated)]

mod conv;
mod cpu;
mod dense;
#[cfg(target_arch = "x86_64")]
mod gemm;
mod measured;
pub mod mlp;
pub mod norm;
mod panel;
mod pool;
mod product;
mod squares;
mod sum;
mod threads;
mod unfold;
mod update;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::prelude::*;

use super::fused::Fused;
pub use measured::{MeasuredUpdate, measuring_updates};
pub use threads::{linger, step_in_pool};
pub use update::AdamStep;

/// The operations digits runs with its own kernels where a backend has them.
#[backend_extension(NdArray: cfg(feature = "ndarray"), Flex: cfg(feature = "flex"), Autodiff)]
pub trait CpuKernels: Backend {
    /// `[B, C, H, W]` → `[B, C, H / k, W / k]`: each k×k window's largest value (rows and
    /// columns past the last whole window dropped, as Burn's `MaxPool2d` does).
    fn max_pool_square(x: FloatTensor<Self>, k: usize) -> FloatTensor<Self>;

    /// `[B, C, H, W]` by `weight` `[O, C, k, k]` plus `bias` `[O]` → `[B, O, H', W']`: the
    /// convolution `model.conv` builds (stride 1, `padding` zeros on every side).
    fn convolve(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: usize,
    ) -> FloatTensor<Self>;

    /// `x` `[B, I]` by `weight` `[I, O]` plus `bias` `[O]` → `[B, O]`, through `act`: a
    /// `Linear` layer (and its activation) in one pass.
    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        act: Fused,
    ) -> FloatTensor<Self>;

    /// `[1]`: the sum of `x`'s squares (a gradient's squared L2 norm, which training measures
    /// for every weighted layer at every step). Under autodiff, Burn's operations.
    fn squared_sum(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_sum(Self::float_mul(x.clone(), x))
    }

    /// `param − lr·grad`: plain SGD's step (on parameters, off the autodiff graph), in one
    /// pass on every thread where the backend has our kernels. Elsewhere, Burn's two operations.
    fn sgd_step(param: FloatTensor<Self>, grad: FloatTensor<Self>, lr: f32) -> FloatTensor<Self> {
        Self::float_sub(param, Self::float_mul_scalar(grad, lr.into()))
    }

    /// [`CpuKernels::sgd_step`] and the gradient's sum of squares `[1]` (as
    /// [`CpuKernels::squared_sum`] gives it), read in the same pass where the backend has our
    /// kernels.
    fn sgd_step_measured(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        lr: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let squares = Self::squared_sum(grad.clone());
        (Self::sgd_step(param, grad, lr), squares)
    }

    /// Adam's step on one parameter (off the autodiff graph): `(param, m, v)` after it, from
    /// the gradient and the moments before, in one pass on every thread where the backend has
    /// our kernels. Elsewhere, Burn's operations in `Adam`'s order.
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        at: AdamStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        adam_by_operations::<Self>(param, grad, Some((moment_1, moment_2)), at)
    }

    /// [`CpuKernels::adam_step`] at the first step, without moments before (Burn's `Adam`
    /// starts them from the gradient, not from zeros).
    fn adam_first_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        at: AdamStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        adam_by_operations::<Self>(param, grad, None, at)
    }
}

/// Adam's step through the backend's operations, in the order and rounding of Burn's `Adam`.
fn adam_by_operations<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    moments: Option<(FloatTensor<B>, FloatTensor<B>)>,
    at: AdamStep,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let scale = |x, s: f32| B::float_mul_scalar(x, s.into());
    let square = B::float_mul(grad.clone(), grad.clone());
    let (m, v) = match moments {
        Some((m, v)) => (
            B::float_add(scale(m, at.beta_1), scale(grad, at.factor_1)),
            B::float_add(scale(v, at.beta_2), scale(square, at.factor_2)),
        ),
        None => (scale(grad, at.factor_1), scale(square, at.factor_2)),
    };
    let root = B::float_add_scalar(B::float_sqrt(v.clone()), at.epsilon.into());
    let step = B::float_div(scale(m.clone(), at.combined), root);
    (B::float_sub(param, scale(step, at.lr)), m, v)
}

/// Which gradients a backward pass computes (those whose tensor needs one).
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub input: bool,
    pub weight: bool,
    pub bias: bool,
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

    /// The gradients of `convolve`'s input, weights and bias (each only if `want` asks).
    fn convolve_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        padding: usize,
        want: Wanted,
    ) -> [Option<FloatTensor<Self>>; 3];

    /// The gradients of `dense`'s input, weights and bias (each only if `want` asks), given
    /// its output and activation when it went through one.
    fn dense_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        activated: Option<(FloatTensor<Self>, Fused)>,
        want: Wanted,
    ) -> [Option<FloatTensor<Self>>; 3];
}

/// `DIGITS_KERNELS=burn` runs Burn's own operations where ours would run (`digits` or unset:
/// ours): to compare the two's speed and results with one binary.
pub const KERNELS_ENV: &str = "DIGITS_KERNELS";

/// Whether [`KERNELS_ENV`] asks for Burn's operations; an error saying what it may be when it
/// is neither `burn` nor `digits`.
pub fn burns_operations_asked() -> Result<bool, String> {
    other_asked(
        KERNELS_ENV,
        ("our own CPU kernels", "burn", "Burn's operations instead"),
    )
}

/// `DIGITS_PRODUCT=library` multiplies matrices with the library's product (gemm in a build
/// with flex, else matrixmultiply) where ours would run (AVX-512 CPUs; `digits` or unset:
/// ours): to compare the two with one binary.
pub const PRODUCT_ENV: &str = "DIGITS_PRODUCT";

/// Whether [`PRODUCT_ENV`] asks for the library's product; an error saying what it may be
/// when it is neither `library` nor `digits`.
pub fn library_product_asked() -> Result<bool, String> {
    other_asked(
        PRODUCT_ENV,
        (
            "our own matrix product on AVX-512 CPUs",
            "library",
            "gemm's or matrixmultiply's",
        ),
    )
}

/// Whether the switch `variable` asks for `other` (`digits` or unset: ours, described as
/// `ours`); an error naming both values when it is neither.
fn other_asked(variable: &str, (ours, other, theirs): (&str, &str, &str)) -> Result<bool, String> {
    match std::env::var_os(variable) {
        None => Ok(false),
        Some(value) if value == "digits" => Ok(false),
        Some(value) if value == other => Ok(true),
        Some(value) => Err(format!(
            "{variable}={}: unknown; it is `digits` ({ours}, the default) or `{other}` \
             ({theirs}, to compare): set one or unset it",
            value.to_string_lossy()
        )),
    }
}

/// Whether our kernels run on `device` (ndarray and flex, autodiff or not, unless
/// [`KERNELS_ENV`] asks for Burn's); other backends (GPUs, a remote device) run Burn's
/// operations.
pub fn has_kernels(device: &Device) -> bool {
    static BURNS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *BURNS.get_or_init(|| burns_operations_asked().unwrap_or(false)) {
        return false;
    }
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
    Tensor::from_dispatch(<Dispatch as CpuKernels>::max_pool_square(
        x.into_dispatch(),
        k,
    ))
}

/// [`CpuKernels::convolve`] (the device must have the kernels: [`has_kernels`]).
pub fn convolve(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, padding: usize) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::convolve(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        padding,
    ))
}

/// [`CpuKernels::dense`] (the device must have the kernels: [`has_kernels`]).
pub fn dense(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>, act: Fused) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::dense(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        act,
    ))
}

/// [`CpuKernels::squared_sum`] (the device must have the kernels: [`has_kernels`]).
pub fn squared_sum<const D: usize>(x: Tensor<D>) -> Tensor<1> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::squared_sum(x.into_dispatch()))
}

/// Plain SGD's step `param − lr·grad` ([`CpuKernels::sgd_step`] where the device has our
/// kernels, else Burn's operations), rounded as Burn's `Sgd` rounds it; inside
/// [`measuring_updates`], a weight's (a gradient of rank 2 and more) with its sum of squares
/// kept: the norms are the weights', and each kept sum is a tensor op more a step.
pub fn sgd_step<const D: usize>(param: Tensor<D>, grad: Tensor<D>, lr: f64) -> Tensor<D> {
    let measure = (D >= 2 && measured::measuring()).then(|| grad.dims().to_vec());
    if !has_kernels(&param.device()) {
        if let Some(dims) = measure {
            let squared_sum = (grad.clone() * grad.clone()).sum();
            measured::record(MeasuredUpdate { dims, squared_sum });
        }
        return param - grad.mul_scalar(lr);
    }
    let (param, grad, lr) = (param.into_dispatch(), grad.into_dispatch(), lr as f32);
    let Some(dims) = measure else {
        return Tensor::from_dispatch(<Dispatch as CpuKernels>::sgd_step(param, grad, lr));
    };
    let (stepped, squares) = <Dispatch as CpuKernels>::sgd_step_measured(param, grad, lr);
    let squared_sum = Tensor::from_dispatch(squares);
    measured::record(MeasuredUpdate { dims, squared_sum });
    Tensor::from_dispatch(stepped)
}

/// Adam's step `(param, m, v)` ([`CpuKernels::adam_step`]; the device must have the kernels:
/// [`has_kernels`]).
pub fn adam_step<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moments: Option<(Tensor<D>, Tensor<D>)>,
    at: AdamStep,
) -> [Tensor<D>; 3] {
    let (param, grad) = (param.into_dispatch(), grad.into_dispatch());
    let (param, m, v) = match moments {
        Some((m, v)) => {
            let (m, v) = (m.into_dispatch(), v.into_dispatch());
            <Dispatch as CpuKernels>::adam_step(param, grad, m, v, at)
        }
        None => <Dispatch as CpuKernels>::adam_first_step(param, grad, at),
    };
    [param, m, v].map(Tensor::from_dispatch)
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

/// The autodiff node of `convolve`; its state: the input and weights (checkpointed), the padding.
#[derive(Debug)]
struct Conv2d;

impl<B: Backend + CpuBackward> Backward<B, 3> for Conv2d {
    type State = (NodeId, NodeId, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, padding) = ops.state;
        let [x, weight] = [x_state, weight_state].map(|id| checkpointer.retrieve_node_output(id));
        let parents = ops.parents.map(|parent| parent.map(|parent| parent.id));
        let computed = B::convolve_backward(x, weight, grad, padding, wanted(&parents));
        register::<B>(parents, computed, grads);
    }
}

/// The autodiff node of `dense`; its state: the input and weights (checkpointed), and the
/// output with its activation when it went through one (the derivative is the output's).
#[derive(Debug)]
struct Dense;

impl<B: Backend + CpuBackward> Backward<B, 3> for Dense {
    type State = (NodeId, NodeId, Option<(FloatTensor<B>, Fused)>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, activated) = ops.state;
        let [x, weight] = [x_state, weight_state].map(|id| checkpointer.retrieve_node_output(id));
        let parents = ops.parents.map(|parent| parent.map(|parent| parent.id));
        let computed = B::dense_backward(x, weight, grad, activated, wanted(&parents));
        register::<B>(parents, computed, grads);
    }
}

/// Which of a 3-input node's parents (input, weights, bias) need a gradient.
fn wanted(parents: &[Option<NodeId>; 3]) -> Wanted {
    Wanted {
        input: parents[0].is_some(),
        weight: parents[1].is_some(),
        bias: parents[2].is_some(),
    }
}

/// Each computed gradient registered for its parent.
fn register<B: Backend>(
    parents: [Option<NodeId>; 3],
    computed: [Option<FloatTensor<B>>; 3],
    grads: &mut Gradients,
) {
    for (parent, grad) in parents.into_iter().zip(computed) {
        if let (Some(parent), Some(grad)) = (parent, grad) {
            grads.register::<B>(parent, grad);
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

    fn convolve(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: usize,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        match Conv2d.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), padding);
                let out = B::convolve(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    padding,
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::convolve(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                padding,
            )),
        }
    }

    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        act: Fused,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        match Dense.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let (x_state, weight_state) = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let out = B::dense(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    act,
                );
                let activated = (act != Fused::Identity).then(|| (out.clone(), act));
                prep.finish((x_state, weight_state, activated), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::dense(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                act,
            )),
        }
    }
}
