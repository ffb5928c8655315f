//! The `digits` command line: parse the arguments, run one command, map errors to exit codes
//! (0 ok · 1 internal bug, panics included · 2 something for the user to fix · 3 diverged ·
//! 130 interrupted · 141 the output pipe was closed).

use std::process::ExitCode;

use clap::Parser;
use digits::commands::Command;
use digits::error::{MESSAGE_LINE_CHARS, exit, panic_message, shorten};

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
    exit_on_panic();
    // What the layers below the commands say goes to the console (see `report`).
    digits::report::set(Box::new(digits::report::Console));
    let cli = Cli::try_parse().unwrap_or_else(|error| {
        // Clap refuses an argument that is not UTF-8 (paths may be any bytes): say which.
        if let Some(message) = not_utf8() {
            eprintln!("error: {message}");
            std::process::exit(exit::USER.into());
        }
        // `--set key value` reads to clap as a stray argument `value`: say how to write it.
        if let Some(message) = set_without_equals(std::env::args().skip(1)) {
            eprintln!("error: {message}");
            std::process::exit(exit::USER.into());
        }
        error.exit()
    });
    // Checked before any work: the kernels read it where no error can be returned.
    let kernels = digits::model::kernels::burns_operations_asked();
    if let Err(message) = kernels.and(digits::model::kernels::library_product_asked()) {
        eprintln!("error: {message}");
        std::process::exit(exit::USER.into());
    }
    if !cli.command.serves() {
        stop_on_closed_pipe();
    }
    match cli.command.run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", shorten(&error.to_string(), MESSAGE_LINE_CHARS));
            ExitCode::from(error.exit_code())
        }
    }
}

/// The first argument that is not UTF-8, as a message naming the option it belongs to.
fn not_utf8() -> Option<String> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let at = args.iter().position(|a| a.to_str().is_none())?;
    let shown = args[at].to_string_lossy();
    let option = at
        .checked_sub(1)
        .and_then(|before| args[before].to_str())
        .filter(|before| before.starts_with('-'));
    Some(match option {
        Some(option) => format!(
            "the value of `{option}` is not UTF-8 text (`{shown}`, � where its bytes are not): \
             write it in UTF-8 (config keys and values, names and numbers are text)"
        ),
        None => format!(
            "argument {} is not UTF-8 text (`{shown}`, � where its bytes are not): write it in \
             UTF-8 (config keys and values, names and numbers are text)",
            at + 1
        ),
    })
}

/// The first `--set KEY` whose value has no `=`, as a message saying how to write it (with
/// the word after it as the value, as the user likely meant).
fn set_without_equals(args: impl Iterator<Item = String>) -> Option<String> {
    let args: Vec<String> = args.collect();
    let at = args
        .windows(2)
        .position(|pair| pair[0] == "--set" && !pair[1].contains('='))?;
    let key = &args[at + 1];
    let value = args.get(at + 2).map_or("VALUE", String::as_str);
    Some(format!(
        "`--set {key}` has no `=`: write --set {key}={value}, with `=` and no spaces around \
         it (each --set takes one KEY=VALUE)"
    ))
}

/// When the reader of our output goes away (`digits train … | head`), stop there, quietly, as
/// Unix tools do: the default action of SIGPIPE, which Rust's runtime sets to "ignore" so that
/// writes fail instead, and a failed `println!` panics (burn-train's logger then prints a
/// panic banner before our hook can say anything). The shell reports 141 (128 + SIGPIPE); the
/// run stays resumable, as after any kill. Not for the servers (`Command::serves`), which
/// keep serving. Sockets are not concerned: Rust's and tokio's writes to them never raise
/// SIGPIPE.
fn stop_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread exists (clap parses on this one); SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A panic, on any thread, is a bug: one line saying so, with the panic's text, and exit 1
/// (not Rust's 101). Burn's dashboard kills the program with a panic when the user asks (`k`
/// in its quit menu): that one is exit 130, as any stop by the user. Burn's dashboard chains
/// its own hook in front of this one, so the terminal is restored first.
fn exit_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info.payload());
        if message.starts_with("Killing training from user input") {
            eprintln!("\nkilled from the dashboard; checkpoints written before are intact");
            std::process::exit(exit::INTERRUPTED.into());
        }
        // The reader of our output went away where SIGPIPE does not stop us (not Unix): stop
        // quietly, with the code a Unix shell gives. The run stays resumable.
        if message.starts_with("failed printing to std") && message.contains("os error 32") {
            std::process::exit(exit::PIPE_CLOSED.into());
        }
        // Burn's remote client panics when its server goes away: the environment, not a bug.
        if let Some(explanation) = digits::remote::lost_server(message) {
            eprintln!("error: {}", shorten(&explanation, MESSAGE_LINE_CHARS));
            std::process::exit(exit::USER.into());
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error, please report it (with the command that caused it): {}{place}",
            shorten(message, MESSAGE_LINE_CHARS)
        );
        std::process::exit(exit::INTERNAL.into());
    }));
}
