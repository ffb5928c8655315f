//! `digits import FILE [--config CONFIG]`: a PyTorch `state_dict` (`.pt`) or a safetensors file
//! in PyTorch's layout, as a run folder the other commands read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, load_config};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::interop::import::{Reading, embedded_config};
use crate::interop::imported_run::{
    ConfigSource, ImportRequest, check_same_network, file_config, import_run,
};
use crate::interop::rename::Rename;

#[derive(Args)]
pub struct ImportArgs {
    /// The weights: `torch.save(model.state_dict(), FILE)` or a safetensors file, keyed as
    /// interop/torch_model.py's module (hidden.0.linear.weight, ..., output.bias).
    file: PathBuf,
    /// The config that describes the network (model.hidden, activation, norm, ...); not
    /// needed for a file `digits export` wrote, which carries its own.
    #[arg(long, value_name = "CONFIG")]
    config: Option<PathBuf>,
    /// Override any config key, e.g. --set model.activation=relu (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The run folder to create; default: artifacts/<config name>-imported/run-N.
    #[arg(long, value_name = "RUN_DIR")]
    out: Option<PathBuf>,
    /// The entry of a `.pt` checkpoint dictionary that holds the state_dict, e.g. state_dict.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// Rename the file's tensors before matching them to the network's: a regular expression
    /// and its replacement, e.g. '^0\.=hidden.0.linear.' (repeatable, applied in order).
    #[arg(long = "rename", value_name = "PATTERN=REPLACEMENT")]
    renames: Vec<Rename>,
    #[command(flatten)]
    backend: BackendArg,
}

pub fn run(args: ImportArgs) -> Result<ExitCode> {
    let embedded = embedded_config(&args.file)?;
    let (config, source) = match (&args.config, embedded) {
        (Some(path), embedded) => {
            let config = load_config(path, &args.set, None, args.out.clone())?;
            // A file's own config that this digits cannot read is no reason to refuse
            // the one given: the tensors are still checked against it.
            let theirs = embedded.and_then(|text| Config::parse(&args.file, &text, &[]).ok());
            if let Some(theirs) = theirs {
                check_same_network(&args.file, &theirs, &config, path)?;
            }
            (config, ConfigSource::Given(path.clone()))
        }
        (None, Some(text)) => {
            let (mut config, source) = file_config(&args.file, &text, &args.set)?;
            config.output.dir = args.out.clone();
            config
                .validate()
                .map_err(|m| Error::config(&args.file, m))?;
            (config, source)
        }
        (None, None) => {
            return Err(Error::Usage(format!(
                "{} carries no digits config (only files `digits export` wrote do): give \
                 --config CONFIG, the config that describes its network, e.g. --config \
                 config/mlp.toml for the 784-16-16-10 sigmoid network",
                args.file.display()
            )));
        }
    };
    let request = ImportRequest {
        file: &args.file,
        reading: Reading {
            key: args.key.as_deref(),
            renames: &args.renames,
        },
        config: &config,
        source,
    };
    let imported = import_run(&request, args.backend.select()?)?;
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
