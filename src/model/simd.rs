//! Loops compiled for the CPU's vector instructions: the release build targets plain x86-64
//! (SSE2, 4 floats an instruction), so a loop that pays for AVX2 (8) or AVX-512 (16) runs
//! through [`vectorised`], which picks at run time.

/// Runs `f` with its body compiled for AVX-512 (x86-64-v4's F, BW, DQ and VL) where the CPU
/// has it, else for AVX2 and FMA where it has those, else as it is. `f` is inlined into a
/// function built for those features (as gemm's and pulp's dispatch do), so keep it a closure
/// marked `#[inline(always)]` or calling such functions. The results are the same bit for bit
/// on every path: the loops here work value by value or in explicit lanes, and the compiler
/// reorders no floating-point operation.
#[inline(always)]
pub fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl") {
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
            unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            // SAFETY: this CPU has these features (checked just above).
            return unsafe { avx512(f) };
        }
        if has!("avx2") && has!("fma") {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            // SAFETY: this CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(f) };
        }
    }
    f()
}
