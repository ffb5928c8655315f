//! Where the digits come from and how they reach the network.
//!
//! Source: `data.dir` (four IDX files) → Burn's MNIST cache → download into that cache with
//! burn-dataset's `MnistDataset`. Then: train file → seeded shuffle → train / valid split;
//! test file as is. Each split is a [`DigitSet`] over the pixels read once.

use std::path::{Path, PathBuf};

use crate::config::DataConfig;
use crate::digit_set::DigitSet;
use crate::error::{Error, Result};
use crate::idx::{self, PIXELS};

/// The three splits of a run, and where they came from.
pub struct DigitSplits {
    pub train: DigitSet,
    pub valid: DigitSet,
    pub test: DigitSet,
    /// Human-readable origin, e.g. the folder the IDX files were read from.
    pub source: String,
}

/// The four IDX files of an MNIST-format data set.
#[derive(Debug, Clone)]
pub struct IdxFiles {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
}

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Set to skip the download attempt when Burn's cache is empty (air-gapped machines, tests).
pub const NO_DOWNLOAD_ENV: &str = "DIGITS_NO_DOWNLOAD";

/// Loads the data the config names and splits it.
pub fn load(config: &DataConfig, seed: u64) -> Result<DigitSplits> {
    let source = DataSource::locate(config)?;
    let train = source.read("train", config.train_limit)?;
    let test = source.read("test", config.test_limit)?;

    let total = train.len();
    let valid_len = ((total as f64 * config.validation_fraction).round() as usize).max(1);
    if valid_len >= total {
        return Err(Error::data(
            &source.files.train_images,
            format!(
                "{total} training image(s) cannot be split into train and validation with \
                 validation_fraction {}: use more images (data.train_limit) or a smaller fraction",
                config.validation_fraction
            ),
        ));
    }
    let shuffled = train.shuffled(seed);
    let train_len = total - valid_len;
    Ok(DigitSplits {
        train: shuffled.slice(0, train_len),
        valid: shuffled.slice(train_len, total),
        test,
        source: source.description,
    })
}

/// Only the test split (honouring `test_limit`), without reading the training files.
pub fn load_test(config: &DataConfig) -> Result<(DigitSet, String)> {
    let source = DataSource::locate(config)?;
    let test = source.read("test", config.test_limit)?;
    Ok((test, source.description))
}

/// The IDX files a config points at, and where they came from.
struct DataSource {
    files: IdxFiles,
    description: String,
    /// The files are Burn's download cache, not the user's own.
    cached: bool,
}

impl DataSource {
    fn locate(config: &DataConfig) -> Result<DataSource> {
        Ok(match &config.dir {
            Some(dir) => DataSource {
                files: IdxFiles::in_dir(dir)?,
                description: dir.display().to_string(),
                cached: false,
            },
            None => {
                let dir = burn_cache_dir()?;
                DataSource {
                    files: IdxFiles::from_burn_cache(&dir)?,
                    description: dir.display().to_string(),
                    cached: true,
                }
            }
        })
    }

    /// The first `limit` items of the "train" or "test" split.
    fn read(&self, split: &str, limit: Option<usize>) -> Result<DigitSet> {
        let (images, labels) = self.files.split(split);
        if !self.cached {
            return read_pair(images, labels, None, limit);
        }
        // Burn writes its cache in place, not atomically: a download cut short leaves a
        // partial file it would reuse forever. Check the official counts and size, and fetch
        // a bad split again (once).
        let expected = Some(if split == "train" { 60_000 } else { 10_000 });
        match read_pair(images, labels, expected, limit) {
            Err(Error::Data { path, message }) => {
                let cache = images.parent().and_then(Path::parent).unwrap_or(images);
                let refetched = std::env::var_os(NO_DOWNLOAD_ENV).is_none()
                    && [images, labels]
                        .iter()
                        .all(|f| std::fs::remove_file(f).is_ok())
                    && {
                        eprintln!("{}: {message}; downloading it again", path.display());
                        download_split(cache, split, "").is_ok()
                    };
                if refetched {
                    return read_pair(images, labels, expected, limit);
                }
                Err(Error::Data {
                    message: format!(
                        "{message}. The file is in Burn's download cache, which holds a bad \
                         copy: delete it and run again to download it afresh, or use \
                         --data-dir"
                    ),
                    path,
                })
            }
            other => other,
        }
    }
}

/// Reads an image file and its label file, checks they agree (and hold `expected` items, when
/// known), keeps the first `limit` items.
fn read_pair(
    images: &Path,
    labels: &Path,
    expected: Option<usize>,
    limit: Option<usize>,
) -> Result<DigitSet> {
    let images_idx = idx::read_images(images)?;
    let labels_idx = idx::read_labels(labels)?;
    if let Some(expected) = expected
        && images_idx.count != expected
    {
        return Err(Error::data(
            images,
            format!(
                "holds {} images, not the {expected} it should",
                images_idx.count
            ),
        ));
    }
    if images_idx.count != labels_idx.len() {
        return Err(Error::data(
            images,
            format!(
                "holds {} images but {} holds {} labels: the two files must come from the \
                 same data set",
                images_idx.count,
                labels.display(),
                labels_idx.len()
            ),
        ));
    }
    if images_idx.count == 0 {
        return Err(Error::data(images, "holds no images"));
    }
    let count = limit.map_or(images_idx.count, |l| l.min(images_idx.count));
    let mut pixels = images_idx.pixels;
    let mut labels = labels_idx;
    pixels.truncate(count * PIXELS);
    labels.truncate(count);
    Ok(DigitSet::new(pixels, labels))
}

