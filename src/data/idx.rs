//! The IDX file format of MNIST and its relatives (Fashion-MNIST, KMNIST, ...).
//!
//! Written by hand rather than taken from burn-dataset: its reader panics on bad input, accepts
//! only files named exactly like MNIST's, and cannot read `.gz`. This one returns an error value
//! for every malformed file and never allocates more than the bytes actually present (or the
//! size the header declares, whichever is smaller).
//!
//! Layout (big-endian): images `0x00000803, count, rows, cols, pixels…`; labels
//! `0x00000801, count, labels…`. Either may be gzip-compressed; that is detected from the
//! content, not the name.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::GzDecoder;

use crate::error::{Error, Result};

pub const IMAGE_MAGIC: u32 = 0x0000_0803;
pub const LABEL_MAGIC: u32 = 0x0000_0801;
/// An image's side, its pixels and the label classes: the network's shape (`config`).
pub use crate::config::{IMAGE_SIDE as SIDE, NETWORK_INPUTS as PIXELS, NETWORK_OUTPUTS as CLASSES};
/// The most items an IDX file may declare: more than any MNIST-format set holds (EMNIST's
/// largest split has 697,932), 784 MB of pixels. A header is checked against it before
/// anything is read, so a file that claims billions costs nothing.
pub const MAX_ITEMS: usize = 1_000_000;

/// MNIST's four files, as its site and mirrors name them (unpacked; `.gz` when packed).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Images of one IDX file: `count` 28×28 images, row-major, one byte per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub pixels: Vec<u8>,
}

impl IdxImages {
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * PIXELS..(index + 1) * PIXELS]
    }
}

/// Why an IDX file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxError {
    #[error("the file ends inside its {0}-byte header")]
    ShortHeader(usize),
    #[error("magic number {found:#010x}, expected {expected:#010x} ({what})")]
    BadMagic {
        found: u32,
        expected: u32,
        what: &'static str,
    },
    #[error("images are {rows}×{cols} pixels; digits reads 28×28 images only")]
    WrongDimensions { rows: u32, cols: u32 },
    #[error(
        "the header declares {declared} items but the data holds {found} bytes, {expected} expected (truncated file?)"
    )]
    Truncated {
        declared: usize,
        expected: u64,
        found: u64,
    },
    #[error(
        "the data holds more bytes than the {declared} items its header declares (corrupt file?)"
    )]
    TrailingBytes { declared: usize },
    #[error("label {label} at index {index} is not a digit 0-9")]
    BadLabel { index: usize, label: u8 },
    #[error(
        "the header declares {declared} items, more than the {MAX_ITEMS} digits reads from one file"
    )]
    TooMany { declared: usize },
    #[error("gzip data is corrupt: {0}")]
    Gzip(String),
}

/// Parses an image file's bytes (raw or gzip).
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages, IdxError> {
    let raw_len = (!is_gzip(bytes)).then_some(bytes.len() as u64);
    parse_images_from(open(bytes), raw_len)
}

/// Parses an image file from `reader`; `raw_len` is the whole file's size when it is not
/// compressed, so the body's size is checked before it is read.
fn parse_images_from(mut reader: impl Read, raw_len: Option<u64>) -> Result<IdxImages, IdxError> {
    // The magic number first, so a label file given as images is named as such.
    check_magic(
        &read_header::<4>(&mut reader, 16)?,
        IMAGE_MAGIC,
        "an IDX image file, 0x803",
    )?;
    let dims = read_header::<12>(&mut reader, 16)?;
    let count = be_u32(&dims[0..4]) as usize;
    let (rows, cols) = (be_u32(&dims[4..8]), be_u32(&dims[8..12]));
    if rows as usize != SIDE || cols as usize != SIDE {
        return Err(IdxError::WrongDimensions { rows, cols });
    }
    check_size(count, PIXELS as u64, 16, raw_len)?;
    let pixels = read_body(reader, count, PIXELS as u64)?;
    Ok(IdxImages { count, pixels })
}

/// Parses a label file's bytes (raw or gzip); every label must be a digit 0-9.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let raw_len = (!is_gzip(bytes)).then_some(bytes.len() as u64);
    parse_labels_from(open(bytes), raw_len)
}

