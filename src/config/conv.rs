//! `model.conv`: the convolution blocks in front of a CNN's dense layers, and what their sizes
//! imply (each block's output shape, parameters, activations) without building them.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::IMAGE_SIDE;

/// One convolution block: a `kernel`×`kernel` convolution to `channels` feature maps (stride 1,
/// `padding` zeros around), normalisation, activation, then `pool`×`pool` max pooling (1 =
/// none). Written in a config as its channel count (`32`, every other setting its default) or
/// as a table (`{channels = 32, kernel = 5}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConvBlock {
    pub channels: usize,
    pub kernel: usize,
    pub padding: usize,
    pub pool: usize,
}

/// The defaults of a block given by its channel count: a 3×3 kernel padded to keep the side
/// ("same"), then 2×2 max pooling, as in Keras' and PyTorch's MNIST examples.
pub const DEFAULT_KERNEL: usize = 3;
pub const DEFAULT_POOL: usize = 2;
/// The most convolution blocks a network may have (28 pixels halve to 1 in five).
pub const MAX_CONV_BLOCKS: usize = 16;

impl ConvBlock {
    pub fn new(channels: usize) -> ConvBlock {
        ConvBlock {
            channels,
            kernel: DEFAULT_KERNEL,
            padding: DEFAULT_KERNEL / 2,
            pool: DEFAULT_POOL,
        }
    }

    /// The side of the square feature maps out of the convolution, for maps of `side` in.
    pub fn conv_side(&self, side: usize) -> Option<usize> {
        (side + 2 * self.padding)
            .checked_sub(self.kernel)
            .map(|s| s + 1)
    }

    /// The side out of the whole block (after pooling); `None` when nothing would be left.
    pub fn output_side(&self, side: usize) -> Option<usize> {
        let pooled = self.conv_side(side)? / self.pool.max(1);
        (pooled > 0).then_some(pooled)
    }

    /// Weights of the convolution taking `inputs` channels.
    pub fn weights(&self, inputs: usize) -> f64 {
        (inputs * self.kernel * self.kernel) as f64 * self.channels as f64
    }
}

/// The blocks' shapes, input first: `(channels, side)` of the image and of each block's
/// output. `Err` names the first block that leaves no pixels.
pub fn shapes(blocks: &[ConvBlock]) -> Result<Vec<(usize, usize)>, String> {
    let mut shapes = vec![(1, IMAGE_SIDE)];
    for (i, block) in blocks.iter().enumerate() {
        let (_, side) = *shapes.last().expect("the image");
        let out = block.output_side(side).ok_or_else(|| {
            format!(
                "key `model.conv`: block {} ({}×{} kernel, padding {}, pool {}) gets {side}×{side} \
                 feature maps and would leave none: use fewer blocks, less pooling or more padding",
                i + 1,
                block.kernel,
                block.kernel,
                block.padding,
                block.pool
            )
        })?;
        shapes.push((block.channels, out));
    }
    Ok(shapes)
}

/// The values the dense layers get: the last block's maps, flattened.
pub fn flattened(blocks: &[ConvBlock]) -> Option<usize> {
    let &(channels, side) = shapes(blocks).ok()?.last()?;
    Some(channels * side * side)
}

/// Checks each block's numbers (the shapes are checked by [`shapes`]).
pub fn validate(blocks: &[ConvBlock]) -> Result<(), String> {
    if blocks.len() > MAX_CONV_BLOCKS {
        return Err(format!(
            "key `model.conv` lists {} blocks; digits builds at most {MAX_CONV_BLOCKS}",
            blocks.len()
        ));
    }
    for (i, b) in blocks.iter().enumerate() {
        let problem = if b.channels == 0 {
            "has 0 channels; every block needs at least 1"
        } else if b.kernel == 0 || b.kernel > IMAGE_SIDE {
            "has a kernel outside 1..=28 pixels"
        } else if b.padding >= b.kernel {
            "pads by as much as its kernel or more: padding must be below the kernel size"
        } else if b.pool == 0 || b.pool > IMAGE_SIDE {
            "has a pool outside 1..=28 (1 = no pooling, 2 = 2×2 max pooling)"
        } else {
            continue;
        };
        return Err(format!("key `model.conv`: block {} {problem}", i + 1));
    }
    shapes(blocks).map(|_| ())
}

/// A block written as a table: only `channels` is required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockTable {
    channels: usize,
    kernel: Option<usize>,
    padding: Option<usize>,
    pool: Option<usize>,
}

impl<'de> Deserialize<'de> for ConvBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BlockVisitor)
    }
}

struct BlockVisitor;

impl<'de> Visitor<'de> for BlockVisitor {
    type Value = ConvBlock;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a block's channel count (like 32) or a table (like {channels = 32, kernel = 5, \
             padding = 2, pool = 2})",
        )
    }

    fn visit_u64<E: de::Error>(self, channels: u64) -> Result<ConvBlock, E> {
        Ok(ConvBlock::new(channels as usize))
    }

    fn visit_i64<E: de::Error>(self, channels: i64) -> Result<ConvBlock, E> {
        u64::try_from(channels)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(channels), &self))
            .and_then(|c| self.visit_u64(c))
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<ConvBlock, M::Error> {
        let table = BlockTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let kernel = table.kernel.unwrap_or(DEFAULT_KERNEL);
        Ok(ConvBlock {
            channels: table.channels,
            kernel,
            padding: table.padding.unwrap_or(kernel / 2),
            pool: table.pool.unwrap_or(DEFAULT_POOL),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_and_pooling_halve_the_side() {
        let shapes = shapes(&[ConvBlock::new(32), ConvBlock::new(64)]).unwrap();
        assert_eq!(shapes, [(1, 28), (32, 14), (64, 7)]);
        let valid = ConvBlock {
            channels: 8,
            kernel: 5,
            padding: 0,
            pool: 1,
        };
        assert_eq!(valid.output_side(28), Some(24));
        assert_eq!(flattened(&[valid]), Some(8 * 24 * 24));
        assert_eq!(ConvBlock::new(4).weights(3), (3 * 9 * 4) as f64);
    }

    #[test]
    fn blocks_that_leave_no_pixels_are_named() {
        let message = shapes(&[ConvBlock::new(4); 6]).unwrap_err();
        assert!(
            message.contains("block 5") && message.contains("1×1"),
            "{message}"
        );
        let message = validate(&[ConvBlock::new(4), ConvBlock::new(0)]).unwrap_err();
        assert!(message.contains("block 2 has 0 channels"), "{message}");
    }
}
