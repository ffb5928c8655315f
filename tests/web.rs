//! `digits web`: the run as a web page. The page itself is checked in a real browser —
//! headless Chromium over WebDriver (Selenium, `web/check_page.py`) — which needs Chromium,
//! chromedriver, the wasm32 target and wasm-bindgen-cli: that test is `#[ignore]`d in a plain
//! `cargo test`, and CI runs it with `DIGITS_PYTHON` set (`.ci/run` installs them all).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{
    Reaped, assert_user_error, digits, python_report, root, run_digits, stderr, stdout,
    train_command,
};

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
    // No run and nowhere to write the training page alone.
    let output = digits(work.path(), &["web"]);
    assert_user_error(&output, &["--out"]);

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

/// `digits web [RUN] --out SITE --serve` on any free port: the server, and its address.
fn serve(work: &Path, run: Option<&Path>, site: &Path) -> (Reaped, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_digits"))
        .arg("web")
        .args(run)
        .args(["--out", site.to_str().unwrap()])
        .args(["--serve", "--port", "0"])
        .current_dir(work)
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
    eprintln!("{said}");
    // Read on to its end: a closed pipe would stop the server at its next line (SIGPIPE).
    std::thread::spawn(move || lines.for_each(drop));
    (Reaped(server), url)
}

