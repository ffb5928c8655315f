//! Reading MNIST-format folders: generated fixtures and the real test data.

use crate::common;

use std::io::Write;
use std::path::Path;

use digits::config::{DataConfig, DataSource};
use digits::data::idx::{self, PIXELS};
use digits::data::{self, SourceKind};

fn images(n: usize) -> Vec<[u8; PIXELS]> {
    (0..n).map(|i| [i as u8; PIXELS]).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A folder of four IDX files: train files gzipped, test files raw.
fn fixture(dir: &Path, train: usize, train_labels: usize, test: usize) {
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
    write(
        "train-images-idx3-ubyte.gz",
        gzip(&idx::encode_images(&images(train))),
    );
    write(
        "train-labels-idx1-ubyte.gz",
        gzip(&idx::encode_labels(&labels(train_labels))),
    );
    write("t10k-images-idx3-ubyte", idx::encode_images(&images(test)));
    write("t10k-labels-idx1-ubyte", idx::encode_labels(&labels(test)));
}

fn config(dir: &Path) -> DataConfig {
    DataConfig {
        dir: Some(dir.to_path_buf()),
        ..DataConfig::default()
    }
}

/// The message `data::load` fails with on `dir`.
fn load_error(dir: &Path) -> String {
    match data::load(&config(dir), 1) {
        Ok(_) => panic!("{} should not load", dir.display()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_generated_folder_loads_and_splits_by_the_validation_fraction() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 50, 50, 7);
    let splits = data::load(&config(dir.path()), 1).unwrap();
    assert_eq!(splits.train.len(), 45);
    assert_eq!(splits.valid.len(), 5);
    assert_eq!(splits.test.len(), 7);
    // Every training image shows up exactly once across train and valid.
    let mut seen: Vec<u8> = (0..45)
        .map(|i| splits.train.image(i).unwrap().pixels[0])
        .chain((0..5).map(|i| splits.valid.image(i).unwrap().pixels[0]))
        .collect();
    seen.sort();
    assert_eq!(seen, (0..50).collect::<Vec<u8>>());
    let item = splits.test.image(3).unwrap();
    assert_eq!((item.pixels[100], item.label), (3, 3));
}

#[test]
fn the_split_depends_on_the_seed_only() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 50, 50, 7);
    let valid = |seed| {
        let splits = data::load(&config(dir.path()), seed).unwrap();
        (0..5)
            .map(|i| splits.valid.image(i).unwrap().pixels[0])
            .collect::<Vec<_>>()
    };
    assert_eq!(valid(1), valid(1));
    assert_ne!(valid(1), valid(2));
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 20, 19, 7);
    let message = load_error(dir.path());
    assert!(message.contains("20 images"), "{message}");
    assert!(message.contains("19 labels"), "{message}");
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 20, 20, 7);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let message = load_error(dir.path());
    assert!(message.contains("t10k-labels-idx1-ubyte"), "{message}");
}

#[test]
fn a_corrupt_file_is_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 20, 20, 7);
    let path = dir.path().join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let message = load_error(dir.path());
    assert!(message.contains("t10k-images-idx3-ubyte"), "{message}");
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn the_dotted_file_names_are_found_too() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), 20, 20, 7);
    std::fs::rename(
        dir.path().join("t10k-images-idx3-ubyte"),
        dir.path().join("t10k-images.idx3-ubyte"),
    )
    .unwrap();
    assert_eq!(data::load(&config(dir.path()), 1).unwrap().test.len(), 7);
}

#[test]
fn the_bundled_sample_reads_with_its_documented_counts() {
    let splits = data::load(&config(&common::sample_dir()), 42).unwrap();
    assert_eq!(splits.train.len() + splits.valid.len(), 10_000);
    assert_eq!(splits.valid.len(), 1_000);
    assert_eq!(splits.test.len(), 10_000);
    // The first test image of MNIST is a 7.
    assert_eq!(splits.test.image(0).unwrap().label, 7);

    // data/mnist-sample/README.md: the class counts, and the first training images (5, 0).
    let whole = DataConfig {
        validation_fraction: 0.5,
        ..config(&common::sample_dir())
    };
    let train_file =
        idx::read_labels(&common::sample_dir().join("train-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(train_file[..2], [5, 0]);
    let count = |labels: &[u8]| {
        let mut counts = [0usize; 10];
        labels.iter().for_each(|&l| counts[l as usize] += 1);
        counts
    };
    assert_eq!(
        count(&train_file),
        [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    let (test, _) = data::load_test(&whole).unwrap();
    let test_labels: Vec<u8> = (0..test.len())
        .map(|i| test.image(i).unwrap().label)
        .collect();
    assert_eq!(
        count(&test_labels),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
}

#[test]
fn the_embedded_sample_is_the_repository_folder_byte_for_byte() {
    let sample = digits::data::sample::FILES;
    for (embedded, name) in [
        (sample.train_images, "train-images-idx3-ubyte.gz"),
        (sample.train_labels, "train-labels-idx1-ubyte.gz"),
        (sample.test_images, "t10k-images-idx3-ubyte.gz"),
        (sample.test_labels, "t10k-labels-idx1-ubyte.gz"),
    ] {
        let file = std::fs::read(common::sample_dir().join(name)).unwrap();
        assert!(
            embedded == file.as_slice(),
            "{name} differs from its embedded copy"
        );
    }
}

#[test]
fn source_sample_reads_the_same_splits_as_the_folder_and_says_where_from() {
    let embedded = DataConfig {
        source: DataSource::Sample,
        ..DataConfig::default()
    };
    let from_binary = data::load(&embedded, 42).unwrap();
    let from_folder = data::load(&config(&common::sample_dir()), 42).unwrap();
    for (a, b) in [
        (&from_binary.train, &from_folder.train),
        (&from_binary.valid, &from_folder.valid),
        (&from_binary.test, &from_folder.test),
    ] {
        assert_eq!(a.len(), b.len());
        for i in [0, 1, a.len() / 2, a.len() - 1] {
            let (x, y) = (a.image(i).unwrap(), b.image(i).unwrap());
            assert_eq!((x.pixels, x.label), (y.pixels, y.label), "item {i}");
        }
    }
    assert_eq!(from_binary.origin.source, SourceKind::Sample);
    assert_eq!(from_binary.origin.path, None);
    assert_eq!(
        from_binary.origin.fallback, None,
        "asked for, not a fallback"
    );
    assert_eq!(from_folder.origin.source, SourceKind::Folder);
    assert_eq!(from_binary.origin.config_source(), DataSource::Sample);
}
