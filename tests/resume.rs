//! Never lose a run: kill -9, Ctrl-C and resume; determinism; checkpoints that fail to load.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::{
    assert_user_error, digits, metrics_without_timing, stderr, wait_for_first_checkpoint,
};

/// `train config/mlp.toml` on the test data into `out`, 12 epochs, as arguments.
fn train_args(out: &Path) -> Vec<String> {
    common::train_command("mlp.toml", out, &["training.epochs=12"])
}

/// The same training, never interrupted: what every resumed run must end up equal to.
fn uninterrupted() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, run) = RUN.get_or_init(|| {
        let work = tempfile::tempdir().unwrap();
        let run = work.path().join("run");
        let output = Command::new(env!("CARGO_BIN_EXE_digits"))
            .args(train_args(&run))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        (work, run)
    });
    run
}

fn resume(run: &Path) -> Output {
    digits(
        Path::new("."),
        &["train", "--resume", run.to_str().unwrap()],
    )
}

fn assert_same_end(resumed: &Path) {
    let reference = uninterrupted();
    assert_eq!(
        metrics_without_timing(resumed),
        metrics_without_timing(reference)
    );
    let (a, b) = (
        common::summary_json(resumed),
        common::summary_json(reference),
    );
    assert_eq!(a["test"], b["test"]);
    assert_eq!(a["epochs_completed"], 12);
    assert_eq!(a["interrupted"], false);
}

#[test]
fn a_run_killed_after_its_first_checkpoint_resumes_to_the_same_end() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let mut child = common::spawn(&train_args(&run));
    wait_for_first_checkpoint(&run, &mut child);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert!(!run.join("summary.json").exists(), "killed before the end");

    let output = resume(&run);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(common::stdout(&output).contains("resuming at epoch"));
    assert_same_end(&run);
}

#[test]
fn ctrl_c_stops_cleanly_with_exit_130_and_the_run_resumes() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let mut child = common::spawn(&train_args(&run));
    wait_for_first_checkpoint(&run, &mut child);
    let output = common::ctrl_c(child);
    // Under cargo (here `cargo test`, as under `cargo run`) the hint says `cargo run`.
    let hint = format!("cargo run --release -- train --resume {}", run.display());
    assert!(stderr(&output).contains(&hint), "{}", stderr(&output));
    let partial = common::summary_json(&run);
    assert_eq!(partial["interrupted"], true);
    assert!(partial["test"].is_null());
    assert!(run.join("metrics.csv").is_file());

    let output = resume(&run);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_end(&run);
}

