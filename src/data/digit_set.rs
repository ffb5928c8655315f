//! A split of the digits, and the batches cut from it.
//!
//! The pixels of an IDX file are read once and shared: a split (train, valid, test, a bench's
//! slice) is a list of row numbers into them, and a batch converts its rows straight into one
//! `[B, 784]` f32 buffer. Written by hand because Burn's `InMemDataset` → `ShuffledDataset` →
//! `PartialDataset` chain copies each 785-byte item at every layer and once more into the
//! batcher's input; going straight from the store made inference 10–24 % faster and the bare
//! training loop up to 15 % (`digits bench`).

use std::sync::Arc;

#[cfg(not(target_arch = "wasm32"))]
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::augment::Move;
use crate::data::idx::{IdxImages, PIXELS};
use crate::model::input::scaled;

/// One handwritten digit: 28×28 grey pixels (0 = background) and its label 0-9.
#[derive(Clone, Debug)]
pub struct DigitImage {
    pub pixels: [u8; PIXELS],
    pub label: u8,
}

/// Rows of a shared image store, in this split's order. Cloning and slicing share the store.
#[derive(Clone, Debug)]
pub struct DigitSet {
    /// `count × 784` bytes, row-major, as in the IDX file. (An `Arc<Vec>`: `Arc<[u8]>` would
    /// copy the file's pixels once more on the way in.)
    pixels: Arc<Vec<u8>>,
    labels: Arc<Vec<u8>>,
    /// Which rows of the store this split holds: `rows[start..end]`.
    rows: Arc<[u32]>,
    start: usize,
    end: usize,
}

/// One batch: `[B, 784]` pixels in 0..1 and `[B]` labels.
#[derive(Clone, Debug)]
pub struct DigitBatch {
    pub images: Tensor<2>,
    pub targets: Tensor<1, Int>,
}

impl DigitSet {
    /// A split from its parsed image and label files, cut to its first `limit` items; or why
    /// not, worded to follow the image file's name (`labels_name` names the other): the files
    /// disagree, or hold nothing.
    pub fn from_files(
        images: IdxImages,
        mut labels: Vec<u8>,
        labels_name: &str,
        limit: Option<usize>,
    ) -> Result<Self, String> {
        if images.count != labels.len() {
            return Err(format!(
                "holds {} images but {labels_name} holds {} labels: the two files must come \
                 from the same data set",
                images.count,
                labels.len()
            ));
        }
        if images.count == 0 {
            return Err("holds no images".into());
        }
        let count = limit.map_or(images.count, |l| l.min(images.count));
        let mut pixels = images.pixels;
        pixels.truncate(count * PIXELS);
        labels.truncate(count);
        Ok(Self::new(pixels, labels))
    }

    /// All images of a store, in file order. `pixels` holds `labels.len()` images.
    pub fn new(pixels: Vec<u8>, labels: Vec<u8>) -> Self {
        assert_eq!(pixels.len(), labels.len() * PIXELS, "one label per image");
        let count = u32::try_from(labels.len()).expect("an IDX file holds under 2^32 items");
        Self {
            pixels: Arc::new(pixels),
            labels: Arc::new(labels),
            rows: (0..count).collect(),
            start: 0,
            end: count as usize,
        }
    }

    /// The same images in a seeded random order: the order Burn's `ShuffledDataset` gives for
    /// this seed (its `StdRng` from the seed, one `shuffle` of the positions; a test checks
    /// they agree), so splits stay what they were when this set was Burn's dataset chain.
    pub fn shuffled(&self, seed: u64) -> Self {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        Self {
            rows: order.iter().map(|&i| self.row(i) as u32).collect(),
            start: 0,
            end: self.len(),
            ..self.clone()
        }
    }

    /// The training file's images cut into (train, valid) as every run cuts them: shuffled
    /// with the run's seed, the last `fraction` (rounded, at least one) held out. Why not,
    /// when that leaves no training image.
    pub fn split_off_validation(&self, fraction: f64, seed: u64) -> Result<(Self, Self), String> {
        let total = self.len();
        let valid = ((total as f64 * fraction).round() as usize).max(1);
        if valid >= total {
            return Err(format!(
                "{total} training image(s) cannot be split into train and validation with \
                 validation_fraction {fraction}: use more images (data.train_limit) or a \
                 smaller fraction"
            ));
        }
        let shuffled = self.shuffled(seed);
        Ok((
            shuffled.slice(0, total - valid),
            shuffled.slice(total - valid, total),
        ))
    }

