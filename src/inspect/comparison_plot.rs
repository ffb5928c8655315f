//! `compare.png`: several runs side by side — validation loss and accuracy per epoch, and
//! each run's weight-gradient norm against layer depth (a line falling steeply towards layer
//! 1 is a vanishing gradient).

use std::path::Path;

use plotters::prelude::*;

use crate::data::Split;
use crate::error::Result;
use crate::inspect::plots::{
    Canvas, DrawResult, FONT, Line, decades, draw_lines, epoch_panel, epoch_series, render,
    whole_number,
};
use crate::inspect::typeset::text_width;
use crate::run::history::SplitRecord;

/// The three panels' size; the shared legend below them adds its rows.
pub const COMPARISON_SIZE: (u32, u32) = (1500, 520);
const LEGEND_ROW: u32 = 22;
/// The legend's heading, so that it reads as the whole picture's, not the panel above it.
const LEGEND_HEADING: &str = "runs (the same colour in all three panels):";

/// The size of `compare.png` for runs `labels`: the panels and the legend's rows.
pub fn comparison_size(labels: &[&str]) -> (u32, u32) {
    let rows = legend_layout(labels)
        .iter()
        .map(|e| e.1)
        .max()
        .map_or(1, |r| r + 1);
    (
        COMPARISON_SIZE.0,
        COMPARISON_SIZE.1 + 12 + rows * LEGEND_ROW,
    )
}

/// Where each run's legend entry goes: (x of its line, row). The entries follow the heading
/// in one flow, each as wide as its label, wrapping under the first: laid out in three
/// columns they sat under the three panels, as if each panel had its own legend.
fn legend_layout(labels: &[&str]) -> Vec<(i32, u32)> {
    let width = |text: &str| text_width(13.0, text);
    let start = 20 + width(LEGEND_HEADING) + 16;
    let end = COMPARISON_SIZE.0 as i32 - 20;
    let (mut x, mut row) = (start, 0);
    labels
        .iter()
        .map(|label| {
            let entry = 32 + width(label) + 28;
            if x > start && x + entry > end {
                (x, row) = (start, row + 1);
            }
            let at = (x, row);
            x += entry;
            at
        })
        .collect()
}

/// One run as `compare.png` shows it.
pub struct ComparedRun<'a> {
    pub label: &'a str,
    pub records: &'a [SplitRecord],
    /// The last epoch's mean gradient norm per layer, input side first.
    pub grad_norms: &'a [f64],
}

/// Draws `compare.png`: three panels, a colour per run, and one legend under them (inside the
/// panels a legend of long run names would hide curves).
pub fn comparison_png(runs: &[ComparedRun], path: &Path) -> Result<()> {
    let lines = |values: &dyn Fn(&ComparedRun) -> Vec<(f64, f64)>| -> Vec<Line> {
        runs.iter()
            .enumerate()
            .map(|(i, run)| Line {
                label: run.label.to_string(),
                points: values(run),
                colour: colour(i),
            })
            .collect()
    };
    let labels: Vec<String> = runs
        .iter()
        .map(|run| {
            // A run that diverged in its first epoch has nothing on the panels: say so.
            let accuracy = epoch_series(run.records, Split::Valid, "accuracy");
            match !accuracy.is_empty() || !log_drawable(run.grad_norms).is_empty() {
                true => run.label.to_string(),
                false => format!("{} (no point to draw)", run.label),
            }
        })
        .collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    render(path, comparison_size(&labels), |area| {
        let (charts, legend) = area.split_vertically(COMPARISON_SIZE.1);
        let panels = charts.split_evenly((1, 3));
        let loss = lines(&|run| epoch_series(run.records, Split::Valid, "loss"));
        epoch_panel(
            &panels[0],
            "validation loss per epoch",
            "loss",
            &loss,
            false,
        )?;
        let accuracy = lines(&|run| epoch_series(run.records, Split::Valid, "accuracy"));
        epoch_panel(
            &panels[1],
            "validation accuracy per epoch",
            "accuracy (%)",
            &accuracy,
            false,
        )?;
        let gradients = lines(&|run| log_drawable(run.grad_norms));
        gradient_panel(&panels[2], &gradients)?;
        // The legend: its heading, then a short line in each run's colour and its label.
        legend.draw(&Text::new(LEGEND_HEADING, (20, 8), (FONT, 13)))?;
        for (i, (label, (x, row))) in labels.iter().zip(legend_layout(&labels)).enumerate() {
            let y = 8 + (LEGEND_ROW * row) as i32;
            legend.draw(&PathElement::new(
                [(x, y + 8), (x + 24, y + 8)],
                colour(i).stroke_width(3),
            ))?;
            legend.draw(&Text::new(label.to_string(), (x + 32, y), (FONT, 13)))?;
        }
        Ok(())
    })
}

