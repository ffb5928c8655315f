//! `digits collect DIR`: the table and picture of a series from whichever of its runs have
//! finished (runs trained by a scheduler from `sweep --plan`, or a series that was stopped).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::error::Result;
use crate::run::folder::RunFolder;
use crate::train::compare::{self, write_comparison};
use crate::train::series_plan::Series;

#[derive(Args)]
pub struct CollectArgs {
    /// The series folder (made by compare, sweep or sweep --plan).
    dir: PathBuf,
}

pub fn run(args: CollectArgs) -> Result<ExitCode> {
    let series = Series::read(&args.dir)?;
    let out = RunFolder {
        dir: args.dir.clone(),
        lock: None,
    };
    let (ended, open) = series.collect(&out)?;
    write_comparison(&ended, &out)?;
    println!("{}", compare::table(&ended));
    println!(
        "wrote {} and {} ({} of {} runs)",
        out.path(compare::TABLE_FILE).display(),
        out.path(compare::PLOT_FILE).display(),
        ended.len(),
        series.runs.len()
    );
    if !open.is_empty() {
        println!("not finished yet: {}", open.join("; "));
    }
    Ok(ExitCode::SUCCESS)
}
