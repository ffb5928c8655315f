//! Where the words of the layers below the command line go, the way cargo's `Shell` works:
//! those layers say [`line`] (a result, on stdout) or [`note`] (what the user should know
//! meanwhile, on stderr), and count long work through a [`progress`] handle; they never print
//! themselves. The command line decides where that goes ([`set`]): the console by default,
//! nowhere ([`Quiet`]), or a test's own reporter.

use std::io::IsTerminal;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Takes the lines and notes of a run.
pub trait Reporter: Send + Sync {
    /// A result: an epoch's line, the test line, a run's header.
    fn line(&self, text: &str);
    /// A note, warning or progress word beside the results.
    fn note(&self, text: &str);
    /// Whether long work shows its progress (the console does; tests' reporters do not).
    fn shows_progress(&self) -> bool {
        false
    }
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

    fn shows_progress(&self) -> bool {
        true
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

/// Counts long work of `total` steps: see [`Progress`].
pub fn progress(what: &str, total: u64) -> Progress {
    counted(what, Some(total))
}

/// Long work whose end is not known in advance (a build): steps counted, no estimate.
pub fn activity(what: &str) -> Progress {
    counted(what, None)
}

fn counted(what: &str, total: Option<u64>) -> Progress {
    let mut shown = false;
    with(|r| shown = r.shows_progress());
    match (shown, std::io::stderr().is_terminal()) {
        (false, _) => Progress::Hidden,
        (true, true) => Progress::Bar(bar(what, total)),
        (true, false) => Progress::Lines(Mutex::new(Lines {
            what: what.to_string(),
            total,
            done: 0,
            started: Instant::now(),
            said: Instant::now(),
        })),
    }
}

/// Long work counted as it goes: a bar with an estimate on a terminal (indicatif's, on
/// stderr), a line now and then when stderr is a file or a pipe, nothing for a quiet reporter.
/// Dropped, a bar leaves the screen.
pub enum Progress {
    Hidden,
    Bar(indicatif::ProgressBar),
    Lines(Mutex<Lines>),
}

/// Off a terminal: what is counted, and when it was last said.
pub struct Lines {
    what: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    said: Instant,
}

/// How often a line is said off a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    /// `n` more steps done; `detail` says what is under way now (the bar shows it).
    pub fn add(&self, n: u64, detail: Option<&str>) {
        match self {
            Progress::Hidden => {}
            Progress::Bar(bar) => {
                bar.inc(n);
                if let Some(detail) = detail {
                    bar.set_message(detail.to_string());
                }
            }
            Progress::Lines(lines) => {
                let Ok(mut lines) = lines.lock() else { return };
                lines.done += n;
                let unfinished = lines.total.is_none_or(|total| lines.done < total);
                if lines.said.elapsed() >= LINE_EVERY && unfinished {
                    lines.said = Instant::now();
                    note(&lines.line());
                }
            }
        }
    }

    /// `n` more steps to do than first counted.
    pub fn grow(&self, n: u64) {
        match self {
            Progress::Hidden => {}
            Progress::Bar(bar) => bar.inc_length(n),
            Progress::Lines(lines) => {
                if let Ok(mut lines) = lines.lock() {
                    lines.total = lines.total.map(|total| total + n);
                }
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Lines {
    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        match self.total {
            Some(total) => format!(
                "  {}: {} of {total} ({:.0} %), about {:.0} s left",
                self.what,
                self.done,
                100.0 * self.done as f64 / total.max(1) as f64,
                elapsed * total.saturating_sub(self.done) as f64 / self.done.max(1) as f64
            ),
            None => format!("  {}: {} so far, {elapsed:.0} s", self.what, self.done),
        }
    }
}

fn bar(what: &str, total: Option<u64>) -> indicatif::ProgressBar {
    let (template, bar) = match total {
        Some(total) => (
            "  {prefix} [{bar:30}] {pos}/{len} ({percent} %, {eta} left) {msg}",
            indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr(),
            ),
        ),
        None => (
            "  {spinner} {prefix}: {pos} so far, {elapsed} {msg}",
            indicatif::ProgressBar::new_spinner(),
        ),
    };
    let style = indicatif::ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ");
    let bar = bar.with_style(style).with_prefix(what.to_string());
    if total.is_none() {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_the_count_the_share_and_the_time_left() {
        let lines = Lines {
            what: "the loss landscape".into(),
            total: Some(200),
            done: 50,
            started: Instant::now() - Duration::from_secs(10),
            said: Instant::now(),
        };
        let line = lines.line();
        assert!(
            line.starts_with("  the loss landscape: 50 of 200 (25 %), about 3"),
            "{line}"
        );
        assert!(line.ends_with(" s left"), "{line}");
        let open = Lines {
            total: None,
            ..lines
        };
        assert!(
            open.line()
                .starts_with("  the loss landscape: 50 so far, 1"),
            "{}",
            open.line()
        );
    }
}
