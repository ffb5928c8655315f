//! `augmented.png` (`digits plot --augmented`): training images as the network sees them with
//! `data.augment`, each as stored and then as the first epochs move it.

use std::path::Path;

use plotters::prelude::*;

use crate::config::Augment;
use crate::data::augment::Move;
use crate::data::digit_set::DigitSet;
use crate::data::idx::{PIXELS, SIDE};
use crate::error::Result;
use crate::inspect::plots::{FONT, draw_digit, render};

/// Images shown (rows) and epochs drawn for each (columns after the stored image).
pub const IMAGES: usize = 8;
pub const EPOCHS: usize = 6;
/// Screen pixels per image pixel.
const SCALE: u32 = 3;
const TILE: u32 = SIDE as u32 * SCALE;
const PAD: u32 = 8;
const TITLE: u32 = 52;

/// The picture's size in pixels.
pub fn size() -> (u32, u32) {
    let cols = 1 + EPOCHS as u32;
    (
        PAD + cols * (TILE + PAD),
        TITLE + IMAGES as u32 * (TILE + PAD) + PAD,
    )
}

/// Draws the first [`IMAGES`] images of `train` as stored and as epochs 1..=[`EPOCHS`] of a
/// run seeded `seed` move them.
pub fn augmented_png(train: &DigitSet, augment: &Augment, seed: u64, path: &Path) -> Result<()> {
    let title = format!(
        "data.augment: shift ≤ {} px, rotate ≤ {}°, scale ± {} %",
        augment.shift,
        augment.rotate,
        augment.scale * 100.0
    );
    render(path, size(), |area| {
        area.draw(&Text::new(title, (PAD as i32, 6), (FONT, 16)))?;
        let heading = format!("as stored, then epochs 1–{EPOCHS}");
        area.draw(&Text::new(heading, (PAD as i32, 28), (FONT, 13)))?;
        for index in 0..IMAGES.min(train.len()) {
            let row = train.row(index);
            let image = train.image(index).expect("index < len");
            let y0 = TITLE + index as u32 * (TILE + PAD);
            for column in 0..=EPOCHS {
                let moved = match column {
                    0 => Move::NONE,
                    epoch => Move::drawn(augment, seed, epoch, row),
                };
                let mut pixels = Vec::with_capacity(PIXELS);
                moved.apply(&image.pixels, &mut pixels);
                let x0 = PAD + column as u32 * (TILE + PAD);
                draw_digit(area, &pixels, (x0, y0), SCALE)?;
            }
        }
        Ok(())
    })
}