    /// Items `start..end` of this set (clamped to its length).
    pub fn slice(&self, start: usize, end: usize) -> Self {
        let end = end.min(self.len());
        Self {
            start: self.start + start.min(end),
            end: self.start + end,
            ..self.clone()
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `index`'s row in the shared store: the same image whatever this set's order.
    pub fn row(&self, index: usize) -> usize {
        self.rows[self.start + index] as usize
    }

    /// Item `index`, None past the end.
    pub fn image(&self, index: usize) -> Option<DigitImage> {
        (index < self.len()).then(|| {
            let row = self.row(index);
            DigitImage {
                pixels: self
                    .pixels_of(row)
                    .try_into()
                    .expect("rows are PIXELS long"),
                label: self.labels[row],
            }
        })
    }

    /// Items `indices`' pixels as f32 in 0..1, image after image.
    fn scaled_pixels(&self, indices: &[usize]) -> Vec<f32> {
        scaled(&self.images_bytes(indices))
    }

    /// Items `indices`' 784 stored bytes each (what a `Classifier` reads).
    pub fn images_bytes(&self, indices: &[usize]) -> Vec<&[u8]> {
        let image = |index| self.pixels_of(self.row(index));
        indices.iter().map(|&index| image(index)).collect()
    }

    fn pixels_of(&self, row: usize) -> &[u8] {
        &self.pixels[row * PIXELS..(row + 1) * PIXELS]
    }

    /// Items `indices` (positions in this set) as one batch on `device`.
    pub fn batch(&self, indices: &[usize], device: &Device) -> DigitBatch {
        let n = indices.len();
        let pixels = self.scaled_pixels(indices);
        DigitBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, PIXELS]), device),
            targets: self.targets(indices, device),
        }
    }

    /// Items `indices`' labels, `[B]` on `device`.
    pub fn targets(&self, indices: &[usize], device: &Device) -> Tensor<1, Int> {
        let labels: Vec<i64> = indices
            .iter()
            .map(|&index| i64::from(self.labels[self.row(index)]))
            .collect();
        Tensor::from_data(TensorData::new(labels, [indices.len()]), device)
    }

    /// As [`DigitSet::batch`], each image moved as `move_of` says for its row in the store
    /// (a row is the same image however the set was shuffled or sliced).
    pub fn moved_batch(
        &self,
        indices: &[usize],
        device: &Device,
        move_of: &dyn Fn(usize) -> Move,
    ) -> DigitBatch {
        let n = indices.len();
        let mut pixels = Vec::with_capacity(n * PIXELS);
        let mut labels = Vec::with_capacity(n);
        for &index in indices {
            let row = self.row(index);
            move_of(row).apply(self.pixels_of(row), &mut pixels);
            labels.push(i64::from(self.labels[row]));
        }
        DigitBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, PIXELS]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// A Burn dataset like any other, for code that wants items one by one.
#[cfg(not(target_arch = "wasm32"))]
impl Dataset<DigitImage> for DigitSet {
    fn get(&self, index: usize) -> Result<DigitImage, DatasetError> {
        self.image(index).ok_or_else(|| {
            DatasetError::new(OutOfRange {
                index,
                len: self.len(),
            })
        })
    }

    fn len(&self) -> usize {
        DigitSet::len(self)
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, thiserror::Error)]
#[error("item {index} asked of a set of {len} images")]
pub struct OutOfRange {
    index: usize,
    len: usize,
}

#[cfg(test)]
mod tests {
    use burn::data::dataset::InMemDataset;
    use burn::data::dataset::transform::ShuffledDataset;

    use super::*;

    /// Ten images, image `i` filled with the value `i * 20` and labelled `i`.
    fn ten() -> DigitSet {
        let pixels = (0..10u8).flat_map(|i| [i * 20; PIXELS]).collect();
        DigitSet::new(pixels, (0..10).collect())
    }

    fn labels(set: &DigitSet) -> Vec<u8> {
        set.iter().map(|item| item.unwrap().label).collect()
    }

    #[test]
    fn slices_and_shuffles_select_rows_without_copying_images() {
        let set = ten();
        assert_eq!(labels(&set.slice(3, 6)), [3, 4, 5]);
        assert_eq!(labels(&set.slice(3, 6).slice(1, 99)), [4, 5]);
        let shuffled = set.shuffled(7);
        let mut sorted = labels(&shuffled);
        assert_ne!(sorted, labels(&set), "a new order");
        sorted.sort();
        assert_eq!(sorted, labels(&set), "the same images");
        assert!(Arc::ptr_eq(&shuffled.pixels, &set.pixels));
    }

    #[test]
    fn shuffles_as_burns_shuffled_dataset_does() {
        let set = ten();
        let burn = ShuffledDataset::new(InMemDataset::new(labels(&set)), 42);
        let burn: Vec<u8> = burn.iter().map(Result::unwrap).collect();
        assert_eq!(labels(&set.shuffled(42)), burn);
        assert!(set.get(10).is_err() && set.image(9).is_some());
        // And on a set as long as the sample's training file, for several seeds.
        let many = DigitSet::new(vec![0; 9000 * PIXELS], vec![0; 9000]);
        for seed in [0, 1, 42, u64::MAX] {
            let burn = ShuffledDataset::new(InMemDataset::new((0..9000).collect()), seed);
            let burn: Vec<usize> = burn.iter().map(Result::unwrap).collect();
            let ours: Vec<usize> = (0..9000).map(|i| many.shuffled(seed).row(i)).collect();
            assert_eq!(ours, burn, "seed {seed}");
        }
    }

    #[test]
    fn a_batch_holds_the_chosen_items_scaled_to_0_1() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        let batch = ten().slice(2, 10).batch(&[5, 0], &device);
        assert_eq!(batch.images.dims(), [2, PIXELS]);
        let pixels = batch.images.into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(pixels[0], 140.0 / 255.0);
        assert_eq!(pixels[PIXELS], 40.0 / 255.0);
        let targets = batch.targets.into_data().try_into_vec_as::<i64>().unwrap();
        assert_eq!(targets, [7, 2]);
    }
}
