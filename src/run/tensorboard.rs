//! TensorBoard's event files: the run's history as scalars, so `tensorboard --logdir
//! artifacts` shows every run side by side. One folder per split under `tensorboard/`
//! (`train`, `valid`, `test`), each metric under its `metrics.csv` name, so train and valid
//! share a chart; the step is the epoch.
//!
//! The format is TFRecord framing (length, CRC-32C, payload, CRC-32C) around `Event`
//! protobufs. Written here with prost's derive (as the ONNX export's messages) rather than
//! through a TensorBoard crate: `tboard` needs `protoc` on the build machine and
//! `tensorboard-rs` pulls in `image` 0.23 and the unmaintained protobuf 2.
//! Like `metrics.csv`, the files are rewritten whole after every split (atomically), so a
//! resumed run's files hold each epoch once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::data::Split;
use crate::error::{Error, Result};
use crate::run::folder::{TENSORBOARD_FOLDER, write_atomic};
use crate::run::history::SplitRecord;
use crate::run::summary::Scores;

/// The event file's name in each split's folder (TensorBoard reads any name holding
/// "tfevents").
pub const EVENTS_FILE: &str = "events.out.tfevents.digits";

/// Writes the scalars of `records` (and the test scores, at the last epoch) into
/// `run_dir/tensorboard/<split>/`. `started` is the run's start in Unix seconds: each event's
/// wall time is it plus the seconds spent up to that split.
pub fn write_events(
    run_dir: &Path,
    records: &[SplitRecord],
    test: Option<Scores>,
    started: f64,
) -> Result<()> {
    let mut files: BTreeMap<Split, Vec<u8>> = BTreeMap::new();
    let mut elapsed = 0.0;
    for record in records {
        elapsed += record.seconds;
        let file = files
            .entry(record.split)
            .or_insert_with(|| file_start(started));
        let values: Vec<(&str, f64)> = record
            .metrics
            .iter()
            .map(|(name, value)| (name.as_str(), *value))
            .collect();
        frame(file, &event(started + elapsed, record.epoch, &values));
    }
    if let Some(test) = test {
        let epoch = records.iter().map(|r| r.epoch).max().unwrap_or(0);
        let file = files
            .entry(Split::Test)
            .or_insert_with(|| file_start(started));
        let values = [("loss", test.loss), ("accuracy", test.accuracy)];
        frame(file, &event(started + elapsed, epoch, &values));
    }
    for (split, bytes) in files {
        let dir = split_dir(run_dir, split);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        write_atomic(&dir.join(EVENTS_FILE), &bytes)?;
    }
    Ok(())
}

/// `run_dir/tensorboard/<split>`.
pub fn split_dir(run_dir: &Path, split: Split) -> PathBuf {
    run_dir.join(TENSORBOARD_FOLDER).join(split.to_string())
}

/// TensorBoard's `Event` (of `tensorflow/core/util/event.proto`): its fields digits writes.
#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(string, tag = "3")]
    file_version: String,
    #[prost(message, optional, tag = "5")]
    summary: Option<Summary>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

/// `Summary.Value`: one scalar.
#[derive(Clone, PartialEq, prost::Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, tag = "2")]
    simple_value: f32,
}

/// A new file's first record: the format version TensorBoard checks.
fn file_start(wall_time: f64) -> Vec<u8> {
    let version = Event {
        wall_time,
        file_version: "brain.Event:2".into(),
        ..Default::default()
    };
    let mut file = Vec::new();
    frame(&mut file, &version.encode_to_vec());
    file
}

/// An `Event` whose `Summary` holds one simple value per metric.
fn event(wall_time: f64, step: usize, values: &[(&str, f64)]) -> Vec<u8> {
    let value = values
        .iter()
        .map(|(tag, value)| SummaryValue {
            tag: tag.to_string(),
            simple_value: *value as f32,
        })
        .collect();
    Event {
        wall_time,
        step: step as i64,
        summary: Some(Summary { value }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// TFRecord framing: length (u64 LE), its masked CRC-32C, the payload, its masked CRC-32C.
fn frame(file: &mut Vec<u8>, payload: &[u8]) {
    let length = (payload.len() as u64).to_le_bytes();
    file.extend_from_slice(&length);
    file.extend_from_slice(&masked_crc(&length).to_le_bytes());
    file.extend_from_slice(payload);
    file.extend_from_slice(&masked_crc(payload).to_le_bytes());
}

/// TFRecord's masked CRC-32C (so a CRC of data holding CRCs is still well spread).
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_masked_crc_is_tfrecords() {
        // The masked CRC-32C of an empty record's 8-byte length (0u64), as TensorBoard's
        // own reader computes it (`tensorboard.compat...pywrap_tensorflow.masked_crc32c`).
        assert_eq!(masked_crc(&0u64.to_le_bytes()), 0x0798_0329);
    }

    /// The payloads of a file's records, each CRC checked.
    fn records(mut file: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !file.is_empty() {
            let length = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
            assert_eq!(&file[8..12], masked_crc(&file[..8]).to_le_bytes());
            let payload = &file[12..12 + length];
            assert_eq!(
                &file[12 + length..16 + length],
                masked_crc(payload).to_le_bytes()
            );
            out.push(payload.to_vec());
            file = &file[16 + length..];
        }
        out
    }

    #[test]
    fn each_split_gets_a_file_of_one_event_per_epoch_after_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let record = |epoch, split| SplitRecord {
            epoch,
            split,
            metrics: [("loss".to_string(), 0.5), ("accuracy".to_string(), 0.75)].into(),
            items: 10,
            seconds: 1.0,
        };
        let history = [
            record(1, Split::Train),
            record(1, Split::Valid),
            record(2, Split::Train),
        ];
        let test = Scores {
            loss: 0.25,
            accuracy: 0.9,
        };
        write_events(dir.path(), &history, Some(test), 1000.0).unwrap();
        let read = |split| {
            records(&std::fs::read(split_dir(dir.path(), split).join(EVENTS_FILE)).unwrap())
        };
        let (train, valid, test) = (read(Split::Train), read(Split::Valid), read(Split::Test));
        assert_eq!((train.len(), valid.len(), test.len()), (3, 2, 2));
        assert!(train[0].ends_with(b"brain.Event:2"));
        // The second train event: step 2 (field 2, varint), the tag "loss" inside.
        assert!(train[2].windows(2).any(|w| w == [0x10, 2]));
        assert!(train[2].windows(4).any(|w| w == b"loss"));
    }
}
