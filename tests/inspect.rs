//! `summary`, `eval`, `predict`, `plot` and the pictures `train` draws.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{assert_user_error, digits, root, sample_dir, stderr, stdout};
use digits::backend::Backend;
use digits::config::Config;
use digits::inspect::ModelSummary;
use digits::inspect::plots::{CONFUSION_SIZE, CURVES_SIZE, WeightGrid};
use digits::model::Network;

/// One small run, trained once and shared (read-only) by the tests of this file.
fn trained_run() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, dir) = RUN.get_or_init(|| {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("run");
        train_into(&dir, &[]);
        (work, dir)
    });
    dir
}

fn train_into(dir: &Path, extra: &[&str]) {
    let mut sets = vec![
        "data.train_limit=2000",
        "data.test_limit=1000",
        "training.epochs=20",
    ];
    sets.extend_from_slice(extra);
    let output = common::run_digits(
        Path::new("."),
        &common::train_command("mlp.toml", dir, &sets),
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

/// A private copy of the shared run's config and model, for tests that damage it.
fn copy_of_run(work: &Path) -> PathBuf {
    let dir = work.join("copy");
    std::fs::create_dir(&dir).unwrap();
    for file in ["config.toml", "model.bpk"] {
        std::fs::copy(trained_run().join(file), dir.join(file)).unwrap();
    }
    dir
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn png(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// Pixel variance over all channels: 0 for a blank picture.
fn variance(pixels: impl Iterator<Item = u8> + Clone) -> f64 {
    let n = pixels.clone().count() as f64;
    let mean = pixels.clone().map(f64::from).sum::<f64>() / n;
    pixels.map(|p| (f64::from(p) - mean).powi(2)).sum::<f64>() / n
}

#[test]
fn summary_counts_13002_parameters_for_the_seed_network() {
    let output = digits(&root(), &["summary", "config/mlp.toml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("trainable parameters: 13,002 = 12,960 weights + 42 biases\n"),
        "{text}"
    );
    assert!(text.contains("hidden 1"), "{text}");
    assert!(text.contains("784 → 16"), "{text}");
    assert!(
        !text.contains("buffers ("),
        "no buffers without BatchNorm: {text}"
    );
}

#[test]
fn summary_lists_batchnorm_statistics_as_buffers() {
    let output = digits(&root(), &["summary", "config/mlp-batchnorm.toml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(
            "trainable parameters: 13,066 = 12,960 weights + 42 biases + 64 normalisation γ/β\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("buffers (not trained): 64 BatchNorm running means and variances\n"),
        "{text}"
    );
    assert!(text.contains("(trainable + buffers): 13,130"), "{text}");
}

#[test]
fn summary_totals_match_burns_own_count_for_every_norm() {
    let device = Backend::select(None).unwrap().device().unwrap();
    for norm in ["none", "batch", "layer", "group"] {
        let set = format!("model.norm={norm}");
        let config = Config::load(
            &root().join("config/mlp.toml"),
            &[set, "model.hidden=[32, 16, 8]".into()],
        )
        .unwrap();
        let model = Network::new(&config.model, config.training.loss, &device);
        let summary = ModelSummary::of(&model, &config);
        assert_eq!(
            summary.trainable() + summary.buffers(),
            summary.burn_num_params,
            "{norm}"
        );
        assert_eq!(summary.weights(), 784 * 32 + 32 * 16 + 16 * 8 + 8 * 10);
        assert_eq!(summary.biases(), 32 + 16 + 8 + 10);
    }
}

#[test]
fn eval_reproduces_the_test_accuracy_of_training_exactly() {
    let run = trained_run();
    let output = digits(Path::new("."), &["eval", run.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("confusion matrix"), "{text}");
    assert!(text.contains("digit  precision"), "{text}");

    let summary = json(&run.join("summary.json"));
    let eval = json(&run.join("eval.json"));
    assert_eq!(eval["accuracy"], summary["test"]["accuracy"]);
    assert_eq!(eval["loss"], summary["test"]["loss"]);
    assert_eq!(eval["images"], 1000);

    let confusion: Vec<Vec<u64>> = serde_json::from_value(eval["confusion"].clone()).unwrap();
    let total: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..10).map(|d| confusion[d][d]).sum();
    assert_eq!(total, 1000);
    // burn-train's accuracy metric and our confusion matrix agree.
    let accuracy = eval["accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - correct as f64 / 1000.0).abs() < 1e-9,
        "{accuracy}"
    );
    let per_class = eval["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 10);
    let support: u64 = per_class
        .iter()
        .map(|c| c["support"].as_u64().unwrap())
        .sum();
    assert_eq!(support, 1000);

    let picture = png(&run.join("confusion.png"));
    assert_eq!(picture.dimensions(), CONFUSION_SIZE);
    assert!(variance(picture.as_raw().iter().copied()) > 0.0);
}

/// The digit `predict` prints after the arrow.
fn predicted_digit(text: &str) -> char {
    let after = text.split("→ ").nth(1).unwrap_or_else(|| panic!("{text}"));
    after.chars().next().unwrap()
}

#[test]
fn a_test_image_saved_as_a_png_is_read_like_the_test_image_itself() {
    let run = trained_run();
    let work = tempfile::tempdir().unwrap();
    let (test, _) = digits::data::load_test(&digits::config::DataConfig {
        dir: Some(sample_dir()),
        ..Default::default()
    })
    .unwrap();
    use burn::data::dataset::Dataset;
    for index in [0usize, 1, 2] {
        let item = test.get(index).unwrap();
        // As a user would have it: dark ink on white, in colour, four times larger.
        let image = image::RgbImage::from_fn(112, 112, |x, y| {
            let p = 255 - item.pixels[(y / 4 * 28 + x / 4) as usize];
            image::Rgb([p, p, p])
        });
        let path = work.path().join(format!("digit-{index}.png"));
        image.save(&path).unwrap();

        let from_png = digits(
            Path::new("."),
            &["predict", run.to_str().unwrap(), path.to_str().unwrap()],
        );
        assert!(from_png.status.success(), "{}", stderr(&from_png));
        let from_index = digits(
            Path::new("."),
            &[
                "predict",
                run.to_str().unwrap(),
                "--test-index",
                &index.to_string(),
            ],
        );
        assert!(from_index.status.success(), "{}", stderr(&from_index));
        let (png_text, index_text) = (stdout(&from_png), stdout(&from_index));
        assert_eq!(
            predicted_digit(&png_text),
            predicted_digit(&index_text),
            "{png_text}\n{index_text}"
        );
        assert!(
            index_text.contains(&format!("label {}", item.label)),
            "{index_text}"
        );
        assert!(png_text.contains("what the network saw"), "{png_text}");
        let bars = png_text.lines().filter(|l| {
            l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains(" %")
        });
        assert_eq!(bars.count(), 10, "{png_text}");
    }
}

#[test]
fn training_draws_weights_and_curves_with_one_tile_per_neuron() {
    let run = trained_run();
    let grid = WeightGrid::new(16);
    let weights = png(&run.join("weights.png"));
    assert_eq!(weights.dimensions(), grid.size());
    // A colour key under the title: the most negative blue and the most positive red.
    let (top, bottom) = grid.key_rows();
    let in_key = |colour: [u8; 3]| {
        (top..bottom).any(|y| (0..weights.width()).any(|x| weights.get_pixel(x, y).0 == colour))
    };
    assert!(
        in_key([33, 102, 172]) && in_key([178, 24, 43]),
        "no colour key"
    );
    let curves = png(&run.join("curves.png"));
    assert_eq!(curves.dimensions(), CURVES_SIZE);
    assert!(variance(curves.as_raw().iter().copied()) > 0.0);
    for neuron in 0..16 {
        assert!(
            tile_variance(&weights, grid, neuron) > 0.0,
            "tile {neuron} blank"
        );
    }

    // Ten neurons: a 4×3 grid with the last two places empty.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("ten");
    train_into(&dir, &["model.hidden=[10]", "training.epochs=1"]);
    let grid = WeightGrid::new(10);
    let weights = png(&dir.join("weights.png"));
    assert_eq!(weights.dimensions(), grid.size());
    for neuron in 0..10 {
        assert!(
            tile_variance(&weights, grid, neuron) > 0.0,
            "tile {neuron} blank"
        );
    }
    for place in 10..12 {
        assert_eq!(
            tile_variance(&weights, grid, place),
            0.0,
            "place {place} drawn"
        );
    }

    // `plot` redraws both from the run folder.
    std::fs::remove_file(dir.join("weights.png")).unwrap();
    std::fs::remove_file(dir.join("curves.png")).unwrap();
    let output = digits(Path::new("."), &["plot", dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(png(&dir.join("weights.png")).dimensions(), grid.size());
    assert_eq!(png(&dir.join("curves.png")).dimensions(), CURVES_SIZE);
}

fn tile_variance(picture: &image::RgbImage, grid: WeightGrid, place: usize) -> f64 {
    let (x0, y0) = grid.tile_origin(place);
    let side = 28 * 4;
    let pixels: Vec<u8> = (y0..y0 + side)
        .flat_map(|y| (x0..x0 + side).map(move |x| (x, y)))
        .flat_map(|(x, y)| picture.get_pixel(x, y).0)
        .collect();
    variance(pixels.iter().copied())
}

#[test]
fn a_missing_run_folder_is_a_clear_error() {
    let output = digits(Path::new("."), &["eval", "no/such/run"]);
    assert_user_error(&output, &["no/such/run", "does not exist"]);
}

#[test]
fn a_model_that_does_not_fit_the_config_is_rejected() {
    let work = tempfile::tempdir().unwrap();
    let run = copy_of_run(work.path());
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let changed = config.replace("hidden = [16, 16]", "hidden = [32, 16]");
    assert_ne!(config, changed);
    std::fs::write(run.join("config.toml"), changed).unwrap();
    let output = digits(Path::new("."), &["eval", run.to_str().unwrap()]);
    // Which network the file holds and which the config asked for, not Burn's record dump.
    assert_user_error(
        &output,
        &[
            "model.bpk",
            "does not fit",
            "hidden.0.linear.weight is [784, 16], the network's is [784, 32]",
            "the file holds hidden layers [16, 16], the config model.hidden = [32, 16]",
        ],
    );
    assert!(!stderr(&output).contains("Shape {"), "{}", stderr(&output));
}

#[test]
fn a_truncated_model_file_is_rejected() {
    let work = tempfile::tempdir().unwrap();
    let run = copy_of_run(work.path());
    let bytes = std::fs::read(run.join("model.bpk")).unwrap();
    std::fs::write(run.join("model.bpk"), &bytes[..bytes.len() / 2]).unwrap();
    let output = digits(
        Path::new("."),
        &["predict", run.to_str().unwrap(), "--test-index", "0"],
    );
    assert_user_error(&output, &["model.bpk", "truncated or corrupt"]);
}

#[test]
fn an_unreadable_image_is_rejected() {
    let work = tempfile::tempdir().unwrap();
    let garbage = work.path().join("digit.png");
    std::fs::write(&garbage, b"this is not a png").unwrap();
    let run = trained_run().to_str().unwrap();
    let output = digits(Path::new("."), &["predict", run, garbage.to_str().unwrap()]);
    assert_user_error(&output, &["digit.png", "cannot be read as an image"]);

    let blank = work.path().join("blank.png");
    image::GrayImage::from_pixel(40, 40, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let output = digits(Path::new("."), &["predict", run, blank.to_str().unwrap()]);
    assert_user_error(&output, &["blank.png", "no ink"]);

    let output = digits(Path::new("."), &["predict", run, "--test-index", "5000"]);
    assert_user_error(&output, &["--test-index 5000", "1000 images"]);
}

#[test]
fn predict_answers_every_picture_it_can_and_exits_2_for_the_rest() {
    let work = tempfile::tempdir().unwrap();
    let blank = work.path().join("blank.png");
    image::GrayImage::from_pixel(40, 40, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let drawn = root().join("docs/drawn-3.png");
    let (run, drawn, blank) = (
        trained_run().to_str().unwrap(),
        drawn.to_str().unwrap(),
        blank.to_str().unwrap(),
    );
    let output = digits(
        Path::new("."),
        &["predict", run, drawn, blank, drawn, "--no-picture"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let out = stdout(&output);
    assert_eq!(out.matches("drawn-3.png → ").count(), 2, "{out}");
    assert!(!out.contains("what the network saw"), "{out}");
    assert!(
        !out.contains("means little"),
        "a drawn digit is not doubted: {out}"
    );
    let err = stderr(&output);
    assert!(
        err.contains("blank.png") && err.contains("1 of 3 pictures"),
        "{err}"
    );

    // A colour photo is read, with a word that the answer means little.
    let photo = work.path().join("photo.png");
    image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, 180, (y * 5) as u8])
    })
    .save(&photo)
    .unwrap();
    let output = digits(
        Path::new("."),
        &["predict", run, photo.to_str().unwrap(), "--no-picture"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("note: this picture is in colour") && out.contains("means little"),
        "{out}"
    );

    // The picture first and the run second: said so.
    let output = digits(Path::new("."), &["predict", drawn, run]);
    assert_user_error(&output, &["the run folder comes first"]);
}

#[test]
fn a_run_stopped_before_the_end_can_be_evaluated_plotted_and_asked() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("stopped");
    std::fs::create_dir_all(run.join("checkpoint")).unwrap();
    for file in ["config.toml", "metrics.csv"] {
        std::fs::copy(trained_run().join(file), run.join(file)).unwrap();
    }
    for entry in std::fs::read_dir(trained_run().join("checkpoint")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            run.join("checkpoint").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let dir = run.to_str().unwrap();
    for args in [
        &["eval", dir][..],
        &["plot", dir],
        &["predict", dir, "--test-index", "0"],
    ] {
        let output = digits(Path::new("."), args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("using the checkpoint of epoch 20"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert!(run.join("curves.png").is_file() && run.join("weights.png").is_file());
}
