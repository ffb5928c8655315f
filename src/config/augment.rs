//! `data.augment`: random shifts, rotations and scalings of the training images.

use serde::{Deserialize, Serialize};

/// How far each training image may be moved, every epoch anew (0 = not at all; all 0 = off).
/// Each image's draw depends on (seed, epoch, image) only, so runs are reproducible and a
/// resumed run sees what the uninterrupted one saw. Validation and test images are never
/// augmented.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Augment {
    /// The most whole pixels an image is moved, along each axis.
    pub shift: usize,
    /// The most degrees an image is turned, either way.
    pub rotate: f64,
    /// The most an image is grown or shrunk, as a fraction (0.1: 90 % to 110 %).
    pub scale: f64,
}

/// Bounds that keep a digit on the 28×28 canvas.
pub const MAX_SHIFT: usize = 8;
pub const MAX_ROTATE: f64 = 90.0;
pub const MAX_SCALE: f64 = 0.5;

impl Augment {
    pub fn is_off(&self) -> bool {
        *self == Augment::default()
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if self.shift > MAX_SHIFT {
            return Err(format!(
                "key `data.augment.shift` = {} pixels is more than {MAX_SHIFT}: a digit moved \
                 that far leaves the 28×28 canvas",
                self.shift
            ));
        }
        if !(0.0..=MAX_ROTATE).contains(&self.rotate) {
            return Err(format!(
                "key `data.augment.rotate` = {} must be degrees in 0..={MAX_ROTATE} (each image \
                 is turned by a random angle up to this, either way)",
                self.rotate
            ));
        }
        if !(0.0..=MAX_SCALE).contains(&self.scale) {
            return Err(format!(
                "key `data.augment.scale` = {} must be a fraction in 0..={MAX_SCALE} (0.1: \
                 each image is scaled by 90 % to 110 %)",
                self.scale
            ));
        }
        Ok(())
    }
}
