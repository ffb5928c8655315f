//! Vanishing and exploding gradients: the per-layer gradient metric, the divergence guard,
//! weight initialisation, clipping, `compare` and `sweep`.

use crate::common;

use std::path::Path;

use crate::common::{
    assert_user_error, digits, root, run_digits, stderr, table_rows, tabulate, train_command,
};
use digits::config::Config;
use digits::data::Split;
use digits::model::Network;
use digits::run::SplitRecord;
use digits::run::read_metrics_csv;

/// Trains `config` for one epoch on a 2,000-image slice and returns its train record.
fn one_epoch(config: &str, overrides: &[&str]) -> SplitRecord {
    let mut all = vec![
        "data.train_limit=2000",
        "data.test_limit=200",
        "training.epochs=1",
    ];
    all.extend_from_slice(overrides);
    let (out, _) = common::train_config(config, &all);
    let records = read_metrics_csv(&out.path().join("metrics.csv")).unwrap();
    records
        .into_iter()
        .find(|r| r.split == Split::Train)
        .unwrap()
}

#[test]
fn deep_sigmoid_gradients_vanish_and_batchnorm_brings_them_back() {
    let plain = one_epoch("deep-sigmoid.toml", &[]);
    let layers = 9; // 8 hidden + output
    let norm = |r: &SplitRecord, layer: usize| r.metrics[&format!("grad_norm_{layer}")];
    let ratio = plain.metrics["grad_ratio"];
    assert!(
        norm(&plain, 1) < norm(&plain, layers) / 10.0,
        "first {} vs last {}",
        norm(&plain, 1),
        norm(&plain, layers)
    );
    assert!(ratio < 0.1, "{ratio}");

    let batch = one_epoch("deep-sigmoid.toml", &["model.norm=batch"]);
    let batch_ratio = batch.metrics["grad_ratio"];
    assert!(
        batch_ratio >= 10.0 * ratio,
        "BatchNorm ratio {batch_ratio} vs plain {ratio}"
    );
}

