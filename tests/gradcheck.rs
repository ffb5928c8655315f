//! `digits gradcheck`: autodiff, the written-out backpropagation and finite differences agree
//! for the seed network under every activation and loss the written-out code covers, and
//! autodiff agrees with finite differences for the normalised and deep networks; a
//! disagreement beyond the tolerance is exit code 4.

use crate::common::{digits, root, stdout, train_command};

/// `gradcheck TARGET --json` with `--set` assignments: its exit code and report.
fn gradcheck(target: &str, sets: &[&str], extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["gradcheck", target, "--json", "--set", "data.source=sample"];
    for set in sets {
        args.extend(["--set", set]);
    }
    args.extend(extra);
    let output = digits(&root(), &args);
    let report = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap(), report)
}

/// The largest error of each kind over the report's tensors.
fn worst(report: &serde_json::Value, kind: &str) -> f64 {
    report["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[kind].as_f64().unwrap_or(0.0))
        .fold(0.0, f64::max)
}

#[test]
fn the_three_gradients_agree_for_the_seed_network_with_every_activation_and_loss() {
    for activation in ["sigmoid", "tanh", "relu"] {
        for loss in ["cross_entropy", "quadratic"] {
            let sets = [
                &*format!("model.activation={activation}"),
                &*format!("training.loss={loss}"),
            ];
            let (code, report) = gradcheck("config/mlp.toml", &sets, &[]);
            let case = format!("{activation}, {loss}: {report}");
            assert_eq!(code, 0, "{case}");
            // Both in f32 on the same operations: float rounding apart.
            assert!(worst(&report, "autodiff_vs_backprop") < 1e-5, "{case}");
            // f32 against f64 central differences (step 1e-4).
            assert!(worst(&report, "autodiff_vs_differences") < 1e-4, "{case}");
            assert!(worst(&report, "backprop_vs_differences") < 1e-4, "{case}");
            assert_eq!(report["tensors"].as_array().unwrap().len(), 6, "{case}");
        }
    }
}

#[test]
fn autodiff_agrees_with_finite_differences_for_normalised_and_deep_networks() {
    for config in [
        "config/mlp-batchnorm.toml",
        "config/mlp-layernorm.toml",
        "config/deep-sigmoid-groupnorm.toml",
        "config/deep-sigmoid.toml",
    ] {
        let (code, report) = gradcheck(config, &[], &[]);
        assert_eq!(code, 0, "{config}: {report}");
        assert!(
            worst(&report, "autodiff_vs_differences") < 1e-3,
            "{config}: {report}"
        );
        let normalised = !config.ends_with("deep-sigmoid.toml");
        assert_eq!(
            report["backprop_skipped"].is_string(),
            normalised,
            "{config}"
        );
    }
}

#[test]
fn dropout_is_turned_off_for_the_check_and_said_so() {
    let (code, report) = gradcheck("config/mlp-relu.toml", &["model.dropout=0.2"], &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["dropout_off"], true);
    assert!(worst(&report, "autodiff_vs_backprop") < 1e-5, "{report}");
}

#[test]
fn a_disagreement_beyond_the_tolerance_is_exit_code_4() {
    // The real errors are around 1e-7: a tolerance below them must fail, and say so.
    let (code, report) = gradcheck("config/mlp.toml", &[], &["--tolerance", "1e-12"]);
    assert_eq!(code, 4, "{report}");
    let output = digits(
        &root(),
        &[
            "gradcheck",
            "config/mlp.toml",
            "--set",
            "data.source=sample",
            "--tolerance",
            "1e-12",
        ],
    );
    assert!(stdout(&output).contains("FAILED"), "{}", stdout(&output));
}

#[test]
fn a_trained_run_is_checked_with_its_own_weights() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let args = train_command(
        "mlp.toml",
        &run,
        &["training.epochs=1", "data.train_limit=1000"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(digits(&root(), &args).status.success());
    let output = digits(&root(), &["gradcheck", run.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("passed"), "{}", stdout(&output));
}

/// `train config/mlp.toml` on a slice with `sets`, into `out`; its results.
fn trained_with(out: &std::path::Path, sets: &[&str]) -> (Vec<f64>, Vec<f32>) {
    let mut all = vec!["data.train_limit=2000", "data.test_limit=500"];
    all.extend_from_slice(sets);
    let output = crate::common::run_digits(&root(), &train_command("mlp.toml", out, &all));
    assert!(output.status.success(), "{output:?}");
    results(out)
}

/// A run's validation losses by epoch and its output layer's weights.
fn results(run: &std::path::Path) -> (Vec<f64>, Vec<f32>) {
    let losses = crate::common::read_metrics(run)
        .iter()
        .filter(|r| r.split == digits::data::Split::Valid)
        .map(|r| r.metrics["loss"])
        .collect();
    let device = digits::backend::Backend::select(None)
        .unwrap()
        .device()
        .unwrap();
    let model = digits::inspect::trained_run::load_run(run, &device)
        .unwrap()
        .model;
    let weights = model.output.weight.val().into_data();
    (losses, weights.try_to_vec::<f32>().unwrap())
}

#[test]
fn training_with_the_written_out_backprop_is_autodiffs_run_to_float_rounding() {
    let work = tempfile::tempdir().unwrap();
    for network in [
        vec!["training.epochs=3"],
        vec![
            "training.epochs=3",
            "model.activation=\"relu\"",
            "training.optimizer=\"adam\"",
            "training.learning_rate=0.003",
            "training.loss=\"quadratic\"",
        ],
    ] {
        let run = |backprop: &str| {
            let mut sets = network.clone();
            let choice = format!("training.backprop=\"{backprop}\"");
            sets.push(&choice);
            trained_with(&work.path().join(backprop), &sets)
        };
        let (autodiff, written_out) = (run("autodiff"), run("written_out"));
        for (a, w) in autodiff.0.iter().zip(&written_out.0) {
            assert!(
                (a - w).abs() <= 1e-4 * a.abs(),
                "{network:?}: {autodiff:?} {written_out:?}"
            );
        }
        let largest = autodiff.1.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, w) in autodiff.1.iter().zip(&written_out.1) {
            assert!(
                (a - w).abs() <= 1e-4 * largest,
                "{network:?}: weight {a} vs {w}"
            );
        }
        std::fs::remove_dir_all(work.path().join("autodiff")).unwrap();
        std::fs::remove_dir_all(work.path().join("written_out")).unwrap();
    }

    // Resumed, it continues exactly: 2 epochs then 2 more equal 4 at once.
    let choice = ["training.backprop=\"written_out\""];
    let straight = work.path().join("straight");
    let (losses, weights) =
        trained_with(&straight, &[&["training.epochs=4"][..], &choice].concat());
    let halves = work.path().join("halves");
    trained_with(&halves, &[&["training.epochs=2"][..], &choice].concat());
    let resume = [
        "train",
        "--resume",
        halves.to_str().unwrap(),
        "--set",
        "training.epochs=4",
    ];
    assert!(digits(&root(), &resume).status.success());
    let (resumed_losses, resumed_weights) = results(&halves);
    assert_eq!(resumed_losses, losses);
    assert_eq!(resumed_weights, weights);
}

#[test]
fn the_written_out_backprop_is_refused_where_it_does_not_apply() {
    let work = tempfile::tempdir().unwrap();
    for (sets, needle) in [
        (vec!["model.norm=\"batch\""], "model.norm is not \"none\""),
        (vec!["model.dropout=0.2"], "model.dropout is above 0"),
        (vec!["training.devices=2"], "training.devices is 2"),
    ] {
        let mut sets = sets;
        sets.push("training.backprop=\"written_out\"");
        let output = crate::common::run_digits(
            &root(),
            &train_command("mlp.toml", &work.path().join("x"), &sets),
        );
        crate::common::assert_user_error(&output, &["training.backprop", needle]);
    }
}

#[test]
fn a_cnns_gradients_agree_with_finite_differences() {
    let cnn = root().join("config/cnn.toml");
    let small = [
        "model.conv=[4, {channels = 6, kernel = 5}]",
        "model.hidden=[16]",
    ];
    for activation in ["relu", "sigmoid", "tanh"] {
        let choice = format!("model.activation=\"{activation}\"");
        let mut sets = small.to_vec();
        sets.push(&choice);
        let (code, report) = gradcheck(
            cnn.to_str().unwrap(),
            &sets,
            &["--batch", "8", "--samples", "8"],
        );
        assert_eq!(code, 0, "{activation}: {report}");
        let names: Vec<&str> = report["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names[..4],
            [
                "conv 1 weights",
                "conv 1 biases",
                "conv 2 weights",
                "conv 2 biases"
            ]
        );
        assert!(
            worst(&report, "autodiff_vs_differences") < 1e-4,
            "{activation}: {report}"
        );
    }
    // With normalisation over channels: refused, naming it.
    let output = digits(
        &root(),
        &[
            "gradcheck",
            cnn.to_str().unwrap(),
            "--set",
            "model.norm=\"batch\"",
        ],
    );
    crate::common::assert_user_error(&output, &["model.norm = \"batch\"", "CNN"]);
}

/// The finite differences do not keep what each forward pass made: the documented CNN
/// check (32 samples a tensor, 512 forward passes) runs in the hostile-input tests' 1 GiB
/// address space (it took 12 GB when each pass kept its autodiff graph).
#[test]
fn a_cnns_check_runs_in_bounded_memory() {
    let output = crate::common::limited(
        &root(),
        &[
            "gradcheck",
            "config/cnn.toml",
            "--set",
            "data.source=sample",
            "--json",
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(worst(&report, "autodiff_vs_differences") < 1e-3, "{report}");
}

/// A CNN's check takes minutes on two cores: on a terminal it shows a bar with its count.
#[test]
fn a_cnns_check_shows_its_progress_on_a_terminal() {
    let mut terminal = crate::common::PseudoTerminal::start(&format!(
        "cd {} && exec {} gradcheck config/cnn.toml --set data.source=sample --samples 2",
        root().display(),
        env!("CARGO_BIN_EXE_digits"),
    ));
    terminal.wait_for("finite differences [");
    assert_eq!(terminal.exit_code(), Some(0), "{}", terminal.text());
    assert!(terminal.text().contains(" left)"), "{}", terminal.text());
}
