//! A finished run folder read back: its resolved config and its trained network.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::ModuleRecord;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Mlp;
use crate::run::folder as run;

/// A finished run, read back: its resolved config and its trained network (inference mode).
pub struct LoadedRun {
    pub dir: PathBuf,
    pub config: Config,
    pub model: Mlp,
}

/// Reads `dir/config.toml` and `dir/model.bpk`. Every failure is a message naming the file:
/// Burn's plain loaders panic on a missing, corrupt or mismatched file, so the fallible
/// variants are used.
pub fn load_run(dir: &Path, device: &Device) -> Result<LoadedRun> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "run folder {} does not exist: give a folder written by `digits train`, e.g. \
             artifacts/mlp/run-1",
            dir.display()
        )));
    }
    let mut config = Config::load(&dir.join(run::CONFIG_FILE), &[])?;
    config.data = config.data.pinned();
    let path = dir.join(run::MODEL_FILE);
    if !path.is_file() {
        return Err(Error::Model {
            path,
            message: "is missing: the run did not finish training (train it again)".into(),
        });
    }
    let record = ModuleRecord::load(&path).map_err(|e| Error::Model {
        path: path.clone(),
        message: format!("is not a readable Burn model file (truncated or corrupt?): {e}"),
    })?;
    let model = Mlp::new(&config.model, config.training.loss, device)
        .try_load_record(record)
        .map_err(|e| Error::Model {
            path: path.clone(),
            message: format!(
                "does not fit the network described by {} (was it trained with another \
                 config?): {e}",
                dir.join(run::CONFIG_FILE).display()
            ),
        })?;
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        config,
        model: model.valid(),
    })
}