#[test]
fn metrics_csv_has_one_gradient_column_per_layer_filled_on_train_rows() {
    let (out, _) = common::train_config(
        "mlp.toml",
        &[
            "data.train_limit=500",
            "data.test_limit=100",
            "training.epochs=2",
        ],
    );
    let csv = std::fs::read_to_string(out.path().join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for column in ["grad_norm_1", "grad_norm_2", "grad_norm_3", "grad_ratio"] {
        assert!(header.contains(&column), "{column} missing: {header:?}");
    }
    assert!(
        !header.contains(&"grad_norm_4"),
        "3 Linear layers: {header:?}"
    );
    for record in read_metrics_csv(&out.path().join("metrics.csv")).unwrap() {
        for layer in 1..=3 {
            let value = record.metrics.get(&format!("grad_norm_{layer}"));
            match record.split {
                Split::Train => {
                    let v = *value.unwrap();
                    assert!(v.is_finite() && v > 0.0, "epoch {}: {v}", record.epoch);
                }
                _ => assert!(value.is_none(), "validation takes no gradient"),
            }
        }
    }
}

/// `train config/mlp-relu.toml` at learning rate 1e6 on the first `images` training images.
fn train_exploding(work: &Path, images: &str) -> std::process::Output {
    let limit = format!("data.train_limit={images}");
    let sets = ["training.learning_rate=1e6", &limit, "data.test_limit=100"];
    common::run_digits(
        work,
        &common::train_command("mlp-relu.toml", &work.join("run"), &sets),
    )
}

#[test]
fn an_exploding_run_stops_at_once_with_exit_3_and_the_fixes() {
    let work = tempfile::tempdir().unwrap();
    let output = train_exploding(work.path(), "2000");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    for needle in [
        "diverged",
        "learning_rate",
        "grad_clip_norm",
        "model.norm",
        "no checkpoint",
    ] {
        assert!(message.contains(needle), "`{needle}` missing: {message}");
    }
    assert!(!message.contains("panicked"), "{message}");
    let run = work.path().join("run");
    let summary = common::summary_json(&run);
    assert_eq!(summary["diverged"], true);
    assert_eq!(summary["diverged_at"]["epoch"], 1);
    assert!(summary["test"].is_null());
    assert!(
        !run.join("model.bpk").exists(),
        "NaN weights are not saved as the model"
    );
    // Stopped at once: no validation, no second epoch, and the step is the first bad one
    // (the first epoch is 57 steps; losses are checked in groups of 32 steps, so the rest of
    // a group runs before the check).
    let records = read_metrics_csv(&run.join("metrics.csv")).unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!((records[0].epoch, records[0].split), (1, Split::Train));
    let step = summary["diverged_at"]["step"].as_u64().unwrap();
    assert!((1..=57).contains(&step), "{step}");
    assert!(
        message.contains(&format!("epoch 1, step {step}:")),
        "{message}"
    );
}

#[test]
fn a_run_that_diverges_after_an_epoch_keeps_a_loadable_checkpoint() {
    // A few dozen training images make an epoch of two or three steps, so whether the blow-up
    // comes in the first epoch or a later one depends on the slice: try a few, use the first
    // that completed an epoch before diverging.
    let work = tempfile::tempdir().unwrap();
    let (run, output, epoch) = ["40", "48", "56", "64", "72", "80"]
        .iter()
        .find_map(|images| {
            let dir = work.path().join(images);
            std::fs::create_dir(&dir).unwrap();
            let output = train_exploding(&dir, images);
            // Some slices only kill their ReLUs (the loss stays finite): not this test's case.
            if output.status.code() != Some(3) {
                return None;
            }
            let run = dir.join("run");
            let epoch = common::summary_json(&run)["diverged_at"]["epoch"]
                .as_u64()
                .unwrap() as usize;
            (epoch >= 2).then_some((run, output, epoch))
        })
        .expect("one of the slices diverges after its first epoch");
    let (kept, path) =
        digits::train::checkpoint::last_complete_before(&run.join("checkpoint"), epoch)
            .expect("a checkpoint before the divergence");
    assert!(stderr(&output).contains(&path.display().to_string()));
    assert_eq!(kept, epoch - 1);

    let config = Config::load(&run.join("config.toml"), &[]).unwrap();
    let device = digits::backend::Backend::select(None)
        .unwrap()
        .device()
        .unwrap();
    let record = burn::store::ModuleRecord::load(&path).unwrap();
    let model = burn::module::Module::try_load_record(
        Network::new(&config.model, config.training.loss, &device),
        record,
    )
    .unwrap();
    let weights: Vec<f32> = model.output.weight.val().into_data().try_to_vec().unwrap();
    assert!(weights.iter().all(|w| w.is_finite()));
}

#[test]
fn gradient_clipping_tames_the_same_learning_rate() {
    let (_out, report) = common::train_config(
        "mlp-relu.toml",
        &[
            "training.learning_rate=1e6",
            "training.grad_clip_norm=1e-7",
            "data.train_limit=2000",
            "data.test_limit=500",
            "training.epochs=2",
        ],
    );
    assert!(!report.summary.diverged);
    assert!(report.summary.test.unwrap().accuracy > 0.5);
}

#[test]
fn initialisers_set_the_weight_scale_and_keep_burns_biases() {
    let device = digits::backend::Backend::select(None)
        .unwrap()
        .device()
        .unwrap();
    let std_of = |init: &str| {
        let config = Config::parse(
            Path::new("test.toml"),
            "",
            &[
                format!("model.init={init}"),
                "model.init_std=0.5".into(),
                "model.hidden=[400]".into(),
            ],
        )
        .unwrap();
        let model = Network::new(&config.model, config.training.loss, &device);
        let w: Vec<f32> = model.hidden[0]
            .linear
            .weight
            .val()
            .into_data()
            .try_to_vec()
            .unwrap();
        let b: Vec<f32> = model.hidden[0]
            .linear
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec()
            .unwrap();
        let std = (w.iter().map(|v| (v * v) as f64).sum::<f64>() / w.len() as f64).sqrt();
        // Burn's default bias: uniform within ±1/√fan_in.
        assert!(b.iter().all(|v| v.abs() <= 1.0 / 784f32.sqrt()), "{init}");
        std
    };
    let close = |got: f64, want: f64| (got / want - 1.0).abs() < 0.05;
    assert!(close(std_of("he_normal"), (2.0f64 / 784.0).sqrt()));
    assert!(close(
        std_of("xavier_normal"),
        (2.0f64 / (784.0 + 400.0)).sqrt()
    ));
    assert!(close(std_of("normal"), 0.5));
    // Burn's default, Kaiming uniform with gain 1/√3 (PyTorch's): std 1/√(3·fan_in).
    assert!(close(std_of("default"), (1.0f64 / (3.0 * 784.0)).sqrt()));
}

#[test]
fn sweep_with_two_values_produces_two_rows_and_a_plot() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("sweep");
    let mlp = root().join("config/mlp.toml");
    let sweep = [
        "sweep",
        mlp.to_str().unwrap(),
        "--vary",
        "training.learning_rate",
        "0.5",
        "2",
    ];
    let md = tabulate(work.path(), &out, 500, &sweep);
    let rows = table_rows(&md);
    assert_eq!(rows.len(), 2, "{md}");
    assert!(rows[0].starts_with("| learning_rate=0.5 |"), "{md}");
    assert!(rows[1].starts_with("| learning_rate=2 |"), "{md}");
    assert!(out.join("learning_rate=0.5/summary.json").is_file());
    let plot = image::open(out.join("compare.png")).unwrap().to_rgb8();
    assert_eq!(
        plot.dimensions(),
        digits::inspect::comparison_plot::comparison_size(&[
            "learning_rate=0.5",
            "learning_rate=2"
        ])
    );
    // How each run was trained is recorded with the table.
    assert!(
        md.contains("- learning_rate=2: `") && md.contains("--set training.learning_rate=2"),
        "{md}"
    );
}

