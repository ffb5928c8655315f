//! Choosing hyperparameters: the learning-rate range test (`lr-find`) and early stopping.

use std::path::Path;

use digits::backend::Backend;
use digits::data::Split;
use digits::inspect::trained_run::load_run;
use digits::model::Network;
use digits::train::checkpoint;

use crate::common::{
    assert_user_error, digits, read_metrics, root, run_digits, sample_dir, stdout, summary_json,
    train_command,
};

/// `lr-find` on config/mlp.toml with `sets`, into `out`; its lr-find.json.
fn lr_find(work: &Path, out: &str, sets: &[&str]) -> serde_json::Value {
    let config = root().join("config/mlp.toml");
    let sample = sample_dir();
    let mut args = vec![
        "lr-find",
        config.to_str().unwrap(),
        "--data-dir",
        sample.to_str().unwrap(),
        "--out",
        out,
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    let output = digits(work, &args);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains("suggested learning rate"),
        "{output:?}"
    );
    let text = std::fs::read_to_string(work.join(out).join("lr-find.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn lr_find_suggests_rates_the_seed_network_trains_at_and_smaller_ones_for_adam() {
    let work = tempfile::tempdir().unwrap();
    let sgd = lr_find(work.path(), "sgd", &[]);
    let points = sgd["points"].as_array().unwrap();
    // One pass over the sample's 9,000 training images in batches of 32 is 282 steps: the
    // test takes at least 1000.
    assert_eq!(points.len(), 1000);
    let rates: Vec<f64> = points
        .iter()
        .map(|p| p["learning_rate"].as_f64().unwrap())
        .collect();
    assert!((rates[0] - 1e-6).abs() < 1e-12 && (rates[999] - 10.0).abs() < 1e-6);
    assert!(rates.windows(2).all(|w| w[1] > w[0]));
    // The seed network (sigmoid, SGD) trains at 0.05 to 5 (docs/EXPERIMENTS.md: best 0.3
    // constant, 1.0 with a cosine decay); both estimates fall in that range (measured: 2.0 and
    // 0.68).
    let s = &sgd["suggestion"];
    for key in ["steepest", "minimum_tenth", "suggested"] {
        let rate = s[key].as_f64().unwrap();
        assert!((0.05..=5.0).contains(&rate), "{key} = {rate}: {s}");
    }
    let picture = image::open(work.path().join("sgd/lr-find.png")).unwrap();
    assert_eq!((picture.width(), picture.height()), (900, 560));

    // Adam takes steps of about the rate whatever the gradient's size: a much smaller one
    // (measured 1.5e-3; a sweep's best is 1e-3).
    let adam = lr_find(
        work.path(),
        "adam",
        &["model.activation=\"relu\"", "training.optimizer=\"adam\""],
    );
    let adam_rate = adam["suggestion"]["suggested"].as_f64().unwrap();
    assert!((1e-4..=0.05).contains(&adam_rate), "{}", adam["suggestion"]);
}

#[test]
fn lr_find_refuses_a_range_that_is_not_one() {
    let work = tempfile::tempdir().unwrap();
    let config = root().join("config/mlp.toml");
    for range in [["--start", "0"], ["--end", "1e-7"], ["--start", "nan"]] {
        let output = digits(
            work.path(),
            &["lr-find", config.to_str().unwrap(), range[0], range[1]],
        );
        assert_user_error(&output, &["--start", "--end", "above"]);
    }
    let output = digits(
        work.path(),
        &["lr-find", config.to_str().unwrap(), "--steps", "1"],
    );
    assert_user_error(&output, &["--steps must be at least 2"]);
    assert!(!work.path().join("artifacts").exists(), "nothing written");
}

/// The early-stopping run of the tests: few training images and a large rate, so the
/// validation loss bottoms out within a few epochs and then rises (overfitting).
const OVERFITTING: [&str; 6] = [
    "data.train_limit=400",
    "model.hidden=[64]",
    "model.activation=\"relu\"",
    "training.epochs=40",
    "training.early_stopping={patience = 3}",
    "training.keep_all_checkpoints=false",
];

#[test]
fn keep_all_checkpoints_keeps_every_epoch_early_stopping_or_not() {
    let work = tempfile::tempdir().unwrap();
    for stopping in [true, false] {
        let out = work.path().join(format!("stopping-{stopping}"));
        let mut sets: Vec<&str> = OVERFITTING
            .into_iter()
            .filter(|set| stopping || !set.contains("early_stopping"))
            .collect();
        sets.push("training.keep_all_checkpoints=true");
        if !stopping {
            sets.push("training.epochs=4");
        }
        let output = run_digits(work.path(), &train_command("mlp.toml", &out, &sets));
        assert!(output.status.success(), "{output:?}");
        let last = summary_json(&out)["epochs_completed"].as_u64().unwrap() as usize;
        let every: Vec<usize> = (1..=last).rev().collect();
        assert_eq!(checkpoint::complete_epochs(&out.join("checkpoint")), every);
    }
}

#[test]
fn early_stopping_stops_when_the_validation_loss_rises_and_keeps_the_best_epoch() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let output = run_digits(work.path(), &train_command("mlp.toml", &out, &OVERFITTING));
    assert!(output.status.success(), "{output:?}");
    let summary = summary_json(&out);
    let stop = &summary["early_stopping"];
    let (best, last) = (
        stop["best_epoch"].as_u64().unwrap() as usize,
        stop["last_epoch"].as_u64().unwrap() as usize,
    );
    // The validation losses, epoch by epoch: the best is the lowest, and the 3 after it are
    // all higher, so training stopped right after them.
    let losses: Vec<f64> = read_metrics(&out)
        .iter()
        .filter(|r| r.split == Split::Valid)
        .map(|r| r.metrics["loss"])
        .collect();
    assert_eq!(losses.len(), last, "{losses:?}");
    assert!(last < 40 && stop["stopped"] == true, "{stop}");
    assert_eq!(last, best + 3, "{stop} {losses:?}");
    let lowest = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best - 1], lowest, "{losses:?}");
    assert_eq!(stop["best_value"].as_f64().unwrap(), lowest);
    assert_eq!(stop["model_epoch"].as_u64().unwrap() as usize, best);
    assert_eq!(summary["epochs_completed"].as_u64().unwrap() as usize, last);
    assert!(
        stdout(&output).contains(&format!("stopped after epoch {last} of 40")),
        "{output:?}"
    );

    // model.bpk is the best epoch's network, whose checkpoint was kept (with the last two).
    let device = Backend::select(None).unwrap().device().unwrap();
    let kept = load_run(&out, &device).unwrap().model;
    let checkpoints = out.join("checkpoint");
    let best_weights = checkpoint::model_at(&checkpoints, best, kept.clone()).unwrap();
    let last_weights = checkpoint::model_at(&checkpoints, last, kept.clone()).unwrap();
    let weights = |m: &Network| m.output.weight.val().into_data();
    assert_eq!(weights(&kept), weights(&best_weights));
    assert_ne!(weights(&kept), weights(&last_weights));
    assert_eq!(
        checkpoint::complete_epochs(&checkpoints),
        [last, last - 1, best],
        "the last two and the best"
    );

    // A stopped run is not resumed by accident; more patience resumes it.
    let resume = |sets: &[&str]| {
        let mut args = vec![
            "train".to_string(),
            "--resume".into(),
            out.display().to_string(),
        ];
        for set in sets {
            args.extend(["--set".to_string(), set.to_string()]);
        }
        run_digits(work.path(), &args)
    };
    assert_user_error(
        &resume(&[]),
        &["already stopped", "training.early_stopping.patience=6"],
    );
    let output = resume(&["training.early_stopping.patience=4"]);
    assert!(output.status.success(), "{output:?}");
    let resumed = summary_json(&out)["early_stopping"].clone();
    assert_eq!(
        resumed["best_epoch"].as_u64().unwrap() as usize,
        best,
        "{resumed}"
    );
    assert_eq!(
        resumed["last_epoch"].as_u64().unwrap() as usize,
        best + 4,
        "{resumed}"
    );
}

#[test]
fn early_stopping_settings_are_checked() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    for (set, needle) in [
        (
            "training.early_stopping={patience = 0}",
            "patience` must be at least 1",
        ),
        (
            "training.early_stopping={min_delta = -1}",
            "min_delta` = -1 must be 0 or more",
        ),
        (
            "training.early_stopping={metric = \"valid_speed\"}",
            "valid_loss",
        ),
    ] {
        let output = run_digits(work.path(), &train_command("mlp.toml", &out, &[set]));
        assert_user_error(&output, &["training.early_stopping", needle]);
    }
}
