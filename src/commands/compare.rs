//! `digits compare CONFIG...`: several configs trained on the same data and seed, their
//! results and gradient profiles side by side.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, load_config};
use crate::error::Result;
use crate::run::folder::RunFolder;
use crate::train::compare::{self, Candidate};

#[derive(Args)]
pub struct CompareArgs {
    /// The configs, e.g. config/deep-sigmoid.toml config/deep-sigmoid-batchnorm.toml.
    #[arg(required = true)]
    configs: Vec<PathBuf>,
    #[command(flatten)]
    series: SeriesArgs,
}

/// Options shared by `compare` and `sweep`.
#[derive(Args)]
pub struct SeriesArgs {
    /// Train each network for N epochs (= --set training.epochs=N).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Override any config key in every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Read the four MNIST-format IDX files from this folder (= data.dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output folder; default artifacts/compare/run-N or artifacts/sweep-<config>/run-N.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into --out even if it already holds files.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub backend: BackendArg,
}

impl SeriesArgs {
    /// `--set` values plus `--epochs`, then `extra`.
    pub fn overrides(&self, extra: &[String]) -> Vec<String> {
        let mut all = self.set.clone();
        all.extend(self.epochs.map(|n| format!("training.epochs={n}")));
        all.extend_from_slice(extra);
        all
    }
}

pub fn run(args: CompareArgs) -> Result<ExitCode> {
    let (configs, series) = (&args.configs, &args.series);
    let mut candidates: Vec<Candidate> = Vec::new();
    for path in configs {
        let mut name = RunFolder::name_of(path);
        // The same config twice (e.g. with different --set in a script) gets -2, -3, ...
        let same = candidates
            .iter()
            .filter(|c| c.name.starts_with(&name))
            .count();
        if same > 0 {
            name = format!("{name}-{}", same + 1);
        }
        let config = load_config(path, &series.overrides(&[]), series.data_dir.clone(), None)?;
        candidates.push(Candidate {
            name,
            config,
            config_path: path.clone(),
        });
    }
    run_series(candidates, "compare", series)
}

pub fn run_series(
    candidates: Vec<Candidate>,
    folder_name: &str,
    series: &SeriesArgs,
) -> Result<ExitCode> {
    let backend = series.backend.select()?;
    let out = RunFolder::create(folder_name, series.out.as_deref(), series.force)?;
    let outcomes = compare::compare(candidates, &out, backend)?;
    println!("\n{}", compare::table(&outcomes));
    println!(
        "wrote {} and {}",
        out.path(compare::TABLE_FILE).display(),
        out.path(compare::PLOT_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}