/// Okabe and Ito's colour-blind-safe palette without its yellow, which vanishes on white:
/// blue, orange, bluish green, vermillion, reddish purple, sky blue, black.
const RUN_COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// The i-th run's colour: the palette, then again darker for runs 8 to 14, and so on.
fn colour(i: usize) -> RGBColor {
    let RGBColor(r, g, b) = RUN_COLOURS[i % RUN_COLOURS.len()];
    let darker = |c: u8| (f32::from(c) * 0.6f32.powi((i / RUN_COLOURS.len()) as i32)) as u8;
    RGBColor(darker(r), darker(g), darker(b))
}

/// Norms as (layer, norm), 1-based; only what a log axis can show (positive, finite: a
/// diverged run may have neither).
fn log_drawable(norms: &[f64]) -> Vec<(f64, f64)> {
    norms
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite() && **v > 0.0)
        .map(|(i, v)| ((i + 1) as f64, *v))
        .collect()
}

/// Gradient norm by layer, log scale over whole decades.
fn gradient_panel(panel: &Canvas, lines: &[Line]) -> DrawResult {
    let all = || lines.iter().flat_map(|l| &l.points);
    let layers = all().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    // Whole decades, so the log axis has a label at each power of ten.
    let (lo, hi) = if lo > hi {
        (1e-3, 1.0)
    } else {
        let (low, high) = (lo.log10().floor(), hi.log10().ceil());
        // A hair wider, so both ends get their label.
        (
            10f64.powf(low) * 0.999,
            10f64.powf(high.max(low + 1.0)) * 1.001,
        )
    };
    let mut chart = ChartBuilder::on(panel)
        .caption("weight-gradient norm by layer (last epoch)", (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.5..layers + 0.5, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("layer (1 = nearest the input)")
        .y_desc("|gradient| (log scale)")
        .x_labels(layers as usize + 1)
        .x_label_formatter(&whole_number)
        .y_label_formatter(&decades(lo, hi))
        .light_line_style(WHITE)
        .label_style((FONT, 12))
        .draw()?;
    draw_lines(&mut chart, lines)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linear-light sRGB channels.
    fn linear(c: RGBColor) -> [f64; 3] {
        [c.0, c.1, c.2].map(|v| {
            let v = f64::from(v) / 255.0;
            match v <= 0.04045 {
                true => v / 12.92,
                false => ((v + 0.055) / 1.055).powf(2.4),
            }
        })
    }

    /// WCAG's contrast ratio against white.
    fn contrast_on_white(c: RGBColor) -> f64 {
        let [r, g, b] = linear(c);
        1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)
    }

    /// The colour as a deuteranope sees it (Viénot, Brettel and Mollon, 1999), linear RGB.
    fn deuteranope(c: RGBColor) -> [f64; 3] {
        let [r, g, b] = linear(c);
        let rg = 0.29275 * r + 0.70725 * g;
        [rg, rg, -0.02234 * r + 0.02234 * g + b]
    }

    #[test]
    fn run_colours_stand_out_on_white_and_apart_for_red_green_colour_blindness() {
        let first: Vec<RGBColor> = (0..RUN_COLOURS.len()).map(colour).collect();
        for &c in &first {
            assert!(contrast_on_white(c) >= 2.0, "{c:?} is faint on white");
        }
        for (i, &a) in first.iter().enumerate() {
            for &b in &first[i + 1..] {
                let (x, y) = (deuteranope(a), deuteranope(b));
                let distance = (0..3).map(|k| (x[k] - y[k]).powi(2)).sum::<f64>().sqrt();
                assert!(distance > 0.05, "{a:?} and {b:?} look alike: {distance}");
            }
        }
        // Plotters' palette, used until 2026-12-06, failed both: its third run was yellow.
        let (r, g, b) = Palette99::pick(2).rgb();
        assert!(contrast_on_white(RGBColor(r, g, b)) < 2.0);
        assert_ne!(colour(7), colour(0), "a second round is darker");
    }

    #[test]
    fn the_legend_flows_after_its_heading_and_wraps_within_the_picture() {
        let short = legend_layout(&["mlp", "mlp-relu", "mlp-batchnorm"]);
        assert!(short.iter().all(|e| e.1 == 0), "{short:?}");
        // Packed by the labels' widths: three columns once put one under each panel.
        assert!(
            short[2].0 - short[0].0 < COMPARISON_SIZE.0 as i32 / 3,
            "{short:?}"
        );
        let long = ["a label of some fifty characters, as paths make them"; 9];
        let layout = legend_layout(&long);
        let rows = layout.iter().map(|e| e.1).max().unwrap() + 1;
        assert!(rows >= 3, "nine long labels wrap: {layout:?}");
        let end = |x: i32| x + 32 + text_width(13.0, long[0]);
        assert!(
            layout.iter().all(|e| end(e.0) < COMPARISON_SIZE.0 as i32),
            "{layout:?}"
        );
        assert_eq!(
            comparison_size(&long).1,
            COMPARISON_SIZE.1 + 12 + rows * LEGEND_ROW
        );
    }

    #[test]
    fn only_positive_finite_norms_are_drawn_on_a_log_axis() {
        let points = log_drawable(&[0.5, f64::NAN, 0.0, 2.0]);
        assert_eq!(points, [(1.0, 0.5), (4.0, 2.0)]);
    }
}
