//! The matrix product every kernel here is built on: strided (transposes cost nothing), with
//! the CPU's AVX2/FMA (and with flex's `x86-v4`, AVX-512) kernels chosen at run time; gemm's
//! in a build with flex (it is flex's own), else matrixmultiply's (ndarray's). [`product`]
//! runs on the calling thread; [`parallel_product`] on every thread.

use rayon::prelude::*;

/// `c (m×n) = a (m×k) · b (k×n) + beta·c`, each matrix given by (values, row stride, column
/// stride), `c` row-major.
#[allow(clippy::too_many_arguments)]
pub fn product(
    dims: [usize; 3],
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    multiply(dims, a, b, beta, c, false);
}

/// [`product`], on every thread when `threads` (gemm's own split, in a build with flex).
fn multiply(
    [m, k, n]: [usize; 3],
    (a, a_row, a_col): (&[f32], usize, usize),
    (b, b_row, b_col): (&[f32], usize, usize),
    beta: f32,
    c: &mut [f32],
    threads: bool,
) {
    assert_within([m, k, n], (a, a_row, a_col), (b, b_row, b_col), c);
    // SAFETY: every index the product touches is inside the slices (asserted above), and `c`
    // does not alias `a` or `b` (it is borrowed mutably).
    unsafe {
        sgemm(
            [m, k, n],
            (a.as_ptr(), a_row, a_col),
            (b.as_ptr(), b_row, b_col),
            beta,
            (c.as_mut_ptr(), n),
            threads,
        )
    }
}

/// That the product reads and writes inside the slices: its calls are unsafe.
fn assert_within(
    [m, k, n]: [usize; 3],
    (a, a_row, a_col): (&[f32], usize, usize),
    (b, b_row, b_col): (&[f32], usize, usize),
    c: &[f32],
) {
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| {
        (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs
    };
    assert!(m * k == 0 || last(m, k, a_row, a_col) < a.len());
    assert!(k * n == 0 || last(k, n, b_row, b_col) < b.len());
    assert!(c.len() >= m * n);
}

/// `c = a·b + beta·c` on raw parts (strides in values, `c` with unit column stride), on every
/// thread when `threads` (gemm's own split, in a build with flex) else on this one.
///
/// # Safety
/// The strides keep every read inside `a` and `b` and every write inside `c`, which aliases
/// neither and which no other thread writes at the same places.
#[allow(unused_variables)]
unsafe fn sgemm(
    [m, k, n]: [usize; 3],
    (a, a_row, a_col): (*const f32, usize, usize),
    (b, b_row, b_col): (*const f32, usize, usize),
    beta: f32,
    (c, c_row): (*mut f32, usize),
    threads: bool,
) {
    #[cfg(feature = "flex")]
    // SAFETY: as the caller promised; gemm reads `c` only when `read_dst` (beta ≠ 0).
    unsafe {
        // gemm computes dst = alpha·dst + beta·lhs·rhs: its alpha is our beta.
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            c_row as isize,
            beta != 0.0,
            a,
            a_col as isize,
            a_row as isize,
            b,
            b_col as isize,
            b_row as isize,
            beta,
            1.0,
            false,
            false,
            false,
            match threads {
                true => gemm::Parallelism::Rayon(0),
                false => gemm::Parallelism::None,
            },
        );
    }
    #[cfg(not(feature = "flex"))]
    // SAFETY: as the caller promised.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a,
            a_row as isize,
            a_col as isize,
            b,
            b_row as isize,
            b_col as isize,
            beta,
            c,
            c_row as isize,
            1,
        );
    }
}

/// Multiply-adds below which a product runs on the calling thread: waking another costs about
/// 20 µs on a 2-core machine, as long as such a product takes (the seed network's layers).
pub const PARALLEL_WORK: usize = 1 << 21;

/// The smaller side of `c` from which gemm's own split between threads is used (flex). Below
/// it (a 16-neuron layer at batch 1024) gemm's split woke the threads many times a product
/// (perf: `sched_yield`) and inference ran at 0.75× Burn's single-threaded op; one block per
/// thread, cut here, does not.
const GEMM_SPLIT_SIDE: usize = 64;

/// [`product`] on every thread (on the calling one when it is small: [`PARALLEL_WORK`]). In
/// a build with flex gemm splits the work itself; otherwise `c` is cut into blocks of rows or
/// of columns, one per thread, whichever makes the threads pack (copy into the kernel's
/// layout) less: each packs its block of one operand and all of the other, so a dense layer's
/// small batch times wide weights goes by blocks of columns (each thread packs a part of the
/// weights, not all of them). Each value of `c` is still one product's sum over `k`, in the
/// same order however it is cut.
pub fn parallel_product(
    [m, k, n]: [usize; 3],
    (a, a_row, a_col): (&[f32], usize, usize),
    (b, b_row, b_col): (&[f32], usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    if m * n == 0 {
        return;
    }
    if cfg!(feature = "flex") && m.min(n) >= GEMM_SPLIT_SIDE {
        // gemm splits its own work between the threads and packs only what pays.
        let threaded = m * n * k >= PARALLEL_WORK;
        return multiply(
            [m, k, n],
            (a, a_row, a_col),
            (b, b_row, b_col),
            beta,
            c,
            threaded,
        );
    }
    let threads = rayon::current_num_threads();
    if m * n * k < PARALLEL_WORK || threads == 1 {
        return product([m, k, n], (a, a_row, a_col), (b, b_row, b_col), beta, c);
    }
    if m >= n {
        // Blocks of rows: contiguous parts of `c`, and of `a` from a row on.
        let rows = m.div_ceil(threads).max(8);
        c[..m * n]
            .par_chunks_mut(rows * n)
            .enumerate()
            .for_each(|(at, c)| {
                let r = c.len() / n;
                let a = &a[(at * rows * a_row).min(a.len())..];
                product([r, k, n], (a, a_row, a_col), (b, b_row, b_col), beta, c);
            });
        return;
    }
    // Blocks of columns: each task writes its columns of every row of `c`, which no other
    // task touches. Safe Rust cannot hand out such interleaved parts, so the blocks go as
    // pointers.
    let columns = n.div_ceil(threads).max(16);
    let blocks = n.div_ceil(columns);
    assert_within([m, k, n], (a, a_row, a_col), (b, b_row, b_col), c);
    let c = SharedOutput(c.as_mut_ptr());
    (0..blocks).into_par_iter().for_each(|block| {
        let first = block * columns;
        let width = columns.min(n - first);
        let c = &c;
        // SAFETY: the reads stay inside `a` and `b` (asserted above: this block's columns of
        // `b` are among them) and the writes inside `c`'s m × n values (asserted above), in
        // this block's columns only, which no other task writes; `c` does not alias `a` or
        // `b` (it was borrowed mutably).
        unsafe {
            sgemm(
                [m, k, width],
                (a.as_ptr(), a_row, a_col),
                (b.as_ptr().add(first * b_col), b_row, b_col),
                beta,
                (c.0.add(first), n),
                false,
            )
        }
    });
}

/// `c`'s values, written by several tasks at once, each in columns of its own.
struct SharedOutput(*mut f32);

// SAFETY: the tasks that share it write disjoint values (see `parallel_product`).
unsafe impl Sync for SharedOutput {}
