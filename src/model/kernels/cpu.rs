//! [`CpuKernels`] and [`CpuBackward`] for ndarray and flex: the tensors' f32 values read in
//! place (copied only from a strided view), the slice kernels of `conv`, `pool` and `dense` run
//! on them, the result wrapped without a copy. Tensors of another float type go to Burn's own
//! operations (pooling) or are converted (convolution and dense layers, whose results then stay
//! f32).

use std::borrow::Cow;

use burn::backend::TensorMetadata;
use burn::backend::tensor::FloatTensor;
use burn::tensor::TensorData;

use super::Wanted;
use super::conv::{self, ConvDims};
use super::dense::{self, DenseDims};
use super::{AdamStep, CpuBackward, CpuKernels, adam_by_operations, pool, sum, update};
use crate::model::fused::Fused;

/// The dims of a `[B, C, H, W]` tensor.
pub fn dims4<T: TensorMetadata>(x: &T) -> [usize; 4] {
    let shape = x.shape();
    let d = shape.as_slice();
    [d[0], d[1], d[2], d[3]]
}

/// What each CPU backend says about its own tensors.
trait Values: burn::backend::Backend {
    /// `x`'s f32 values in row-major order, or `None` when `x` is not f32.
    fn values(x: &FloatTensor<Self>) -> Option<Cow<'_, [f32]>>;
    fn from_values(values: Vec<f32>, dims: &[usize]) -> FloatTensor<Self>;
    /// `x`'s f32 values to write over, in row-major order, or `None` when another tensor
    /// shares them, they are not contiguous or not f32.
    fn values_mut(x: &mut FloatTensor<Self>) -> Option<&mut [f32]>;
}

/// The same kernels on every backend with [`Values`].
macro_rules! cpu_kernels {
    ($backend:ty) => {
        impl CpuKernels for $backend {
            fn max_pool_square(x: FloatTensor<Self>, k: usize) -> FloatTensor<Self> {
                use burn::backend::ops::ModuleOps;
                let [b, c, h, w] = dims4(&x);
                match Self::values(&x) {
                    Some(v) => {
                        Self::from_values(pool::forward(&v, [b, c, h, w], k), &[b, c, h / k, w / k])
                    }
                    None => Self::max_pool2d(x, [k, k], [k, k], [0, 0], [1, 1], false),
                }
            }

            fn convolve(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                padding: usize,
            ) -> FloatTensor<Self> {
                let d = conv_dims(&x, &weight, padding);
                let (xv, wv, bv) = (
                    f32_values::<Self>(&x),
                    f32_values::<Self>(&weight),
                    f32_values::<Self>(&bias),
                );
                let [oh, ow] = d.out_side();
                Self::from_values(
                    conv::forward(&xv, &wv, &bv, d),
                    &[d.batch, d.outputs, oh, ow],
                )
            }

            fn dense(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                act: Fused,
            ) -> FloatTensor<Self> {
                let d = dense_dims(&x, &weight);
                let (xv, wv, bv) = (
                    f32_values::<Self>(&x),
                    f32_values::<Self>(&weight),
                    f32_values::<Self>(&bias),
                );
                Self::from_values(dense::forward(&xv, &wv, &bv, d, act), &[d.batch, d.outputs])
            }

            fn squared_sum(x: FloatTensor<Self>) -> FloatTensor<Self> {
                Self::from_values(vec![sum::squared_sum(&f32_values::<Self>(&x))], &[1])
            }

            fn sgd_step(
                param: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                lr: f32,
            ) -> FloatTensor<Self> {
                sgd_through_kernel::<Self>(param, grad, lr, false).0
            }

            fn sgd_step_measured(
                param: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                lr: f32,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                let (stepped, squares) = sgd_through_kernel::<Self>(param, grad, lr, true);
                (stepped, squares.expect("measured"))
            }

            fn adam_step(
                param: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                moment_1: FloatTensor<Self>,
                moment_2: FloatTensor<Self>,
                at: AdamStep,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                let moments = Some((moment_1, moment_2));
                adam_through_kernel::<Self>(param, grad, moments, at)
            }

            fn adam_first_step(
                param: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                at: AdamStep,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                adam_through_kernel::<Self>(param, grad, None, at)
            }
        }

        impl CpuBackward for $backend {
            fn max_pool_square_backward(
                x: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                k: usize,
            ) -> FloatTensor<Self> {
                let dims = dims4(&x);
                let (x, grad) = (f32_values::<Self>(&x), f32_values::<Self>(&grad));
                Self::from_values(pool::backward(&x, &grad, dims, k), &dims)
            }

            fn convolve_backward(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                padding: usize,
                want: Wanted,
            ) -> [Option<FloatTensor<Self>>; 3] {
                let d = conv_dims(&x, &weight, padding);
                let w_dims = dims4(&weight);
                let grads = conv::backward(
                    &f32_values::<Self>(&x),
                    &f32_values::<Self>(&weight),
                    &f32_values::<Self>(&grad),
                    d,
                    want,
                );
                [
                    grads.input.map(|v| Self::from_values(v, &dims4(&x))),
                    grads.weight.map(|v| Self::from_values(v, &w_dims)),
                    grads.bias.map(|v| Self::from_values(v, &[d.outputs])),
                ]
            }

            fn dense_backward(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                activated: Option<(FloatTensor<Self>, Fused)>,
                want: Wanted,
            ) -> [Option<FloatTensor<Self>>; 3] {
                let d = dense_dims(&x, &weight);
                let y = activated
                    .as_ref()
                    .map(|(y, act)| (f32_values::<Self>(y), *act));
                let [gx, gw, gb] = dense::backward(
                    &f32_values::<Self>(&x),
                    &f32_values::<Self>(&weight),
                    &f32_values::<Self>(&grad),
                    y.as_ref().map(|(y, act)| (&y[..], *act)),
                    d,
                    want,
                );
                [
                    gx.map(|v| Self::from_values(v, &[d.batch, d.inputs])),
                    gw.map(|v| Self::from_values(v, &[d.inputs, d.outputs])),
                    gb.map(|v| Self::from_values(v, &[d.outputs])),
                ]
            }
        }
    };
}

