//! `digits explain`: the input each digit wants, noise, wrong answers, the loss landscape.

use std::path::Path;

use digits::backend::Backend;
use digits::data::source as data;
use digits::inspect::evaluation::evaluate;
use digits::inspect::load_run;
use digits::inspect::trained_run::initial_network;

use crate::common::{assert_user_error, digits, run_digits, stdout, summary_json, train_command};

/// Trains `config/<name>` with `sets` into `out` and explains it; explain.json.
fn explained(work: &Path, name: &str, sets: &[&str]) -> serde_json::Value {
    let out = work.join(name);
    let trained = run_digits(work, &train_command(name, &out, sets));
    assert!(trained.status.success(), "{trained:?}");
    let small = ["--steps", "100", "--grid", "5", "--subset", "200"];
    let output = digits(
        work,
        &[&["explain", out.to_str().unwrap()], &small[..]].concat(),
    );
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains("what each digit wants"),
        "{output:?}"
    );
    for picture in ["wanted.png", "noise.png", "mistakes.png", "landscape.png"] {
        assert!(image::open(out.join(picture)).is_ok(), "{name}: {picture}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("explain.json")).unwrap()).unwrap();
    // Every digit's found input raises its probability above the grey image's.
    for wanted in json["wanted"].as_array().unwrap() {
        let (found, grey) = (
            wanted["probability"].as_f64().unwrap(),
            wanted["grey_probability"].as_f64().unwrap(),
        );
        assert!(found > grey, "{name}: {wanted}");
    }
    // The wrong answers are exactly the test errors train measured.
    let summary = summary_json(&out);
    let accuracy = summary["test"]["accuracy"].as_f64().unwrap();
    let tests = json["test_images"].as_u64().unwrap() as f64;
    let wrong = json["wrong"].as_u64().unwrap() as f64;
    assert_eq!(wrong, ((1.0 - accuracy) * tests).round(), "{name}");
    // Most confident first; each a wrong answer with its top 3 in order.
    let shown = json["most_confident_wrong"].as_array().unwrap();
    for pair in shown.windows(2) {
        assert!(pair[0]["top3"][0][1].as_f64() >= pair[1]["top3"][0][1].as_f64());
    }
    for answer in shown {
        assert_ne!(answer["truth"], answer["predicted"]);
        assert_eq!(answer["predicted"], answer["top3"][0][0]);
    }
    let named: u64 = json["noise"]["named"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(named, 500);
    // The random plane's centre and the line's α = 1 are both the trained network.
    let landscape = &json["landscape"];
    let alpha_one = landscape["line"]["alphas"]
        .as_array()
        .unwrap()
        .iter()
        .position(|a| a.as_f64() == Some(1.0))
        .unwrap();
    assert_eq!(
        landscape["random"]["losses"][2][2], landscape["line"]["losses"][alpha_one],
        "{name}"
    );
    json
}

#[test]
fn explain_shows_what_each_digit_wants_noise_and_mistakes() {
    let work = tempfile::tempdir().unwrap();
    let slice = [
        "data.train_limit=3000",
        "data.test_limit=2000",
        "training.epochs=5",
    ];
    explained(work.path(), "mlp.toml", &slice);
    // BatchNorm in inference mode (the network is frozen for the ascent) and a CNN.
    explained(work.path(), "mlp-batchnorm.toml", &slice);
    let mut cnn = slice.to_vec();
    cnn.extend([
        "data.augment={}",
        "model.conv=[4]",
        "model.hidden=[]",
        "training.epochs=1",
    ]);
    explained(work.path(), "cnn.toml", &cnn);

    let output = digits(
        work.path(),
        &[
            "explain",
            work.path().join("mlp.toml").to_str().unwrap(),
            "--steps",
            "0",
        ],
    );
    assert_user_error(&output, &["--steps"]);
    let run = work.path().join("mlp.toml");
    let output = digits(
        work.path(),
        &["explain", run.to_str().unwrap(), "--grid", "4"],
    );
    assert_user_error(&output, &["--grid 4", "odd"]);
}

/// `explain.json`'s landscape, after `explain` on `run` with a small grid and subset.
fn landscape_of(work: &Path, run: &Path) -> (serde_json::Value, String) {
    let args = [
        "--steps", "5", "--noise", "10", "--grid", "5", "--subset", "300",
    ];
    let output = digits(
        work,
        &[&["explain", run.to_str().unwrap()], &args[..]].concat(),
    );
    assert!(output.status.success(), "{output:?}");
    assert!(image::open(run.join("landscape.png")).is_ok());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("explain.json")).unwrap()).unwrap();
    (json["landscape"].clone(), stdout(&output))
}

fn loss_at(line: &serde_json::Value, alpha: f64) -> f64 {
    let alphas = line["alphas"].as_array().unwrap();
    let i = alphas
        .iter()
        .position(|a| a.as_f64() == Some(alpha))
        .unwrap();
    line["losses"][i].as_f64().unwrap()
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * b.abs().max(1.0)
}

