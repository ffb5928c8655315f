//! Burn's dashboard in a real (pseudo-)terminal: kept until the user closes it, then the last
//! epoch's lines and the test line are left on screen. `script` (util-linux) provides the
//! terminal, as a user's would.
#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{PseudoTerminal, root, sample_dir};

/// `digits train config/mlp.toml` on a slice of the sample, in a 120×40 pseudo-terminal;
/// stdout and stderr both end up on its screen.
fn train_in_a_terminal(out: &Path, extra: &str) -> PseudoTerminal {
    PseudoTerminal::start(&format!(
        "stty cols 120 rows 40; exec '{}' train '{}' --data-dir '{}' --out '{}' \
         --set training.epochs=2 --set data.train_limit=2000 --set data.test_limit=500 {extra}",
        env!("CARGO_BIN_EXE_digits"),
        root().join("config/mlp.toml").display(),
        sample_dir().display(),
        out.display()
    ))
}

/// What is left on screen once the dashboard has gone: the last epoch's lines, the test line
/// and the run folder, after the dashboard's last frame.
fn assert_left_on_screen(screen: &str) {
    let after_dashboard = &screen[screen.rfind("\x1b[?1049l").expect("left the dashboard")..];
    for line in [
        "epoch 2/2  train",
        "epoch 2/2  valid",
        "test  ",
        "run folder: ",
    ] {
        assert!(
            after_dashboard.contains(line),
            "`{line}` missing: {after_dashboard}"
        );
    }
    assert!(!after_dashboard.contains("epoch 1/2"), "{after_dashboard}");
}

#[test]
fn the_dashboard_stays_until_closed_then_the_last_epoch_stays_on_screen() {
    let work = tempfile::tempdir().unwrap();
    let mut terminal = train_in_a_terminal(&work.path().join("run"), "");
    terminal.wait_for("Training is done");
    // Training is over, yet the dashboard waits for the user.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        terminal.child.try_wait().unwrap().is_none(),
        "{}",
        terminal.text()
    );
    assert!(!terminal.text().contains("run folder: "));

    let mut keys = terminal.child.stdin.take().unwrap();
    keys.write_all(b"x").unwrap(); // close the popup
    keys.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    keys.write_all(b"q").unwrap(); // close the dashboard
    keys.flush().unwrap();
    assert_eq!(terminal.exit_code(), Some(0), "{}", terminal.text());
    assert_left_on_screen(&terminal.text());
}

#[test]
fn dashboard_close_ends_without_a_key() {
    let work = tempfile::tempdir().unwrap();
    let mut terminal = train_in_a_terminal(&work.path().join("run"), "--dashboard close");
    assert_eq!(terminal.exit_code(), Some(0), "{}", terminal.text());
    let screen = terminal.text();
    assert!(!screen.contains("Training is done"), "{screen}");
    assert_left_on_screen(&screen);
}
