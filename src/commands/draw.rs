//! `digits draw RUN_DIR`: the drawing pad in the terminal. The pad, its screen and its
//! terminal loop live in `inspect::draw`; this file reads the run and checks for a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, note_unfinished};
use crate::error::{Error, Result};
use crate::inspect::draw::app;
use crate::inspect::draw::pad::Pad;
use crate::inspect::trained_run::load_run;

#[derive(Args)]
pub struct DrawArgs {
    /// A run folder written by `digits train`, e.g. artifacts/mlp/run-1.
    run_dir: PathBuf,
    #[command(flatten)]
    backend: BackendArg,
}

pub fn run(args: DrawArgs) -> Result<ExitCode> {
    let backend = args.backend.select()?;
    let device = backend.device()?;
    let loaded = load_run(&args.run_dir, &device)?;
    note_unfinished(&args.run_dir);
    if !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal()) {
        return Err(Error::Usage(
            "digits draw is a full-screen terminal app: run it in a terminal (its standard \
             input and output must both be one), not through a pipe or a file"
                .into(),
        ));
    }
    let data = loaded.config.data.clone();
    let drawings = args.run_dir.join(app::DRAWINGS_FOLDER);
    app::run(Pad::new(loaded.model, device), &data, &drawings)?;
    Ok(ExitCode::SUCCESS)
}
