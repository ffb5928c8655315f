//! `landscape.png`: the loss along the line from the initial network to the trained one, the
//! loss around the trained one on two random directions, and the training path over the loss
//! on its own plane. The planes are filled contour maps: the loss (log scale, shared by both)
//! in bands of colour, each band's edge drawn darker.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

use crate::error::Result;
use crate::inspect::landscape::{LineProfile, Surface, TrainingPath};
use crate::inspect::plots::{Canvas, DrawResult, FONT, TRAIN_COLOUR, VALID_COLOUR, render};
use crate::inspect::typeset::text_width;

pub const LANDSCAPE_FILE: &str = "landscape.png";
const PANEL: (u32, u32) = (540, 560);
/// Colour bands of the contour maps, and the most decades of loss above the lowest they cover.
const BANDS: usize = 14;
const DECADES: f64 = 2.0;

/// The three panels; `path` is the training path or why the run cannot draw it.
pub struct LandscapePicture<'a> {
    pub title: &'a str,
    pub line: &'a LineProfile,
    pub random: &'a Surface,
    pub path: std::result::Result<&'a TrainingPath, &'a str>,
}

pub fn landscape_png(picture: &LandscapePicture, path: &Path) -> Result<()> {
    let scale = LossScale::of([Some(picture.random), picture.path.ok().map(|p| &p.surface)]);
    let width = PANEL.0 * 3;
    render(path, (width, PANEL.1 + 30), |area| {
        area.draw(&Text::new(picture.title.to_string(), (14, 8), (FONT, 17)))?;
        colour_key(area, &scale, width as i32 - 420)?;
        let panels = area.margin(30, 0, 0, 0).split_evenly((1, 3));
        line_panel(&panels[0], picture.line)?;
        let (x, y) = ("direction 1 (filter-normalised)", "direction 2");
        let title = "around the trained network: two random directions";
        surface_panel(
            &panels[1],
            picture.random,
            &scale,
            (title, (x, y)),
            |chart| draw_points(chart, &[(0.0, 0.0)], &[String::from("trained")]),
        )?;
        match picture.path {
            Ok(training) => {
                let axes = (
                    format!(
                        "path's direction 1: {:.1} % of its movement",
                        training.explained[0] * 100.0
                    ),
                    format!("direction 2: {:.1} %", training.explained[1] * 100.0),
                );
                let title = "the training path, epoch by epoch, on its own plane";
                let axes = (axes.0.as_str(), axes.1.as_str());
                surface_panel(
                    &panels[2],
                    &training.surface,
                    &scale,
                    (title, axes),
                    |chart| draw_path(chart, training),
                )?;
            }
            Err(why) => no_path_panel(&panels[2], why)?,
        }
        Ok(())
    })
}

/// The training path in white, each epoch a red dot, every epoch (or every few) labelled.
fn draw_path(mut chart: Chart, training: &TrainingPath) -> DrawResult {
    let every = training.epochs.len().div_ceil(10).max(1);
    let labels: Vec<String> = training
        .epochs
        .iter()
        .enumerate()
        .map(
            |(i, e)| match i % every == 0 || i + 1 == training.epochs.len() {
                true => e.to_string(),
                false => String::new(),
            },
        )
        .collect();
    chart.draw_series(LineSeries::new(
        training.coordinates.iter().copied(),
        WHITE.stroke_width(2),
    ))?;
    draw_points(chart, &training.coordinates, &labels)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    crate::inspect::typeset::Typeset<BitMapBackend<'b>>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn line_panel(area: &Canvas, line: &LineProfile) -> DrawResult {
    let finite = line
        .losses
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = finite.fold((f64::MAX, f64::MIN_POSITIVE), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (first, last) = (line.alphas[0], line.alphas[line.alphas.len() - 1]);
    let chart = ChartBuilder::on(area)
        .caption("from the initial to the trained network", (FONT, 15))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(first..last, (lo.min(hi) * 0.8..hi * 1.25).log_scale());
    // A linear axis reads best; a loss that grows a hundredfold needs the log one.
    match hi / lo > 100.0 {
        true => line_chart(chart?, line, "loss (log scale)"),
        false => {
            let chart = ChartBuilder::on(area)
                .caption("from the initial to the trained network", (FONT, 15))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(56)
                .build_cartesian_2d(first..last, 0.0..hi * 1.08)?;
            line_chart(chart, line, "loss")
        }
    }
}

fn line_chart<'a, Y>(
    mut chart: ChartContext<
        'a,
        crate::inspect::typeset::Typeset<BitMapBackend<'a>>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    line: &LineProfile,
    y_desc: &str,
) -> DrawResult
where
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("α: (1 − α)·initial + α·trained")
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .label_style((FONT, 12))
        .draw()?;
    let points = line.alphas.iter().copied().zip(line.losses.iter().copied());
    chart.draw_series(LineSeries::new(
        points.filter(|p| p.1.is_finite() && p.1 > 0.0),
        VALID_COLOUR.stroke_width(2),
    ))?;
    // The initial network's label above its point, the trained one's below (the line comes
    // down into it, and may climb again past it).
    for (alpha, name, offset) in [(0.0, "initial", (-20, -24)), (1.0, "trained", (-20, 10))] {
        let Some(i) = line.alphas.iter().position(|&a| a == alpha) else {
            continue;
        };
        let loss = line.losses[i];
        chart.draw_series([Circle::new((alpha, loss), 5, TRAIN_COLOUR.filled())])?;
        let label = Text::new(format!("{name}: {loss:.3}"), offset, (FONT, 13));
        chart.draw_series([EmptyElement::at((alpha, loss)) + label])?;
    }
    Ok(())
}

