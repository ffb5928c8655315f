//! Pictures of a run: first-layer weights, learning curves, confusion matrix (PNG, plotters).

use std::path::{Path, PathBuf};
use std::sync::Once;

use image::{ImageFormat, RgbImage};
use plotters::coord::Shift;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::data::Split;
use crate::data::idx::{CLASSES, SIDE};
use crate::error::{Error, Result};
use crate::inspect::typeset::Typeset;
use crate::metrics::ConfusionMatrix;
use crate::model::Network;
use crate::run::folder::{CURVES_FILE, RunFolder, WEIGHTS_FILE, write_atomic};
use crate::run::history::SplitRecord;

pub(crate) const FONT: &str = "sans-serif";
/// Screen pixels per weight in a tile.
const WEIGHT_SCALE: u32 = 4;
const TILE: u32 = SIDE as u32 * WEIGHT_SCALE;
const PAD: u32 = 10;
const LABEL: u32 = 18;
const TITLE: u32 = 30;
/// The colour key's row, under the title.
const KEY: u32 = 24;
const KEY_BAR: u32 = 100;

/// Each split's colour, as in Burn's dashboard and `train`'s results screen: train red,
/// valid blue.
pub const TRAIN_COLOUR: RGBColor = RGBColor(214, 39, 40);
pub const VALID_COLOUR: RGBColor = RGBColor(31, 119, 180);

/// plotters needs a font registered under the name styles give, although [`Typeset`] sets
/// every text itself (with the same embedded Ubuntu Light, so no system fonts are needed).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid TrueType; if it ever failed to parse, text would be
        // missing from the pictures but nothing else.
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// Where the tiles of `neurons` first-layer neurons go: a near-square grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightGrid {
    pub neurons: usize,
    pub cols: u32,
    pub rows: u32,
}

impl WeightGrid {
    pub fn new(neurons: usize) -> WeightGrid {
        let cols = (neurons as f64).sqrt().ceil().max(1.0) as u32;
        let rows = (neurons as u32).div_ceil(cols);
        WeightGrid {
            neurons,
            cols,
            rows,
        }
    }

    /// The picture's size in pixels.
    pub fn size(&self) -> (u32, u32) {
        (
            PAD + self.cols * (TILE + PAD),
            TITLE + KEY + self.rows * (LABEL + TILE + PAD) + PAD,
        )
    }

    /// The rows of pixels the colour key takes (start, end).
    pub fn key_rows(&self) -> (u32, u32) {
        (TITLE, TITLE + KEY)
    }

    /// Top-left pixel of neuron `i`'s 28×28 tile.
    pub fn tile_origin(&self, i: usize) -> (u32, u32) {
        let (col, row) = (i as u32 % self.cols, i as u32 / self.cols);
        (
            PAD + col * (TILE + PAD),
            TITLE + KEY + row * (LABEL + TILE + PAD) + LABEL,
        )
    }
}

