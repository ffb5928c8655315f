//! Convolutional networks (`model.kind = "cnn"`) and data augmentation (`data.augment`): a small
//! CNN trains, evaluates, predicts, summarises and plots like the MLP; an augmented run killed
//! and resumed ends where the uninterrupted one does; too large a CNN is refused by key.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{
    assert_user_error, digits, metrics_without_timing, stderr, stdout, wait_for_first_checkpoint,
};
use digits::backend::Backend;
use digits::config::Config;
use digits::inspect::ModelSummary;
use digits::model::Network;

/// A small CNN on a slice of the sample: one 8-channel block (3×3, pooled to 14×14), one of
/// 16 with a 5×5 kernel, straight to the outputs; fast enough for a test. Without
/// `config/cnn.toml`'s augmentation (tests add it back where they want it).
const SMALL_CNN: &[&str] = &[
    "data.augment={}",
    "model.conv=[8, {channels = 16, kernel = 5}]",
    "model.hidden=[]",
    "training.learning_rate=0.01",
    "data.train_limit=2000",
    "data.test_limit=1000",
];

const AUGMENT: &[&str] = &[
    "data.augment.shift=2",
    "data.augment.rotate=10",
    "data.augment.scale=0.1",
];

fn train_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut sets = SMALL_CNN.to_vec();
    sets.extend_from_slice(extra);
    common::train_command("cnn.toml", out, &sets)
}

/// The small CNN trained 3 epochs, shared (read-only) by the tests of this file.
fn trained_cnn() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, dir) = RUN.get_or_init(|| {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("run");
        let output = common::run_digits(Path::new("."), &train_args(&dir, &["training.epochs=3"]));
        assert!(output.status.success(), "{}", stderr(&output));
        (work, dir)
    });
    dir
}