#[test]
fn the_loss_landscape_is_centred_on_the_trained_network_and_its_line_ends_are_the_two_networks() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let sets = [
        "data.train_limit=2000",
        "data.test_limit=500",
        "training.epochs=3",
        "model.norm=batch",
    ];
    let trained = run_digits(work.path(), &train_command("mlp.toml", &run, &sets));
    assert!(trained.status.success(), "{trained:?}");
    let (landscape, account) = landscape_of(work.path(), &run);
    assert!(
        account.contains("landscape (300 training images"),
        "{account}"
    );

    // The same losses computed here, without the landscape's parameter mapping: the run's
    // networks on the first 300 training images.
    let device = Backend::Ndarray.device().unwrap();
    let loaded = load_run(&run, &device).unwrap();
    let splits = data::load(&loaded.config.data, loaded.config.training.seed).unwrap();
    let subset = splits.train.slice(0, 300);
    let trained_loss = evaluate(&loaded.model, &subset, &device).unwrap().loss;
    let (initial, _) = initial_network(&loaded, &device).unwrap();
    let initial_loss = evaluate(&initial, &subset, &device).unwrap().loss;
    assert!(
        initial_loss > trained_loss + 0.5,
        "{initial_loss} {trained_loss}"
    );

    let centre = landscape["random"]["losses"][2][2].as_f64().unwrap();
    assert!(close(centre, trained_loss, 1e-4), "{centre} {trained_loss}");
    let line = &landscape["line"];
    assert!(close(loss_at(line, 0.0), initial_loss, 1e-4));
    assert!(close(loss_at(line, 1.0), trained_loss, 1e-4));
    assert_eq!(landscape["initial"], "kept");
    // Every epoch's checkpoint (config/mlp.toml keeps them all): the path runs from the
    // initial network through each epoch to the trained one.
    let path = &landscape["path"];
    assert_eq!(path["epochs"], serde_json::json!([0, 1, 2, 3]));
    let losses = path["losses"].as_array().unwrap();
    assert!(close(losses[0].as_f64().unwrap(), initial_loss, 1e-4));
    assert!(close(losses[3].as_f64().unwrap(), trained_loss, 1e-4));
    assert_eq!(path["coordinates"][3], serde_json::json!([0.0, 0.0]));
    let explained: f64 = (0..2).map(|i| path["explained"][i].as_f64().unwrap()).sum();
    assert!(explained > 0.5 && explained <= 1.0 + 1e-9, "{explained}");

    // A run from before initial.bpk and keep_all_checkpoints: the initial network is made
    // again from the seed (the same on the same backend), and the path is refused by name.
    std::fs::remove_file(run.join("initial.bpk")).unwrap();
    for part in ["model", "optim", "scheduler"] {
        for end in ["bpk", "run"] {
            std::fs::remove_file(run.join(format!("checkpoint/{part}-1.{end}"))).unwrap();
        }
    }
    let (older, account) = landscape_of(work.path(), &run);
    assert_eq!(older["initial"], "recreated");
    assert_eq!(older["line"], landscape["line"]);
    assert!(older["path"].is_null());
    let why = older["no_path"].as_str().unwrap();
    assert!(
        why.contains("[2, 3]") && why.contains("training.keep_all_checkpoints"),
        "{why}"
    );
    assert!(account.contains("no training path"), "{account}");
    assert!(
        account.contains("recreated from training.seed"),
        "{account}"
    );
}

/// On a terminal, the landscape shows a bar with its count and an estimate; Ctrl-C stops it,
/// says which pictures were kept, writes no explain.json, and exits 130.
#[test]
fn explain_shows_its_progress_and_says_what_ctrl_c_kept() {
    use std::io::Write;
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let sets = ["training.epochs=1", "data.train_limit=1000"];
    let trained = run_digits(work.path(), &train_command("mlp.toml", &run, &sets));
    assert!(trained.status.success(), "{trained:?}");
    let mut terminal = crate::common::PseudoTerminal::start(&format!(
        "exec {} explain {} --grid 201 --steps 10",
        env!("CARGO_BIN_EXE_digits"),
        run.display()
    ));
    terminal.wait_for("the loss landscape [");
    let mut keys = terminal.child.stdin.take().unwrap();
    keys.write_all(b"\x03").unwrap(); // Ctrl-C, as the terminal sends it
    keys.flush().unwrap();
    assert_eq!(terminal.exit_code(), Some(130), "{}", terminal.text());
    let screen = terminal.text();
    assert!(
        screen.contains(" %, ")
            && screen.contains(" left)")
            && screen.contains("explain interrupted: kept wanted.png, noise.png, mistakes.png"),
        "{screen}"
    );
    assert!(run.join("mistakes.png").is_file());
    assert!(!run.join("explain.json").exists() && !run.join("landscape.png").exists());
}
