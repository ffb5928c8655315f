//! A 10×10 confusion matrix and the per-class report derived from it. burn-train has macro
//! and micro averages but neither of these.

use serde::Serialize;

use crate::data::idx::CLASSES;

/// `counts[true][predicted]`: how often an image of digit `true` was read as `predicted`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfusionMatrix {
    pub counts: [[u64; CLASSES]; CLASSES],
}

/// Precision, recall and F1 of one digit, and how many test images show it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassReport {
    pub digit: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl ConfusionMatrix {
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    pub fn correct(&self) -> u64 {
        (0..CLASSES).map(|c| self.counts[c][c]).sum()
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Of the images read as `digit`, the share that were `digit` (0 if none was read so).
    pub fn precision(&self, digit: usize) -> f64 {
        let predicted: u64 = (0..CLASSES).map(|t| self.counts[t][digit]).sum();
        ratio(self.counts[digit][digit], predicted)
    }

    /// Of the images of `digit`, the share read as `digit` (0 if there were none).
    pub fn recall(&self, digit: usize) -> f64 {
        ratio(self.counts[digit][digit], self.support(digit))
    }

    pub fn support(&self, digit: usize) -> u64 {
        self.counts[digit].iter().sum()
    }

    pub fn report(&self) -> Vec<ClassReport> {
        (0..CLASSES)
            .map(|digit| {
                let (precision, recall) = (self.precision(digit), self.recall(digit));
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassReport {
                    digit,
                    precision,
                    recall,
                    f1,
                    support: self.support(digit),
                }
            })
            .collect()
    }

    /// The matrix as rows of counts (JSON-friendly).
    pub fn rows(&self) -> Vec<Vec<u64>> {
        self.counts.iter().map(|row| row.to_vec()).collect()
    }
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_class_figures_follow_their_definitions() {
        let mut matrix = ConfusionMatrix::default();
        // Three 1s: two read right, one read as 7. One 7, read as 1. Two 0s, right.
        for (truth, predicted) in [(1, 1), (1, 1), (1, 7), (7, 1), (0, 0), (0, 0)] {
            matrix.add(truth, predicted);
        }
        assert_eq!(matrix.total(), 6);
        assert_eq!(matrix.correct(), 4);
        assert!((matrix.accuracy() - 4.0 / 6.0).abs() < 1e-12);
        assert!((matrix.precision(1) - 2.0 / 3.0).abs() < 1e-12);
        assert!((matrix.recall(1) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(matrix.precision(7), 0.0);
        assert_eq!(matrix.recall(7), 0.0);
        assert_eq!(matrix.precision(3), 0.0, "never predicted: 0, not NaN");
        let report = matrix.report();
        assert_eq!(report[0].f1, 1.0);
        assert!((report[1].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(report[7].f1, 0.0);
        assert_eq!(report[1].support, 3);
        assert_eq!(matrix.rows()[1][7], 1);
    }
}
