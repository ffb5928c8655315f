//! Where a local [`Device`] is built (`remote.rs` builds the one a `serve-device` serves).
//!
//! Which backends exist is decided by *our* cargo features, never by `Device::default()`:
//! burn-train always compiles Flex in, so Burn's default would be Flex even in an ndarray build.

use std::fmt;

use burn::tensor::Device;

use crate::error::{Error, Result};

/// A compute backend digits can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Burn's NdArray CPU backend (cargo feature `ndarray`, the default).
    Ndarray,
    /// Burn's pure-Rust Flex CPU backend (cargo feature `flex`).
    Flex,
    /// wgpu on the best GPU adapter found (cargo feature `wgpu`).
    Wgpu,
    /// NVIDIA GPUs through CUDA (cargo feature `cuda`; needs the driver and NVRTC at run time).
    Cuda,
}

impl Backend {
    pub const ALL: [Backend; 4] = [
        Backend::Cuda,
        Backend::Wgpu,
        Backend::Flex,
        Backend::Ndarray,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    fn feature_enabled(self) -> bool {
        match self {
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// Whether this backend's devices are GPUs (several of them are several GPUs) rather
    /// than the one CPU.
    pub fn is_gpu(self) -> bool {
        matches!(self, Backend::Wgpu | Backend::Cuda)
    }

    /// The backends this binary was built with, in order of preference (GPU first).
    pub fn compiled() -> Vec<Backend> {
        Backend::ALL
            .into_iter()
            .filter(|b| b.feature_enabled())
            .collect()
    }

    /// `--backend NAME` if given, else the preferred compiled backend (wgpu, flex, ndarray).
    pub fn select(requested: Option<&str>) -> Result<Backend> {
        let compiled = Backend::compiled();
        let names = || {
            compiled
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match requested {
            None => compiled.first().copied().ok_or_else(|| {
                Error::Usage(
                    "this binary was built without any backend: build it with one of the \
                     cargo features ndarray, flex, wgpu or cuda"
                        .into(),
                )
            }),
            Some(name) => {
                let backend = Backend::ALL
                    .into_iter()
                    .find(|b| b.name() == name)
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "--backend {name}: unknown backend; this build has: {}",
                            names()
                        ))
                    })?;
                if !backend.feature_enabled() {
                    return Err(Error::Usage(format!(
                        "--backend {name}: this binary was built without it (it has: {}). \
                         Rebuild with `--features {name}`, e.g. \
                         `cargo run --release --features {name} -- ...`",
                        names()
                    )));
                }
                Ok(backend)
            }
        }
    }

    /// The device (without autodiff) for this backend. For wgpu this opens the GPU adapter, so
    /// a machine without one gets an error here instead of a panic at the first tensor.
    pub fn device(self) -> Result<Device> {
        match self {
            #[cfg(feature = "ndarray")]
            // ndarray is deprecated upstream in favour of flex; our users asked to keep it.
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => wgpu_device(Default::default(), None),
            #[cfg(feature = "cuda")]
            Backend::Cuda => cuda_device(0),
            #[allow(unreachable_patterns)]
            other => unreachable!("backend {other} is not compiled in; select() refuses it"),
        }
    }

    /// `count` devices (`training.devices`), the main one first. A CPU backend has one
    /// device, so its "devices" are that device `count` times: each runs on a thread of its
    /// own. A GPU backend gets GPUs 0..count, each opened here so a missing one is an error
    /// naming it.
    pub fn devices(self, count: usize) -> Result<Vec<Device>> {
        if count <= 1 || !self.is_gpu() {
            let device = self.device()?;
            return Ok(vec![device; count.max(1)]);
        }
        (0..count).map(|index| self.gpu(index, count)).collect()
    }

    #[allow(unused_variables)]
    fn gpu(self, index: usize, count: usize) -> Result<Device> {
        match self {
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => wgpu_device(
                burn::tensor::DeviceKind::DiscreteGpu(index),
                Some((index, count)),
            ),
            #[cfg(feature = "cuda")]
            Backend::Cuda => cuda_device(index).map_err(|error| match error {
                Error::Environment(why) => Error::Environment(format!(
                    "training.devices = {count}: CUDA GPU {index} could not be opened: {why}"
                )),
                other => other,
            }),
            _ => self.device(),
        }
    }
}

impl Backend {
    /// The backend and, for a GPU, the adapter it runs on: `wgpu (NVIDIA H100, spirv...)`.
    pub fn describe(self, device: &Device) -> String {
        #[cfg(any(feature = "wgpu", feature = "cuda"))]
        if self.is_gpu()
            && let Some(identity) = device.identity()
        {
            return format!("{self} ({}, {})", identity.name, identity.fingerprint);
        }
        let _ = device;
        self.name().to_string()
    }
}

