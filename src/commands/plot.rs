//! `digits plot RUN_DIR`: (re)draws `weights.png` and `curves.png` from a run folder (an
//! imported run, with no training history, gets `weights.png` alone); with `--augmented`,
//! also `augmented.png`, training images as `data.augment` moves them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, note_unfinished};
use crate::data::source as data;
use crate::error::{Error, Result};
use crate::inspect::augmented_plot::augmented_png;
use crate::inspect::plots;
use crate::inspect::trained_run::load_run;
use crate::run::folder::{self as run, RunFolder};
use crate::run::metrics_csv::read_metrics_csv;

#[derive(Args)]
pub struct PlotArgs {
    /// A run folder written by `digits train`.
    run_dir: PathBuf,
    /// Also draw augmented.png: training images as stored and as data.augment moves them in
    /// the first epochs.
    #[arg(long)]
    augmented: bool,
    #[command(flatten)]
    backend: BackendArg,
}

pub fn run(args: PlotArgs) -> Result<ExitCode> {
    note_unfinished(&args.run_dir);
    let loaded = load_run(&args.run_dir, &args.backend.select()?.device()?)?;
    let folder = RunFolder {
        dir: args.run_dir.clone(),
        lock: None,
    };
    if args.augmented {
        let config = &loaded.config;
        if config.data.augment.is_off() {
            return Err(Error::Usage(format!(
                "{} was trained without data.augment: its images were not moved. Train with \
                 e.g. --set data.augment.shift=2 --set data.augment.rotate=10 to see them moved",
                args.run_dir.display()
            )));
        }
        let splits = data::load(&config.data, config.training.seed)?;
        let path = folder.path(run::AUGMENTED_FILE);
        augmented_png(
            &splits.train,
            &config.data.augment,
            config.training.seed,
            &path,
        )?;
        println!("wrote {}", path.display());
    }
    let metrics = folder.path(run::METRICS_FILE);
    if !metrics.exists() && folder.path(run::MODEL_FILE).exists() {
        // An imported run (`digits import`) has weights but no training history.
        let weights = folder.path(run::WEIGHTS_FILE);
        plots::weights_png(&loaded.model, &weights)?;
        println!("wrote {}", weights.display());
        println!(
            "no {} (the run was not trained by digits): no curves",
            run::METRICS_FILE
        );
        return Ok(ExitCode::SUCCESS);
    }
    let records = read_metrics_csv(&metrics)?;
    for path in plots::draw(&folder, &loaded.model, &records)? {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
