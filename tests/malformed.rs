//! A battery of bad inputs: malformed IDX files, malformed configs, random bytes, a bad cache.
//! Each must be a clear error value, never a panic.

use crate::common;

use std::io::Write;
use std::path::Path;

use digits::config::{Config, DataConfig};
use digits::data::idx::{self, IMAGE_MAGIC, LABEL_MAGIC, PIXELS};
use proptest::prelude::*;

fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

fn images_file(count: u32, rows: u32, cols: u32, body: usize) -> Vec<u8> {
    let mut out = header(IMAGE_MAGIC, &[count, rows, cols]);
    out.extend(std::iter::repeat_n(7u8, body));
    out
}

fn labels_file(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut out = header(LABEL_MAGIC, &[count]);
    out.extend_from_slice(labels);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn malformed_image_files_are_error_values() {
    let valid = images_file(2, 28, 28, 2 * PIXELS);
    let valid_gz = gzip(&valid);
    let mut corrupt_gz = valid_gz.clone();
    let middle = corrupt_gz.len() / 2;
    corrupt_gz[middle..middle + 8].copy_from_slice(&[0xff; 8]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "header"),
        ("three bytes", vec![0, 0, 8], "header"),
        ("header cut at 15 bytes", valid[..15].to_vec(), "header"),
        ("label magic", labels_file(1, &[1]), "magic"),
        ("zero magic", header(0, &[1, 28, 28]), "magic"),
        (
            "float element type",
            header(0x0000_0D03, &[1, 28, 28]),
            "magic",
        ),
        ("two dimensions", header(0x0000_0802, &[1, 28, 28]), "magic"),
        ("0 rows", images_file(1, 0, 28, PIXELS), "0×28"),
        ("27 rows", images_file(1, 27, 28, 27 * 28), "27×28"),
        ("29 columns", images_file(1, 28, 29, 28 * 29), "28×29"),
        (
            "body one image short",
            images_file(2, 28, 28, PIXELS),
            "truncated",
        ),
        (
            "body one byte short",
            images_file(2, 28, 28, 2 * PIXELS - 1),
            "truncated",
        ),
        (
            "one image too many",
            images_file(1, 28, 28, 2 * PIXELS),
            "more bytes",
        ),
        (
            "u32::MAX images",
            images_file(u32::MAX, 28, 28, PIXELS),
            "more than the 1000000",
        ),
        (
            "gzip cut in half",
            valid_gz[..valid_gz.len() / 2].to_vec(),
            "",
        ),
        ("gzip with a corrupt body", corrupt_gz, ""),
        (
            "gzip magic then garbage",
            vec![0x1f, 0x8b, 1, 2, 3, 4, 5],
            "",
        ),
    ];
    for (name, bytes, needle) in cases {
        match idx::parse_images(&bytes) {
            Ok(parsed) => panic!("{name}: accepted {} images", parsed.count),
            Err(error) => assert!(error.to_string().contains(needle), "{name}: {error}"),
        }
    }
}

#[test]
fn malformed_label_files_are_error_values() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "header"),
        (
            "header cut at 7 bytes",
            labels_file(1, &[])[..7].to_vec(),
            "header",
        ),
        ("image magic", images_file(1, 28, 28, PIXELS), "magic"),
        (
            "three declared, two present",
            labels_file(3, &[1, 2]),
            "truncated",
        ),
        ("one too many", labels_file(2, &[1, 2, 3]), "more bytes"),
        ("label 10", labels_file(2, &[1, 10]), "label 10"),
        ("label 255", labels_file(1, &[255]), "label 255"),
        (
            "u32::MAX labels",
            labels_file(u32::MAX, &[1, 2]),
            "more than the 1000000",
        ),
        (
            "gzip cut short",
            gzip(&labels_file(100, &[1; 100]))[..20].to_vec(),
            "",
        ),
    ];
    for (name, bytes, needle) in cases {
        match idx::parse_labels(&bytes) {
            Ok(labels) => panic!("{name}: accepted {} labels", labels.len()),
            Err(error) => assert!(error.to_string().contains(needle), "{name}: {error}"),
        }
    }
}