/// Uses `device` once, quietly: cubecl opens a GPU on first use and panics when it cannot.
/// The reason is the panic's words, without the Debug dump of cubecl's error that follows.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn probe(device: Device) -> std::result::Result<Device, String> {
    let probe = device.clone();
    crate::error::catch_quietly(move || {
        burn::tensor::Tensor::<1>::zeros([1], &probe).into_data();
    })
    .map(|()| device)
    .map_err(|reason| match reason.split_once(" {") {
        Some((words, _dump)) => words.to_string(),
        None => reason,
    })
}

/// The wgpu adapter `kind`, opened; `several` = (this one, how many) when training on several
/// GPUs. Says what to install if it fails.
#[cfg(feature = "wgpu")]
fn wgpu_device(kind: burn::tensor::DeviceKind, several: Option<(usize, usize)>) -> Result<Device> {
    probe(Device::wgpu(kind)).map_err(|reason| {
        if let Some((index, count)) = several {
            return Error::Environment(format!(
                "training.devices = {count}: wgpu found no discrete GPU number {index} \
                 ({reason}). Several devices on wgpu means discrete GPUs 0..{count}; use \
                 fewer devices (1 uses the best adapter of any kind)"
            ));
        }
        Error::Environment(format!(
            "no GPU adapter found for the wgpu backend ({reason}). wgpu needs a Vulkan, Metal, \
             DX12 or OpenGL driver: on Debian or Ubuntu `sudo apt install mesa-vulkan-drivers` \
             installs Mesa's (including lavapipe, which runs Vulkan on the CPU); otherwise \
             install your GPU vendor's driver. Or train on the CPU with --backend ndarray \
             (or flex, with --features flex)"
        ))
    })
}

/// CUDA GPU `index`, opened. cubecl-cuda loads the driver (libcuda) and NVRTC (libnvrtc)
/// when the device is first used; either missing is the environment, not a bug.
#[cfg(feature = "cuda")]
fn cuda_device(index: usize) -> Result<Device> {
    probe(Device::cuda(index)).map_err(|reason| {
        Error::Environment(format!(
            "the cuda backend could not open CUDA GPU {index} ({reason}). It needs an NVIDIA \
             GPU, the NVIDIA driver (libcuda.so, check with `nvidia-smi`) and NVRTC \
             (libnvrtc.so: the CUDA toolkit, or pip's nvidia-cuda-nvrtc-cu12 with its folder \
             on LD_LIBRARY_PATH). Or train with --backend wgpu (any GPU) or on the CPU with \
             --backend ndarray"
        ))
    })
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_first_compiled_backend() {
        let compiled = Backend::compiled();
        assert!(!compiled.is_empty());
        assert_eq!(Backend::select(None).unwrap(), compiled[0]);
    }

    /// vendor/burn-ndarray computes integers as I64 and I32 only (vendor/README.md): digits'
    /// integer tensors — labels, answers, pooling's indices — must be I64 there.
    #[cfg(feature = "ndarray")]
    #[test]
    fn ndarray_computes_every_integer_type_digits_makes() {
        use burn::tensor::{DType, Int, Tensor, TensorData};
        let device = Backend::Ndarray.device().unwrap();
        // Labels arrive as bytes; `from_data` converts them to the device's integer type.
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1u8, 0], [2]), &device);
        assert_eq!(labels.dtype(), DType::I64);
        let logits = Tensor::<2>::from_data([[0.1f32, 0.9], [0.8, 0.2]], &device);
        let answers = logits.argmax(1).squeeze_dim::<1>(1);
        assert_eq!(answers.dtype(), DType::I64);
        let right: i64 = answers.equal(labels).int().sum().into_scalar();
        assert_eq!(right, 2);
        // Max pooling's indices (what its backward pass reads) take the device's integer type.
        let pixels = TensorData::new(vec![0.5f32; 16], [1, 1, 4, 4]);
        let image = Tensor::<4>::from_data(pixels, &device);
        let options = burn::tensor::ops::MaxPoolOptions::new([2, 2]);
        let (_, indices) = burn::tensor::module::max_pool2d_with_indices(image, options);
        assert_eq!(indices.dtype(), DType::I64);
        // The patch is in: another integer type is said to be unsupported.
        assert!(device.supports_dtype(DType::I64) && !device.supports_dtype(DType::I16));
    }

    #[test]
    fn unknown_or_missing_backends_are_usage_errors() {
        let err = Backend::select(Some("tpu")).unwrap_err();
        assert!(err.to_string().contains("unknown backend"), "{err}");
        for backend in Backend::ALL {
            let result = Backend::select(Some(backend.name()));
            assert_eq!(result.is_ok(), Backend::compiled().contains(&backend));
            if let Err(err) = result {
                assert!(err.to_string().contains("--features"), "{err}");
            }
        }
    }
}
