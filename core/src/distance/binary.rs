//! The kernel of binary quantization (see `quantization`): a code is one bit per component
//! packed in `u64` words; the query keeps 4 bits per component, stored as four bit planes per
//! code word (word `i`'s planes at `4i..4i+4`, least significant plane first). The kernel
//! returns `(Σ_j 2^j · popcount(plane_j & code), popcount(code))`, from which the caller
//! estimates the query's inner product with the code's ±1 components. Both are exact
//! integers, so every build of the kernel agrees bit for bit.
//!
//! One portable body, compiled several times and chosen at run time, once: as is (x86_64's
//! baseline has no popcount instruction, so `count_ones` is a short bit-twiddling sequence),
//! with `popcnt`, with AVX2 (LLVM counts bits 32 bytes at a time with a nibble lookup table)
//! and with AVX-512 VPOPCNTDQ (eight words per instruction). On aarch64 the portable body
//! becomes NEON's `cnt`. wasm32 built with simd128 has its own build (`wasm32::codes`: two code
//! words per step, `i8x16.popcnt`, u8 accumulators).

use std::sync::OnceLock;

/// A kernel over a query's bit planes (four words per code word) and a code: the weighted
/// count of code bits set where the query's 4-bit values have bits, and the code's bit count.
pub type KernelBits = fn(&[u64], &[u64]) -> (u32, u32);

/// One build of the binary kernel.
#[derive(Debug, Clone, Copy)]
pub struct BinaryKernels {
    /// Which build: `portable`, `popcnt`, `avx2`, `avx512vpopcntdq` or `simd128`.
    pub level: &'static str,
    /// The plane-weighted popcount (see the module).
    pub planes: KernelBits,
}

#[inline(always)]
fn planes_body(planes: &[u64], code: &[u64]) -> (u32, u32) {
    assert_eq!(
        planes.len(),
        4 * code.len(),
        "kernel inputs differ in length"
    );
    let (mut weighted, mut bits) = (0u32, 0u32);
    for (&w, p) in code.iter().zip(planes.chunks_exact(4)) {
        weighted += (p[0] & w).count_ones()
            + 2 * (p[1] & w).count_ones()
            + 4 * (p[2] & w).count_ones()
            + 8 * (p[3] & w).count_ones();
        bits += w.count_ones();
    }
    (weighted, bits)
}

/// Portable plane-weighted popcount.
pub fn planes_popcount(planes: &[u64], code: &[u64]) -> (u32, u32) {
    planes_body(planes, code)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::planes_body;

    #[target_feature(enable = "popcnt")]
    fn planes_popcnt(a: &[u64], b: &[u64]) -> (u32, u32) {
        planes_body(a, b)
    }

    #[target_feature(enable = "avx2,popcnt")]
    fn planes_avx2(a: &[u64], b: &[u64]) -> (u32, u32) {
        planes_body(a, b)
    }

    #[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
    fn planes_avx512(a: &[u64], b: &[u64]) -> (u32, u32) {
        planes_body(a, b)
    }

    // These wrappers enter a kernel table only after the features they enable were detected
    // (see `binary_kernel_levels`), which is what makes the calls sound.
    pub(super) fn popcnt(a: &[u64], b: &[u64]) -> (u32, u32) {
        // SAFETY: only reachable through a table built after POPCNT was detected.
        unsafe { planes_popcnt(a, b) }
    }

    pub(super) fn avx2(a: &[u64], b: &[u64]) -> (u32, u32) {
        // SAFETY: only reachable through a table built after AVX2 and POPCNT were detected.
        unsafe { planes_avx2(a, b) }
    }

    pub(super) fn avx512(a: &[u64], b: &[u64]) -> (u32, u32) {
        // SAFETY: only reachable through a table built after AVX-512F, VPOPCNTDQ and POPCNT
        // were detected.
        unsafe { planes_avx512(a, b) }
    }
}

const PORTABLE: BinaryKernels = BinaryKernels {
    level: "portable",
    planes: planes_popcount,
};

/// Every build of the binary kernel this build and CPU can run, the portable one first and the best last.
pub fn binary_kernel_levels() -> Vec<BinaryKernels> {
    #[allow(unused_mut)]
    let mut levels = vec![PORTABLE];
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("popcnt") {
        levels.push(BinaryKernels {
            level: "popcnt",
            planes: x86::popcnt,
        });
        if std::is_x86_feature_detected!("avx2") {
            levels.push(BinaryKernels {
                level: "avx2",
                planes: x86::avx2,
            });
        }
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vpopcntdq")
        {
            levels.push(BinaryKernels {
                level: "avx512vpopcntdq",
                planes: x86::avx512,
            });
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    levels.push(BinaryKernels {
        level: "simd128",
        planes: super::wasm32::codes::planes,
    });
    levels
}

/// The best build of the binary kernel for this CPU, detected once. `STRATAVEC_SIMD=scalar` forces the
/// portable one, as it does for the float kernels.
pub fn binary_kernels() -> &'static BinaryKernels {
    static DETECTED: OnceLock<BinaryKernels> = OnceLock::new();
    DETECTED.get_or_init(|| {
        if super::int8::forced_scalar() {
            return PORTABLE;
        }
        binary_kernel_levels().pop().unwrap_or(PORTABLE)
    })
}
