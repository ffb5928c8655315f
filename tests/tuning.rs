//! Choosing hyperparameters: the learning-rate range test (`lr-find`).

use std::path::Path;

use crate::common::{assert_user_error, digits, root, sample_dir, stdout};

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
    // One pass over the sample's 9,000 training images in batches of 32.
    assert_eq!(points.len(), 282);
    let rates: Vec<f64> = points
        .iter()
        .map(|p| p["learning_rate"].as_f64().unwrap())
        .collect();
    assert!((rates[0] - 1e-6).abs() < 1e-12 && (rates[281] - 10.0).abs() < 1e-6);
    assert!(rates.windows(2).all(|w| w[1] > w[0]));
    // The seed network (sigmoid, SGD) trains at 0.05 to 5 (docs/EXPERIMENTS.md: best 0.3
    // constant, 1.0 with a cosine decay); both estimates fall in that range.
    let s = &sgd["suggestion"];
    for key in ["steepest", "minimum_tenth", "suggested"] {
        let rate = s[key].as_f64().unwrap();
        assert!((0.05..=5.0).contains(&rate), "{key} = {rate}: {s}");
    }
    let picture = image::open(work.path().join("sgd/lr-find.png")).unwrap();
    assert_eq!((picture.width(), picture.height()), (900, 560));

    // Adam takes steps of about the rate whatever the gradient's size: a much smaller one.
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
