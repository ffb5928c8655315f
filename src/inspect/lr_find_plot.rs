//! `lr-find.png`: the range test's loss against the learning rate (log scale), the raw loss
//! faint and the smoothed one bold (those above the axis on its top edge), the rates marked.

use std::path::Path;

use plotters::prelude::*;

use crate::error::Result;
use crate::inspect::plots::{
    DrawResult, FONT, Line, TRAIN_COLOUR, VALID_COLOUR, decades, draw_lines, render, value_range,
};
use crate::inspect::typeset::Typeset;
use crate::train::lr_find::RangeResult;

pub const LR_FIND_FILE: &str = "lr-find.png";
const SIZE: (u32, u32) = (900, 560);
/// The share of the plot's width and height the legend box takes, to choose its corner.
const LEGEND_SHARE: (f64, f64) = (0.32, 0.3);

/// Draws the range test's curve to `path`.
pub fn lr_find_png(result: &RangeResult, title: &str, path: &Path) -> Result<()> {
    let points = |f: fn(&crate::train::lr_find::RangePoint) -> f64| -> Vec<(f64, f64)> {
        result
            .points
            .iter()
            .map(|p| (p.learning_rate, f(p)))
            .filter(|p| p.1.is_finite())
            .collect()
    };
    let smoothed = Line {
        label: "smoothed loss".into(),
        points: points(|p| p.smoothed_loss),
        colour: VALID_COLOUR,
    };
    let raw = points(|p| p.loss);
    // The y range from the smoothed curve and the raw points but their highest twentieth: the
    // noise's and the explosion's extremes would flatten it. Those are drawn on its top.
    let (lo, hi) = y_range(&smoothed.points, &raw);
    let (placed, above) = pin_to_top(&raw, hi);
    let corner = emptiest_corner(
        smoothed.points.iter().chain(&placed),
        (result.start, result.end),
        (lo, hi),
    );
    render(path, SIZE, |area| {
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
            .x_label_formatter(&decades(result.start, result.end))
            .light_line_style(WHITE)
            .label_style((FONT, 12))
            .draw()?;
        let faint = TRAIN_COLOUR.mix(0.35);
        let (inside, pinned) = placed.split_at(placed.len() - above);
        let dots = inside.iter().map(|&p| Circle::new(p, 1, faint.filled()));
        chart
            .draw_series(dots)?
            .label("loss of each batch")
            .legend(move |(x, y)| Circle::new((x + 9, y), 2, faint.filled()));
        if above > 0 {
            let marks = pinned
                .iter()
                .map(|&p| TriangleMarker::new(p, 4, TRAIN_COLOUR.mix(0.6)));
            chart
                .draw_series(marks)?
                .label(format!("{above} above the top, drawn on it"))
                .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 4, TRAIN_COLOUR.mix(0.6)));
        }
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
            .position(corner)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// The loss axis: the smoothed curve and the raw points, up to their 95th percentile.
fn y_range(smoothed: &[(f64, f64)], raw: &[(f64, f64)]) -> (f64, f64) {
    let mut values: Vec<f64> = raw.iter().map(|p| p.1).collect();
    values.sort_by(f64::total_cmp);
    let most = [values.first(), values.get(values.len() * 95 / 100)];
    let ends = most.into_iter().flatten().map(|&v| (0.0, v));
    let all: Vec<(f64, f64)> = smoothed.iter().copied().chain(ends).collect();
    let (lo, hi) = value_range(all.iter());
    (lo.max(0.0), hi)
}

/// The raw points with those above `hi` moved onto it and put last; and how many they are.
fn pin_to_top(raw: &[(f64, f64)], hi: f64) -> (Vec<(f64, f64)>, usize) {
    let inside = raw.iter().copied().filter(|p| p.1 <= hi);
    let above: Vec<f64> = raw.iter().filter(|p| p.1 > hi).map(|p| p.0).collect();
    let count = above.len();
    let pinned = above.into_iter().map(|rate| (rate, hi));
    (inside.chain(pinned).collect(), count)
}

/// The plot's corner (for the legend) that the fewest `points` fall in; the x axis is log.
fn emptiest_corner<'a>(
    points: impl Iterator<Item = &'a (f64, f64)> + Clone,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> SeriesLabelPosition {
    let share = |p: &(f64, f64)| {
        let x = (p.0.ln() - x0.ln()) / (x1.ln() - x0.ln());
        (x, (p.1 - y0) / (y1 - y0))
    };
    let (w, h) = LEGEND_SHARE;
    let corners = [
        (SeriesLabelPosition::UpperLeft, 0.0, 1.0 - h),
        (SeriesLabelPosition::UpperRight, 1.0 - w, 1.0 - h),
        (SeriesLabelPosition::LowerLeft, 0.0, 0.0),
        (SeriesLabelPosition::LowerRight, 1.0 - w, 0.0),
    ];
    let inside = |(left, bottom): (f64, f64)| {
        let within = |(x, y): (f64, f64)| {
            (left..=left + w).contains(&x) && (bottom..=bottom + h).contains(&y)
        };
        points.clone().map(share).filter(|&p| within(p)).count()
    };
    corners
        .into_iter()
        .min_by_key(|&(_, left, bottom)| inside((left, bottom)))
        .map(|(corner, _, _)| corner)
        .unwrap_or(SeriesLabelPosition::UpperLeft)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A range test's usual shape: flat and high at small rates, down, then up steeply.
    fn usual_curve() -> Vec<(f64, f64)> {
        (0..100)
            .map(|i| {
                let rate = 1e-5 * 10f64.powf(f64::from(i) / 20.0);
                let x = f64::from(i) / 100.0;
                let loss = match x < 0.75 {
                    true => 2.3 - 2.0 * (x / 0.75).powi(2),
                    false => 0.3 + 40.0 * (x - 0.75).powi(2),
                };
                (rate, loss)
            })
            .collect()
    }

    #[test]
    fn the_legend_goes_where_the_curve_is_not() {
        let curve = usual_curve();
        let (lo, hi) = value_range(curve.iter());
        // It once sat in the upper left, over the curve's start.
        let corner = emptiest_corner(curve.iter(), (1e-5, 1.0), (lo, hi));
        assert!(
            matches!(corner, SeriesLabelPosition::LowerLeft),
            "{corner:?}"
        );
    }

    #[test]
    fn raw_points_above_the_axis_are_drawn_on_its_top_not_dropped() {
        let curve = usual_curve();
        let mut raw = curve.clone();
        raw[50].1 = 1e9;
        raw[99].1 = 80.0;
        let (_, hi) = y_range(&curve, &raw);
        let (placed, above) = pin_to_top(&raw, hi);
        assert_eq!(placed.len(), raw.len());
        assert_eq!(above, 2);
        assert!(placed.iter().all(|p| p.1 <= hi));
        assert!(hi < 100.0, "an outlier does not flatten the axis: {hi}");
    }
}
