//! The network's input: a 28×28 image's stored bytes (0 = background, 255 = ink) as values in
//! 0..1, the same for training, inference and every other reader of the images.

use std::mem::MaybeUninit;

use super::simd::vectorised;

/// `out[i] = bytes[i] / 255`, bit for bit the quotient training has always seen, without a
/// division: one was 32 % of the seed network's inference at batch 1024 (perf, Intel Xeon;
/// `vdivps` takes about 5 cycles for 8 values). A byte times 1/255 rounded once is off by
/// one bit for 126 of the 256 bytes; [`ONE_255TH_HIGH`] and [`ONE_255TH_LOW`] are not.
pub fn scale_pixels(bytes: &[u8], out: &mut [MaybeUninit<f32>]) {
    // Compiled for AVX2 or AVX-512 where the CPU has it: 8 or 16 values an instruction.
    vectorised(
        #[inline(always)]
        || {
            for (out, &p) in out.iter_mut().zip(bytes) {
                out.write(byte_over_255(p));
            }
        },
    )
}

/// 1/255 to 17 bits (`0x1.0101p-8`): its product with a byte (8 bits) is exact in an f32.
const ONE_255TH_HIGH: f32 = f32::from_bits(0x3B80_8080);
/// The rest of 1/255 (`1/255 − ONE_255TH_HIGH`, rounded).
const ONE_255TH_LOW: f32 = f32::from_bits(0x2F80_8080);

/// `p / 255` correctly rounded: the high part's product is exact, so the sum is rounded once
/// from within 2⁻⁴⁰ of the quotient, and a byte's quotient (its 8 bits repeating, 0.pppp…₂)
/// never lies that close to a rounding boundary. `tests::bytes_scale_as_divided` checks all 256.
#[inline(always)]
fn byte_over_255(p: u8) -> f32 {
    let p = f32::from(p);
    p * ONE_255TH_HIGH + p * ONE_255TH_LOW
}

/// A batch this large is scaled on every thread (native builds): at batch 1024 the conversion
/// was a third of the seed network's inference, and its cost is writing 3 MB, which one core
/// does at half the speed of two.
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_IMAGES: usize = 256;

/// `images` (each of the same length) scaled, one after the other.
pub fn scaled(images: &[&[u8]]) -> Vec<f32> {
    let len = images.first().map_or(0, |image| image.len());
    assert!(
        images.iter().all(|image| image.len() == len),
        "images of one size"
    );
    let values = images.len() * len;
    let mut out = Vec::with_capacity(values);
    let free = &mut out.spare_capacity_mut()[..values];
    let scale = |(to, image): (&mut [MaybeUninit<f32>], &&[u8])| scale_pixels(image, to);
    #[cfg(not(target_arch = "wasm32"))]
    if images.len() >= PARALLEL_IMAGES {
        use rayon::prelude::*;
        free.par_chunks_mut(len.max(1)).zip(images).for_each(scale);
    } else {
        free.chunks_mut(len.max(1)).zip(images).for_each(scale);
    }
    #[cfg(target_arch = "wasm32")]
    free.chunks_mut(len.max(1)).zip(images).for_each(scale);
    // SAFETY: each image's `len` values were written above, one chunk each.
    unsafe { out.set_len(values) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte's value equals its division by 255, bit for bit, through the vectorised
    /// loop and alone.
    #[test]
    fn bytes_scale_as_divided() {
        let bytes: Vec<u8> = (0..=255).collect();
        let scaled = scaled(&[&bytes]);
        for (&p, &value) in bytes.iter().zip(&scaled) {
            let divided = f32::from(p) / 255.0;
            assert_eq!(value.to_bits(), divided.to_bits(), "byte {p}");
            assert_eq!(byte_over_255(p).to_bits(), divided.to_bits(), "byte {p}");
        }
    }
}
