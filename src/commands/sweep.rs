//! `digits sweep CONFIG --vary KEY V1 V2 ...`: one config trained under every combination of
//! the varied keys, compared as `digits compare` does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::compare::{SeriesArgs, run_series};
use crate::error::Result;
use crate::run::folder::RunFolder;
use crate::train::compare::sweep_candidates;

#[derive(Args)]
pub struct SweepArgs {
    /// The base config.
    config: PathBuf,
    #[command(flatten)]
    vary: VaryArgs,
    /// Pair the i-th values of every --vary instead of trying every combination, e.g.
    /// --zip --vary training.batch_size 8 64 --vary training.learning_rate 0.05 0.4
    #[arg(long)]
    zip: bool,
    #[command(flatten)]
    series: SeriesArgs,
}

pub fn run(args: SweepArgs) -> Result<ExitCode> {
    let (config, varied, series) = (&args.config, &args.vary.groups, &args.series);
    let candidates = sweep_candidates(config, varied, args.zip, |assignments| {
        series.load(config, assignments)
    })?;
    run_series(
        candidates,
        &format!("sweep-{}", RunFolder::name_of(config)),
        series,
    )
}

/// `--vary KEY V1 V2 ...`, repeatable. Written by hand because clap's derive cannot keep each
/// occurrence's values apart (`Vec<Vec<String>>` needs an unstable clap feature).
struct VaryArgs {
    /// (key, values) per `--vary`, in order.
    groups: Vec<(String, Vec<String>)>,
}

impl clap::FromArgMatches for VaryArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let groups = matches
            .get_occurrences::<String>("vary")
            .map(|occurrences| {
                occurrences
                    .map(|values| {
                        let values: Vec<String> = values.cloned().collect();
                        (values[0].clone(), values[1..].to_vec())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(VaryArgs { groups })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for VaryArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.arg(
            clap::Arg::new("vary")
                .long("vary")
                .num_args(2..)
                .value_names(["KEY", "VALUE"])
                .action(clap::ArgAction::Append)
                .required(true)
                .help(
                    "A key and the values to try, e.g. --vary training.learning_rate 0.1 1 3 \
                     (repeatable: every combination is trained; values are TOML)",
                ),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}