/// The colour scale of the contour maps: log10 of the loss, lowest to highest (or `DECADES`).
struct LossScale {
    lo: f64,
    hi: f64,
}

impl LossScale {
    fn of<'a>(surfaces: impl IntoIterator<Item = Option<&'a Surface>>) -> LossScale {
        let (lowest, highest) = surfaces
            .into_iter()
            .flatten()
            .flat_map(|s| s.losses.iter().flatten().copied())
            .filter(|v| v.is_finite() && *v > 0.0)
            .fold((f64::MAX, f64::MIN_POSITIVE), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let lo = lowest.min(highest).log10();
        // Up to the highest loss, at most `DECADES` above the lowest: a plateau keeps its
        // shape in the bands, and the key says how flat it is.
        let hi = highest.log10().clamp(lo + 1e-6, lo + DECADES);
        LossScale { lo, hi }
    }

    /// The band of `loss` (non-finite losses in the top one).
    fn band(&self, log_loss: f64) -> usize {
        let share = match log_loss.is_finite() {
            true => (log_loss - self.lo) / (self.hi - self.lo),
            false => 1.0,
        };
        ((share.clamp(0.0, 1.0) * BANDS as f64) as usize).min(BANDS - 1)
    }
}

/// The bands' colours in a row, the loss at each end, at `x` in the title row.
fn colour_key(area: &Canvas, scale: &LossScale, x: i32) -> DrawResult {
    let low = format!("loss {:.4}", 10f64.powf(scale.lo));
    area.draw(&Text::new(low, (x, 9), (FONT, 14)))?;
    let x = x + 90;
    for band in 0..BANDS {
        let colour = ViridisRGB::get_color(band as f64 / (BANDS - 1) as f64);
        let left = x + 14 * band as i32;
        area.draw(&Rectangle::new(
            [(left, 8), (left + 14, 24)],
            colour.filled(),
        ))?;
    }
    let high = format!("{:.4} (log scale)", 10f64.powf(scale.hi));
    area.draw(&Text::new(high, (x + 14 * BANDS as i32 + 6, 9), (FONT, 14)))?;
    Ok(())
}