/// `weights.png`: what the first layer looks for. An MLP: each first-layer neuron's 784 input
/// weights as a 28×28 tile; a CNN: each first convolution's filter (k×k weights) as a tile of
/// the same size. Blue is negative, red positive, white zero; each tile is scaled to its own
/// largest |weight| (printed above it), so every pattern is visible.
pub fn weights_png(model: &Network, path: &Path) -> Result<()> {
    let read = |data: burn::tensor::TensorData| {
        data.try_into_vec_as::<f32>()
            .map_err(|e| Error::Internal(format!("reading weights: {e:?}")))
    };
    let (title, side, tiles) = match model.conv.first() {
        Some(layer) => {
            // [filters, input channels, k, k]; the first layer reads the one grey channel.
            let [filters, channels, k, _] = layer.conv.weight.shape().dims();
            let weights = read(layer.conv.weight.val().into_data())?;
            let per_filter = channels * k * k;
            let tiles: Vec<Vec<f32>> = weights
                .chunks(per_filter)
                .map(|filter| filter[..k * k].to_vec())
                .collect();
            let title = format!("first convolution: {filters} filters of {k}×{k} weights");
            (title, k, tiles)
        }
        None => {
            let first = &model
                .hidden
                .first()
                .expect("a config always has a hidden layer")
                .linear;
            // Burn stores a Linear's weight as [inputs, outputs]: column j is neuron j's.
            let [inputs, neurons] = first.weight.shape().dims();
            let weights = read(first.weight.val().into_data())?;
            let tiles = (0..neurons)
                .map(|j| (0..inputs).map(|i| weights[i * neurons + j]).collect())
                .collect();
            let title = format!("first hidden layer: {neurons} neurons × {inputs} input weights");
            (title, SIDE, tiles)
        }
    };
    let grid = WeightGrid::new(tiles.len());
    // Every tile is about TILE pixels wide, whatever its number of weights.
    let cell = (TILE / side as u32).max(1);
    render(path, grid.size(), |area| {
        area.draw(&Text::new(title.clone(), (PAD as i32, 8), (FONT, 16)))?;
        weight_key(area, grid.key_rows().0 as i32)?;
        for (j, tile) in tiles.iter().enumerate() {
            let scale = tile.iter().fold(0.0f32, |m, w| m.max(w.abs()));
            let (x0, y0) = grid.tile_origin(j);
            for (pixel, &w) in tile.iter().enumerate() {
                let (x, y) = (
                    x0 + (pixel % side) as u32 * cell,
                    y0 + (pixel / side) as u32 * cell,
                );
                let colour = diverging(if scale > 0.0 { w / scale } else { 0.0 });
                area.draw(&Rectangle::new(
                    [(x as i32, y as i32), ((x + cell) as i32, (y + cell) as i32)],
                    colour.filled(),
                ))?;
            }
            area.draw(&Text::new(
                format!("{} ±{scale:.2}", j + 1),
                (x0 as i32, (y0 - LABEL + 2) as i32),
                (FONT, 13),
            ))?;
        }
        Ok(())
    })
}

/// The weights' colour key at row `top`: −max, the colours from blue through white to red,
/// +max, and what max is.
fn weight_key(area: &Canvas, top: i32) -> DrawResult {
    let left = PAD as i32 + 34;
    area.draw(&Text::new("−max", (PAD as i32, top + 3), (FONT, 13)))?;
    for i in 0..KEY_BAR as i32 {
        let v = 2.0 * i as f32 / (KEY_BAR - 1) as f32 - 1.0;
        area.draw(&Rectangle::new(
            [(left + i, top + 2), (left + i + 1, top + 18)],
            diverging(v).filled(),
        ))?;
    }
    let right = left + KEY_BAR as i32;
    // The frame just outside the colours, so both ends keep theirs.
    area.draw(&Rectangle::new(
        [(left - 1, top + 1), (right + 1, top + 19)],
        BLACK,
    ))?;
    let text = "+max   (max: the ± over each tile)";
    area.draw(&Text::new(text, (right + 6, top + 3), (FONT, 13)))?;
    Ok(())
}

/// A 28×28 image with pixels in 0..1 (ink light, as MNIST stores it) drawn ink-dark on white,
/// as the digit was written, `scale` screen pixels per image pixel, its top left at `origin`.
pub(crate) fn draw_digit(
    area: &Canvas,
    pixels: &[f32],
    (x0, y0): (u32, u32),
    scale: u32,
) -> DrawResult {
    for (i, &value) in pixels.iter().enumerate() {
        let grey = 255 - (value.clamp(0.0, 1.0) * 255.0).round() as u8;
        let (x, y) = (
            x0 + (i % SIDE) as u32 * scale,
            y0 + (i / SIDE) as u32 * scale,
        );
        area.draw(&Rectangle::new(
            [
                (x as i32, y as i32),
                ((x + scale) as i32, (y + scale) as i32),
            ],
            RGBColor(grey, grey, grey).filled(),
        ))?;
    }
    Ok(())
}

