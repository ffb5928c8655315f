//! `lr-find.png`: the range test's loss against the learning rate (log scale), the raw loss
//! faint and the smoothed one bold, the suggested rates marked.

use std::path::Path;

use plotters::prelude::*;

use crate::error::Result;
use crate::inspect::plots::{
    DrawResult, FONT, Line, TRAIN_COLOUR, VALID_COLOUR, draw_lines, power_of_ten, render,
    value_range,
};
use crate::inspect::typeset::Typeset;
use crate::train::lr_find::RangeResult;

pub const LR_FIND_FILE: &str = "lr-find.png";
const SIZE: (u32, u32) = (900, 560);

/// Draws the range test's curve to `path`.
pub fn lr_find_png(result: &RangeResult, title: &str, path: &Path) -> Result<()> {
    let points = |f: fn(&crate::train::lr_find::RangePoint) -> f64| -> Vec<(f64, f64)> {
        result
            .points
            .iter()
            .map(|p| (p.learning_rate, f(p)))
            .collect()
    };
    let smoothed = Line {
        label: "smoothed loss".into(),
        points: points(|p| p.smoothed_loss),
        colour: VALID_COLOUR,
    };
    let raw = points(|p| p.loss);
    render(path, SIZE, |area| {
        // The y range from the smoothed curve: the raw one's noise and explosion would
        // flatten it. The raw loss is drawn inside that range only.
        let (lo, hi) = value_range(smoothed.points.iter());
        let lo = lo.max(0.0);
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 18))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((result.start..result.end).log_scale(), lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("learning rate (log scale)")
            .y_desc("training loss")
            .x_label_formatter(&power_of_ten)
            .light_line_style(WHITE)
            .label_style((FONT, 12))
            .draw()?;
        chart.draw_series(
            raw.iter()
                .filter(|p| p.1 <= hi)
                .map(|&p| Circle::new(p, 1, TRAIN_COLOUR.mix(0.35).filled())),
        )?;
        draw_lines(&mut chart, std::slice::from_ref(&smoothed))?;
        if let Some(s) = result.suggestion {
            mark(&mut chart, s.steepest, (lo, hi), "steepest", &GREEN_MARK)?;
            mark(
                &mut chart,
                s.minimum_tenth,
                (lo, hi),
                "minimum / 10",
                &ORANGE_MARK,
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

const GREEN_MARK: RGBColor = RGBColor(44, 160, 44);
const ORANGE_MARK: RGBColor = RGBColor(255, 127, 14);

/// A dashed vertical line at `rate`, in the legend as "`label` rate".
fn mark<'a, X, Y>(
    chart: &mut ChartContext<'a, Typeset<BitMapBackend<'a>>, Cartesian2d<X, Y>>,
    rate: f64,
    (lo, hi): (f64, f64),
    label: &str,
    colour: &'static RGBColor,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(DashedLineSeries::new(
            [(rate, lo), (rate, hi)],
            6,
            4,
            colour.stroke_width(2),
        ))?
        .label(format!("{label} {rate:.2e}"))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    Ok(())
}