/// Parses a label file from `reader` (see [`parse_images_from`]).
fn parse_labels_from(mut reader: impl Read, raw_len: Option<u64>) -> Result<Vec<u8>, IdxError> {
    check_magic(
        &read_header::<4>(&mut reader, 8)?,
        LABEL_MAGIC,
        "an IDX label file, 0x801",
    )?;
    let count = be_u32(&read_header::<4>(&mut reader, 8)?) as usize;
    check_size(count, 1, 8, raw_len)?;
    let labels = read_body(reader, count, 1)?;
    if let Some(index) = labels.iter().position(|&l| l as usize >= CLASSES) {
        return Err(IdxError::BadLabel {
            index,
            label: labels[index],
        });
    }
    Ok(labels)
}

/// Reads and parses an image file, streaming: its header is checked before its body is read.
pub fn read_images(path: &Path) -> Result<IdxImages> {
    let (reader, raw_len) = open_file(path)?;
    parse_images_from(reader, raw_len)
        .map_err(|e| Error::data(path, format!("not a valid IDX image file: {e}")))
}

/// Reads and parses a label file, streaming.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let (reader, raw_len) = open_file(path)?;
    parse_labels_from(reader, raw_len)
        .map_err(|e| Error::data(path, format!("not a valid IDX label file: {e}")))
}

/// A regular file, decompressed if it is gzip (detected from its first bytes), and its size
/// when it is not compressed.
fn open_file(path: &Path) -> Result<(Box<dyn Read>, Option<u64>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("cannot read", path, e))?;
    if !metadata.is_file() {
        return Err(Error::data(
            path,
            "is not a regular file (a folder or a device?): an IDX file is expected here",
        ));
    }
    let mut reader = BufReader::new(file);
    let start = reader
        .fill_buf()
        .map_err(|e| Error::io("cannot read", path, e))?;
    Ok(if is_gzip(start) {
        (Box::new(GzDecoder::new(reader)), None)
    } else {
        (Box::new(reader), Some(metadata.len()))
    })
}

/// Encodes images as a raw IDX file (for fixtures and exports).
pub fn encode_images(images: &[[u8; PIXELS]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + images.len() * PIXELS);
    for word in [IMAGE_MAGIC, images.len() as u32, SIDE as u32, SIDE as u32] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    images.iter().for_each(|image| out.extend_from_slice(image));
    out
}

/// Encodes labels as a raw IDX file (for fixtures and exports).
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABEL_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

fn open(bytes: &[u8]) -> Box<dyn Read + '_> {
    if is_gzip(bytes) {
        Box::new(GzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    }
}