/// White at 0, towards red for positive and blue for negative values in -1..1.
fn diverging(v: f32) -> RGBColor {
    let t = v.clamp(-1.0, 1.0).abs();
    let (r, g, b) = if v >= 0.0 {
        (178.0, 24.0, 43.0)
    } else {
        (33.0, 102.0, 172.0)
    };
    let mix = |c: f32| (255.0 + (c - 255.0) * t).round() as u8;
    RGBColor(mix(r), mix(g), mix(b))
}

pub const CURVES_SIZE: (u32, u32) = (1000, 420);

/// `curves.png`: loss and accuracy per epoch, train and valid.
pub fn curves_png(records: &[SplitRecord], path: &Path) -> Result<()> {
    render(path, CURVES_SIZE, |area| {
        let panels = area.split_evenly((1, 2));
        for (panel, (metric, label)) in panels
            .iter()
            .zip([("loss", "loss"), ("accuracy", "accuracy (%)")])
        {
            let lines = [
                Line {
                    label: Split::Train.to_string(),
                    points: epoch_series(records, Split::Train, metric),
                    colour: TRAIN_COLOUR,
                },
                Line {
                    label: Split::Valid.to_string(),
                    points: epoch_series(records, Split::Valid, metric),
                    colour: VALID_COLOUR,
                },
            ];
            epoch_panel(panel, &format!("{metric} per epoch"), label, &lines, true)?;
        }
        Ok(())
    })
}

/// One line of a chart: its legend, its points and its colour.
pub(crate) struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub colour: RGBColor,
}

/// A chart of values per epoch, a line per series, with a legend (`legend`) where curves of
/// that kind seldom go: upper right for a loss (it falls), lower right for an accuracy (it
/// rises).
pub(crate) fn epoch_panel(
    panel: &Canvas,
    title: &str,
    y_label: &str,
    lines: &[Line],
    legend: bool,
) -> DrawResult {
    let all = || lines.iter().flat_map(|l| &l.points);
    let last_epoch = all().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = value_range(all());
    let mut chart = ChartBuilder::on(panel)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.5..last_epoch + 0.5, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        // Epochs are whole: a label at each of a few of them, none in between.
        .x_labels((last_epoch as usize).min(10) + 1)
        .x_label_formatter(&whole_number)
        .light_line_style(WHITE)
        .label_style((FONT, 12))
        .draw()?;
    draw_lines(&mut chart, lines)?;
    if !legend {
        return Ok(());
    }
    let legend_at = match y_label.starts_with("accuracy") {
        true => SeriesLabelPosition::LowerRight,
        false => SeriesLabelPosition::UpperRight,
    };
    chart
        .configure_series_labels()
        .position(legend_at)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

/// Each line, with a dot at each point and an entry in the legend.
pub(crate) fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, Typeset<BitMapBackend<'a>>, Cartesian2d<X, Y>>,
    lines: &[Line],
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    // A series with no points (a run that never validated) gets no legend entry either.
    for line in lines.iter().filter(|l| !l.points.is_empty()) {
        let colour = line.colour;
        chart
            .draw_series(LineSeries::new(
                line.points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(
            line.points
                .iter()
                .map(|&p| Circle::new(p, 3, colour.filled())),
        )?;
    }
    Ok(())
}

const CELL: i32 = 44;
const GRID_LEFT: i32 = 70;
const GRID_TOP: i32 = 70;
pub const CONFUSION_SIZE: (u32, u32) = (
    (GRID_LEFT + CELL * CLASSES as i32 + 20) as u32,
    (GRID_TOP + CELL * CLASSES as i32 + 20) as u32,
);

/// `confusion.png`: rows are the true digit, columns the predicted one; each cell shows its
/// count, shaded by its share of the row.
pub fn confusion_png(matrix: &ConfusionMatrix, path: &Path) -> Result<()> {
    render(path, CONFUSION_SIZE, |area| {
        let centred = |size: u32| {
            (FONT, size)
                .into_font()
                .into_text_style(area)
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        let grid_width = CELL * CLASSES as i32;
        area.draw(&Text::new(
            "confusion matrix (test split): rows true digit, columns predicted",
            (GRID_LEFT + grid_width / 2, 16),
            centred(15),
        ))?;
        area.draw(&Text::new(
            "predicted",
            (GRID_LEFT + grid_width / 2, 38),
            centred(13),
        ))?;
        area.draw(&Text::new("true", (22, GRID_TOP - 14), centred(13)))?;
        for digit in 0..CLASSES as i32 {
            let middle = CELL * digit + CELL / 2;
            let label = digit.to_string();
            area.draw(&Text::new(
                label.clone(),
                (GRID_LEFT + middle, GRID_TOP - 12),
                centred(14),
            ))?;
            area.draw(&Text::new(
                label,
                (GRID_LEFT - 16, GRID_TOP + middle),
                centred(14),
            ))?;
        }
        for truth in 0..CLASSES {
            let row_total = matrix.support(truth).max(1) as f64;
            for predicted in 0..CLASSES {
                let count = matrix.counts[truth][predicted];
                let share = count as f64 / row_total;
                let shade = (255.0 * (1.0 - share.sqrt())).round() as u8;
                let x = GRID_LEFT + CELL * predicted as i32;
                let y = GRID_TOP + CELL * truth as i32;
                area.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    RGBColor(shade, shade, 255).filled(),
                ))?;
                area.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    RGBColor(200, 200, 200),
                ))?;
                let text = if share > 0.4 { WHITE } else { BLACK };
                area.draw(&Text::new(
                    count.to_string(),
                    (x + CELL / 2, y + CELL / 2),
                    centred(13).color(&text),
                ))?;
            }
        }
        Ok(())
    })
}

