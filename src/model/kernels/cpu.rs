//! [`CpuKernels`] and [`CpuBackward`] for ndarray and flex: the tensors' f32 values read in
//! place (copied only from a strided view), the slice kernels of `pool` and `unfold` run on
//! them, the result wrapped without a copy. Tensors of another float type go to Burn's own
//! operations (pooling) or are converted (unfolding, whose result then stays f32).

use std::borrow::Cow;

use burn::backend::TensorMetadata;
use burn::backend::tensor::FloatTensor;
use burn::tensor::TensorData;

use super::{CpuBackward, CpuKernels, pool, unfold};

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

            fn unfold(x: FloatTensor<Self>, k: usize, padding: usize) -> FloatTensor<Self> {
                let [b, c, h, w] = dims4(&x);
                let (oh, ow) = (
                    unfold::unfolded_side(h, k, padding),
                    unfold::unfolded_side(w, k, padding),
                );
                let v = f32_values::<Self>(&x);
                Self::from_values(
                    unfold::forward(&v, [b, c, h, w], k, padding),
                    &[b, c * k * k, oh * ow],
                )
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

            fn fold(
                grad: FloatTensor<Self>,
                dims: [usize; 4],
                k: usize,
                padding: usize,
            ) -> FloatTensor<Self> {
                let grad = f32_values::<Self>(&grad);
                Self::from_values(unfold::backward(&grad, dims, k, padding), &dims)
            }
        }
    };
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
                None => Cow::Owned(x.to_contiguous().as_slice::<f32>()?.to_vec()),
            })
        }

        fn from_values(values: Vec<f32>, dims: &[usize]) -> FlexTensor {
            FlexTensor::from_data(TensorData::new(values, dims.to_vec()))
        }
    }

    cpu_kernels!(Flex);
}