/// A filled contour map of `surface` under its title, its axes named; `then` draws on it.
fn surface_panel<'b>(
    area: &Canvas<'b>,
    surface: &Surface,
    scale: &LossScale,
    (title, (x_desc, y_desc)): (&str, (&str, &str)),
    then: impl FnOnce(Chart<'_, 'b>) -> DrawResult,
) -> DrawResult {
    let (xs, ys) = (&surface.xs, &surface.ys);
    let (x0, x1, y0, y1) = (xs[0], xs[xs.len() - 1], ys[0], ys[ys.len() - 1]);
    let body = area.titled(title, (FONT, 15))?;
    // Built once to measure the plot, then again with margins that make it square: the
    // windows are as long up as across, and so a unit is as long both ways.
    let build = |(wide, tall): (u32, u32)| {
        ChartBuilder::on(&body)
            .margin(14)
            .margin_left(14 + wide / 2)
            .margin_right(14 + wide - wide / 2)
            .margin_top(14 + tall / 2)
            .margin_bottom(14 + tall - tall / 2)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)
    };
    let (width, height) = build((0, 0))?.plotting_area().dim_in_pixel();
    let mut chart = build((width.saturating_sub(height), height.saturating_sub(width)))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 12))
        .draw()?;
    let plot = chart.plotting_area().strip_coord_spec();
    let (width, height) = plot.dim_in_pixel();
    let logs: Vec<Vec<f64>> = surface
        .losses
        .iter()
        .map(|row| row.iter().map(|v| v.log10()).collect())
        .collect();
    let band_at = |px: u32, py: u32| -> usize {
        let fx = f64::from(px) / f64::from(width.max(2) - 1) * (xs.len() - 1) as f64;
        let fy = (1.0 - f64::from(py) / f64::from(height.max(2) - 1)) * (ys.len() - 1) as f64;
        scale.band(bilinear(&logs, fx, fy))
    };
    let bands: Vec<Vec<usize>> = (0..height)
        .map(|py| (0..width).map(|px| band_at(px, py)).collect())
        .collect();
    for py in 0..height as usize {
        for px in 0..width as usize {
            let band = bands[py][px];
            let colour = ViridisRGB::get_color(band as f64 / (BANDS - 1) as f64);
            let edge = bands[py].get(px + 1).is_some_and(|&b| b != band)
                || bands.get(py + 1).is_some_and(|row| row[px] != band);
            let colour = match edge {
                true => RGBColor(colour.0 / 2, colour.1 / 2, colour.2 / 2),
                false => colour,
            };
            plot.draw_pixel((px as i32, py as i32), &colour)?;
        }
    }
    then(chart)
}

/// The value of grid `values` (rows by y) at fractional grid position (`fx`, `fy`).
fn bilinear(values: &[Vec<f64>], fx: f64, fy: f64) -> f64 {
    let cell = |f: f64, count: usize| {
        let i = (f.floor().max(0.0) as usize).min(count.saturating_sub(2));
        (i, (f - i as f64).clamp(0.0, 1.0))
    };
    let ((i, tx), (j, ty)) = (cell(fx, values[0].len()), cell(fy, values.len()));
    let at = |j: usize, i: usize| values[j.min(values.len() - 1)][i.min(values[0].len() - 1)];
    let top = at(j, i) * (1.0 - tx) + at(j, i + 1) * tx;
    let bottom = at(j + 1, i) * (1.0 - tx) + at(j + 1, i + 1) * tx;
    top * (1.0 - ty) + bottom * ty
}

/// Points as red dots, each with its label (empty: none) on a dark box beside the path through
/// the points, not on it: white numbers over the white path could not be read.
fn draw_points(mut chart: Chart, points: &[(f64, f64)], labels: &[String]) -> DrawResult {
    chart.draw_series(
        points
            .iter()
            .map(|&p| Circle::new(p, 4, TRAIN_COLOUR.filled())),
    )?;
    let pixels: Vec<(i32, i32)> = points.iter().map(|p| chart.backend_coord(p)).collect();
    let beside = label_offsets(&pixels);
    for ((&p, label), (dx, dy)) in points.iter().zip(labels).zip(beside) {
        if label.is_empty() {
            continue;
        }
        let (w, h) = (text_width(13.0, label) + 6, LABEL_HEIGHT);
        let corner = (dx - w / 2, dy - h / 2);
        let back = Rectangle::new(
            [corner, (corner.0 + w, corner.1 + h)],
            BLACK.mix(0.6).filled(),
        );
        let white = (FONT, 13).into_font().color(&WHITE);
        let text = Text::new(label.clone(), (corner.0 + 3, corner.1 + 2), white);
        chart.draw_series([EmptyElement::at(p) + back + text])?;
    }
    Ok(())
}

/// A label's height in pixels.
const LABEL_HEIGHT: i32 = 18;
/// How far a label's centre sits from its point.
const LABEL_DISTANCE: f64 = 18.0;