/// One split's `metric` per epoch, as (epoch, value); accuracy in percent.
pub fn epoch_series(records: &[SplitRecord], split: Split, metric: &str) -> Vec<(f64, f64)> {
    let scale = if metric == "accuracy" { 100.0 } else { 1.0 };
    records
        .iter()
        .filter(|r| r.split == split)
        .filter_map(|r| Some((r.epoch as f64, r.metrics.get(metric)? * scale)))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

/// The low and high values of `points`, a little apart (and 0..1 for none).
pub(crate) fn value_range<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> (f64, f64) {
    let (lo, hi) = points.fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    if lo > hi {
        return (0.0, 1.0);
    }
    let margin = ((hi - lo) * 0.05).max(1e-6);
    (lo - margin, hi + margin)
}

/// An axis label at whole numbers only (plotters also ticks halves and tenths).
pub(crate) fn whole_number(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 && *x >= 0.5 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// A log axis's labels over `lo..hi`: powers of ten only, in one notation for the whole axis —
/// plainly (0.01, 1, 100) where every decade reads short so, else all as 1e-5, 1e-3.
pub(crate) fn decades(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let plain = |e: f64| (-3.0..=4.0).contains(&e);
    let plain = plain(lo.log10().round()) && plain(hi.log10().round());
    move |y: &f64| {
        let exponent = y.log10();
        if (exponent - exponent.round()).abs() > 1e-6 {
            return String::new();
        }
        match (plain, exponent.round() as i32) {
            (true, e @ -3..=0) => format!("{y:.prec$}", prec = (-e) as usize),
            (true, _) => format!("{y:.0}"),
            (false, e) => format!("1e{e}"),
        }
    }
}

pub(crate) type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// What the pictures are drawn on: an RGB buffer whose texts [`Typeset`] sets.
pub(crate) type Canvas<'a> = DrawingArea<Typeset<BitMapBackend<'a>>, Shift>;

/// Draws on a white RGB canvas of `size`, then writes it as a PNG (atomically).
pub(crate) fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Canvas) -> DrawResult,
) -> Result<()> {
    register_font();
    let mut buffer = vec![255u8; (size.0 * size.1 * 3) as usize];
    {
        let area = Typeset::new(BitMapBackend::with_buffer(&mut buffer, size)).into_drawing_area();
        draw(&area)
            .and_then(|()| area.present().map_err(Into::into))
            .map_err(|e| Error::Internal(format!("drawing {}: {e}", path.display())))?;
    }
    let image = RgbImage::from_raw(size.0, size.1, buffer).expect("buffer sized to the image");
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| Error::Internal(format!("encoding {}: {e}", path.display())))?;
    write_atomic(path, &png)
}

