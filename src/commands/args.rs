//! What several commands take alike: the backend choice, and a config loaded with the
//! command-line flags on top.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::backend::Backend;
use crate::config::Config;
use crate::error::{Error, Result};

#[derive(Args)]
pub struct BackendArg {
    /// ndarray, flex or wgpu; default: the first of wgpu, flex, ndarray this binary has.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
}

impl BackendArg {
    pub fn select(&self) -> Result<Backend> {
        Backend::select(self.backend.as_deref())
    }
}

/// The config file with `--set` overrides, then the dedicated flags on top.
pub fn load_config(
    path: &Path,
    overrides: &[String],
    data_dir: Option<PathBuf>,
    out: Option<PathBuf>,
) -> Result<Config> {
    let mut config = Config::load(path, overrides)?;
    if let Some(dir) = data_dir {
        config.data.dir = Some(dir);
    }
    if let Some(dir) = out {
        config.output.dir = Some(dir);
    }
    // An absolute data folder keeps the resolved config usable from any working directory.
    if let Some(dir) = &config.data.dir {
        config.data.dir = Some(absolute(dir)?);
    }
    // The flags' paths too must be storable in the run's config.toml.
    config.validate().map_err(|m| Error::config(path, m))?;
    Ok(config)
}

/// An absolute form of `dir`, so a resolved config works from any working directory.
pub fn absolute(dir: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .map_err(|e| Error::io("cannot resolve", dir, e))
}