#[test]
fn a_small_cnn_learns_and_every_command_reads_it() {
    let run = trained_cnn();
    let summary = common::summary_json(run);
    let accuracy = summary["test"]["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.9, "3 epochs on 2,000 images: {accuracy}"); // 93.2 % measured
    // One gradient-norm series per weighted layer: 2 convolutions and the output.
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains("grad_norm_3") && !header.contains("grad_norm_4"),
        "{header}"
    );

    let path = run.to_str().unwrap();
    let eval = digits(Path::new("."), &["eval", path]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(json["accuracy"], summary["test"]["accuracy"]);

    let predict = digits(Path::new("."), &["predict", path, "--test-index", "0"]);
    assert!(predict.status.success(), "{}", stderr(&predict));
    assert!(stdout(&predict).contains('7'), "{}", stdout(&predict));

    let summary = digits(Path::new("."), &["summary", path]);
    let text = stdout(&summary);
    for needle in [
        "conv 1",
        "1×28×28 → 8×14×14",
        "8×14×14 → 16×7×7",
        "5×5 kernel, padding 2",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }

    let plot = digits(Path::new("."), &["plot", path]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let weights = image::open(run.join("weights.png")).unwrap();
    assert!(weights.width() > 100, "the 8 filters drawn");
}

#[test]
fn the_summary_counts_what_burn_builds() {
    let device = Backend::select(None).unwrap().device().unwrap();
    for norm in ["none", "batch", "layer", "group"] {
        let set = format!("model.norm={norm}");
        let mut sets = vec![set.as_str(), "model.conv=[4, {channels = 8, pool = 1}]"];
        sets.push("model.hidden=[12]");
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let config = Config::load(&common::root().join("config/cnn.toml"), &sets).unwrap();
        let model = Network::new(&config.model, config.training.loss, &device);
        let summary = ModelSummary::of(&model, &config);
        assert_eq!(
            summary.trainable() + summary.buffers(),
            summary.burn_num_params,
            "{norm}"
        );
        // 4×3×3 + 8×4×3×3 weights; 14×14 maps stay 14×14 (no pooling): 8×196 → 12 → 10.
        assert_eq!(summary.weights(), 36 + 288 + 8 * 196 * 12 + 120, "{norm}");
        let logits = model.forward(burn::tensor::Tensor::zeros([3, 784], &device));
        assert_eq!(logits.dims(), [3, 10]);
    }
    // The reference CNN's header comment states its parameter count.
    let config = Config::load(&common::root().join("config/cnn.toml"), &[]).unwrap();
    let model = Network::new(&config.model, config.training.loss, &device);
    let trainable = ModelSummary::of(&model, &config).trainable();
    let header = std::fs::read_to_string(common::root().join("config/cnn.toml")).unwrap();
    let stated = digits::inspect::model_summary::thousands(trainable);
    assert!(
        header.contains(&format!("= {stated}")),
        "{stated} not in the header"
    );
}

#[test]
fn an_augmented_run_killed_and_resumed_ends_where_the_uninterrupted_one_does() {
    let work = tempfile::tempdir().unwrap();
    let args = |out: &Path| {
        let mut extra = AUGMENT.to_vec();
        extra.push("training.epochs=3");
        train_args(out, &extra)
    };
    let reference = work.path().join("reference");
    let output = common::run_digits(Path::new("."), &args(&reference));
    assert!(output.status.success(), "{}", stderr(&output));
    // Augmentation changes what is learned (the un-augmented run is the shared one).
    assert_ne!(
        metrics_without_timing(&reference),
        metrics_without_timing(trained_cnn())
    );

    let run = work.path().join("run");
    let mut child = common::Reaped(common::spawn(&args(&run)));
    wait_for_first_checkpoint(&run, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!run.join("summary.json").exists(), "killed before the end");
    let output = digits(
        Path::new("."),
        &["train", "--resume", run.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        metrics_without_timing(&run),
        metrics_without_timing(&reference)
    );
    let (a, b) = (common::summary_json(&run), common::summary_json(&reference));
    assert_eq!(a["test"], b["test"]);

    // The moved images can be looked at; a run without augmentation has none to show.
    let plot = digits(
        Path::new("."),
        &["plot", run.to_str().unwrap(), "--augmented"],
    );
    assert!(plot.status.success(), "{}", stderr(&plot));
    let picture = image::open(run.join("augmented.png")).unwrap();
    let size = digits::inspect::augmented_plot::size();
    assert_eq!((picture.width(), picture.height()), size);
    let plain = digits(
        Path::new("."),
        &["plot", trained_cnn().to_str().unwrap(), "--augmented"],
    );
    assert_user_error(&plain, &["without data.augment"]);
}

#[test]
fn eval_moved_shows_the_accuracy_fall_as_the_digits_move() {
    let run = trained_cnn();
    let output = digits(Path::new("."), &["eval", run.to_str().unwrap(), "--moved"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for needle in [
        "as they are",
        "shift 1 px",
        "shift 4 px",
        "rotate +15°",
        "rotate -15°",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("eval.json")).unwrap()).unwrap();
    let moved = json["moved"].as_array().unwrap();
    let accuracy = |i: usize| moved[i]["accuracy"].as_f64().unwrap();
    assert_eq!(moved.len(), 6);
    // Further moved, worse read: 4 pixels cost more than 1, and 1 costs something.
    assert!(accuracy(3) < accuracy(0), "{moved:?}");
    assert!(
        accuracy(0) < json["accuracy"].as_f64().unwrap(),
        "{moved:?}"
    );
}

#[test]
fn a_cnn_too_large_for_memory_or_the_image_is_refused_by_key() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let output = common::run_digits(
        Path::new("."),
        &common::train_command("cnn.toml", &out, &["model.conv=[4096, 4096]"]),
    );
    assert_user_error(&output, &["model.conv", "MB", "training.max_memory_mb"]);
    assert!(!out.exists(), "nothing written");
    let output = common::run_digits(
        Path::new("."),
        &common::train_command("cnn.toml", &out, &["model.conv=[4, 4, 4, 4, 4, 4]"]),
    );
    assert_user_error(&output, &["model.conv", "block 5", "would leave none"]);
    let output = common::run_digits(
        Path::new("."),
        &common::train_command("mlp.toml", &out, &["model.conv=[4]"]),
    );
    assert_user_error(&output, &["model.conv", "model.kind"]);
    let output = common::run_digits(
        Path::new("."),
        &common::train_command(
            "cnn.toml",
            &out,
            &["model.conv=[{channels = 4, kernl = 3}]"],
        ),
    );
    assert_user_error(&output, &["kernl", "kernel"]);
}

#[test]
fn a_sweep_and_a_bench_take_a_cnn_too() {
    let work = tempfile::tempdir().unwrap();
    let config = common::root().join("config/cnn.toml");
    let config = config.to_str().unwrap();
    let sweep = [
        "sweep",
        config,
        "--vary",
        "model.conv",
        "[4]",
        "[{channels = 4, kernel = 5, pool = 4}]",
        "--set",
        "data.augment={}",
        "--set",
        "model.hidden=[]",
    ];
    let md = common::tabulate(work.path(), &work.path().join("sweep"), 300, &sweep);
    let rows = common::table_rows(&md);
    assert_eq!(rows.len(), 2, "{md}");
    assert!(rows.iter().all(|r| r.contains(" %")), "{md}");
    let bench = digits(
        work.path(),
        &[
            "bench",
            config,
            "--set",
            "data.source=sample",
            "--set",
            "data.train_limit=300",
            "--set",
            "model.conv=[4]",
            "--batch-sizes",
            "16",
            "--rounds",
            "1",
            "--seconds",
            "0.2",
            "--json",
        ],
    );
    assert!(bench.status.success(), "{}", stderr(&bench));
    let row: serde_json::Value = serde_json::from_str(stdout(&bench).trim()).unwrap();
    assert!(row["learner_train_sps"].as_f64().unwrap() > 0.0, "{row}");
    assert!(
        row["backprop_train_sps"].is_null(),
        "the written-out pass is for MLPs: {row}"
    );
}