/// Plain SGD's step through [`update`]'s kernel, written over the gradient where nothing
/// else holds it, else over a copy of it (never over the parameter), and where `measure`, the
/// gradient's sum of squares `[1]`; through the backend's operations where a tensor is not f32
/// of the parameter's shape.
fn sgd_through_kernel<B: Values + CpuKernels>(
    param: FloatTensor<B>,
    mut grad: FloatTensor<B>,
    lr: f32,
    measure: bool,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let dims = param.shape().as_slice().to_vec();
    let squares = |sum: Option<f32>| sum.map(|sum| B::from_values(vec![sum], &[1]));
    if let Some(values) = shaped_values::<B>(&param, &dims) {
        if grad.shape().as_slice() == dims
            && let Some(over) = B::values_mut(&mut grad)
        {
            let sum = update::sgd_over_grad(&values, over, lr, measure);
            return (grad, squares(sum));
        }
        // Shared (a caller kept it) or strided: rare, so one loop serves both, over a copy.
        if let Some(grad) = shaped_values::<B>(&grad, &dims) {
            let mut stepped = grad.into_owned();
            let sum = update::sgd_over_grad(&values, &mut stepped, lr, measure);
            return (B::from_values(stepped, &dims), squares(sum));
        }
    }
    let sum = measure.then(|| B::squared_sum(grad.clone()));
    let delta = B::float_mul_scalar(grad, lr.into());
    (B::float_sub(param, delta), sum)
}

/// Adam's step through [`update::adam`] where every tensor is f32 of the parameter's shape,
/// else through the backend's operations.
fn adam_through_kernel<B: Values>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    moments: Option<(FloatTensor<B>, FloatTensor<B>)>,
    at: AdamStep,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let dims = param.shape().as_slice().to_vec();
    let read = |x| shaped_values::<B>(x, &dims);
    let stepped = match (read(&param), read(&grad), &moments) {
        (Some(p), Some(g), None) => Some(update::adam(&p, &g, None, at)),
        (Some(p), Some(g), Some((m, v))) => match (read(m), read(v)) {
            (Some(m), Some(v)) => Some(update::adam(&p, &g, Some((&m, &v)), at)),
            _ => None,
        },
        _ => None,
    };
    match stepped {
        Some(values) => {
            let [p, m, v] = values.map(|v| B::from_values(v, &dims));
            (p, m, v)
        }
        None => adam_by_operations::<B>(param, grad, moments, at),
    }
}

