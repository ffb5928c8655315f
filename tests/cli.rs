//! The built `digits` binary, end to end.

use crate::common;

use std::path::Path;
use std::process::Output;

use crate::common::{assert_user_error, config, digits, sample_dir, stderr, stdout};

/// `digits train config/mlp.toml --data-dir <the test MNIST> ARGS...`, run in `work`.
fn train_mlp(work: &Path, args: &[&str]) -> Output {
    let config = config("mlp.toml");
    let data = sample_dir().display().to_string();
    let mut all = vec!["train", &config, "--data-dir", &data];
    all.extend(args);
    digits(work, &all)
}

#[test]
fn train_writes_the_run_folder_and_one_line_per_split_per_epoch() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let output = train_mlp(
        work.path(),
        &[
            "--out",
            out.to_str().unwrap(),
            "--set",
            "data.train_limit=2000",
            "--set",
            "data.test_limit=1000",
            "--set",
            "training.epochs=3",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);

    // Off-terminal output: a header, 3 epochs × (train, valid), the test line, the folder.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 9, "{text}");
    assert!(
        lines[0].contains("on ") && lines[0].contains("13002 parameters"),
        "{text}"
    );
    let epoch_lines: Vec<&&str> = lines.iter().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epoch_lines.len(), 6, "{text}");
    assert!(epoch_lines[0].contains("1/3  train") && epoch_lines[5].contains("3/3  valid"));
    assert!(lines[7].starts_with("test"), "{text}");

    let summary = common::summary_json(&out);
    for key in [
        "backend",
        "burn_version",
        "parameters",
        "epochs",
        "dataset",
        "train",
        "valid",
        "test",
        "train_samples_per_second",
        "wall_seconds",
    ] {
        assert!(
            summary.get(key).is_some(),
            "summary.json lacks `{key}`: {summary}"
        );
    }
    assert_eq!(summary["parameters"], 13_002);
    assert_eq!(summary["burn_version"], "0.22.1");
    assert_eq!(summary["dataset"]["train"], 1800);
    assert_eq!(summary["dataset"]["valid"], 200);
    assert_eq!(summary["dataset"]["test"], 1000);
    for split in ["train", "valid", "test"] {
        let accuracy = summary[split]["accuracy"].as_f64().unwrap();
        let loss = summary[split]["loss"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy) && loss.is_finite() && loss > 0.0);
    }
    assert!(summary["train_samples_per_second"].as_f64().unwrap() > 0.0);

    // The resolved config records the overrides and reloads as is.
    let resolved = digits::config::Config::load(&out.join("config.toml"), &[]).unwrap();
    assert_eq!(resolved.training.epochs, 3);
    assert_eq!(resolved.data.train_limit, Some(2000));

    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6, "{csv}");
    assert!(
        csv.starts_with(
            "epoch,split,accuracy,grad_norm_1,grad_norm_2,grad_norm_3,grad_ratio,learning_rate,loss,"
        ),
        "{csv}"
    );
    assert!(out.join("model.bpk").is_file());
}

#[test]
fn default_run_folders_are_numbered_so_reruns_never_collide() {
    let work = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = train_mlp(
            work.path(),
            &[
                "--set",
                "data.train_limit=200",
                "--set",
                "data.test_limit=100",
                "--set",
                "training.epochs=1",
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
    }
    for run in ["run-1", "run-2"] {
        let dir = work.path().join("artifacts/mlp").join(run);
        assert!(
            dir.join("summary.json").is_file(),
            "{} missing",
            dir.display()
        );
    }
}

#[test]
fn an_occupied_out_folder_is_refused_and_left_as_it_was() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("precious");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("summary.json"), "keep me").unwrap();
    let output = train_mlp(work.path(), &["--out", out.to_str().unwrap()]);
    assert_user_error(&output, &["precious", "--force"]);
    assert_eq!(
        std::fs::read_to_string(out.join("summary.json")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}

#[test]
fn an_unwritable_out_folder_exits_2() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let out = file.join("run");
    let output = train_mlp(work.path(), &["--out", out.to_str().unwrap()]);
    assert_user_error(&output, &["cannot create output folder", "a-file"]);
}

