//! Where the digits come from and how they reach the network.
//!
//! Source: `data.dir` (four IDX files) → else `data.source`: full MNIST in Burn's cache,
//! downloaded there on first use (`download`, from the mirror burn-dataset's `MnistDataset` uses) → the sample bundled in
//! the binary (`auto` falls back to it, saying why; `sample` asks for it). Then: train file →
//! seeded shuffle → train / valid split; test file as is. Each split is a [`DigitSet`] over
//! the pixels read once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::{DataConfig, DataSource};
use crate::data::Split;
use crate::data::digit_set::DigitSet;
use crate::data::download::{self, DownloadFailure};
use crate::data::idx::{self, IdxImages, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
pub use crate::data::origin::{DataOrigin, SourceKind};
use crate::data::sample;
use crate::error::{Error, Result};
use crate::report;

/// The three splits of a run, and where they came from.
pub struct DigitSplits {
    pub train: DigitSet,
    pub valid: DigitSet,
    pub test: DigitSet,
    pub origin: DataOrigin,
}

/// What the command line says of an origin (the web page has no home folder to hide).
impl DataOrigin {
    /// For the first line of a run and for reports: no absolute home folder.
    pub fn describe(&self) -> String {
        match (self.source, &self.path) {
            (SourceKind::Mnist, Some(path)) => format!("full MNIST in {}", home_relative(path)),
            (SourceKind::Folder, Some(path)) => path.display().to_string(),
            _ => sample::DESCRIPTION.into(),
        }
    }
}

/// The four IDX files of an MNIST-format data set.
#[derive(Debug, Clone)]
pub struct IdxFiles {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
}

/// Loads the data the config names and splits it.
pub fn load(config: &DataConfig, seed: u64) -> Result<DigitSplits> {
    let source = Located::find(config)?;
    let train = source.read(Split::Train, config.train_limit)?;
    let test = source.read(Split::Test, config.test_limit)?;

    let (train, valid) = train
        .split_off_validation(config.validation_fraction, seed)
        .map_err(|why| Error::data(&source.name_of(Split::Train), why))?;
    Ok(DigitSplits {
        train,
        valid,
        test,
        origin: source.origin,
    })
}

/// Where `config`'s digits would come from, found without reading them (full MNIST is
/// downloaded if it can be and is not cached; a fallback to the sample is said here, once).
pub fn locate(config: &DataConfig) -> Result<DataOrigin> {
    Ok(Located::find(config)?.origin)
}

/// Only the test split (honouring `test_limit`), without reading the training files.
pub fn load_test(config: &DataConfig) -> Result<(DigitSet, DataOrigin)> {
    let source = Located::find(config)?;
    let test = source.read(Split::Test, config.test_limit)?;
    Ok((test, source.origin))
}

/// The digits a config points at, found.
struct Located {
    /// None for the bundled sample.
    files: Option<IdxFiles>,
    origin: DataOrigin,
}

impl Located {
    fn find(config: &DataConfig) -> Result<Located> {
        if let Some(dir) = &config.dir {
            return Ok(Located {
                files: Some(IdxFiles::in_dir(dir)?),
                origin: DataOrigin {
                    source: SourceKind::Folder,
                    path: Some(dir.clone()),
                    fallback: None,
                },
            });
        }
        let mnist = |cache: PathBuf, files| Located {
            files: Some(files),
            origin: DataOrigin {
                source: SourceKind::Mnist,
                path: Some(cache),
                fallback: None,
            },
        };
        match config.source {
            DataSource::Sample => Ok(Located::sample(None)),
            DataSource::Mnist => {
                let cache = burn_cache_dir().ok_or_else(|| {
                    Error::Environment(format!(
                        "data.source = \"mnist\": {NO_CACHE_DIR}. {}",
                        mnist_help("")
                    ))
                })?;
                match IdxFiles::from_burn_cache(&cache) {
                    Ok(files) => Ok(mnist(cache, files)),
                    Err(failure) => Err(Error::data(
                        &cache,
                        format!(
                            "data.source = \"mnist\", but full MNIST is not in Burn's dataset \
                             cache and could not be downloaded ({failure}). {}",
                            mnist_help(" in that cache")
                        ),
                    )),
                }
            }
            DataSource::Auto => {
                let Some(cache) = burn_cache_dir() else {
                    return Ok(Located::sample(Some(NO_CACHE_DIR.to_string())));
                };
                match IdxFiles::from_burn_cache(&cache) {
                    Ok(files) => Ok(mnist(cache, files)),
                    Err(failure) => Ok(Located::sample(Some(format!(
                        "full MNIST is not in Burn's dataset cache ({}) and could not be \
                         downloaded ({failure})",
                        home_relative(&cache)
                    )))),
                }
            }
        }
    }

    /// The bundled sample; `fallback` says why it stands in for full MNIST (said once).
    fn sample(fallback: Option<String>) -> Located {
        if let Some(why) = &fallback {
            static SAID: AtomicBool = AtomicBool::new(false);
            if !SAID.swap(true, Ordering::Relaxed) {
                report::note(&format!(
                    "note: {why}, so digits uses {}: {}. {} Add --set data.source=sample to \
                     ask for the sample without this note.",
                    sample::DESCRIPTION,
                    sample::CONTENTS,
                    mnist_help(" into Burn's dataset cache"),
                ));
            }
        }
        Located {
            files: None,
            origin: DataOrigin {
                source: SourceKind::Sample,
                path: None,
                fallback,
            },
        }
    }

    /// The image file of a split, for messages.
    fn name_of(&self, split: Split) -> PathBuf {
        match &self.files {
            Some(files) => files.split(split).0.to_path_buf(),
            None => sample_path(if split.in_training_file() {
                TRAIN_IMAGES
            } else {
                TEST_IMAGES
            }),
        }
    }

    /// The first `limit` items of the file `split` is read from (the training file for train
    /// and valid, the test file for test).
    fn read(&self, split: Split, limit: Option<usize>) -> Result<DigitSet> {
        let Some(files) = &self.files else {
            return read_sample(split, limit);
        };
        let (images, labels) = files.split(split);
        if self.origin.source != SourceKind::Mnist {
            return read_pair(images, labels, None, limit);
        }
        // burn-dataset writes this cache in place, not atomically: a download it cut short
        // leaves a partial file. Check the official counts and size, and fetch
        // a bad split again (once).
        let expected = Some(if split.in_training_file() {
            60_000
        } else {
            10_000
        });
        match read_pair(images, labels, expected, limit) {
            Err(Error::Data { path, message }) => {
                let cache = images.parent().and_then(Path::parent).unwrap_or(images);
                let refetched = !download::forbidden()
                    && [images, labels]
                        .iter()
                        .all(|f| std::fs::remove_file(f).is_ok())
                    && {
                        report::note(&format!(
                            "{}: {message}; downloading it again",
                            path.display()
                        ));
                        download::download_split(cache, split).is_ok()
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

const NO_CACHE_DIR: &str = "no cache folder is known for this user (is $HOME set?)";

/// How to get full MNIST, for messages.
fn mnist_help(where_: &str) -> String {
    format!(
        "For full MNIST, run once with a network connection (11 MB, downloaded once{where_}), or \
         pass --data-dir DIR (or set data.dir) to a folder holding the four MNIST IDX files \
         ({TRAIN_IMAGES}, {TRAIN_LABELS}, {TEST_IMAGES}, {TEST_LABELS}; raw or .gz)."
    )
}

/// `path` with the user's home folder written `~`.
fn home_relative(path: &Path) -> String {
    match dirs::home_dir().and_then(|home| path.strip_prefix(home).ok().map(Path::to_path_buf)) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// A file of the bundled sample, named as in the repository.
fn sample_path(name: &str) -> PathBuf {
    Path::new(sample::REPO_FOLDER).join(format!("{name}.gz"))
}

/// A split of the bundled sample, through the same IDX reader as any file.
fn read_sample(split: Split, limit: Option<usize>) -> Result<DigitSet> {
    let files = &sample::FILES;
    let (images, labels, images_name, labels_name) = match split {
        Split::Train | Split::Valid => (
            files.train_images,
            files.train_labels,
            TRAIN_IMAGES,
            TRAIN_LABELS,
        ),
        Split::Test => (
            files.test_images,
            files.test_labels,
            TEST_IMAGES,
            TEST_LABELS,
        ),
    };
    // The sample is part of the program: a failure here is a bug, not the user's doing.
    let bug = |name: &str, e: idx::IdxError| {
        Error::Internal(format!(
            "the bundled sample's {} is unreadable: {e}",
            sample_path(name).display()
        ))
    };
    let images = idx::parse_images(images).map_err(|e| bug(images_name, e))?;
    let labels = idx::parse_labels(labels).map_err(|e| bug(labels_name, e))?;
    pair(
        images,
        labels,
        (&sample_path(images_name), &sample_path(labels_name)),
        None,
        limit,
    )
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
    pair(images_idx, labels_idx, (images, labels), expected, limit)
}

/// One split from its parsed image and label files (named by `paths` in errors).
fn pair(
    images_idx: IdxImages,
    labels_idx: Vec<u8>,
    (images, labels): (&Path, &Path),
    expected: Option<usize>,
    limit: Option<usize>,
) -> Result<DigitSet> {
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
    DigitSet::from_files(images_idx, labels_idx, &labels.display().to_string(), limit)
        .map_err(|why| Error::data(images, why))
}

impl IdxFiles {
    /// The image and label files `split` is read from.
    fn split(&self, split: Split) -> (&Path, &Path) {
        match split {
            Split::Train | Split::Valid => (&self.train_images, &self.train_labels),
            Split::Test => (&self.test_images, &self.test_labels),
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
            // Whatever is there under the name (a folder, a device) is read, and refused as
            // what it is, rather than reported missing.
            .find(|path| path.exists())
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

    /// The files in Burn's MNIST cache, downloading the missing splits.
    fn from_burn_cache(cache: &Path) -> Result<IdxFiles, DownloadFailure> {
        let files = IdxFiles {
            train_images: cache.join("train").join(TRAIN_IMAGES),
            train_labels: cache.join("train").join(TRAIN_LABELS),
            test_images: cache.join("test").join(TEST_IMAGES),
            test_labels: cache.join("test").join(TEST_LABELS),
        };
        for split in [Split::Train, Split::Test] {
            let (images, labels) = files.split(split);
            if !(images.is_file() && labels.is_file()) {
                download::download_split(cache, split)?;
            }
        }
        Ok(files)
    }
}

/// Burn's MNIST cache folder, `<cache dir>/burn-dataset/mnist`, where burn-dataset's
/// `MnistDataset` keeps it too (so either finds what the other downloaded).
fn burn_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("burn-dataset").join("mnist"))
}
