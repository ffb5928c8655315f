//! The `digits` command line: parse the arguments, run one command, map errors to exit codes
//! (0 ok · 1 internal bug · 2 something for the user to fix · 3 diverged · 130 interrupted).

use std::process::ExitCode;

use clap::Parser;
use digits::commands::Command;

// Every step allocates and frees tensors of ~100 KB; glibc hands such blocks back to the OS and
// faults them in again. mimalloc keeps them: +9 to +25 % training speed (`digits bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "digits",
    version,
    about = "Train and inspect neural networks that read handwritten digits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    match Cli::parse().command.run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