/// A data folder whose files are valid except as `spoil` changes them.
fn data_error(spoil: impl Fn(&Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), bytes).unwrap();
    write(
        "train-images-idx3-ubyte",
        images_file(20, 28, 28, 20 * PIXELS),
    );
    write("train-labels-idx1-ubyte", labels_file(20, &[3; 20]));
    write("t10k-images-idx3-ubyte", images_file(5, 28, 28, 5 * PIXELS));
    write("t10k-labels-idx1-ubyte", labels_file(5, &[4; 5]));
    spoil(dir.path());
    let config = DataConfig {
        dir: Some(dir.path().to_path_buf()),
        ..DataConfig::default()
    };
    match digits::data::load(&config, 1) {
        Ok(_) => panic!("the spoiled folder loaded"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn malformed_data_folders_are_error_values() {
    let message = data_error(|d| {
        std::fs::write(d.join("t10k-labels-idx1-ubyte"), labels_file(4, &[4; 4])).unwrap()
    });
    assert!(
        message.contains("5 images") && message.contains("4 labels"),
        "{message}"
    );
    let message = data_error(|d| {
        std::fs::write(d.join("t10k-images-idx3-ubyte"), images_file(0, 28, 28, 0)).unwrap();
        std::fs::write(d.join("t10k-labels-idx1-ubyte"), labels_file(0, &[])).unwrap();
    });
    assert!(message.contains("no images"), "{message}");
    let message = data_error(|d| std::fs::remove_file(d.join("train-labels-idx1-ubyte")).unwrap());
    assert!(message.contains("train-labels-idx1-ubyte"), "{message}");
    let message = data_error(|d| {
        std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
        std::fs::create_dir(d.join("train-images-idx3-ubyte")).unwrap();
    });
    // There, but a folder: said as such, not as missing.
    assert!(
        message.contains("train-images-idx3-ubyte") && message.contains("not a regular file"),
        "{message}"
    );
}

#[test]
fn malformed_configs_are_rejected_with_the_key_named() {
    let cases = [
        ("[model", "not valid TOML"),
        ("[modle]\nhidden = [16]", "modle"),
        ("[model]\nhidden = [16]\nneurons = 3", "model.neurons"),
        ("[model]\nhidden = \"16,16\"", "model.hidden"),
        ("[model]\nhidden = [16, -1]", "model.hidden"),
        ("[model]\nhidden = []", "model.hidden"),
        ("[model]\nactivation = \"swish\"", "model.activation"),
        ("[model]\nnorm = \"instance\"", "model.norm"),
        (
            "[model]\nnorm = \"group\"\nnorm_groups = 5",
            "model.norm_groups",
        ),
        ("[model]\ndropout = 1.5", "model.dropout"),
        ("[model]\ninit = \"zeros\"", "model.init"),
        ("[training]\nepochs = 0", "training.epochs"),
        ("[training]\nepochs = 1.5", "training.epochs"),
        ("[training]\nbatch_size = 0", "training.batch_size"),
        ("[training]\nlearning_rate = 0", "training.learning_rate"),
        ("[training]\nlearning_rate = nan", "training.learning_rate"),
        ("[training]\nlearning_rate = inf", "training.learning_rate"),
        ("[training]\nloss = 3", "training.loss"),
        ("[training]\noptimizer = \"lbfgs\"", "training.optimizer"),
        ("[training]\nseed = -1", "training.seed"),
        (
            "[training]\ngrad_clip_norm = -0.5",
            "training.grad_clip_norm",
        ),
        (
            "[training]\ngrad_clip_value = nan",
            "training.grad_clip_value",
        ),
        ("[training]\nbackprop = \"manual\"", "training.backprop"),
        (
            "[data]\nvalidation_fraction = 1.0",
            "data.validation_fraction",
        ),
        ("[data]\ndir = 5", "data.dir"),
        ("[output]\ndir = [\"a\"]", "output.dir"),
    ];
    for (text, key) in cases {
        let error = Config::parse(Path::new("bad.toml"), text, &[]).expect_err(text);
        let message = error.to_string();
        assert!(message.contains(key), "{text:?}: {message}");
        assert!(message.contains("bad.toml"), "{message}");
        assert_eq!(error.exit_code(), 2);
    }
}

#[test]
fn a_bad_copy_in_burns_cache_is_reported_with_the_fix() {
    let cache = tempfile::tempdir().unwrap();
    let mnist = cache.path().join("burn-dataset/mnist");
    for split in ["train", "test"] {
        std::fs::create_dir_all(mnist.join(split)).unwrap();
    }
    // Well-formed files, but 100 training images where MNIST has 60,000: a cut-short download.
    let write = |path: &str, bytes: Vec<u8>| std::fs::write(mnist.join(path), bytes).unwrap();
    write(
        "train/train-images-idx3-ubyte",
        images_file(100, 28, 28, 100 * PIXELS),
    );
    write("train/train-labels-idx1-ubyte", labels_file(100, &[1; 100]));
    write(
        "test/t10k-images-idx3-ubyte",
        images_file(10_000, 28, 28, 10_000 * PIXELS),
    );
    write(
        "test/t10k-labels-idx1-ubyte",
        labels_file(10_000, &[2; 10_000]),
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_digits"))
        .args([
            "train",
            common::root().join("config/mlp.toml").to_str().unwrap(),
        ])
        .current_dir(cache.path())
        .env("XDG_CACHE_HOME", cache.path())
        .env("DIGITS_NO_DOWNLOAD", "1")
        .output()
        .unwrap();
    common::assert_user_error(
        &output,
        &[
            "train-images-idx3-ubyte",
            "not the 60000",
            "download cache",
            "delete it",
        ],
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = idx::parse_images(&bytes);
        let _ = idx::parse_labels(&bytes);
        let _ = idx::parse_images(&gzip(&bytes));
    }

    #[test]
    fn damaged_valid_files_fail_cleanly_or_parse_consistently(
        count in 0u32..4,
        cut in 0usize..(16 + 4 * PIXELS),
        flip in proptest::option::of((0usize..(16 + 3 * PIXELS), any::<u8>())),
        gzipped in any::<bool>(),
    ) {
        let mut bytes = images_file(count, 28, 28, count as usize * PIXELS);
        if let Some((at, value)) = flip && at < bytes.len() {
            bytes[at] = value;
        }
        bytes.truncate(cut.min(bytes.len()));
        let bytes = if gzipped { gzip(&bytes) } else { bytes };
        if let Ok(parsed) = idx::parse_images(&bytes) {
            prop_assert_eq!(parsed.pixels.len(), parsed.count * PIXELS);
        }
    }
}
