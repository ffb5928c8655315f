//! The pictures of `digits explain`: grids of 28×28 images with a caption each, and the
//! histogram of what the network names noise.

use std::path::Path;

use plotters::prelude::*;

use crate::data::idx::{CLASSES, SIDE};
use crate::error::Result;
use crate::inspect::explain::NoiseAnswers;
use crate::inspect::plots::{FONT, VALID_COLOUR, draw_digit, render};

pub const WANTED_FILE: &str = "wanted.png";
pub const NOISE_FILE: &str = "noise.png";
pub const MISTAKES_FILE: &str = "mistakes.png";

/// Screen pixels per image pixel, and the room around a tile.
const SCALE: u32 = 3;
const TILE: u32 = SIDE as u32 * SCALE;
const PAD: u32 = 10;
const CAPTION: u32 = 34;
const TITLE: u32 = 34;

/// One image of a grid: its pixels in 0..1 (ink light, as MNIST; drawn dark on white) and up
/// to two caption lines.
pub struct Tile {
    pub pixels: Vec<f32>,
    pub caption: [String; 2],
}

/// Draws `tiles` in rows of `columns` under `title`.
pub fn tiles_png(title: &str, tiles: &[Tile], columns: usize, path: &Path) -> Result<()> {
    let columns = columns.max(1) as u32;
    let rows = (tiles.len() as u32).div_ceil(columns).max(1);
    let size = (
        PAD + columns * (TILE + PAD),
        TITLE + rows * (CAPTION + TILE + PAD) + PAD,
    );
    render(path, size, |area| {
        area.draw(&Text::new(title.to_string(), (PAD as i32, 8), (FONT, 16)))?;
        for (i, tile) in tiles.iter().enumerate() {
            let (column, row) = (i as u32 % columns, i as u32 / columns);
            let x0 = PAD + column * (TILE + PAD);
            let y0 = TITLE + row * (CAPTION + TILE + PAD);
            for (line, text) in tile.caption.iter().enumerate() {
                let y = y0 as i32 + 15 * line as i32;
                area.draw(&Text::new(text.clone(), (x0 as i32, y), (FONT, 12)))?;
            }
            draw_digit(area, &tile.pixels, (x0, y0 + CAPTION), SCALE)?;
        }
        Ok(())
    })
}

/// How many noise images the network named each digit, as bars.
pub fn noise_png(noise: &NoiseAnswers, path: &Path) -> Result<()> {
    let top = noise.named.iter().copied().max().unwrap_or(1).max(1) as f64;
    render(path, (720, 420), |area| {
        let title = format!(
            "{} random images: the digit named (mean confidence {:.0} %, largest {:.0} %)",
            noise.images,
            noise.mean_confidence * 100.0,
            noise.max_confidence * 100.0
        );
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 15))
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..CLASSES as f64 - 0.5, 0.0..top * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("digit named")
            .y_desc("images")
            .x_labels(CLASSES)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(WHITE)
            .label_style((FONT, 12))
            .draw()?;
        chart.draw_series(noise.named.iter().enumerate().map(|(digit, &count)| {
            let x = digit as f64;
            Rectangle::new(
                [(x - 0.35, 0.0), (x + 0.35, count as f64)],
                VALID_COLOUR.filled(),
            )
        }))?;
        Ok(())
    })
}