#[test]
fn a_bad_config_exits_2_naming_the_key() {
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("typo.toml");
    std::fs::write(&path, "[model]\nhiden = [16, 16]\n").unwrap();
    let output = digits(work.path(), &["train", path.to_str().unwrap()]);
    assert_user_error(&output, &["typo.toml", "model.hiden"]);

    let output = digits(
        work.path(),
        &[
            "train",
            &config("mlp.toml"),
            "--set",
            "training.batch_size=0",
        ],
    );
    assert_user_error(&output, &["mlp.toml", "training.batch_size"]);

    let output = digits(work.path(), &["train", "no/such/config.toml"]);
    assert_user_error(&output, &["no/such/config.toml"]);
    assert!(
        !work.path().join("artifacts").exists(),
        "nothing is written"
    );
}

#[test]
fn missing_or_malformed_data_exits_2_with_the_fix() {
    let work = tempfile::tempdir().unwrap();
    let output = digits(
        work.path(),
        &["train", &config("mlp.toml"), "--data-dir", "no-such-folder"],
    );
    assert_user_error(&output, &["no-such-folder", "--data-dir"]);

    let broken = work.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for name in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(sample_dir().join(name), broken.join(name)).unwrap();
    }
    std::fs::write(broken.join("t10k-labels-idx1-ubyte.gz"), b"not an idx file").unwrap();
    let output = digits(
        work.path(),
        &[
            "train",
            &config("mlp.toml"),
            "--data-dir",
            broken.to_str().unwrap(),
        ],
    );
    assert_user_error(&output, &["t10k-labels-idx1-ubyte.gz", "magic"]);
}

/// `digits ARGS` in `work` with an empty Burn cache in `work/cache` and downloads forbidden:
/// a machine offline with nothing cached.
fn digits_offline(work: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_digits"))
        .current_dir(work)
        .args(args)
        .env("XDG_CACHE_HOME", work.join("cache"))
        .env("DIGITS_NO_DOWNLOAD", "1")
        .output()
        .unwrap()
}

/// Words of Rust internals that must never reach a user.
fn assert_no_debug_dump(text: &str) {
    for internal in [
        "unwrap()",
        "reqwest",
        "Error {",
        "panicked",
        "RUST_BACKTRACE",
    ] {
        assert!(!text.contains(internal), "`{internal}` in: {text}");
    }
}