/// `x`'s f32 values where it has `dims`.
fn shaped_values<'a, B: Values>(x: &'a FloatTensor<B>, dims: &[usize]) -> Option<Cow<'a, [f32]>> {
    (x.shape().as_slice() == dims)
        .then(|| B::values(x))
        .flatten()
}

/// The sizes of a convolution of `x` (`[B, C, H, W]`) by `weight` (`[O, C, k, k]`).
fn conv_dims<T: TensorMetadata>(x: &T, weight: &T, padding: usize) -> ConvDims {
    let [batch, channels, height, width] = dims4(x);
    let [outputs, _, kernel, _] = dims4(weight);
    ConvDims {
        batch,
        channels,
        height,
        width,
        outputs,
        kernel,
        padding,
    }
}

/// The sizes of a dense layer taking `x` (`[B, I]`) through `weight` (`[I, O]`).
fn dense_dims<T: TensorMetadata>(x: &T, weight: &T) -> DenseDims {
    let (x, w) = (x.shape(), weight.shape());
    DenseDims {
        batch: x.as_slice()[0],
        inputs: w.as_slice()[0],
        outputs: w.as_slice()[1],
    }
}

/// `x`'s values as f32, converted from another float type if need be.
fn f32_values<B: Values>(x: &FloatTensor<B>) -> Cow<'_, [f32]> {
    B::values(x).unwrap_or_else(|| {
        let cast = B::float_cast(x.clone(), burn::backend::FloatDType::F32);
        Cow::Owned(B::values(&cast).expect("cast to f32").into_owned())
    })
}

#[cfg(feature = "ndarray")]
mod on_ndarray {
    use burn::backend::NdArray;
    use burn::backend::ndarray::NdArrayTensor;

    use super::*;

    impl Values for NdArray {
        fn values(x: &NdArrayTensor) -> Option<Cow<'_, [f32]>> {
            let NdArrayTensor::F32(storage) = x else {
                return None;
            };
            let view = storage.view();
            Some(match view.to_slice() {
                Some(values) => Cow::Borrowed(values),
                None => Cow::Owned(view.iter().copied().collect()),
            })
        }

        fn from_values(values: Vec<f32>, dims: &[usize]) -> NdArrayTensor {
            NdArrayTensor::from_data(TensorData::new(values, dims.to_vec()))
        }

        fn values_mut(x: &mut NdArrayTensor) -> Option<&mut [f32]> {
            let NdArrayTensor::F32(storage) = x else {
                return None;
            };
            // Unique: owned (not borrowed from a file's bytes) and shared with no one.
            if !storage.is_unique() {
                return None;
            }
            storage.ensure_owned().as_slice_mut()
        }
    }

    cpu_kernels!(NdArray);
}

#[cfg(feature = "flex")]
mod on_flex {
    use burn::backend::Flex;
    use burn::backend::flex::FlexTensor;
    use burn::tensor::DType;

    use super::*;

    impl Values for Flex {
        fn values(x: &FlexTensor) -> Option<Cow<'_, [f32]>> {
            if x.dtype() != DType::F32 {
                return None;
            }
            Some(match x.as_slice::<f32>() {
                Some(values) => Cow::Borrowed(values),
                None => Cow::Owned(x.to_contiguous().into_data().into_vec::<f32>().ok()?),
            })
        }

        fn from_values(values: Vec<f32>, dims: &[usize]) -> FlexTensor {
            FlexTensor::from_data(TensorData::new(values, dims.to_vec()))
        }

        fn values_mut(x: &mut FlexTensor) -> Option<&mut [f32]> {
            if x.dtype() != DType::F32 {
                return None;
            }
            let (start, end) = x.layout().contiguous_offsets()?;
            Some(&mut x.try_storage_mut::<f32>()?[start..end])
        }
    }

    cpu_kernels!(Flex);
}
