//! Loops compiled for the CPU's vector instructions: the release build targets plain x86-64
//! (SSE2, 4 floats an instruction), so a loop that pays for AVX2 (8) runs through
//! [`vectorised`], which picks at run time.

/// Runs `f` with its body compiled for AVX2 and FMA where the CPU has them, else as it is.
/// `f` is inlined into a function built for those features (as gemm's and pulp's dispatch
/// do), so keep it a closure marked `#[inline(always)]` or calling such functions.
#[inline(always)]
pub fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: this CPU has AVX2 and FMA (checked just above).
        return unsafe { avx2(f) };
    }
    f()
}
