//! The network and its training, through the library API.

use crate::common;

use digits::backend::Backend;
use digits::config::{Config, Loss};
use digits::model::Network;

/// A 2,000-image training slice (1,800 train + 200 valid) and 1,000 test images, 20 epochs:
/// random guessing scores 10 %.
const SLICE: [&str; 3] = [
    "data.train_limit=2000",
    "data.test_limit=1000",
    "training.epochs=20",
];

#[test]
fn the_seed_network_has_12960_weights_and_42_biases() {
    let config = Config::load(&common::root().join("config/mlp.toml"), &[]).unwrap();
    let device = Backend::select(None).unwrap().device().unwrap();
    let model = Network::new(&config.model, config.training.loss, &device);

    let linears = model
        .hidden
        .iter()
        .map(|block| &block.linear)
        .chain([&model.output]);
    let (mut weights, mut biases) = (0, 0);
    for linear in linears {
        weights += linear.weight.shape().num_elements();
        biases += linear.bias.as_ref().unwrap().shape().num_elements();
    }
    assert_eq!(weights, 784 * 16 + 16 * 16 + 16 * 10);
    assert_eq!(weights, 12_960);
    assert_eq!(biases, 42);
    assert_eq!(burn::module::Module::num_params(&model), 13_002);
}

/// Shipped configs built to show the vanishing gradient: 8 sigmoid layers that do not learn
/// without BatchNorm (LayerNorm and GroupNorm lift the gradient 100-1000x, not enough).
const VANISHING: [&str; 3] = [
    "deep-sigmoid.toml",
    "deep-sigmoid-layernorm.toml",
    "deep-sigmoid-groupnorm.toml",
];

fn test_accuracy_on_slice(path: &std::path::Path) -> f64 {
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config_on_slice(path, &SLICE, out.path());
    // A CNN learns in fewer epochs, each dozens of times the MLP's work: 2 are enough here.
    if !config.model.conv_blocks().is_empty() {
        config.training.epochs = 2;
    }
    let report = common::train(&config, path);
    let summary = &report.summary;
    assert_eq!(summary.dataset.train, 1800, "{}", path.display());
    assert_eq!(summary.dataset.test, 1000);
    assert_eq!(summary.epochs_completed, config.training.epochs);
    summary.test.unwrap().accuracy
}

fn is_vanishing(path: &std::path::Path) -> bool {
    VANISHING.contains(&path.file_name().unwrap().to_str().unwrap())
}

#[test]
fn every_shipped_config_learns_to_read_digits_on_a_slice() {
    for path in common::shipped_configs()
        .iter()
        .filter(|p| !is_vanishing(p))
    {
        let accuracy = test_accuracy_on_slice(path);
        assert!(
            accuracy > 0.70,
            "{} reached only {:.1} % test accuracy",
            path.display(),
            accuracy * 100.0
        );
    }
}

#[test]
fn the_vanishing_gradient_configs_train_but_stay_at_chance() {
    for path in common::shipped_configs().iter().filter(|p| is_vanishing(p)) {
        let accuracy = test_accuracy_on_slice(path);
        assert!(
            accuracy < 0.20,
            "{} learned ({:.1} %): the README's vanishing-gradient story no longer holds",
            path.display(),
            accuracy * 100.0
        );
    }
}

#[test]
fn both_losses_train_the_seed_network() {
    let path = common::root().join("config/mlp.toml");
    // The quadratic loss's gradient is damped by the output sigmoid's slope, so it takes a
    // larger learning rate for the same epoch cap.
    for (loss, learning_rate) in [("cross_entropy", "1.0"), ("quadratic", "5.0")] {
        let out = tempfile::tempdir().unwrap();
        let loss_key = format!("training.loss={loss}");
        let lr_key = format!("training.learning_rate={learning_rate}");
        let mut overrides = SLICE.to_vec();
        overrides.extend([loss_key.as_str(), lr_key.as_str()]);
        let config = common::config_on_slice(&path, &overrides, out.path());
        assert_eq!(
            config.training.loss,
            if loss == "quadratic" {
                Loss::Quadratic
            } else {
                Loss::CrossEntropy
            }
        );
        let accuracy = common::train(&config, &path).summary.test.unwrap().accuracy;
        assert!(
            accuracy > 0.70,
            "{loss} reached only {:.1} %",
            accuracy * 100.0
        );
    }
}

/// summary.json's peak memory is the whole run's: at least the peak the process's own
/// /proc status showed while it ran, testing and pictures included. (Not the rusage of the
/// child: a child forked from this large test process inherits its resident size there.)
#[cfg(target_os = "linux")]
#[test]
fn the_summarys_peak_memory_is_the_whole_runs() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let sets = [
        "training.epochs=1",
        "data.train_limit=300",
        "data.test_limit=3000",
        "training.batch_size=16",
    ];
    let mut child = common::spawn(&common::train_command("cnn.toml", &out, &sets));
    let status = format!("/proc/{}/status", child.id());
    let mut seen_kb = 0u64;
    while child.try_wait().unwrap().is_none() {
        let peak = std::fs::read_to_string(&status).ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        seen_kb = seen_kb.max(peak.unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", common::stderr(&output));
    let seen_mb = seen_kb as f64 / 1024.0;
    let summary_mb = common::summary_json(&out)["peak_rss_mb"].as_f64().unwrap();
    assert!(
        summary_mb >= 0.97 * seen_mb,
        "summary {summary_mb:.0} MB, the process {seen_mb:.0} MB"
    );
}