#[test]
fn offline_with_nothing_cached_trains_on_the_bundled_sample_and_keeps_to_it() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let output = digits_offline(
        work.path(),
        &[
            "train",
            &config("mlp.toml"),
            "--out",
            run.to_str().unwrap(),
            "--set",
            "training.epochs=1",
            "--set",
            "data.train_limit=1000",
            "--set",
            "data.test_limit=500",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let (out, err) = (stdout(&output), stderr(&output));
    // Said once, plainly, with the reason and the way to full MNIST.
    assert_eq!(
        err.matches("so digits uses the bundled MNIST sample")
            .count(),
        1,
        "{err}"
    );
    for needle in ["DIGITS_NO_DOWNLOAD", "--data-dir", "network", "cache"] {
        assert!(err.contains(needle), "`{needle}` missing from: {err}");
    }
    assert_no_debug_dump(&err);
    assert!(
        out.lines()
            .next()
            .unwrap()
            .contains("the bundled MNIST sample"),
        "{out}"
    );
    let summary = common::summary_json(&run);
    assert_eq!(summary["dataset"]["source"], "sample");
    assert!(
        summary["dataset"]["fallback"]
            .as_str()
            .unwrap()
            .contains("DIGITS_NO_DOWNLOAD")
    );
    let resolved = digits::config::Config::load(&run.join("config.toml"), &[]).unwrap();
    assert_eq!(resolved.data.source, digits::config::DataSource::Sample);

    // Full MNIST "appears" in the cache (here a bad copy, which would fail loudly if read):
    // eval and --resume keep to the sample the run was trained on.
    let cached = work.path().join("cache/burn-dataset/mnist");
    for split in ["train", "test"] {
        std::fs::create_dir_all(cached.join(split)).unwrap();
    }
    for file in [
        "train/train-images-idx3-ubyte",
        "train/train-labels-idx1-ubyte",
        "test/t10k-images-idx3-ubyte",
        "test/t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(cached.join(file), b"not MNIST").unwrap();
    }
    let eval = digits_offline(work.path(), &["eval", run.to_str().unwrap()]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(stdout(&eval).contains("500 test images from the bundled MNIST sample"));
    let resumed = digits_offline(
        work.path(),
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--set",
            "training.epochs=2",
        ],
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(common::summary_json(&run)["dataset"]["source"], "sample");
    assert_eq!(common::summary_json(&run)["epochs_completed"], 2);

    // Nor can a folder be slipped under it.
    let moved = digits_offline(
        work.path(),
        &[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--set",
            "training.epochs=3",
            "--data-dir",
            sample_dir().to_str().unwrap(),
        ],
    );
    assert_user_error(
        &moved,
        &["--data-dir", "bundled MNIST sample", "data.source"],
    );
}

#[test]
fn offline_asking_for_full_mnist_says_what_to_do() {
    let work = tempfile::tempdir().unwrap();
    let output = digits_offline(
        work.path(),
        &["train", &config("mlp.toml"), "--set", "data.source=mnist"],
    );
    assert_user_error(
        &output,
        &[
            "cache",
            "DIGITS_NO_DOWNLOAD",
            "network",
            "--data-dir",
            "data.source",
        ],
    );
    assert_no_debug_dump(&stderr(&output));
    assert!(
        !work.path().join("artifacts").exists(),
        "no run folder for a run that cannot start"
    );
}

#[test]
fn a_backend_this_build_lacks_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let output = digits(
        work.path(),
        &["train", &config("mlp.toml"), "--backend", "tpu"],
    );
    // clap names the backends it knows.
    assert_user_error(
        &output,
        &["tpu", "possible values: cuda, wgpu, flex, ndarray"],
    );
    #[cfg(not(feature = "cuda"))]
    {
        let output = digits(
            work.path(),
            &["train", &config("mlp.toml"), "--backend", "cuda"],
        );
        assert_user_error(&output, &["built without it", "--features cuda"]);
    }
}

#[test]
fn help_lists_the_train_options() {
    // `--help` works without data or a GPU: the quickest sign the binary starts at all.
    let output = digits(Path::new("."), &["train", "--help"]);
    assert!(output.status.success());
    assert!(stdout(&output).contains("--data-dir"));
}

#[test]
fn bench_prints_one_parsable_json_row_per_batch_size() {
    let work = tempfile::tempdir().unwrap();
    let data = sample_dir().display().to_string();
    let output = digits(
        work.path(),
        &[
            "bench",
            &config("mlp.toml"),
            "--data-dir",
            &data,
            "--set",
            "data.train_limit=2000",
            "--set",
            "data.test_limit=500",
            "--batch-sizes",
            "32,64",
            "--seconds",
            "0.2",
            "--rounds",
            "1",
            "--json",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    for (row, batch) in rows.iter().zip([32, 64]) {
        assert_eq!(row["batch_size"], batch);
        assert!(row["backend"].is_string());
        for key in [
            "raw_train_sps",
            "learner_train_sps",
            "infer_sps",
            "peak_rss_mb",
        ] {
            let value = row[key].as_f64().unwrap_or_else(|| panic!("{key}: {row}"));
            assert!(value > 0.0, "{key} = {value}");
        }
    }

    // The table says what its ratio means (it can read over 100 %).
    let output = digits(
        work.path(),
        &[
            "bench",
            &config("mlp.toml"),
            "--data-dir",
            &data,
            "--batch-sizes",
            "32",
            "--seconds",
            "0.1",
            "--rounds",
            "1",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("learner/raw") && text.contains("over 100 %"),
        "{text}"
    );
}

#[test]
fn a_mistyped_set_key_is_named_with_the_key_meant_and_blames_the_set() {
    let work = tempfile::tempdir().unwrap();
    let train = |set: &str| digits(work.path(), &["train", &config("mlp.toml"), "--set", set]);
    let output = train("training.learnin_rate=0.1");
    assert_user_error(
        &output,
        &[
            "--set training.learnin_rate=0.1",
            "did you mean `training.learning_rate`?",
            // The whole list of the section's keys, not its first 120 characters.
            "warmup_epochs",
            "Fix this --set",
        ],
    );
    assert!(!stderr(&output).contains("cut:"), "{}", stderr(&output));
    assert!(
        !stderr(&output).starts_with("error: config"),
        "{}",
        stderr(&output)
    );
    // Types in words, not serde's.
    assert_user_error(&train("model.hidden=16"), &["a list (like [16, 16])"]);
    assert_user_error(&train("training.batch_size=big"), &["a whole number"]);
    assert_user_error(
        &train("model.activation=sigmiod"),
        &["did you mean `sigmoid`?"],
    );
}

#[test]
fn set_with_a_space_instead_of_equals_says_how_to_write_it() {
    let output = digits(
        Path::new("."),
        &[
            "train",
            &config("mlp.toml"),
            "--set",
            "training.epochs",
            "2",
        ],
    );
    assert_user_error(&output, &["write --set training.epochs=2"]);
}

/// `train_mlp` for `--epochs 1` on 500 training and 100 test images into `out`, with `sets`.
fn one_small_epoch(work: &Path, out: &Path, sets: &[&str]) -> Output {
    let mut args = vec![
        "--epochs",
        "1",
        "--set",
        "data.train_limit=500",
        "--set",
        "data.test_limit=100",
        "--out",
        out.to_str().unwrap(),
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    train_mlp(work, &args)
}

#[test]
fn train_takes_epochs_and_its_help_names_every_backend() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let output = one_small_epoch(work.path(), &out, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(common::summary_json(&out)["epochs"], 1);
    assert!(
        !stderr(&output).contains("is larger than"),
        "{}",
        stderr(&output)
    );

    let help = stdout(&digits(Path::new("."), &["train", "--help"]));
    assert!(help.contains("cuda, wgpu, flex or ndarray"), "{help}");
    // predict's usage in the order it takes its arguments.
    let help = stdout(&digits(Path::new("."), &["predict", "--help"]));
    assert!(
        help.contains("digits predict [OPTIONS] <RUN_DIR> <IMAGE>..."),
        "{help}"
    );
}

#[test]
fn a_folder_that_is_not_a_run_says_what_was_expected_and_lists_the_runs_inside() {
    let work = tempfile::tempdir().unwrap();
    for run in ["artifacts/mlp/run-1", "artifacts/mlp/run-2"] {
        std::fs::create_dir_all(work.path().join(run)).unwrap();
        std::fs::write(work.path().join(run).join("config.toml"), "").unwrap();
    }
    let at = |args: &[&str]| digits(work.path(), args);
    let runs = [
        "is not a run folder but holds 2 runs",
        "artifacts/mlp/run-1",
    ];
    assert_user_error(&at(&["eval", "artifacts/mlp"]), &runs);
    assert_user_error(&at(&["train", "--resume", "artifacts/mlp"]), &runs);
    assert_user_error(&at(&["plot", "artifacts"]), &runs);
    assert_user_error(&at(&["summary", "artifacts/mlp"]), &runs);
    // A run folder is a config too: its own.
    assert!(at(&["summary", "artifacts/mlp/run-1"]).status.success());
    assert_user_error(
        &at(&["eval", "artifacts/mlp/run-1/config.toml"]),
        &["is a file, not a folder"],
    );
    std::fs::create_dir(work.path().join("empty")).unwrap();
    assert_user_error(&at(&["eval", "empty"]), &["has no config.toml"]);
}

#[test]
fn a_long_out_path_keeps_the_systems_reason() {
    let work = tempfile::tempdir().unwrap();
    let long = "x".repeat(5000);
    let output = train_mlp(work.path(), &["--out", &long]);
    assert_user_error(&output, &["File name too long"]);
}

/// `digits train … | head -2`: the reader goes away after two lines; digits stops there,
/// killed by SIGPIPE as Unix tools are (the shell says 141), with no panic banner, and the
/// run folder it had begun stays (resumable, as after any kill).
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_stops_training_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;

    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let args = common::train_command("mlp.toml", &out, &["training.epochs=50"]);
    let mut child = common::spawn(&args);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        lines.next().unwrap().unwrap();
    }
    drop(lines);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}",
        output.status
    );
    let err = stderr(&output);
    assert!(
        !err.contains("PANIC") && !err.contains("internal error"),
        "{err}"
    );
    assert!(out.join("config.toml").exists());
}

/// A `--set` whose bytes are not UTF-8 is the user's to fix (exit 2), named, not a crash.
#[cfg(unix)]
#[test]
fn a_set_that_is_not_utf8_is_named_and_exit_2() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let work = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_digits"))
        .current_dir(work.path())
        .args([
            OsStr::new("train"),
            OsStr::new(&config("mlp.toml")),
            OsStr::new("--set"),
        ])
        .arg(OsStr::from_bytes(b"training.epochs=\xff\xfe"))
        .output()
        .unwrap();
    assert_user_error(&output, &["`--set`", "not UTF-8", "training.epochs="]);
}

#[test]
fn a_batch_larger_than_the_training_images_is_said() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let output = one_small_epoch(work.path(), &out, &["training.batch_size=100000"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("training.batch_size = 100000 is larger than the")
            && text.contains("full-batch gradient descent"),
        "{text}"
    );
}
