//! Ctrl-C and SIGTERM: the first stops training cleanly (through Burn's `Interrupter`, at the
//! end of the current step); a second one while stopping exits at once, as the user asked.

use std::sync::Mutex;

use burn::train::Interrupter;

/// The interrupter of the training in progress, if any, and whether to say so on a stop.
static CURRENT: Mutex<Option<(Interrupter, bool)>> = Mutex::new(None);

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
                    if say {
                        eprintln!(
                            "\nstopping after this step (press Ctrl-C again to quit at once)..."
                        );
                    }
                    interrupter.stop(Some("interrupted by the user (Ctrl-C or SIGTERM)"));
                }
                _ => std::process::exit(130),
            }
        });
    });
}
