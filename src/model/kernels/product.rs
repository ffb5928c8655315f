//! The matrix product every kernel here is built on: strided (transposes cost nothing), with
//! the CPU's AVX2/FMA (and with flex's `x86-v4`, AVX-512) kernels chosen at run time; gemm's
//! in a build with flex (it is flex's own), else matrixmultiply's (ndarray's) — except a
//! product by a transposed matrix on AVX-512 CPUs, which is ours ([`super::gemm`]).
//! [`product`] runs on the calling thread; [`new_product`] on every thread.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::gemm::Strided;

/// `c (m×n) = a (m×k) · b (k×n) + beta·c`, each matrix given by (values, row stride, column
/// stride), `c` row-major.
#[allow(clippy::too_many_arguments)]
pub fn product(
    [m, k, n]: [usize; 3],
    (a, a_row, a_col): (&[f32], usize, usize),
    (b, b_row, b_col): (&[f32], usize, usize),
    beta: f32,
    c: &mut [f32],
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
            Kernel::Library,
        )
    }
}

/// Whose product runs, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// The library's, on the calling thread.
    Library,
    /// The library's on every thread, split by itself (gemm's, in a build with flex).
    LibrarySplit,
    /// Ours ([`super::gemm`]), on the calling thread.
    Own,
}

/// That the product reads and writes inside the slices: its calls are unsafe.
fn assert_within(
    [m, k, n]: [usize; 3],
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    c: &[f32],
) {
    assert_reads([m, k, n], a, b);
    assert!(c.len() >= m * n);
}

