//! Kernels over int8 codes (see `quantization`): dot product, squared L2 and L1 distance as
//! exact integer sums. Each of 16 i32 lanes sums at most `MAX_DIM / 16` terms of at most 254²,
//! which fits; the lanes are added in i64. So the sums are exact, and every build of a kernel
//! must agree with the others bit for bit.
//!
//! One portable body per kernel, written so the compiler vectorises it (16 independent i32
//! lanes; SSE2's `pmaddwd` at the x86_64 baseline, NEON on aarch64). On x86_64 the same body is
//! compiled again with AVX2, and with AVX-512BW + VNNI (where LLVM fuses the widening
//! multiply-add into `vpdpwssd`), and the best build this CPU runs is chosen at run time, once.
//! wasm32 built with simd128 has its own kernels (`wasm32::codes`, `i32x4.dot_i16x8_s`).

use std::sync::OnceLock;

/// A kernel over two int8 code vectors of equal length.
pub type KernelI8 = fn(&[i8], &[i8]) -> i64;

/// The int8 kernels of one level.
#[derive(Debug, Clone, Copy)]
pub struct Int8Kernels {
    /// Which build: `portable`, `avx2`, `avx512vnni` or `simd128`.
    pub level: &'static str,
    /// Dot product.
    pub dot: KernelI8,
    /// Squared L2 distance.
    pub l2sq: KernelI8,
    /// L1 distance.
    pub l1: KernelI8,
}

const LANES: usize = 16;

#[inline(always)]
fn fold(a: &[i8], b: &[i8], term: impl Fn(i32, i32) -> i32) -> i64 {
    assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
    let mut acc = [0i32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += term(i32::from(x[i]), i32::from(y[i]));
        }
    }
    let mut sum: i64 = acc.iter().map(|&l| i64::from(l)).sum();
    for (&x, &y) in ta.iter().zip(tb) {
        sum += i64::from(term(i32::from(x), i32::from(y)));
    }
    sum
}

#[inline(always)]
fn dot_body(a: &[i8], b: &[i8]) -> i64 {
    fold(a, b, |x, y| x * y)
}

#[inline(always)]
fn l2sq_body(a: &[i8], b: &[i8]) -> i64 {
    fold(a, b, |x, y| (x - y) * (x - y))
}

#[inline(always)]
fn l1_body(a: &[i8], b: &[i8]) -> i64 {
    fold(a, b, |x, y| (x - y).abs())
}

/// Portable dot product.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i64 {
    dot_body(a, b)
}

/// Portable squared L2 distance.
pub fn l2sq_i8(a: &[i8], b: &[i8]) -> i64 {
    l2sq_body(a, b)
}

/// Portable L1 distance.
pub fn l1_i8(a: &[i8], b: &[i8]) -> i64 {
    l1_body(a, b)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{dot_body, l1_body, l2sq_body};

    #[target_feature(enable = "avx2")]
    fn dot_avx2(a: &[i8], b: &[i8]) -> i64 {
        dot_body(a, b)
    }

    #[target_feature(enable = "avx2")]
    fn l2sq_avx2(a: &[i8], b: &[i8]) -> i64 {
        l2sq_body(a, b)
    }

    #[target_feature(enable = "avx2")]
    fn l1_avx2(a: &[i8], b: &[i8]) -> i64 {
        l1_body(a, b)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn dot_avx512(a: &[i8], b: &[i8]) -> i64 {
        dot_body(a, b)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn l2sq_avx512(a: &[i8], b: &[i8]) -> i64 {
        l2sq_body(a, b)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn l1_avx512(a: &[i8], b: &[i8]) -> i64 {
        l1_body(a, b)
    }

    pub(super) fn dot512(a: &[i8], b: &[i8]) -> i64 {
        // SAFETY: only reachable through a table built after AVX-512F/BW/VNNI were detected.
        unsafe { dot_avx512(a, b) }
    }

    pub(super) fn l2sq512(a: &[i8], b: &[i8]) -> i64 {
        // SAFETY: only reachable through a table built after AVX-512F/BW/VNNI were detected.
        unsafe { l2sq_avx512(a, b) }
    }

    pub(super) fn l1512(a: &[i8], b: &[i8]) -> i64 {
        // SAFETY: only reachable through a table built after AVX-512F/BW/VNNI were detected.
        unsafe { l1_avx512(a, b) }
    }

    // These wrappers enter a kernel table only after the features they enable were detected
    // (see `int8_kernel_levels`), which is what makes the calls sound.
    pub(super) fn dot(a: &[i8], b: &[i8]) -> i64 {
        // SAFETY: only reachable through a table built after AVX2 was detected.
        unsafe { dot_avx2(a, b) }
    }

    pub(super) fn l2sq(a: &[i8], b: &[i8]) -> i64 {
        // SAFETY: only reachable through a table built after AVX2 was detected.
        unsafe { l2sq_avx2(a, b) }
    }

    pub(super) fn l1(a: &[i8], b: &[i8]) -> i64 {
        // SAFETY: only reachable through a table built after AVX2 was detected.
        unsafe { l1_avx2(a, b) }
    }
}

const PORTABLE: Int8Kernels = Int8Kernels {
    level: "portable",
    dot: dot_i8,
    l2sq: l2sq_i8,
    l1: l1_i8,
};

/// Every int8 kernel table this build and CPU can run, the portable one first and the best
/// last.
pub fn int8_kernel_levels() -> Vec<Int8Kernels> {
    #[allow(unused_mut)]
    let mut levels = vec![PORTABLE];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            levels.push(Int8Kernels {
                level: "avx2",
                dot: x86::dot,
                l2sq: x86::l2sq,
                l1: x86::l1,
            });
        }
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
        {
            levels.push(Int8Kernels {
                level: "avx512vnni",
                dot: x86::dot512,
                l2sq: x86::l2sq512,
                l1: x86::l1512,
            });
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    levels.push(Int8Kernels {
        level: "simd128",
        dot: super::wasm32::codes::dot_i8,
        l2sq: super::wasm32::codes::l2sq_i8,
        l1: super::wasm32::codes::l1_i8,
    });
    levels
}

/// Whether `STRATAVEC_SIMD=scalar` asks for the portable kernels.
pub(crate) fn forced_scalar() -> bool {
    std::env::var("STRATAVEC_SIMD").is_ok_and(|s| s.trim().eq_ignore_ascii_case("scalar"))
}

/// The best int8 kernels for this CPU, detected once. `STRATAVEC_SIMD=scalar` forces the
/// portable ones, as it does for the float kernels.
pub fn int8_kernels() -> &'static Int8Kernels {
    static DETECTED: OnceLock<Int8Kernels> = OnceLock::new();
    DETECTED.get_or_init(|| {
        if forced_scalar() {
            return PORTABLE;
        }
        int8_kernel_levels().pop().unwrap_or(PORTABLE)
    })
}
