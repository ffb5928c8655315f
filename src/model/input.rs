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