/// The next `N` bytes of a header `header_len` bytes long.
fn read_header<const N: usize>(
    reader: &mut dyn Read,
    header_len: usize,
) -> Result<[u8; N], IdxError> {
    let mut header = [0u8; N];
    let mut filled = 0;
    while filled < N {
        match reader.read(&mut header[filled..]) {
            Ok(0) => return Err(IdxError::ShortHeader(header_len)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(IdxError::Gzip(e.to_string())),
        }
    }
    Ok(header)
}

fn check_magic(header: &[u8], expected: u32, what: &'static str) -> Result<(), IdxError> {
    let found = be_u32(&header[0..4]);
    if found != expected {
        return Err(IdxError::BadMagic {
            found,
            expected,
            what,
        });
    }
    Ok(())
}

/// Refuses a declared count above [`MAX_ITEMS`], and a raw file whose size is not its header's
/// plus `count` items of `item_len` bytes, before any of the body is read.
fn check_size(
    count: usize,
    item_len: u64,
    header_len: u64,
    raw_len: Option<u64>,
) -> Result<(), IdxError> {
    if count > MAX_ITEMS {
        return Err(IdxError::TooMany { declared: count });
    }
    let expected = count as u64 * item_len;
    match raw_len.map(|len| len.saturating_sub(header_len)) {
        Some(found) if found < expected => Err(IdxError::Truncated {
            declared: count,
            expected,
            found,
        }),
        Some(found) if found > expected => Err(IdxError::TrailingBytes { declared: count }),
        _ => Ok(()),
    }
}

/// Reads exactly `count * item_len` bytes. Reading through `take` means the buffer only grows
/// with bytes that really arrive, so a header declaring billions of items costs nothing.
fn read_body(reader: impl Read, count: usize, item_len: u64) -> Result<Vec<u8>, IdxError> {
    let expected = count as u64 * item_len;
    let mut body = Vec::new();
    reader
        .take(expected.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| IdxError::Gzip(e.to_string()))?;
    let found = body.len() as u64;
    if found < expected {
        return Err(IdxError::Truncated {
            declared: count,
            expected,
            found,
        });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes { declared: count });
    }
    Ok(body)
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn sample_images(n: usize) -> Vec<[u8; PIXELS]> {
        (0..n)
            .map(|i| std::array::from_fn(|p| ((p * 7 + i * 13) % 256) as u8))
            .collect()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn raw_and_gzip_files_round_trip() {
        let images = sample_images(3);
        let labels = [7u8, 0, 9];
        for encode in [|b: Vec<u8>| b, |b: Vec<u8>| gzip(&b)] {
            let parsed = parse_images(&encode(encode_images(&images))).unwrap();
            assert_eq!(parsed.count, 3);
            for (i, image) in images.iter().enumerate() {
                assert_eq!(parsed.image(i), &image[..]);
            }
            assert_eq!(
                parse_labels(&encode(encode_labels(&labels))).unwrap(),
                labels
            );
        }
    }

    #[test]
    fn wrong_magic_is_an_error() {
        let labels = encode_labels(&[1; 20]);
        assert!(matches!(
            parse_images(&labels),
            Err(IdxError::BadMagic { found: 0x801, .. })
        ));
        let images = encode_images(&sample_images(1));
        assert!(matches!(
            parse_labels(&images),
            Err(IdxError::BadMagic { found: 0x803, .. })
        ));
    }

    #[test]
    fn truncated_files_are_errors() {
        let images = encode_images(&sample_images(2));
        assert!(matches!(
            parse_images(&images[..images.len() - 1]),
            Err(IdxError::Truncated { declared: 2, .. })
        ));
        assert_eq!(parse_images(&images[..10]), Err(IdxError::ShortHeader(16)));
        assert_eq!(parse_labels(&[]), Err(IdxError::ShortHeader(8)));
        let gz = gzip(&images);
        assert!(parse_images(&gz[..gz.len() / 2]).is_err());
    }

    #[test]
    fn trailing_bytes_are_errors() {
        let mut labels = encode_labels(&[1, 2]);
        labels.push(3);
        assert_eq!(
            parse_labels(&labels),
            Err(IdxError::TrailingBytes { declared: 2 })
        );
    }

    #[test]
    fn wrong_dimensions_are_errors() {
        let mut images = encode_images(&sample_images(1));
        images[11] = 32; // rows = 32
        assert_eq!(
            parse_images(&images),
            Err(IdxError::WrongDimensions { rows: 32, cols: 28 })
        );
    }

    #[test]
    fn labels_outside_0_to_9_are_errors() {
        assert_eq!(
            parse_labels(&encode_labels(&[3, 10])),
            Err(IdxError::BadLabel {
                index: 1,
                label: 10
            })
        );
    }

    #[test]
    fn a_huge_declared_count_allocates_nothing_and_fails() {
        let mut images = encode_images(&sample_images(1));
        images[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            parse_images(&images),
            Err(IdxError::TooMany {
                declared: u32::MAX as usize
            })
        );
        // Within the limit, a raw file's size is checked against its header first.
        images[4..8].copy_from_slice(&1000u32.to_be_bytes());
        assert!(matches!(
            parse_images(&images),
            Err(IdxError::Truncated { found, .. }) if found == PIXELS as u64
        ));
        // Compressed, the body is read through a limit of what was declared.
        assert!(matches!(
            parse_images(&gzip(&images)),
            Err(IdxError::Truncated { found, .. }) if found == PIXELS as u64
        ));
    }
}
