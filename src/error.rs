//! One error type for the whole program, and the exit code each kind maps to.
//!
//! Exit codes, named once in [`exit`]: 0 ok · 1 internal bug (any panic too) · 2 the user
//! must fix something (input or environment) · 3 training diverged · 4 a gradient check failed
//! · 130 interrupted · 141 the output pipe was closed.

use std::path::{Path, PathBuf};

/// Everything that can stop a command. Messages are written for the user: they name the file
/// or key at fault and say how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file that cannot be read, parsed or validated, or a bad `--set`.
    #[error("config {file}: {message}")]
    Config { file: PathBuf, message: String },

    /// A data file that is missing or malformed, or data that cannot be obtained.
    #[error("data {path}: {message}")]
    Data { path: PathBuf, message: String },

    /// A file or folder the program could not read or write. A long path is quoted by its
    /// start and end, so the system's reason stays in the message.
    #[error("{action} {}: {source}", shorten(&path.display().to_string(), QUOTE_CHARS))]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// A model file that cannot be loaded into the configured network.
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },

    /// A command-line argument that makes no sense here (e.g. a backend not compiled in).
    #[error("{0}")]
    Usage(String),

    /// Something missing from the machine (a GPU driver, a cache folder).
    #[error("{0}")]
    Environment(String),

    /// The training loss became NaN or infinite (the message says why and what to change).
    #[error("{0}")]
    Diverged(String),

    /// Something that should not happen whatever the user does: a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn config(file: &Path, message: impl Into<String>) -> Self {
        Error::Config {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }

    pub fn data(path: &Path, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Internal(_) => exit::INTERNAL,
            Error::Diverged(_) => exit::DIVERGED,
            _ => exit::USER,
        }
    }
}

/// The process's exit codes (documented in the guide's "Exit codes").
pub mod exit {
    /// A bug: an internal error or any panic.
    pub const INTERNAL: u8 = 1;
    /// Something for the user to fix: input (arguments, config, data, model files, pictures)
    /// or environment (folders, GPU drivers, remote peers).
    pub const USER: u8 = 2;
    /// The training loss became NaN or infinite.
    pub const DIVERGED: u8 = 3;
    /// `gradcheck`: two ways of computing a gradient disagreed beyond the tolerance.
    pub const GRADCHECK_FAILED: u8 = 4;
    /// Stopped by the user (Ctrl-C, SIGTERM, the dashboard's stop).
    pub const INTERRUPTED: u8 = 130;
    /// The reader of our output went away (SIGPIPE's code in a shell).
    pub const PIPE_CLOSED: u8 = 141;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How much of a value from the user's input a message quotes (a 10 MB config value is
/// quoted by its start).
pub const QUOTE_CHARS: usize = 120;
/// Longest line a printed message may have, whatever it quotes.
pub const MESSAGE_LINE_CHARS: usize = 2000;

/// `message` with every line longer than `max_chars` cut to its start and its end (where a
/// message says why), with a note of its length between.
pub fn shorten(message: &str, max_chars: usize) -> String {
    message
        .lines()
        .map(|line| {
            let count = line.chars().count();
            if count <= max_chars {
                return line.to_string();
            }
            let (head, tail) = (max_chars * 2 / 3, max_chars / 3);
            let start: String = line.chars().take(head).collect();
            let end: String = line.chars().skip(count - tail).collect();
            format!("{start}… (cut: {count} characters in all) …{end}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A panic's text (panics carry a `String` or a `&str`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

/// Runs `f`, turning a panic into its message without printing it. For the few Burn calls that
/// panic on conditions a user can cause (no network for a download, no GPU adapter). A panic
/// on another thread meanwhile (cubecl opens devices on its own threads) is the more telling
/// message, so the first one seen on any thread is returned.
pub fn catch_quietly<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    use std::sync::{Arc, Mutex};
    let first: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = first.clone();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = panic_message(info.payload()).to_string();
        if let Ok(mut slot) = seen.lock() {
            slot.get_or_insert(message);
        }
    }));
    let outcome = std::panic::catch_unwind(f);
    std::panic::set_hook(hook);
    outcome.map_err(|_| {
        first
            .lock()
            .ok()
            .and_then(|m| m.clone())
            .unwrap_or_else(|| "unknown failure".into())
    })
}

/// How the user started digits, for the commands we tell them to run next: `cargo run
/// --release --` under cargo (as the README teaches; `cargo run` gives the program its
/// package's name in `CARGO_PKG_NAME`), `digits` when installed.
pub fn digits_command() -> String {
    match std::env::var("CARGO_PKG_NAME").as_deref() {
        Ok("digits") => "cargo run --release --".into(),
        _ => "digits".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_short_lines_kept() {
        let long = "x".repeat(10_000_000);
        let short = shorten(&format!("key `a`: {long}\nsecond line"), QUOTE_CHARS);
        assert!(short.len() < 200, "{}", short.len());
        assert!(short.starts_with("key `a`: xxx") && short.ends_with("second line"));
        assert!(short.contains("10000009 characters in all"), "{short}");
        let reason = shorten(&format!("cannot create /{long}: File name too long"), 200);
        assert!(reason.ends_with("File name too long"), "{reason}");
        let accents = "é".repeat(QUOTE_CHARS);
        assert_eq!(shorten(&accents, QUOTE_CHARS), accents);
    }
}
