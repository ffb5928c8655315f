//! Burn's dashboard in a real (pseudo-)terminal: Ctrl-C stops it as it stops plain training;
//! at the end the results screen stays until the user closes it, then the last epoch's lines
//! and the test line are left on screen. `script` (util-linux) provides the
//! terminal, as a user's would.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{PseudoTerminal, digits, root, sample_dir, stderr, summary_json};
use digits::train::checkpoint::complete_epochs;

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

/// What a terminal shows once the full-screen views have gone: everything written outside the
/// alternate screen (the dashboard's and the results screen's frames are inside it).
fn main_screen(screen: &str) -> String {
    let mut main = String::new();
    let mut rest = screen;
    while let Some(enter) = rest.find("\x1b[?1049h") {
        main.push_str(&rest[..enter]);
        let leave = rest[enter..]
            .find("\x1b[?1049l")
            .expect("left the alternate screen");
        rest = &rest[enter + leave..];
    }
    main.push_str(rest);
    main
}

/// What is left on screen once the dashboard has gone: the last epoch's lines, the test line
/// and the run folder.
fn assert_left_on_screen(screen: &str) {
    let main = main_screen(screen);
    let after_dashboard = &main[main.find("\x1b[?1049l").expect("left the dashboard")..];
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
fn the_results_stay_until_closed_then_the_last_epoch_stays_on_screen() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let started = Instant::now();
    let mut terminal = train_in_a_terminal(&run, "");
    terminal.wait_for("training finished");
    let shown_after = started.elapsed().as_secs_f64();
    // Training is over, yet the results wait for the user.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        terminal.child.try_wait().unwrap().is_none(),
        "{}",
        terminal.text()
    );
    let screen = terminal.text();
    assert!(!screen.contains("run folder: "), "{screen}");
    // Burn's dashboard showed no step counter that disagrees with its item count, and no
    // popup or control that offers to stop a finished training.
    assert!(!screen.contains("Iteration"), "{screen}");
    let results = &screen[screen.rfind("training finished").unwrap()..];
    for stale in ["Training is done", "Training Done", "Stop the training"] {
        assert!(
            !results.contains(stale),
            "`{stale}` on the results: {results}"
        );
    }
    // (Words, not phrases: the terminal's cursor moves sit between them.)
    assert!(
        results.contains("close") && results.contains("Enter"),
        "{results}"
    );

    let mut keys = terminal.child.stdin.take().unwrap();
    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    assert_eq!(terminal.exit_code(), Some(0), "{}", terminal.text());
    assert_left_on_screen(&terminal.text());
    // Training time is training time: not the time the results were looked at.
    let wall = summary_json(&run)["wall_seconds"].as_f64().unwrap();
    assert!(wall < shown_after, "wall_seconds {wall} ≥ {shown_after}");
}

/// A long training in a terminal, once its first epoch's checkpoint is written.
fn training_past_its_first_epoch(run: &Path) -> PseudoTerminal {
    let terminal = train_in_a_terminal(run, "--set training.epochs=400");
    let started = Instant::now();
    while complete_epochs(&run.join("checkpoint")).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{}",
            terminal.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    terminal
}

#[test]
fn ctrl_c_in_the_dashboard_stops_cleanly_and_the_run_resumes() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let mut terminal = training_past_its_first_epoch(&run);
    let mut keys = terminal.child.stdin.take().unwrap();
    keys.write_all(b"\x03").unwrap(); // Ctrl-C, as the terminal sends it
    keys.flush().unwrap();
    assert_eq!(terminal.exit_code(), Some(130), "{}", terminal.text());
    let screen = terminal.text();
    let after_dashboard = &screen[screen.rfind("\x1b[?1049l").expect("left the dashboard")..];
    assert!(
        after_dashboard.contains("training was stopped after")
            && after_dashboard.contains("train --resume"),
        "{after_dashboard}"
    );
    // Stopped by Ctrl-C, the user gets no results screen to close.
    assert!(!screen.contains("training finished"), "{screen}");
    let summary = summary_json(&run);
    assert_eq!(summary["interrupted"], true);
    let done = summary["epochs_completed"].as_u64().unwrap();
    let more = (done + 1).to_string();
    let resumed = digits(
        work.path(),
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--epochs",
            &more,
        ],
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(
        summary_json(&run)["epochs_completed"].as_u64(),
        Some(done + 1)
    );
}

#[test]
fn dashboard_close_ends_without_a_key() {
    let work = tempfile::tempdir().unwrap();
    let mut terminal = train_in_a_terminal(&work.path().join("run"), "--dashboard close");
    assert_eq!(terminal.exit_code(), Some(0), "{}", terminal.text());
    let screen = terminal.text();
    assert!(!screen.contains("training finished"), "{screen}");
    assert_left_on_screen(&screen);
}

/// The dashboard's `q` asks in a trainer's words (Burn's own spoke of "code after the loop"),
/// and `s` stops cleanly, as Ctrl-C does.
#[test]
fn the_quit_dialog_speaks_to_a_person_training_a_network() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let mut terminal = training_past_its_first_epoch(&run);
    let mut keys = terminal.child.stdin.take().unwrap();
    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    terminal.wait_for("cleanly");
    keys.write_all(b"s").unwrap();
    keys.flush().unwrap();
    // The results screen says where training stopped; closed, the resume command follows.
    terminal.wait_for("stopped");
    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    assert_eq!(terminal.exit_code(), Some(130), "{}", terminal.text());
    let screen = terminal.text();
    assert!(
        !screen.contains("remaining") && screen.contains("resume"),
        "{screen}"
    );
}
