//! What several commands take alike: the backend choice, and a config loaded with the
//! command-line flags on top.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::backend::Backend;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::inspect::trained_run::Weights;

#[derive(Args)]
pub struct BackendArg {
    /// cuda, wgpu, flex or ndarray; default: the first of these, in this order, that this
    /// binary was built with.
    #[arg(long, value_name = "NAME", value_enum)]
    backend: Option<BackendName>,
}

/// The backends `--backend` knows by name (whether this build has the one named is
/// `Backend::select`'s to say).
#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendName {
    Cuda,
    Wgpu,
    Flex,
    Ndarray,
}

impl BackendArg {
    pub fn select(&self) -> Result<Backend> {
        let name = self.backend.map(|b| match b {
            BackendName::Cuda => Backend::Cuda,
            BackendName::Wgpu => Backend::Wgpu,
            BackendName::Flex => Backend::Flex,
            BackendName::Ndarray => Backend::Ndarray,
        });
        Backend::select(name.map(Backend::name))
    }
}

/// Says so when a run's weights come from a checkpoint (it was stopped before the end), before
/// a command reads them.
pub fn note_unfinished(run_dir: &Path) {
    if let Some(note) = Weights::of(run_dir).ok().and_then(|w| w.note(run_dir)) {
        eprintln!("{note}");
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
