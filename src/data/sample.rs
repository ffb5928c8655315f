//! The sample of real MNIST this project carries (`data/mnist-sample`: the first 10,000
//! training images and the official 10,000 test images), embedded in the binary so that an
//! installed `digits` trains and tests with no network and no files beside it.

/// The four IDX files, gzipped, exactly as in `data/mnist-sample`.
pub struct SampleFiles {
    pub train_images: &'static [u8],
    pub train_labels: &'static [u8],
    pub test_images: &'static [u8],
    pub test_labels: &'static [u8],
}

macro_rules! sample_file {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/mnist-sample/",
            $name
        ))
    };
}

pub const FILES: SampleFiles = SampleFiles {
    train_images: sample_file!("train-images-idx3-ubyte.gz"),
    train_labels: sample_file!("train-labels-idx1-ubyte.gz"),
    test_images: sample_file!("t10k-images-idx3-ubyte.gz"),
    test_labels: sample_file!("t10k-labels-idx1-ubyte.gz"),
};

/// How the sample is named in messages, summaries and the first line of a run.
pub const DESCRIPTION: &str = "the bundled MNIST sample";

/// What the sample holds, for the note that says it stands in for full MNIST.
pub const CONTENTS: &str =
    "the first 10,000 of MNIST's 60,000 training images and its 10,000 official test images";

/// The sample's folder in the repository, for messages.
pub const REPO_FOLDER: &str = "data/mnist-sample";
