//! `training.devices`: each batch split across several devices trains as one device does, on
//! every CPU backend this build has, and a killed multi-device run resumes exactly.

use crate::common;

use std::path::Path;

use crate::common::{
    assert_user_error, cpu_backends, metrics_without_timing, stderr, wait_for_first_checkpoint,
};
use digits::backend::Backend;
use digits::train::{Dashboard, TrainOptions};

/// `config/mlp.toml` as shipped (20 epochs) on the bundled sample, on `backend`.
fn test_accuracy(backend: Backend, devices: usize) -> (f64, usize) {
    accuracy_of("mlp.toml", &[], backend, devices)
}

/// `config/<name>` with `sets` on the bundled sample, on `devices` devices of `backend`: its
/// test accuracy and the device count the run reports.
fn accuracy_of(name: &str, sets: &[&str], backend: Backend, devices: usize) -> (f64, usize) {
    let out = tempfile::tempdir().unwrap();
    let path = common::root().join("config").join(name);
    let set = format!("training.devices={devices}");
    let mut sets = sets.to_vec();
    sets.push(&set);
    let config = common::config_on_slice(&path, &sets, out.path());
    let options = TrainOptions {
        backend,
        remote: None,
        force: false,
        dashboard: Dashboard::Off,
        resume: None,
    };
    let report = digits::train::train(&config, &path, &options).unwrap();
    let summary = report.summary;
    (summary.test.unwrap().accuracy, summary.devices)
}

#[test]
fn two_devices_train_the_seed_network_to_the_one_device_accuracy() {
    for backend in cpu_backends() {
        let (one, _) = test_accuracy(backend, 1);
        let (two, devices) = test_accuracy(backend, 2);
        assert_eq!(devices, 2);
        // The same gradients up to float rounding: the same run, give or take a few images.
        assert!(one > 0.88, "{backend}: 1 device reached only {one}");
        assert!(
            (one - two).abs() < 0.005,
            "{backend}: 1 device {one}, 2 devices {two}"
        );
    }
}

#[test]
fn a_cnn_trains_on_two_devices_as_on_one() {
    let sets = [
        "model.conv=[6]",
        "model.hidden=[]",
        "training.learning_rate=0.01",
        "training.epochs=2",
        "data.train_limit=1500",
        "data.test_limit=500",
    ];
    for backend in cpu_backends() {
        let (one, _) = accuracy_of("cnn.toml", &sets, backend, 1);
        let (two, devices) = accuracy_of("cnn.toml", &sets, backend, 2);
        assert_eq!(devices, 2);
        // 82.4 % measured, on 1 and on 2 devices.
        assert!(one > 0.8, "{backend}: 1 device reached only {one}");
        assert!(
            (one - two).abs() < 0.01,
            "{backend}: 1 device {one}, 2 devices {two}"
        );
    }
}

/// 8 epochs on 2 devices of the first CPU backend (a build with wgpu would default to it).
fn train_args(run: &Path) -> Vec<String> {
    let mut args = common::train_command(
        "mlp.toml",
        run,
        &["training.epochs=8", "training.devices=2"],
    );
    args.extend(["--backend".into(), cpu_backends()[0].name().into()]);
    args
}

#[test]
fn a_killed_two_device_run_resumes_to_the_uninterrupted_end() {
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference");
    let output = common::run_digits(Path::new("."), &train_args(&reference));
    assert!(output.status.success(), "{}", stderr(&output));

    let run = work.path().join("run");
    let mut child = common::Reaped(common::spawn(&train_args(&run)));
    wait_for_first_checkpoint(&run, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!run.join("summary.json").exists(), "killed before the end");

    let backend = cpu_backends()[0].name();
    let output = common::digits(
        Path::new("."),
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--backend",
            backend,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(common::stdout(&output).contains("split 2 ways"));
    assert_eq!(
        metrics_without_timing(&run),
        metrics_without_timing(&reference)
    );
    let (a, b) = (common::summary_json(&run), common::summary_json(&reference));
    assert_eq!(a["test"], b["test"]);
    assert_eq!(a["devices"], 2);
}

#[test]
fn device_counts_that_cannot_work_are_refused_by_key() {
    let work = tempfile::tempdir().unwrap();
    for (set, needle) in [
        ("training.devices=0", "between 1 and 64"),
        ("training.devices=65", "between 1 and 64"),
        ("training.devices=40", "at least one image per device"),
    ] {
        let args = common::train_command("mlp.toml", &work.path().join("run"), &[set]);
        let output = common::run_digits(Path::new("."), &args);
        assert_user_error(&output, &["training.devices", needle]);
        assert!(!work.path().join("run").exists(), "{set}: no run folder");
    }
}