#[test]
fn compare_tabulates_each_config_and_keeps_going_past_a_divergence() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("cmp");
    let (mlp, relu) = (
        root().join("config/mlp.toml"),
        root().join("config/mlp-relu.toml"),
    );
    let (mlp, relu) = (mlp.to_str().unwrap(), relu.to_str().unwrap());
    let md = tabulate(work.path(), &out, 300, &["compare", mlp, relu]);
    assert_eq!(table_rows(&md).len(), 2, "{md}");
    assert!(
        md.contains("config/mlp.toml |") && md.contains("config/mlp-relu.toml |"),
        "{md}"
    );
    assert!(out.join("mlp/summary.json").is_file() && out.join("mlp-relu").is_dir());

    // The same with a learning rate that explodes the ReLU network: its row says so.
    let out2 = work.path().join("cmp2");
    let explode = ["compare", relu, "--set", "training.learning_rate=1e6"];
    let md = tabulate(work.path(), &out2, 2000, &explode);
    assert!(md.contains("diverged (epoch 1, step"), "{md}");
}

#[test]
fn a_bad_vary_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let output = digits(
        work.path(),
        &[
            "sweep",
            root().join("config/mlp.toml").to_str().unwrap(),
            "--vary",
            "model.activation",
            "swish",
        ],
    );
    assert_user_error(&output, &["model.activation"]);
}

#[test]
fn large_initial_weights_explode_and_clipping_or_batchnorm_tame_them() {
    // docs/EXPERIMENTS.md's exploding-gradient study, on a slice: deep-relu with weights drawn
    // at std 0.4 diverges in its first steps; clipped by norm or by value, or batch-normed, it
    // trains.
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("exploding");
    let deep = root().join("config/deep-relu.toml");
    let sweep = [
        "sweep",
        deep.to_str().unwrap(),
        "--set",
        "model.init=\"normal\"",
        "--set",
        "model.init_std=0.4",
        "--zip",
        "--vary",
        "training.grad_clip_norm",
        "0",
        "1",
        "0",
        "0",
        "--vary",
        "training.grad_clip_value",
        "0",
        "0",
        "0.01",
        "0",
        "--vary",
        "model.norm",
        "none",
        "none",
        "none",
        "batch",
    ];
    let md = tabulate(work.path(), &out, 2000, &sweep);
    let rows = table_rows(&md);
    assert_eq!(rows.len(), 4, "{md}");
    assert!(rows[0].contains("diverged (epoch 1, step"), "{md}");
    for row in &rows[1..] {
        assert!(!row.contains("diverged") && row.contains(" %"), "{md}");
    }
    // Both clippings at once are refused, naming both keys.
    let both = run_digits(
        work.path(),
        &train_command(
            "mlp.toml",
            &work.path().join("both"),
            &["training.grad_clip_norm=1", "training.grad_clip_value=0.1"],
        ),
    );
    assert_user_error(
        &both,
        &["training.grad_clip_norm", "training.grad_clip_value"],
    );
}