/// `web/SCRIPT ARGS…` run by the Selenium Python: what it printed (one JSON object).
fn check_in_browser(script: &str, args: &[&str]) -> serde_json::Value {
    let needs = "Python with selenium (web/requirements.txt), Debian's chromium and \
                 chromium-driver, `rustup target add wasm32-unknown-unknown` and wasm-bindgen-cli";
    python_report(needs, &root().join("web").join(script), args)
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

    let (server, url) = serve(work.path(), Some(&run), &site);

    let page = check_in_browser("check_page.py", &[&url, shots.to_str().unwrap()]);
    drop(server);
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

#[test]
#[ignore = "needs a browser, the wasm32 target and wasm-bindgen-cli: DIGITS_PYTHON (CI sets it)"]
fn the_training_page_learns_as_digits_train_does_in_headless_chromium() {
    let work = tempfile::tempdir().unwrap();
    // The command line's run of the page's config: config/mlp.toml, 10 epochs, the sample.
    let cli = work.path().join("cli");
    let sets = ["training.epochs=10"];
    let output = run_digits(work.path(), &train_command("mlp.toml", &cli, &sets));
    assert!(output.status.success(), "{output:?}");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("training-page");
    std::fs::create_dir_all(&shots).unwrap();
    // The training page alone: a site made without a run, its index.html the training page.
    let site = work.path().join("site");
    let (server, url) = serve(work.path(), None, &site);
    let page = |name: &str| std::fs::read_to_string(site.join(name)).unwrap();
    assert_eq!(page("index.html"), page("train.html"));
    for reading in ["app.js", "model.bpk", "network.json", "run.json"] {
        assert!(!site.join(reading).exists(), "{reading}: no reading page");
    }
    let page = check_in_browser(
        "check_train_page.py",
        &[&format!("{url}train.html"), shots.to_str().unwrap(), "10"],
    );
    drop(server);
    let state = &page["state"];
    eprintln!(
        "training page: {:.0} images/s, {:.0} frames/s (longest gap {:.0} ms), a drawing \
         answered in {:.1} ms at most, loaded in {:.0} ms",
        state["imagesPerSecond"].as_f64().unwrap(),
        state["framesPerSecond"].as_f64().unwrap(),
        state["maxFrameGapMs"].as_f64().unwrap(),
        page["reading"]["maxMs"].as_f64().unwrap(),
        page["load_ms"].as_f64().unwrap()
    );
    assert_eq!(page["console_errors"], serde_json::json!([]), "{page}");
    assert_eq!(page["foreign_resources"], serde_json::json!([]), "{page}");
    assert_eq!(state["errors"], serde_json::json!([]), "{page}");

    // Hostile fields get the command line's refusal, and nothing trains.
    std::fs::copy(root().join("config/mlp.toml"), work.path().join("mlp.toml")).unwrap();
    for (case, set) in [
        ("zero_neurons", "model.hidden=[0]"),
        ("nan_rate", "training.learning_rate=NaN"),
    ] {
        let refused = digits(work.path(), &["train", "mlp.toml", "--set", set]);
        assert_user_error(&refused, &[]);
        let said = stderr(&refused);
        let said = said.trim().trim_start_matches("error: ");
        assert_eq!(page["refusals"][case]["message"], said, "{case}");
        assert_eq!(page["refusals"][case]["shown"], said, "{case}");
        assert_eq!(page["refusals"][case]["steps"], 0, "{case}");
    }
    // A batch larger than the data: the command line's note, as there (it trains).
    assert!(
        page["big_batch_note"].as_str().unwrap().starts_with(
            "note: training.batch_size = 100000 is larger than the 9000 training images"
        ),
        "{page}"
    );

    // The page starts from the command line's initial network, weight for weight.
    let device = digits::backend::Backend::select(None)
        .unwrap()
        .device()
        .unwrap();
    let loaded = digits::inspect::trained_run::load_run(&cli, &device).unwrap();
    let (initial, _) = digits::inspect::trained_run::initial_network(&loaded, &device).unwrap();
    let first = initial.linears().next().unwrap().weight.val();
    let [inputs, neurons] = first.dims();
    let weights: Vec<f32> = first.into_data().try_to_vec().unwrap();
    let page_weights = page["initial_first_layer"]["values"].as_array().unwrap();
    assert_eq!(page_weights.len(), inputs * neurons);
    for (k, value) in page_weights.iter().enumerate() {
        // The page lists neuron by neuron; Burn's Linear holds [inputs, neurons].
        let (neuron, input) = (k / inputs, k % inputs);
        assert_eq!(
            value.as_f64().unwrap() as f32,
            weights[input * neurons + neuron]
        );
    }

    // Pause stops the step count, Step takes one.
    let pause = &page["pause"];
    assert_eq!(pause["half_a_second_later"], pause["paused"], "{pause}");
    assert_eq!(
        pause["stepped"].as_u64(),
        pause["paused"].as_u64().map(|s| s + 1)
    );
    // A drawing answered while it trained; curves, weights, norms and test digits drawn.
    assert!(page["reading"]["readings"].as_u64().unwrap() > 0, "{page}");
    assert_eq!(
        page["reading"]["digit"], 1,
        "a drawn 1, read after two epochs"
    );
    let shown = &page["shown"];
    assert_eq!(shown["weights"], 16);
    assert_eq!(shown["reading_link"], 0, "no reading page to link to");
    assert_eq!(shown["norms"], 3);
    assert_eq!(shown["tests"], 24);
    for drawn in shown["charts_drawn"].as_array().unwrap() {
        assert!(
            drawn.as_u64().unwrap() > 100,
            "a chart with its curves: {shown}"
        );
    }

    // Epoch by epoch, the command line's numbers (the same weights, batches and order; wasm's
    // products may sum in another order: within 0.5 percentage points).
    let records = digits::run::read_metrics_csv(&cli.join("metrics.csv")).unwrap();
    let epochs = state["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 10);
    for epoch in epochs {
        let n = epoch["epoch"].as_u64().unwrap() as usize;
        for (split, key) in [
            (digits::data::Split::Train, "train"),
            (digits::data::Split::Valid, "valid"),
        ] {
            let record = records
                .iter()
                .find(|r| r.epoch == n && r.split == split)
                .unwrap();
            let (page, cli) = (
                epoch[key]["accuracy"].as_f64().unwrap(),
                record.metrics["accuracy"],
            );
            assert!(
                (page - cli).abs() <= 0.005,
                "epoch {n} {key}: page {page}, digits train {cli}"
            );
        }
    }
    let page_test = epochs[9]["test"]["accuracy"].as_f64().unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cli.join("summary.json")).unwrap()).unwrap();
    let cli_test = summary["test"]["accuracy"].as_f64().unwrap();
    assert!(
        page_test >= 0.85,
        "the page's test accuracy after 10 epochs: {page_test}"
    );
    assert!(
        (page_test - cli_test).abs() <= 0.005,
        "page {page_test}, digits train {cli_test}"
    );

    // The downloaded run is a run folder `digits eval` reads, to the same test accuracy.
    let unpacked = work.path().join("downloaded");
    std::fs::create_dir_all(&unpacked).unwrap();
    let untar = Command::new("tar")
        .arg("xf")
        .arg(shots.join("run.tar"))
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(untar.status.success(), "{untar:?}");
    let run = unpacked.join("run");
    let evaluated = digits(work.path(), &["eval", run.to_str().unwrap()]);
    assert!(evaluated.status.success(), "{evaluated:?}");
    let eval: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("eval.json")).unwrap()).unwrap();
    let shown_digits = |a: f64| format!("{:.2}", 100.0 * a);
    assert_eq!(
        shown_digits(eval["accuracy"].as_f64().unwrap()),
        shown_digits(page_test)
    );
    let page_summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(page_summary["epochs_completed"], 10);
    assert_eq!(page_summary["parameters"], 13_002);
    assert!(image::open(shots.join("train-page.png")).is_ok());
}