/// Draws the pictures of a run from its model and per-epoch records.
pub fn draw(folder: &RunFolder, model: &Network, records: &[SplitRecord]) -> Result<Vec<PathBuf>> {
    let (weights, curves) = (folder.path(WEIGHTS_FILE), folder.path(CURVES_FILE));
    weights_png(model, &weights)?;
    curves_png(records, &curves)?;
    Ok(vec![weights, curves])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weight_grid_is_near_square_and_tiles_do_not_overlap() {
        let grid = WeightGrid::new(16);
        assert_eq!((grid.cols, grid.rows), (4, 4));
        let grid = WeightGrid::new(10);
        assert_eq!((grid.cols, grid.rows), (4, 3));
        let (w, h) = grid.size();
        for i in 0..10 {
            let (x, y) = grid.tile_origin(i);
            assert!(x + TILE <= w && y + TILE <= h);
        }
        assert_eq!(grid.tile_origin(1).0 - grid.tile_origin(0).0, TILE + PAD);
    }

    #[test]
    fn diverging_colours_are_white_at_zero() {
        assert_eq!(diverging(0.0), RGBColor(255, 255, 255));
        assert_eq!(diverging(1.0), RGBColor(178, 24, 43));
        assert_eq!(diverging(-1.0), RGBColor(33, 102, 172));
    }

    #[test]
    fn axes_label_whole_epochs_and_powers_of_ten_only() {
        // A 2-epoch run once read `1 1 1 1 1 2 2 2 2 2`: ticks at tenths, each rounded.
        let labels: Vec<String> = [0.6, 0.8, 1.0, 1.2, 1.5, 2.0, 2.4]
            .iter()
            .map(whole_number)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(labels, ["1", "2"]);
        let ticks = [1e-5, 0.001, 0.002, 0.01, 0.1, 0.5, 1.0, 100.0];
        let labels = |lo: f64, hi: f64| -> Vec<String> {
            let label = decades(lo, hi);
            ticks
                .iter()
                .filter(|&&t| (lo..=hi).contains(&t))
                .map(&label)
                .filter(|l| !l.is_empty())
                .collect()
        };
        assert_eq!(labels(0.001, 100.0), ["0.001", "0.01", "0.1", "1", "100"]);
        // One notation per axis: lr-find's once read `1e-5 0.0001 0.001` and so on.
        assert_eq!(labels(1e-5, 1.0), ["1e-5", "1e-3", "1e-2", "1e-1", "1e0"]);
    }

    #[test]
    fn curves_draw_train_in_red_and_valid_in_blue_as_the_dashboard_does() {
        let record = |split: Split, epoch: usize| SplitRecord {
            epoch,
            split,
            metrics: [
                ("loss".to_string(), 1.0 / epoch as f64),
                ("accuracy".into(), 0.5),
            ]
            .into(),
            items: 10,
            seconds: 1.0,
        };
        let count = |records: &[SplitRecord], colour: RGBColor| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("curves.png");
            curves_png(records, &path).unwrap();
            let picture = image::open(&path).unwrap().to_rgb8();
            picture
                .pixels()
                .filter(|p| p.0 == [colour.0, colour.1, colour.2])
                .count()
        };
        let train = [record(Split::Train, 1), record(Split::Train, 2)];
        assert!(count(&train, TRAIN_COLOUR) > 100);
        assert_eq!(count(&train, VALID_COLOUR), 0);
        let valid = [record(Split::Valid, 1), record(Split::Valid, 2)];
        assert!(count(&valid, VALID_COLOUR) > 100);
        assert_eq!(count(&valid, TRAIN_COLOUR), 0);
    }
}
