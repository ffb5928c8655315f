//! `metrics.csv`: a run's history, one row per epoch and split, written after every split and
//! read back by `--resume`, `plot` and `compare`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::data::Split;
use crate::error::{Error, Result};
use crate::run::history::SplitRecord;

/// `metrics.csv`: one row per epoch and split. The metric columns are the union of those
/// recorded; `wall_seconds` and `samples_per_second` are the timing columns (they differ from
/// run to run, everything else is reproducible).
pub fn metrics_csv(records: &[SplitRecord]) -> String {
    let mut columns: Vec<&str> = records
        .iter()
        .flat_map(|r| r.metrics.keys().map(String::as_str))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // grad_norm_2 before grad_norm_10.
    columns.sort_by_key(|name| {
        let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (stem, number) = name.split_at(name.len() - digits);
        (stem.to_string(), number.parse::<u64>().unwrap_or(0))
    });
    let mut csv = String::from("epoch,split");
    for column in &columns {
        csv.push(',');
        csv.push_str(column);
    }
    csv.push(',');
    csv.push_str(&TIMING_TAIL.join(","));
    csv.push('\n');
    for record in records {
        csv.push_str(&format!("{},{}", record.epoch, record.split));
        for column in &columns {
            csv.push(',');
            if let Some(value) = record.metrics.get(*column) {
                csv.push_str(&value.to_string());
            }
        }
        csv.push_str(&format!(
            ",{},{:.4},{:.1}\n",
            record.items,
            record.seconds,
            record.samples_per_second()
        ));
    }
    csv
}

/// Reads a `metrics.csv` written by [`metrics_csv`] back into records.
pub fn read_metrics_csv(path: &Path) -> Result<Vec<SplitRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
    parse_metrics_csv(&text)
        .map_err(|m| Error::data(path, format!("is not a digits metrics.csv: {m}")))
}

fn parse_metrics_csv(text: &str) -> Result<Vec<SplitRecord>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("it is empty")?.split(',').collect();
    let n = header.len();
    if n < 5 || header[..2] != ["epoch", "split"] || header[n - 3..] != TIMING_TAIL {
        return Err(format!("unexpected header `{}`", header.join(",")));
    }
    let metric_columns = &header[2..n - 3];
    lines
        .enumerate()
        .map(|(i, line)| {
            let cells: Vec<&str> = line.split(',').collect();
            let bad = |what: &str| format!("line {}: {what}", i + 2);
            if cells.len() != n {
                return Err(bad(&format!("{} cells, {n} expected", cells.len())));
            }
            let number = |cell: &str| {
                cell.parse::<f64>()
                    .map_err(|_| bad(&format!("`{cell}` is not a number")))
            };
            let mut metrics = std::collections::BTreeMap::new();
            for (column, cell) in metric_columns.iter().zip(&cells[2..n - 3]) {
                if !cell.is_empty() {
                    metrics.insert(column.to_string(), number(cell)?);
                }
            }
            Ok(SplitRecord {
                epoch: cells[0]
                    .parse()
                    .map_err(|_| bad("the epoch is not a whole number"))?,
                split: Split::parse(cells[1])
                    .ok_or_else(|| bad("the split is not train, valid or test"))?,
                metrics,
                items: cells[n - 3]
                    .parse()
                    .map_err(|_| bad("items is not a whole number"))?,
                seconds: number(cells[n - 2])?,
            })
        })
        .collect()
}

/// The last columns of `metrics.csv`: images, then the two timing columns.
const TIMING_TAIL: [&str; 3] = ["items", "wall_seconds", "samples_per_second"];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn csv_has_a_column_per_metric_and_blank_cells_for_missing_ones() {
        let records = vec![
            SplitRecord {
                epoch: 1,
                split: Split::Train,
                metrics: BTreeMap::from([
                    ("loss".into(), 0.5),
                    ("accuracy".into(), 0.75),
                    ("learning_rate".into(), 1.0),
                ]),
                items: 100,
                seconds: 0.5,
            },
            SplitRecord {
                epoch: 1,
                split: Split::Valid,
                metrics: BTreeMap::from([("loss".into(), 0.25), ("accuracy".into(), 0.5)]),
                items: 10,
                seconds: 0.1,
            },
        ];
        assert_eq!(
            metrics_csv(&records),
            "epoch,split,accuracy,learning_rate,loss,items,wall_seconds,samples_per_second\n\
             1,train,0.75,1,0.5,100,0.5000,200.0\n\
             1,valid,0.5,,0.25,10,0.1000,100.0\n"
        );
    }

    #[test]
    fn csv_reads_back_what_was_written() {
        let records = vec![SplitRecord {
            epoch: 2,
            split: Split::Valid,
            metrics: BTreeMap::from([("loss".into(), 0.125), ("accuracy".into(), 0.5)]),
            items: 10,
            seconds: 0.25,
        }];
        assert_eq!(parse_metrics_csv(&metrics_csv(&records)).unwrap(), records);
        assert!(parse_metrics_csv("a,b\n").unwrap_err().contains("header"));
        let short = "epoch,split,loss,items,wall_seconds,samples_per_second\n1,train,0.5\n";
        assert!(parse_metrics_csv(short).unwrap_err().contains("line 2"));
    }
}
