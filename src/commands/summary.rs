//! `digits summary CONFIG|RUN_DIR`: the network a config (or a run's) describes, layer by
//! layer; for a run, also how it was made and how it tested.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::backend::Backend;
use crate::config::Config;
use crate::error::Result;
use crate::inspect::model_summary::ModelSummary;
use crate::model::Network;
use crate::run::folder::{self as run, RunFolder};
use crate::run::summary::Summary;

#[derive(Args)]
pub struct SummaryArgs {
    /// The TOML config, e.g. config/mlp.toml, or a run folder (its config.toml).
    config: PathBuf,
    /// Override any config key, e.g. --set model.hidden=[64,64] (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

pub fn run(args: SummaryArgs) -> Result<ExitCode> {
    let run_dir = args.config.is_dir().then(|| args.config.clone());
    let path = match &run_dir {
        Some(dir) => RunFolder::existing(dir, "summary")?.path(run::CONFIG_FILE),
        None => args.config.clone(),
    };
    let config = Config::load(&path, &args.set)?;
    let device = Backend::select(None)?.device()?;
    let model = Network::new(&config.model, config.training.loss, &device);
    println!("{}\n", path.display());
    print!("{}", ModelSummary::of(&model, &config).render());
    if let Some(dir) = run_dir.filter(|dir| dir.join(run::SUMMARY_FILE).exists()) {
        println!(
            "\n{}",
            origin(&Summary::read(&dir.join(run::SUMMARY_FILE))?)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How a run was made, and its test scores.
fn origin(summary: &Summary) -> String {
    let made = match &summary.imported_from {
        Some(from) => format!("imported from {} ({})", from.file, from.format),
        None => format!(
            "trained by digits {} for {} of {} epochs on {}",
            summary.digits_version, summary.epochs_completed, summary.epochs, summary.device
        ),
    };
    match summary.test {
        Some(test) => format!(
            "{made}; test accuracy {:.2} %, loss {:.4}",
            test.accuracy * 100.0,
            test.loss
        ),
        None => format!("{made}; not tested"),
    }
}
