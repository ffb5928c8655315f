//! `digits summary CONFIG`: the network a config describes, layer by layer.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::backend::Backend;
use crate::config::Config;
use crate::error::Result;
use crate::inspect::model_summary::ModelSummary;
use crate::model::Mlp;

#[derive(Args)]
pub struct SummaryArgs {
    /// The TOML config, e.g. config/mlp.toml.
    config: PathBuf,
    /// Override any config key, e.g. --set model.hidden=[64,64] (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

pub fn run(args: SummaryArgs) -> Result<ExitCode> {
    let config = Config::load(&args.config, &args.set)?;
    let device = Backend::select(None)?.device()?;
    let model = Mlp::new(&config.model, config.training.loss, &device);
    println!("{}\n", args.config.display());
    print!("{}", ModelSummary::of(&model, &config).render());
    Ok(ExitCode::SUCCESS)
}
