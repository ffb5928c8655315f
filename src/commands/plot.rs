//! `digits plot RUN_DIR`: (re)draws `weights.png` and `curves.png` from a run folder.

use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::error::Result;
use crate::inspect::inference;
use crate::inspect::plots;
use crate::run::{self, RunFolder};

pub const WEIGHTS_FILE: &str = "weights.png";
pub const CURVES_FILE: &str = "curves.png";

/// Draws both pictures of a finished run; returns their paths.
pub fn plot(run_dir: &Path, backend: Backend) -> Result<Vec<PathBuf>> {
    let loaded = inference::load_run(run_dir, &backend.device()?)?;
    let folder = RunFolder {
        dir: run_dir.to_path_buf(),
    };
    let records = run::read_metrics_csv(&folder.path(run::METRICS_FILE))?;
    draw(&folder, &loaded.model, &records)
}

/// Draws the pictures of a run from its model and per-epoch records.
pub fn draw(
    folder: &RunFolder,
    model: &crate::model::Mlp,
    records: &[crate::train::renderer::SplitRecord],
) -> Result<Vec<PathBuf>> {
    let (weights, curves) = (folder.path(WEIGHTS_FILE), folder.path(CURVES_FILE));
    plots::weights_png(model, &weights)?;
    plots::curves_png(records, &curves)?;
    Ok(vec![weights, curves])
}