impl IdxFiles {
    /// The image and label files of the "train" or "test" split.
    fn split(&self, split: &str) -> (&Path, &Path) {
        match split {
            "train" => (&self.train_images, &self.train_labels),
            _ => (&self.test_images, &self.test_labels),
        }
    }

    /// Finds the four files in `dir`, each raw or `.gz`, named `train-images-idx3-ubyte` or
    /// `train-images.idx3-ubyte` (both spellings are in circulation).
    pub fn in_dir(dir: &Path) -> Result<IdxFiles> {
        if !dir.is_dir() {
            return Err(Error::data(
                dir,
                "is not a folder. Point --data-dir (or data.dir) at a folder holding the four \
                 MNIST-format IDX files",
            ));
        }
        let find = |name: &str| -> Result<PathBuf> {
            let dotted = name.replacen("-idx", ".idx", 1);
            [
                name.to_string(),
                format!("{name}.gz"),
                dotted.clone(),
                format!("{dotted}.gz"),
            ]
            .iter()
            .map(|candidate| dir.join(candidate))
            .find(|path| path.is_file())
            .ok_or_else(|| {
                Error::data(
                    dir,
                    format!(
                        "has no `{name}` (nor `{name}.gz`). The folder must hold the four \
                         MNIST-format files {TRAIN_IMAGES}, {TRAIN_LABELS}, {TEST_IMAGES} and \
                         {TEST_LABELS}, raw or gzipped"
                    ),
                )
            })
        };
        Ok(IdxFiles {
            train_images: find(TRAIN_IMAGES)?,
            train_labels: find(TRAIN_LABELS)?,
            test_images: find(TEST_IMAGES)?,
            test_labels: find(TEST_LABELS)?,
        })
    }

    /// The files in Burn's MNIST cache, downloading them with burn-dataset if absent.
    fn from_burn_cache(cache: &Path) -> Result<IdxFiles> {
        let files = IdxFiles {
            train_images: cache.join("train").join(TRAIN_IMAGES),
            train_labels: cache.join("train").join(TRAIN_LABELS),
            test_images: cache.join("test").join(TEST_IMAGES),
            test_labels: cache.join("test").join(TEST_LABELS),
        };
        let train_cached = files.train_images.is_file() && files.train_labels.is_file();
        let test_cached = files.test_images.is_file() && files.test_labels.is_file();
        if train_cached && test_cached {
            return Ok(files);
        }
        let offline_help = format!(
            "Connect to the internet and run again (MNIST, 11 MB, is downloaded once into \
             that cache), or pass --data-dir DIR (or set data.dir in the config) to a folder \
             holding the four MNIST IDX files ({TRAIN_IMAGES}, {TRAIN_LABELS}, {TEST_IMAGES}, \
             {TEST_LABELS}; raw or .gz)"
        );
        if std::env::var_os(NO_DOWNLOAD_ENV).is_some() {
            return Err(Error::data(
                cache,
                format!(
                    "MNIST is not in Burn's dataset cache and {NO_DOWNLOAD_ENV} forbids \
                     downloading it. {offline_help}"
                ),
            ));
        }
        eprintln!(
            "MNIST is not cached yet: downloading it into {} ...",
            cache.display()
        );
        if !train_cached {
            download_split(cache, "train", &offline_help)?;
        }
        if !test_cached {
            download_split(cache, "test", &offline_help)?;
        }
        Ok(files)
    }
}

/// Burn's MNIST cache folder (burn-dataset downloads to `<cache dir>/burn-dataset/mnist`).
fn burn_cache_dir() -> Result<PathBuf> {
    dirs::cache_dir()
        .map(|d| d.join("burn-dataset").join("mnist"))
        .ok_or_else(|| {
            Error::Environment(
                "no cache folder is known for this user (is $HOME set?), so MNIST cannot be \
                 downloaded: pass --data-dir DIR with the four MNIST IDX files instead"
                    .into(),
            )
        })
}

/// Runs burn-dataset's download of one split. It panics when offline; that panic is caught,
/// kept quiet, and turned into an error that says what to do.
fn download_split(cache: &Path, split: &str, offline_help: &str) -> Result<()> {
    use burn_dataset::vision::MnistDataset;
    crate::error::catch_quietly(|| match split {
        "train" => drop(MnistDataset::train()),
        _ => drop(MnistDataset::test()),
    })
    .map_err(|reason| {
        Error::data(
            cache,
            format!(
                "MNIST is not in Burn's dataset cache and downloading its {split} split \
                 failed ({reason}). {offline_help}"
            ),
        )
    })
}
