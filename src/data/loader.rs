//! A data loader whose batch order is a function of (seed, epoch) only.
//!
//! Burn's loader seeds its shuffle once and advances it every epoch, so a run resumed at epoch
//! 5 would see epoch 1's order again; with workers it yields batches in arrival order. This one
//! derives each epoch's permutation from the seed and the epoch number, and builds batches in
//! that order — on the training thread, or on one background thread that keeps the order.
//! Written by hand for that reason; it is Burn's `DataLoader` trait, so the Learner uses it as
//! it would Burn's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;

use crate::config::Augment;
use crate::data::augment::Move;
use crate::data::digit_set::{DigitBatch, DigitSet};
use crate::data::seed::{epoch_order, epoch_seed};

/// Batches of a dataset, shuffled per epoch (training) or in order (validation).
#[derive(Clone)]
pub struct EpochLoader {
    dataset: DigitSet,
    batch_size: usize,
    /// Shuffle seed; None keeps the dataset's order.
    shuffle: Option<u64>,
    /// Build batches ahead on a background thread.
    prefetch: bool,
    /// The epoch the next `iter()` serves (Burn calls it once per epoch), 1-based.
    next_epoch: Arc<AtomicUsize>,
    device: Device,
    /// Random moves of the images (shuffled loaders only: training).
    augment: Option<Augment>,
}

impl EpochLoader {
    /// A loader whose first `iter()` is epoch `first_epoch` (1 for a fresh run, E+1 when
    /// resuming after epoch E).
    pub fn new(
        dataset: DigitSet,
        batch_size: usize,
        shuffle: Option<u64>,
        prefetch: bool,
        first_epoch: usize,
        device: Device,
    ) -> Self {
        Self {
            dataset,
            batch_size,
            shuffle,
            prefetch,
            next_epoch: Arc::new(AtomicUsize::new(first_epoch)),
            device,
            augment: None,
        }
    }

    /// The same loader moving each image at random as `augment` says (`data.augment`), drawn
    /// from (shuffle seed, epoch, image); a loader that does not shuffle moves nothing.
    pub fn with_augment(mut self, augment: Augment) -> Self {
        self.augment = (!augment.is_off() && self.shuffle.is_some()).then_some(augment);
        self
    }

    /// The order of the dataset's items in `epoch`.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        match self.shuffle {
            Some(seed) => epoch_order(self.dataset.len(), seed, epoch),
            None => (0..self.dataset.len()).collect(),
        }
    }
}

impl DataLoader<DigitBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<DigitBatch> + 'a> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(seed) = self.shuffle {
            // The device's random state (dropout masks) also restarts from (seed, epoch), so a
            // resumed run draws what the uninterrupted one drew.
            self.device.seed(epoch_seed(seed, epoch).rotate_left(1));
        }
        let batches: Vec<Vec<usize>> = self
            .order(epoch)
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        let total = self.dataset.len();
        let maker = BatchMaker {
            dataset: self.dataset.clone(),
            device: self.device.clone(),
            augment: self
                .augment
                .zip(self.shuffle)
                .map(|(a, seed)| (a, seed, epoch)),
        };
        let source: Box<dyn Iterator<Item = (DigitBatch, usize)> + 'a> = if self.prefetch {
            Box::new(prefetched(maker, batches))
        } else {
            Box::new(
                batches
                    .into_iter()
                    .map(move |ids| (maker.make(&ids), ids.len())),
            )
        };
        Box::new(EpochIter {
            source,
            processed: 0,
            total,
        })
    }

    fn num_items(&self) -> usize {
        self.dataset.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<DigitBatch>> {
        let mut moved = self.clone();
        moved.device = device.clone();
        Arc::new(moved)
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<DigitBatch>> {
        let mut part = self.clone();
        part.dataset = self.dataset.slice(start, end);
        part.next_epoch = Arc::new(AtomicUsize::new(self.next_epoch.load(Ordering::SeqCst)));
        Arc::new(part)
    }
}

/// What one epoch's batches are cut from, and how their images move.
struct BatchMaker {
    dataset: DigitSet,
    device: Device,
    /// The augmentation, the run's seed and this epoch.
    augment: Option<(Augment, u64, usize)>,
}

impl BatchMaker {
    fn make(&self, ids: &[usize]) -> DigitBatch {
        match &self.augment {
            None => self.dataset.batch(ids, &self.device),
            Some((augment, seed, epoch)) => {
                let move_of = |row| Move::drawn(augment, *seed, *epoch, row);
                self.dataset.moved_batch(ids, &self.device, &move_of)
            }
        }
    }
}

/// Builds the batches on one background thread, two ahead, in order.
fn prefetched(
    maker: BatchMaker,
    batches: Vec<Vec<usize>>,
) -> impl Iterator<Item = (DigitBatch, usize)> {
    let (sender, receiver) = mpsc::sync_channel(2);
    std::thread::spawn(move || {
        for ids in batches {
            // A closed channel means the epoch was cut short: stop building.
            if sender.send((maker.make(&ids), ids.len())).is_err() {
                return;
            }
        }
    });
    receiver.into_iter()
}

struct EpochIter<'a> {
    source: Box<dyn Iterator<Item = (DigitBatch, usize)> + 'a>,
    processed: usize,
    total: usize,
}

impl Iterator for EpochIter<'_> {
    type Item = Result<DigitBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Batches are cut from memory already read and checked: they cannot fail.
        let (batch, items) = self.source.next()?;
        self.processed += items;
        Some(Ok(batch))
    }
}

impl DataLoaderIterator<DigitBatch> for EpochIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.processed, self.total, Some("items".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loader(shuffle: Option<u64>, first_epoch: usize) -> EpochLoader {
        let pixels = (0..10u8)
            .flat_map(|i| [i; crate::data::idx::PIXELS])
            .collect();
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        EpochLoader::new(
            DigitSet::new(pixels, (0..10).collect()),
            4,
            shuffle,
            false,
            first_epoch,
            device,
        )
    }

    fn labels(loader: &EpochLoader) -> Vec<i64> {
        loader
            .iter()
            .flat_map(|batch| {
                batch
                    .unwrap()
                    .targets
                    .into_data()
                    .try_into_vec_as::<i64>()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn each_epochs_order_depends_on_seed_and_epoch_only() {
        let fresh = loader(Some(7), 1);
        let epoch1 = labels(&fresh);
        let epoch2 = labels(&fresh);
        assert_ne!(epoch1, epoch2, "a new order every epoch");
        let resumed = loader(Some(7), 2);
        assert_eq!(
            labels(&resumed),
            epoch2,
            "epoch 2 is epoch 2, resumed or not"
        );
        let mut sorted = epoch1.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>(), "a permutation");
    }

    #[test]
    fn without_shuffle_the_order_is_the_datasets() {
        assert_eq!(labels(&loader(None, 1)), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn progress_counts_items_and_the_last_batch_is_short() {
        let loader = loader(None, 1);
        let mut iter = loader.iter();
        let sizes: Vec<usize> = std::iter::from_fn(|| iter.next())
            .map(|b| b.unwrap().targets.dims()[0])
            .collect();
        assert_eq!(sizes, [4, 4, 2]);
        assert_eq!(iter.progress().items_processed, 10);
    }
}
