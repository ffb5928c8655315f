//! Ctrl-C and SIGTERM: the first stops training cleanly (through Burn's `Interrupter`, at the
//! end of the current step); a second one while stopping exits at once, as the user asked.
//!
//! Burn's dashboard puts the terminal in raw mode, where Ctrl-C is a key press it ignores:
//! [`ctrl_c_as_signal`] turns the terminal's signal keys back on under it, so Ctrl-C means
//! the same with and without a dashboard.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::train::Interrupter;

/// The interrupter of the training in progress, if any, and whether to say so on a stop.
static CURRENT: Mutex<Option<(Interrupter, bool)>> = Mutex::new(None);

/// Whether Burn's dashboard holds the terminal (raw mode, alternate screen): the first stop
/// then says nothing over it, and a hard exit gives the terminal back first.
static DASHBOARD_ON_SCREEN: AtomicBool = AtomicBool::new(false);

/// Whether a Ctrl-C or SIGTERM has stopped a training (as opposed to the dashboard's stop).
static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// Whether a Ctrl-C or SIGTERM stopped the training: the user wants out, not more screens.
pub fn stopped_by_signal() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// Tells the handler whether a dashboard holds the terminal.
pub fn dashboard_on_screen(on: bool) {
    DASHBOARD_ON_SCREEN.store(on, Ordering::SeqCst);
}

/// Under a raw-mode dashboard, makes Ctrl-C send SIGINT again (the terminal's ISIG flag;
/// everything else raw mode set is kept). False until the terminal is in raw mode (the
/// dashboard's thread sets it a moment after it starts), so callers repeat it until true.
#[cfg(unix)]
pub fn ctrl_c_as_signal() -> bool {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdout = std::io::stdout();
    let Ok(mut modes) = tcgetattr(&stdout) else {
        return true; // not a terminal: nothing to do
    };
    if modes.local_modes.contains(LocalModes::ICANON) {
        return false; // not in raw mode yet
    }
    if !modes.local_modes.contains(LocalModes::ISIG) {
        modes.local_modes.insert(LocalModes::ISIG);
        let _ = tcsetattr(&stdout, OptionalActions::Now, &modes);
    }
    true
}

/// Elsewhere Ctrl-C under the dashboard stays a key press (Burn's `q` still stops).
#[cfg(not(unix))]
pub fn ctrl_c_as_signal() -> bool {
    true
}

/// Routes Ctrl-C/SIGTERM to `interrupter` until the returned guard is dropped.
pub fn watch(interrupter: &Interrupter) -> WatchGuard {
    watch_saying(interrupter, true)
}

/// Like [`watch`], without a word on the first stop: for a process whose child trains (and
/// says it) in the same terminal.
pub fn watch_quietly(interrupter: &Interrupter) -> WatchGuard {
    watch_saying(interrupter, false)
}

fn watch_saying(interrupter: &Interrupter, say: bool) -> WatchGuard {
    install_handler();
    *CURRENT.lock().expect("interrupt lock") = Some((interrupter.clone(), say));
    WatchGuard
}

pub struct WatchGuard;

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Ok(mut current) = CURRENT.lock() {
            *current = None;
        }
    }
}

fn install_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Fails only if another handler is installed (an embedding program's): keep theirs.
        let _ = ctrlc::set_handler(|| {
            let current = CURRENT.lock().ok().and_then(|c| c.clone());
            match current {
                Some((interrupter, say)) if !interrupter.should_stop() => {
                    SIGNALLED.store(true, Ordering::SeqCst);
                    if say && !DASHBOARD_ON_SCREEN.load(Ordering::SeqCst) {
                        crate::report::note(
                            "\nstopping after this step (press Ctrl-C again to quit at once)...",
                        );
                    }
                    interrupter.stop(Some("interrupted by the user (Ctrl-C or SIGTERM)"));
                }
                _ => {
                    if DASHBOARD_ON_SCREEN.load(Ordering::SeqCst) {
                        crate::terminal::restore();
                        crate::report::note(
                            "\nstopped at once; checkpoints written before are intact",
                        );
                    }
                    std::process::exit(crate::error::exit::INTERRUPTED.into())
                }
            }
        });
    });
}
