//! `digits web`: the run as a web page. The page itself is checked in a real browser —
//! headless Chromium over WebDriver (Selenium, `web/check_page.py`) — which needs Chromium,
//! chromedriver, the wasm32 target and wasm-bindgen-cli: that test is `#[ignore]`d in a plain
//! `cargo test`, and CI runs it with `DIGITS_PYTHON` set (`.ci/run` installs them all).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Reaped, assert_user_error, digits, root, run_digits, stdout, train_command};

fn trained(work: &Path) -> std::path::PathBuf {
    let run = work.join("run");
    let sets = ["training.epochs=5"];
    let output = run_digits(work, &train_command("mlp.toml", &run, &sets));
    assert!(output.status.success(), "{output:?}");
    run
}

#[test]
fn web_refuses_what_is_not_a_run_and_a_folder_it_would_litter() {
    let work = tempfile::tempdir().unwrap();
    let output = digits(work.path(), &["web", work.path().to_str().unwrap()]);
    assert_user_error(&output, &["config.toml"]);

    let run = trained(work.path());
    let other = work.path().join("notes");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("mine.txt"), "keep").unwrap();
    let args = [
        "web",
        run.to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
    ];
    let output = digits(work.path(), &args);
    assert_user_error(&output, &["--out", "--force"]);
    assert_eq!(
        std::fs::read_to_string(other.join("mine.txt")).unwrap(),
        "keep"
    );
}

/// What the build needs is checked before it starts (it takes minutes the first time), and
/// a refused build leaves no empty site folder behind: wasm-bindgen missing from PATH, and a
/// `DIGITS_SOURCE` that is not a clone of digits.
#[test]
fn web_checks_its_tools_and_source_before_building() {
    let work = tempfile::tempdir().unwrap();
    let run = trained(work.path());
    let web = |env: (&str, &str)| {
        Command::new(env!("CARGO_BIN_EXE_digits"))
            .current_dir(work.path())
            .args(["web", run.to_str().unwrap()])
            .env(env.0, env.1)
            .output()
            .unwrap()
    };
    let empty = work.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = web(("PATH", empty.to_str().unwrap()));
    assert_user_error(
        &output,
        &[
            "`wasm-bindgen` is not installed",
            "cargo install wasm-bindgen-cli",
        ],
    );
    assert!(!run.join("web").exists());

    let output = web(("DIGITS_SOURCE", empty.to_str().unwrap()));
    assert_user_error(
        &output,
        &["DIGITS_SOURCE names", "web/Cargo.toml", "a clone"],
    );
    assert!(!run.join("web").exists());
}

/// The Python with Selenium (`DIGITS_PYTHON`, set by `.ci/run`).
fn python() -> String {
    std::env::var("DIGITS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "this check needs Python with selenium (web/requirements.txt), Debian's chromium \
             and chromium-driver, `rustup target add wasm32-unknown-unknown` and wasm-bindgen-cli: \
             set DIGITS_PYTHON to that Python (.ci/run sets it all up)"
        )
    })
}

#[test]
#[ignore = "needs a browser, the wasm32 target and wasm-bindgen-cli: DIGITS_PYTHON (CI sets it)"]
fn web_page_reads_a_drawn_one_as_predict_does_in_headless_chromium() {
    let work = tempfile::tempdir().unwrap();
    let run = trained(work.path());
    let site = work.path().join("site");
    // Kept after the test for a person to look at: the screenshots and the input.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-page");
    std::fs::create_dir_all(&shots).unwrap();

    let mut server = Command::new(env!("CARGO_BIN_EXE_digits"))
        .args([
            "web",
            run.to_str().unwrap(),
            "--out",
            site.to_str().unwrap(),
        ])
        .args(["--serve", "--port", "0"])
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut said = String::new();
    let url = loop {
        let line = lines
            .next()
            .expect("digits web ended before serving")
            .unwrap();
        said.push_str(&line);
        if let Some(rest) = line.split("serving it at ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let server = Reaped(server);
    eprintln!("{said}");

    let checked = Command::new(python())
        .arg(root().join("web/check_page.py"))
        .arg(&url)
        .arg(&shots)
        .output()
        .unwrap();
    drop(server);
    assert!(
        checked.status.success(),
        "check_page.py: {}{}",
        stdout(&checked),
        String::from_utf8_lossy(&checked.stderr)
    );
    let page: serde_json::Value = serde_json::from_str(stdout(&checked).trim()).unwrap();
    eprintln!(
        "page: loaded in {:.0} ms, {} updates of {:.2} ms on average",
        page["drawn"]["loadMs"].as_f64().unwrap(),
        page["drawn"]["updates"],
        page["drawn"]["updateMeanMs"].as_f64().unwrap()
    );
    assert_eq!(page["console_errors"], serde_json::json!([]), "{page}");
    assert_eq!(page["foreign_resources"], serde_json::json!([]), "{page}");
    let drawn = &page["drawn"];
    assert_eq!(drawn["digit"], 1, "a drawn 1: {drawn}");
    assert_eq!(drawn["answer_shown"], "1");
    assert_eq!(page["cleared"]["input"], serde_json::Value::Null);
    assert_eq!(page["cleared"]["answer"], "–");

    // The page's probabilities are digits predict's on the same 28×28 input.
    let input: Vec<u8> = drawn["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    let picture = shots.join("input.png");
    image::GrayImage::from_raw(28, 28, input)
        .unwrap()
        .save(&picture)
        .unwrap();
    let args = ["predict", run.to_str().unwrap(), picture.to_str().unwrap()];
    let predicted = digits(
        work.path(),
        &[&args[..], &["--prepared", "--json"]].concat(),
    );
    assert!(predicted.status.success(), "{predicted:?}");
    let predicted: serde_json::Value = serde_json::from_str(stdout(&predicted).trim()).unwrap();
    assert_eq!(predicted["digit"], 1);
    for d in 0..10 {
        let (page, cli) = (
            drawn["probabilities"][d].as_f64().unwrap(),
            predicted["probabilities"][d].as_f64().unwrap(),
        );
        assert!(
            (page - cli).abs() <= 1e-4,
            "digit {d}: page {page}, predict {cli}"
        );
    }
    for shot in ["page.png", "page-phone.png"] {
        assert!(image::open(shots.join(shot)).is_ok(), "{shot}");
    }
}
