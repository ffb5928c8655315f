//! Where the words of the layers below the command line go, the way cargo's `Shell` works:
//! those layers say [`line`] (a result, on stdout) or [`note`] (what the user should know
//! meanwhile, on stderr) and never print themselves; the command line decides where that
//! goes ([`set`]): the console by default, nowhere ([`Quiet`]), or a test's own reporter.

use std::sync::RwLock;

/// Takes the lines and notes of a run.
pub trait Reporter: Send + Sync {
    /// A result: an epoch's line, the test line, a run's header.
    fn line(&self, text: &str);
    /// A note, warning or progress word beside the results.
    fn note(&self, text: &str);
}

/// stdout for lines, stderr for notes (a closed stdout ends the program as `main` says).
pub struct Console;

impl Reporter for Console {
    fn line(&self, text: &str) {
        println!("{text}");
    }

    fn note(&self, text: &str) {
        eprintln!("{text}");
    }
}

/// Says nothing.
pub struct Quiet;

impl Reporter for Quiet {
    fn line(&self, _: &str) {}
    fn note(&self, _: &str) {}
}

static REPORTER: RwLock<Option<Box<dyn Reporter>>> = RwLock::new(None);

/// Where lines and notes go from now on.
pub fn set(reporter: Box<dyn Reporter>) {
    if let Ok(mut slot) = REPORTER.write() {
        *slot = Some(reporter);
    }
}

fn with(say: impl FnOnce(&dyn Reporter)) {
    match REPORTER.read() {
        Ok(slot) => say(slot.as_deref().unwrap_or(&Console)),
        Err(_) => say(&Console),
    }
}

/// Reports a result line.
pub fn line(text: &str) {
    with(|r| r.line(text));
}

/// Reports a note.
pub fn note(text: &str) {
    with(|r| r.note(text));
}
