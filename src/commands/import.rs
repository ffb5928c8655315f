//! `digits import FILE --config CONFIG`: a PyTorch `state_dict` (`.pt`) or a safetensors file
//! in PyTorch's layout, as a run folder the other commands read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, load_config};
use crate::error::Result;
use crate::interop::imported_run::import_run;

#[derive(Args)]
pub struct ImportArgs {
    /// The weights: `torch.save(model.state_dict(), FILE)` or a safetensors file, keyed as
    /// interop/torch_model.py's module (hidden.0.linear.weight, ..., output.bias).
    file: PathBuf,
    /// The config that describes the network (model.hidden, activation, norm, ...).
    #[arg(long, value_name = "CONFIG")]
    config: PathBuf,
    /// Override any config key, e.g. --set model.activation=relu (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The run folder to create; default: artifacts/<config name>-imported/run-N.
    #[arg(long, value_name = "RUN_DIR")]
    out: Option<PathBuf>,
    /// The entry of a `.pt` checkpoint dictionary that holds the state_dict, e.g. state_dict.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    #[command(flatten)]
    backend: BackendArg,
}

pub fn run(args: ImportArgs) -> Result<ExitCode> {
    let config = load_config(&args.config, &args.set, None, args.out)?;
    let imported = import_run(
        &args.file,
        args.key.as_deref(),
        &config,
        &args.config,
        args.backend.select()?,
    )?;
    let summary = &imported.summary;
    let test = summary.test.expect("an imported run is tested");
    println!(
        "imported {} ({}, {} parameters) into {}\ntest accuracy {:.2} %   loss {:.4}   ({} test \
         images from {})",
        args.file.display(),
        imported.format,
        summary.parameters,
        imported.run.dir.display(),
        test.accuracy * 100.0,
        test.loss,
        summary.dataset.test,
        summary.dataset.origin.describe()
    );
    Ok(ExitCode::SUCCESS)
}
