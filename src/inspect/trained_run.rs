//! A finished run folder read back: its resolved config and its trained network.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::ModuleRecord;

use crate::config::Config;
use crate::error::{Error, Result, digits_command};
use crate::model::Network;
use crate::run::folder as run;
use crate::train::checkpoint;

/// A finished run, read back: its resolved config and its trained network (inference mode).
pub struct LoadedRun {
    pub dir: PathBuf,
    pub config: Config,
    pub model: Network,
}

/// Reads `dir/config.toml` and `dir/model.bpk`. Every failure is a message naming the file:
/// Burn's plain loaders panic on a missing, corrupt or mismatched file, so the fallible
/// variants are used.
pub fn load_run(dir: &Path, device: &Device) -> Result<LoadedRun> {
    let mut loaded = load_trainable(dir, device)?;
    loaded.model = loaded.model.valid();
    Ok(loaded)
}

/// As [`load_run`], the network left on `device` as it is (an autodiff device keeps it
/// trainable, for `gradcheck`).
pub fn load_trainable(dir: &Path, device: &Device) -> Result<LoadedRun> {
    run::RunFolder::existing(dir, "this command")?;
    let mut config = Config::load(&dir.join(run::CONFIG_FILE), &[])?;
    config.data = config.data.pinned();
    let path = Weights::of(dir)?.path().to_path_buf();
    let record = ModuleRecord::load(&path).map_err(|e| Error::Model {
        path: path.clone(),
        message: format!("is not a readable Burn model file (truncated or corrupt?): {e}"),
    })?;
    let model = Network::new(&config.model, config.training.loss, device)
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
        model,
    })
}

/// Where a run's weights are read from: its trained model, or — for a run stopped before the
/// end — the last complete epoch's checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    Trained(PathBuf),
    Checkpoint { epoch: usize, path: PathBuf },
}

impl Weights {
    /// `dir/model.bpk`, else the newest complete checkpoint, else an error saying why there
    /// are no weights yet.
    pub fn of(dir: &Path) -> Result<Weights> {
        let trained = dir.join(run::MODEL_FILE);
        if trained.is_file() {
            return Ok(Weights::Trained(trained));
        }
        let checkpoints = dir.join(run::CHECKPOINT_FOLDER);
        match checkpoint::complete_epochs(&checkpoints).first() {
            Some(&epoch) => Ok(Weights::Checkpoint {
                epoch,
                path: checkpoint::path(&checkpoints, "model", epoch),
            }),
            None => Err(Error::Model {
                path: trained,
                message: format!(
                    "is missing, and so is any checkpoint: the run was stopped before its \
                     first epoch ended. Train it again (`{} train CONFIG`)",
                    digits_command()
                ),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Weights::Trained(path) | Weights::Checkpoint { path, .. } => path,
        }
    }

    /// What to tell the user when these are not the trained weights.
    pub fn note(&self, dir: &Path) -> Option<String> {
        match self {
            Weights::Trained(_) => None,
            Weights::Checkpoint { epoch, .. } => Some(format!(
                "note: {} did not finish training (no {}): using the checkpoint of epoch \
                 {epoch}, its last complete one. To finish it: {} train --resume {}",
                dir.display(),
                run::MODEL_FILE,
                digits_command(),
                dir.display()
            )),
        }
    }
}