#[test]
fn two_identical_runs_write_identical_metrics_apart_from_timing() {
    let work = tempfile::tempdir().unwrap();
    let runs: Vec<PathBuf> = ["a", "b"].iter().map(|n| work.path().join(n)).collect();
    for run in &runs {
        let mut args = train_args(run);
        args.extend(["--set".into(), "data.train_limit=2000".into()]);
        let output = Command::new(env!("CARGO_BIN_EXE_digits"))
            .args(&args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert_eq!(
        metrics_without_timing(&runs[0]),
        metrics_without_timing(&runs[1])
    );
    assert_eq!(
        common::summary_json(&runs[0])["test"],
        common::summary_json(&runs[1])["test"]
    );
}

/// A finished 3-epoch run on a slice (checkpoints of epochs 2 and 3 are kept).
fn short_run(work: &Path) -> PathBuf {
    let run = work.join("run");
    let mut args = train_args(&run);
    args.extend(
        [
            "--set",
            "training.epochs=3",
            "--set",
            "data.train_limit=500",
        ]
        .map(String::from),
    );
    let output = Command::new(env!("CARGO_BIN_EXE_digits"))
        .args(&args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    run
}

#[test]
fn a_checkpoint_that_fails_to_load_is_reported_and_the_previous_one_used() {
    let work = tempfile::tempdir().unwrap();
    let run = short_run(work.path());
    let newest = run.join("checkpoint/model-3.bpk");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 3]).unwrap();

    let output = digits(
        Path::new("."),
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--set",
            "training.epochs=4",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("epoch 3 cannot be used"),
        "{}",
        stderr(&output)
    );
    assert!(common::stdout(&output).contains("resuming at epoch 3"));
    assert_eq!(common::summary_json(&run)["epochs_completed"], 4);
}

#[test]
fn another_runs_optimizer_state_is_not_resumed_from() {
    let work = tempfile::tempdir().unwrap();
    let run = short_run(work.path());
    let other_work = tempfile::tempdir().unwrap();
    let other = short_run(other_work.path());
    // The other run's optimizer state, with its mark, in place of this run's.
    for file in ["optim-3.bpk", "optim-3.run"] {
        std::fs::copy(
            other.join("checkpoint").join(file),
            run.join("checkpoint").join(file),
        )
        .unwrap();
    }
    let output = digits(
        Path::new("."),
        &["train", "--resume", run.to_str().unwrap(), "--epochs", "4"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("epoch 3 cannot be used") && err.contains("optim-3.bpk: run "),
        "{err}"
    );
    // It continued from its own epoch 2 instead.
    assert!(
        common::stdout(&output).contains("resuming at epoch 3"),
        "{err}"
    );

    // The file alone, without its mark: its content is not what this run wrote.
    let third_work = tempfile::tempdir().unwrap();
    let run = short_run(third_work.path());
    std::fs::copy(
        other.join("checkpoint/optim-3.bpk"),
        run.join("checkpoint/optim-3.bpk"),
    )
    .unwrap();
    let output = digits(
        Path::new("."),
        &["train", "--resume", run.to_str().unwrap(), "--epochs", "4"],
    );
    assert!(
        stderr(&output).contains("content changed"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn resume_refuses_what_would_make_it_meaningless() {
    let work = tempfile::tempdir().unwrap();
    let run = short_run(work.path());
    let dir = run.to_str().unwrap();

    let output = digits(
        Path::new("."),
        &["train", "--resume", dir, "--set", "model.hidden=[32]"],
    );
    assert_user_error(&output, &["[model]", "cannot change"]);
    let output = digits(Path::new("."), &["train", "--resume", dir]);
    assert_user_error(&output, &["all 3 epochs are done", "training.epochs="]);
    let output = digits(Path::new("."), &["train", "--resume", "no/such/run"]);
    assert_user_error(&output, &["no/such/run"]);

    for entry in std::fs::read_dir(run.join("checkpoint")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let output = digits(
        Path::new("."),
        &["train", "--resume", dir, "--set", "training.epochs=9"],
    );
    assert_user_error(&output, &["no complete checkpoint"]);
}

#[test]
fn a_checkpoint_that_cannot_be_written_stops_training_with_exit_2() {
    // A folder where the first checkpoint file should go: its write fails, as on a full disk
    // or a read-only folder (which root, running the tests, would not notice).
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    std::fs::create_dir_all(run.join("checkpoint/model-1.bpk")).unwrap();
    let mut args = train_args(&run);
    args.extend(["--force", "--set", "data.train_limit=500"].map(String::from));
    let output = Command::new(env!("CARGO_BIN_EXE_digits"))
        .args(&args)
        .output()
        .unwrap();
    assert_user_error(&output, &["checkpoint could not be written", "disk full"]);
}

/// `train config/mlp.toml` with a 2-epoch warm-up then a cosine decay to 0.05, 8 epochs, into
/// `out`.
fn scheduled_args(out: &Path) -> Vec<String> {
    common::train_command(
        "mlp.toml",
        out,
        &[
            "training.epochs=8",
            "training.learning_rate=1",
            "training.lr_schedule=cosine",
            "training.lr_min=0.05",
            "training.warmup_epochs=2",
        ],
    )
}

/// The `learning_rate` column of a run's metrics.csv, train rows, by epoch.
fn learning_rates(run: &Path) -> Vec<f64> {
    common::read_metrics(run)
        .iter()
        .filter(|r| r.split == digits::data::Split::Train)
        .map(|r| r.metrics["learning_rate"])
        .collect()
}

#[test]
fn a_scheduled_run_killed_and_resumed_follows_the_same_rate_curve_to_the_same_end() {
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference");
    let output = Command::new(env!("CARGO_BIN_EXE_digits"))
        .args(scheduled_args(&reference))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // The curve is in metrics.csv: up during the warm-up, then down towards lr_min.
    let rates = learning_rates(&reference);
    assert_eq!(rates.len(), 8);
    assert!(rates[0] < rates[1] && rates[1] < rates[2], "{rates:?}");
    assert!(rates[2..].windows(2).all(|w| w[1] < w[0]), "{rates:?}");
    assert!(rates[7] > 0.05 && rates[7] < 0.2, "{rates:?}");

    let run = work.path().join("run");
    let mut child = common::spawn(&scheduled_args(&run));
    wait_for_first_checkpoint(&run, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let output = resume(&run);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(common::stdout(&output).contains("resuming at epoch"));
    assert_eq!(
        metrics_without_timing(&run),
        metrics_without_timing(&reference)
    );
    assert_eq!(
        common::summary_json(&run)["test"],
        common::summary_json(&reference)["test"]
    );

    // Resuming may not bend the curve already followed.
    let dir = run.to_str().unwrap();
    for (set, needles) in [
        (
            "training.epochs=16",
            &["training.epochs", "cosine", "new run"][..],
        ),
        (
            "training.lr_schedule=step",
            &["training.lr_schedule", "cannot change"][..],
        ),
        (
            "training.learning_rate=0.5",
            &["training.learning_rate", "cannot change"][..],
        ),
        (
            "training.batch_size=64",
            &["training.batch_size", "cannot change"][..],
        ),
    ] {
        let output = digits(Path::new("."), &["train", "--resume", dir, "--set", set]);
        assert_user_error(&output, needles);
    }
    let output = digits(Path::new("."), &["train", "--resume", dir]);
    assert_user_error(&output, &["all 8 epochs are done", "cannot be extended"]);
}

/// A folder a training is writing is locked: a second `--out X --force` or a `--resume` of
/// it is refused with nothing changed, and the first goes on to its end.
#[test]
fn a_folder_being_trained_into_is_not_cleared_or_resumed_by_another_digits() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let first = common::train_command("mlp.toml", &run, &["training.epochs=400"]);
    let mut child = common::spawn(&[&first[..], &["--force".to_string()]].concat());
    wait_for_first_checkpoint(&run, &mut child);
    let again = common::run_digits(
        work.path(),
        &[
            &common::train_command("mlp.toml", &run, &["training.epochs=1"])[..],
            &["--force".to_string()],
        ]
        .concat(),
    );
    assert_user_error(
        &again,
        &["another digits is writing in this folder", "--out"],
    );
    assert_user_error(&resume(&run), &["another digits is writing in this folder"]);
    assert!(run.join("config.toml").is_file() && run.join("initial.bpk").is_file());
    common::ctrl_c(child);
    // Released with the process: the run resumes (one epoch more).
    let done = common::summary_json(&run)["epochs_completed"]
        .as_u64()
        .unwrap();
    let more = (done + 1).to_string();
    let output = digits(
        Path::new("."),
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--epochs",
            &more,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}
