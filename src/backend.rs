//! The only place a [`Device`] is built.
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
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Wgpu, Backend::Flex, Backend::Ndarray];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
        }
    }

    fn feature_enabled(self) -> bool {
        match self {
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
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
                     cargo features ndarray, flex or wgpu"
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
            Backend::Wgpu => wgpu_device(),
            #[allow(unreachable_patterns)]
            other => unreachable!("backend {other} is not compiled in; select() refuses it"),
        }
    }
}

impl Backend {
    /// The backend and, for a GPU, the adapter it runs on: `wgpu (NVIDIA H100, spirv...)`.
    pub fn describe(self, device: &Device) -> String {
        #[cfg(feature = "wgpu")]
        if self == Backend::Wgpu
            && let Some(identity) = device.identity()
        {
            return format!("wgpu ({}, {})", identity.name, identity.fingerprint);
        }
        let _ = device;
        self.name().to_string()
    }
}

/// cubecl acquires the wgpu adapter on first use and panics when there is none: use it once
/// here, quietly, and say what to install if it fails.
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    let device = Device::wgpu(Default::default());
    let probe = device.clone();
    crate::error::catch_quietly(move || {
        burn::tensor::Tensor::<1>::zeros([1], &probe).into_data();
    })
    .map(|()| device)
    .map_err(|reason| {
        Error::Environment(format!(
            "no GPU adapter found for the wgpu backend ({reason}). wgpu needs a Vulkan, Metal, \
             DX12 or OpenGL driver: on Debian or Ubuntu `sudo apt install mesa-vulkan-drivers` \
             installs Mesa's (including lavapipe, which runs Vulkan on the CPU); otherwise \
             install your GPU vendor's driver. Or train on the CPU with --backend ndarray \
             (or flex, with --features flex)"
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

    #[test]
    fn unknown_or_missing_backends_are_usage_errors() {
        let err = Backend::select(Some("cuda")).unwrap_err();
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