/// That the product reads inside `a` and `b`.
fn assert_reads(
    [m, k, n]: [usize; 3],
    (a, a_row, a_col): (&[f32], usize, usize),
    (b, b_row, b_col): (&[f32], usize, usize),
) {
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| {
        (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs
    };
    assert!(m * k == 0 || last(m, k, a_row, a_col) < a.len());
    assert!(k * n == 0 || last(k, n, b_row, b_col) < b.len());
}

/// `c = a·b + beta·c` on raw parts (strides in values, `c` with unit column stride), on
/// `kernel`.
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
    kernel: Kernel,
) {
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Own {
        // SAFETY: AVX-512F (`Own` is chosen only where the CPU has it), and the caller's
        // promises are the product's.
        return unsafe {
            super::gemm::multiply(
                [m, k, n],
                Strided {
                    at: a,
                    row: a_row,
                    col: a_col,
                },
                Strided {
                    at: b,
                    row: b_row,
                    col: b_col,
                },
                beta,
                c,
                c_row,
            )
        };
    }
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
            match kernel {
                Kernel::LibrarySplit => gemm::Parallelism::Rayon(0),
                _ => gemm::Parallelism::None,
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

/// `a·b` on every thread ([`parallel_product_into`]) into a new vector: no zeros written first
/// (the product writes every value; 16 MB for a [2048,2048] layer's weight gradient).
pub fn new_product(
    dims: [usize; 3],
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
) -> Vec<f32> {
    let [m, k, n] = dims;
    if k == 0 {
        return vec![0.0; m * n];
    }
    let mut c = Vec::with_capacity(m * n);
    // SAFETY: `c` has room for m × n values and aliases nothing. With beta 0 every product
    // here writes each of them without reading any (gemm's `read_dst` false; matrixmultiply's
    // documented so; ours stores), so all are written before the length is set.
    unsafe {
        parallel_product_into(dims, a, b, c.as_mut_ptr());
        c.set_len(m * n);
    }
    c
}

/// `c = a·b` ([`product`]) into `c`'s m × n values on every thread (on the calling one when
/// it is small: [`PARALLEL_WORK`]). In a build with flex gemm splits the work itself (but for
/// our own kernel's products); otherwise `c` is cut into blocks of rows or
/// of columns, one per thread, whichever makes the threads pack (copy into the kernel's
/// layout) less: each packs its block of one operand and all of the other, so a dense layer's
/// small batch times wide weights goes by blocks of columns (each thread packs a part of the
/// weights, not all of them). Each value of `c` is still one product's sum over `k`, in the
/// same order however it is cut.
///
/// # Safety
/// `c` points to room for m × n values (written, not read) that alias neither `a` nor `b` and
/// that no one else reads or writes meanwhile.
unsafe fn parallel_product_into(
    [m, k, n]: [usize; 3],
    (a, a_row, a_col): (&[f32], usize, usize),
    (b, b_row, b_col): (&[f32], usize, usize),
    c: *mut f32,
) {
    if m * n == 0 {
        return;
    }
    assert_reads([m, k, n], (a, a_row, a_col), (b, b_row, b_col));
    let kernel = match own_product([m, k, n], (b_row, b_col)) {
        true => Kernel::Own,
        false => Kernel::Library,
    };
    let threads = rayon::current_num_threads();
    let small = m * n * k < PARALLEL_WORK || threads == 1;
    let c = SharedOutput(c);
    // The product of rows `rows` and columns `cols` of `c`, on `kernel`.
    let block = |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>, kernel: Kernel| {
        let c = &c;
        // SAFETY: the reads stay inside `a` and `b` (asserted above: these rows of `a` and
        // columns of `b` are among them), the writes inside `c`'s m × n values in this
        // block's rows and columns only, which no other task writes (the caller's promise
        // for the rest).
        unsafe {
            sgemm(
                [rows.len(), k, cols.len()],
                (a.as_ptr().add(rows.start * a_row), a_row, a_col),
                (b.as_ptr().add(cols.start * b_col), b_row, b_col),
                0.0,
                (c.0.add(rows.start * n + cols.start), n),
                kernel,
            )
        }
    };
    if cfg!(feature = "flex") && kernel == Kernel::Library && m.min(n) >= GEMM_SPLIT_SIDE {
        // gemm splits its own work between the threads and packs only what pays.
        let split = if small {
            Kernel::Library
        } else {
            Kernel::LibrarySplit
        };
        return block(0..m, 0..n, split);
    }
    if small {
        return block(0..m, 0..n, kernel);
    }
    // Whole tiles of our product's (12 rows, 32 columns) for each thread but the last.
    if m >= n {
        // Blocks of rows: contiguous parts of `c`, and of `a` from a row on.
        let rows = m.div_ceil(threads).next_multiple_of(12);
        (0..m.div_ceil(rows)).into_par_iter().for_each(|at| {
            block(at * rows..m.min((at + 1) * rows), 0..n, kernel);
        });
        return;
    }
    // Blocks of columns: each task writes its columns of every row of `c`.
    let columns = n.div_ceil(threads).next_multiple_of(32);
    (0..n.div_ceil(columns)).into_par_iter().for_each(|at| {
        block(0..m, at * columns..n.min((at + 1) * columns), kernel);
    });
}

/// Whether a [`new_product`] runs on our own kernel ([`super::gemm`]): on AVX-512 CPUs (unless
/// [`super::PRODUCT_ENV`] asks for the library's), where `c` is at least two tiles wide and
/// - `b` is read by columns (`b`'s column stride is not 1 and its row stride is: a dense
///   layer's input gradient `g·Wᵀ`): faster than gemm's there (0.72× → 0.91× MKL's at
///   128 × 2048 × 2048 on an Intel Xeon);
/// - or `b` is a large row-major matrix ([`OWN_WEIGHTS`] values and more) and `a` has few rows
///   ([`OWN_ROWS`]): a wide layer's forward `x·W` at a batch of 128 or fewer. [2048,2048]
///   trained +16–26 % faster at batch 32 and +30–40 % at 64 than through gemm's, at 128 faster
///   in 8 of 9 alternating pairs (median +1 %; the product alone −2 to +7 %). An earlier
///   switch that also took the weight gradient `xᵀ·g` (2048 rows) measured 5 % slower at 128.
///
/// Elsewhere it was level or slower (a CNN's products, the seed network's narrow layers,
/// [512,512] at batch 32): docs/EXPERIMENTS.md.
fn own_product([m, k, n]: [usize; 3], (b_row, b_col): (usize, usize)) -> bool {
    static OWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let available = *OWN.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        return super::gemm::available() && !super::library_product_asked().unwrap_or(false);
        #[cfg(not(target_arch = "x86_64"))]
        false
    });
    let transposed = b_row == 1 && b_col != 1;
    let wide_at_small_batch = b_col == 1 && m <= OWN_ROWS && k * n >= OWN_WEIGHTS;
    available && (transposed || wide_at_small_batch) && n >= 64
}

/// Rows of `a` up to which a product by a large row-major `b` runs on our kernel: the batch
/// (a weight gradient's `a` has a layer's inputs as rows, 784 and more).
const OWN_ROWS: usize = 128;

/// Values of a row-major `b` from which a product with few rows runs on our kernel (4 MB: a
/// 2048-wide layer's weights; [512,512]'s and the reference CNN's dense layers stay below).
const OWN_WEIGHTS: usize = 1 << 20;

/// `c`'s values, written by several tasks at once, each in a block of its own.
struct SharedOutput(*mut f32);

// SAFETY: the tasks that share it write disjoint values (see `parallel_product_into`).
unsafe impl Sync for SharedOutput {}
