//! Burn's dashboard in a real (pseudo-)terminal: kept until the user closes it, then the last
//! epoch's lines and the test line are left on screen. `script` (util-linux) provides the
//! terminal, as a user's would.
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Reaped, root, sample_dir};

/// `digits train config/mlp.toml` on a slice of the sample, in a 120×40 pseudo-terminal;
/// stdout and stderr both end up in the returned buffer, as on a screen.
fn train_in_a_terminal(out: &Path, extra: &str) -> (Reaped, Arc<Mutex<Vec<u8>>>) {
    let command = format!(
        "stty cols 120 rows 40; exec '{}' train '{}' --data-dir '{}' --out '{}' \
         --set training.epochs=2 --set data.train_limit=2000 --set data.test_limit=500 {extra}",
        env!("CARGO_BIN_EXE_digits"),
        root().join("config/mlp.toml").display(),
        sample_dir().display(),
        out.display()
    );
    let mut child = Reaped(
        Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("TERM", "xterm-256color")
            .env("DIGITS_NO_DOWNLOAD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("`script` (util-linux) runs the test in a pseudo-terminal"),
    );
    let screen = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = screen.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut chunk) {
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    (child, screen)
}

fn text(screen: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&screen.lock().unwrap()).into_owned()
}

/// Waits (up to a minute) until the screen shows `needle`.
fn wait_for(screen: &Mutex<Vec<u8>>, needle: &str) {
    let started = Instant::now();
    while !text(screen).contains(needle) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "`{needle}` never appeared on: {}",
            text(screen)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn exit_code(child: &mut Child) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the program did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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
    let (mut child, screen) = train_in_a_terminal(&work.path().join("run"), "");
    wait_for(&screen, "Training is done");
    // Training is over, yet the dashboard waits for the user.
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "{}", text(&screen));
    assert!(!text(&screen).contains("run folder: "));

    let mut keys = child.stdin.take().unwrap();
    keys.write_all(b"x").unwrap(); // close the popup
    keys.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    keys.write_all(b"q").unwrap(); // close the dashboard
    keys.flush().unwrap();
    assert_eq!(exit_code(&mut child), Some(0), "{}", text(&screen));
    assert_left_on_screen(&text(&screen));
}

#[test]
fn dashboard_close_ends_without_a_key() {
    let work = tempfile::tempdir().unwrap();
    let (mut child, screen) = train_in_a_terminal(&work.path().join("run"), "--dashboard close");
    assert_eq!(exit_code(&mut child), Some(0), "{}", text(&screen));
    let screen = text(&screen);
    assert!(!screen.contains("Training is done"), "{screen}");
    assert_left_on_screen(&screen);
}
