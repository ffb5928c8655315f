//! `digits eval --moved`: how a network does on the test images moved, the seed's "features"
//! made visible: a network that learned strokes where they were drawn loses a digit that moved.

use burn::prelude::*;
use serde::Serialize;

use crate::data::augment::Move;
use crate::data::digit_set::DigitSet;
use crate::model::Network;

/// One way of moving the whole test set, and the accuracy on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MovedAccuracy {
    /// `shift 3 px`, `rotate +15°`.
    pub moved: String,
    pub accuracy: f64,
}

/// A way `--moved` moves the whole test set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestMove {
    /// Whole pixels, each image right, down, left or up in turn by its place in the file, so
    /// every direction is a quarter of the set.
    Shift(usize),
    /// Degrees, every image the same way (positive: clockwise on screen).
    Rotate(f64),
}

impl TestMove {
    /// What `--moved` measures: shifts of 1 to 4 pixels, turns of 15° either way.
    pub const ALL: [TestMove; 6] = [
        TestMove::Shift(1),
        TestMove::Shift(2),
        TestMove::Shift(3),
        TestMove::Shift(4),
        TestMove::Rotate(15.0),
        TestMove::Rotate(-15.0),
    ];

    pub fn name(self) -> String {
        match self {
            TestMove::Shift(pixels) => format!("shift {pixels} px"),
            TestMove::Rotate(degrees) => format!("rotate {degrees:+}°"),
        }
    }

    /// The move of the image in row `row` of the store.
    pub fn of(self, row: usize) -> Move {
        match self {
            TestMove::Shift(pixels) => {
                let d = pixels as f64;
                let (dx, dy) = [(d, 0.0), (0.0, d), (-d, 0.0), (0.0, -d)][row % 4];
                Move {
                    dx,
                    dy,
                    ..Move::NONE
                }
            }
            TestMove::Rotate(degrees) => Move {
                angle: degrees.to_radians(),
                ..Move::NONE
            },
        }
    }
}

/// The accuracy of `model` (inference mode) on `dataset` moved each way of [`TestMove::ALL`],
/// `batch_size` images at a time.
pub fn moved_accuracies(
    model: &Network,
    dataset: &DigitSet,
    batch_size: usize,
    device: &Device,
) -> Vec<MovedAccuracy> {
    let model = model.valid();
    let ids: Vec<usize> = (0..dataset.len()).collect();
    let total = (TestMove::ALL.len() * ids.len()) as u64;
    let progress = crate::report::progress("test images moved and read", total);
    TestMove::ALL
        .into_iter()
        .map(|test_move| {
            let mut correct = 0usize;
            for chunk in ids.chunks(batch_size) {
                let batch = dataset.moved_batch(chunk, device, &|row| test_move.of(row));
                let predicted = model.forward(batch.images).argmax(1).flatten::<1>(0, 1);
                let hits: i64 = predicted.equal(batch.targets).int().sum().into_scalar();
                correct += hits as usize;
                progress.add(chunk.len() as u64, None);
            }
            let accuracy = correct as f64 / dataset.len().max(1) as f64;
            MovedAccuracy {
                moved: test_move.name(),
                accuracy,
            }
        })
        .collect()
}