/// Where each point's label goes, as its centre's offset from the point (pixels): across the
/// path there, on the side farther from the rest of the path. A lone point's goes above it.
fn label_offsets(pixels: &[(i32, i32)]) -> Vec<(i32, i32)> {
    let at = |i: usize| {
        let (x, y) = pixels[i];
        (f64::from(x), f64::from(y))
    };
    (0..pixels.len())
        .map(|i| {
            let (before, after) = (at(i.saturating_sub(1)), at((i + 1).min(pixels.len() - 1)));
            let (dx, dy) = (after.0 - before.0, after.1 - before.1);
            let length = dx.hypot(dy);
            let across = match length > 0.0 {
                true => (-dy / length, dx / length),
                false => (0.0, -1.0),
            };
            let (x, y) = at(i);
            let clearance = |sign: f64| {
                let reach = sign * LABEL_DISTANCE;
                let centre = (x + reach * across.0, y + reach * across.1);
                (1..pixels.len())
                    .map(|k| distance_to_segment(centre, at(k - 1), at(k)))
                    .fold(f64::MAX, f64::min)
            };
            let sign = match clearance(-1.0) > clearance(1.0) {
                true => -1.0,
                false => 1.0,
            };
            let offset = |v: f64| (sign * v * LABEL_DISTANCE).round() as i32;
            (offset(across.0), offset(across.1))
        })
        .collect()
}

/// The distance from `p` to the segment from `a` to `b`.
fn distance_to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (abx, aby) = (b.0 - a.0, b.1 - a.1);
    let length = abx * abx + aby * aby;
    let t = match length > 0.0 {
        true => (((p.0 - a.0) * abx + (p.1 - a.1) * aby) / length).clamp(0.0, 1.0),
        false => 0.0,
    };
    (p.0 - a.0 - t * abx).hypot(p.1 - a.1 - t * aby)
}

fn no_path_panel(area: &Canvas, why: &str) -> DrawResult {
    area.draw(&Text::new(
        "no training path:".to_string(),
        (20, 40),
        (FONT, 15),
    ))?;
    let mut line = String::new();
    let mut y = 66;
    for word in why.split_whitespace() {
        if line.len() + word.len() > 58 {
            area.draw(&Text::new(std::mem::take(&mut line), (20, y), (FONT, 13)))?;
            y += 20;
        }
        line.push_str(word);
        line.push(' ');
    }
    area.draw(&Text::new(line, (20, y), (FONT, 13)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_hits_the_grid_and_interpolates_between() {
        let grid = vec![vec![0.0, 1.0], vec![2.0, 3.0]];
        assert_eq!(bilinear(&grid, 0.0, 0.0), 0.0);
        assert_eq!(bilinear(&grid, 1.0, 1.0), 3.0);
        assert_eq!(bilinear(&grid, 0.5, 0.5), 1.5);
        let scale = LossScale { lo: 0.0, hi: 2.0 };
        assert_eq!(scale.band(-1.0), 0);
        assert_eq!(scale.band(5.0), BANDS - 1);
        assert_eq!(scale.band(f64::NAN), BANDS - 1);
    }

    #[test]
    fn epoch_labels_sit_beside_the_path_not_on_it() {
        // A path that runs right, turns back and climbs, as training paths do.
        let path = [
            (40, 300),
            (120, 290),
            (200, 260),
            (260, 200),
            (240, 140),
            (180, 100),
        ];
        let at = |(x, y): (i32, i32)| (f64::from(x), f64::from(y));
        for (&point, offset) in path.iter().zip(label_offsets(&path)) {
            let centre = at((point.0 + offset.0, point.1 + offset.1));
            let nearest = (1..path.len())
                .map(|k| distance_to_segment(centre, at(path[k - 1]), at(path[k])))
                .fold(f64::MAX, f64::min);
            // Clear of the line by more than half the label's height.
            assert!(
                nearest > f64::from(LABEL_HEIGHT) / 2.0 + 4.0,
                "{point:?}: {nearest}"
            );
        }
        assert_eq!(
            label_offsets(&[(10, 10)]),
            [(0, -18)],
            "a lone point's label is above it"
        );
    }
}
