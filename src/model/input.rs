//! The network's input: a 28×28 image's stored bytes (0 = background, 255 = ink) as values in
//! 0..1, the same for training, inference and every other reader of the images.

use std::mem::MaybeUninit;

use super::simd::vectorised;

/// `out[i] = bytes[i] / 255` (a division, not a multiplication by 1/255: the values training
/// has always seen).
pub fn scale_pixels(bytes: &[u8], out: &mut [MaybeUninit<f32>]) {
    // Compiled for AVX2 where the CPU has it: twice the divisions an instruction.
    vectorised(
        #[inline(always)]
        || {
            for (out, &p) in out.iter_mut().zip(bytes) {
                out.write(f32::from(p) / 255.0);
            }
        },
    )
}

/// `images` (each of the same length) scaled, one after the other.
pub fn scaled(images: &[&[u8]]) -> Vec<f32> {
    let values = images.iter().map(|image| image.len()).sum();
    let mut out = Vec::with_capacity(values);
    let mut free = &mut out.spare_capacity_mut()[..values];
    for image in images {
        let (this, rest) = free.split_at_mut(image.len());
        scale_pixels(image, this);
        free = rest;
    }
    // SAFETY: the first `values` values were written above, each image's in turn.
    unsafe { out.set_len(values) };
    out
}
