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
