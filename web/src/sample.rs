//! The bundled MNIST sample as the training page fetched it: its four IDX files, read with
//! digits' own parser and cut to the config's limits.

use digits::data::DigitSet;
use digits::data::idx;
use wasm_bindgen::prelude::*;

/// The sample's four IDX files as the page fetched them.
#[wasm_bindgen]
pub struct SampleFiles {
    train_images: Vec<u8>,
    train_labels: Vec<u8>,
    test_images: Vec<u8>,
    test_labels: Vec<u8>,
}

#[wasm_bindgen]
impl SampleFiles {
    #[wasm_bindgen(constructor)]
    pub fn new(
        train_images: Vec<u8>,
        train_labels: Vec<u8>,
        test_images: Vec<u8>,
        test_labels: Vec<u8>,
    ) -> SampleFiles {
        SampleFiles {
            train_images,
            train_labels,
            test_images,
            test_labels,
        }
    }
}

impl SampleFiles {
    /// The training file's and the test file's images, each cut to its limit.
    pub fn read(
        &self,
        train_limit: Option<usize>,
        test_limit: Option<usize>,
    ) -> Result<(DigitSet, DigitSet), JsError> {
        let pair = |images: &[u8], labels: &[u8], names: [&str; 2], limit: Option<usize>| {
            let bad = |name: &str, e: idx::IdxError| JsError::new(&format!("{name}: {e}"));
            let images = idx::parse_images(images).map_err(|e| bad(names[0], e))?;
            let labels = idx::parse_labels(labels).map_err(|e| bad(names[1], e))?;
            DigitSet::from_files(images, labels, names[1], limit)
                .map_err(|why| JsError::new(&format!("{}: {why}", names[0])))
        };
        Ok((
            pair(
                &self.train_images,
                &self.train_labels,
                [idx::TRAIN_IMAGES, idx::TRAIN_LABELS],
                train_limit,
            )?,
            pair(
                &self.test_images,
                &self.test_labels,
                [idx::TEST_IMAGES, idx::TEST_LABELS],
                test_limit,
            )?,
        ))
    }
}
