//! Kernels over int8 codes (see `quantization`): dot product, squared L2 and L1 distance as
//! exact integer sums. Each of 16 i32 lanes sums at most `MAX_DIM / 16` terms of at most 254²,
//! which fits; the lanes are added in i64. So the sums are exact, and every build of a kernel
//! must agree with the others bit for bit.
//!
//! One portable body per kernel, written so the compiler vectorises it (16 independent i32
//! lanes; SSE2's `pmaddwd` at the x86_64 baseline, NEON on aarch64). On x86_64 there are
//! written-out AVX2 kernels and AVX-512BW + VNNI ones (`vpdpbusd`, 64 products an instruction;
//! compiled from the portable body with those features, LLVM used `vpmulld` on codes widened
//! to i32, 16 an instruction, and the int8 walk spent a third of its time there), and the best
//! build this CPU runs is chosen at run time, once.
//! wasm32 built with simd128 has its own kernels (`wasm32::codes`, `i32x4.dot_i16x8_s`).

use std::sync::OnceLock;

use crate::config::Metric;

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
    use std::arch::x86_64::*;

    use super::{dot_body, l1_body, l2sq_body};

    // The AVX2 kernels are written out: compiled from the portable body, LLVM widens to i32
    // and multiplies with `vpmulld` (8 products an instruction), where `vpmaddwd` on values
    // widened to i16 makes 16. L1 uses `vpsadbw` on the codes shifted into u8 (x ^ 0x80 =
    // x + 128 keeps every difference), 32 absolute differences an instruction.
    //
    // Lanes: each i32 lane of the two accumulators receives one pair of products per 32
    // bytes, at most 2 * 255^2 (squared L2) per pair; MAX_DIM / 32 = 2048 pairs per lane, and
    // both accumulators added lane by lane, stay below 2^30, so one horizontal sum does.

    /// The sum of the eight i32 lanes, in i64.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum_i32(v: __m256i) -> i64 {
        let lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
        let hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(v));
        hsum_i64(_mm256_add_epi64(lo, hi))
    }

    /// The sum of the four i64 lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum_i64(v: __m256i) -> i64 {
        let s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        _mm_cvtsi128_si64(s) + _mm_extract_epi64::<1>(s)
    }

    /// Runs `$step` over each 32-byte block of `$a` and `$b` as two halves widened to i16,
    /// adding its pairs of products into i32 lanes; evaluates to the lanes' sum and where the
    /// tail starts. Expanded inside the AVX2 kernels so it compiles with their features.
    macro_rules! widened_blocks {
        ($a:expr, $b:expr, |$x:ident, $y:ident| $step:expr) => {{
            let (a, b): (&[i8], &[i8]) = ($a, $b);
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc0 = _mm256_setzero_si256();
            let mut acc1 = _mm256_setzero_si256();
            let mut i = 0;
            while i + 32 <= a.len() {
                // SAFETY: i + 32 <= len of both slices, so the 16-byte loads at i and i + 16
                // are in bounds; loadu has no alignment requirement.
                let (x0, y0, x1, y1) = unsafe {
                    (
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i).cast())),
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i).cast())),
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i + 16).cast())),
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i + 16).cast())),
                    )
                };
                let step = |$x: __m256i, $y: __m256i| $step;
                acc0 = _mm256_add_epi32(acc0, step(x0, y0));
                acc1 = _mm256_add_epi32(acc1, step(x1, y1));
                i += 32;
            }
            (hsum_i32(_mm256_add_epi32(acc0, acc1)), i)
        }};
    }

    #[target_feature(enable = "avx2")]
    fn dot_avx2(a: &[i8], b: &[i8]) -> i64 {
        let (sum, i) = widened_blocks!(a, b, |x, y| _mm256_madd_epi16(x, y));
        sum + dot_body(&a[i..], &b[i..])
    }

    #[target_feature(enable = "avx2")]
    fn l2sq_avx2(a: &[i8], b: &[i8]) -> i64 {
        let (sum, i) = widened_blocks!(a, b, |x, y| {
            let d = _mm256_sub_epi16(x, y);
            _mm256_madd_epi16(d, d)
        });
        sum + l2sq_body(&a[i..], &b[i..])
    }

    #[target_feature(enable = "avx2")]
    fn l1_avx2(a: &[i8], b: &[i8]) -> i64 {
        assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let shift = _mm256_set1_epi8(i8::MIN);
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        while i + 32 <= a.len() {
            // SAFETY: i + 32 <= len of both slices; loadu has no alignment requirement.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_si256(pa.add(i).cast()),
                    _mm256_loadu_si256(pb.add(i).cast()),
                )
            };
            let sad = _mm256_sad_epu8(_mm256_xor_si256(x, shift), _mm256_xor_si256(y, shift));
            acc = _mm256_add_epi64(acc, sad);
            i += 32;
        }
        hsum_i64(acc) + l1_body(&a[i..], &b[i..])
    }

    // The AVX-512 kernels take 64 codes a step, the last step's loads masked to the codes
    // left (masked-off bytes read as 0 and add nothing to any of the three sums).
    //
    // Dot: `vpdpbusd` multiplies unsigned by signed bytes, four products into each i32 lane.
    // The query side is shifted into u8 (x ^ 0x80 = x + 128), so the lanes gather
    // Σ (x + 128) · y, and a second `vpdpbusd` of 128 against y gathers the Σ 128 · y to take
    // away. Per lane and step each sum moves by at most 4 · 255 · 128 < 2^17; MAX_DIM / 64 =
    // 1024 steps keep both, and their difference, below 2^28.
    // Squared L2: differences in i16 (each at most 255 in size), squared and summed in pairs by
    // `vpdpwssd`: at most 2 · 255² per lane and half step, 2048 of them: below 2^29.
    // L1: `vpsadbw` on the codes shifted into u8, as in AVX2, into u64 lanes.

    /// The 64 codes at `i`, or the `n - i` left (fewer than 64) with zeros after them.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load64(p: *const i8, i: usize, n: usize) -> __m512i {
        let left = n - i;
        if left >= 64 {
            // SAFETY: the caller's slice has n bytes and i + 64 <= n.
            unsafe { _mm512_loadu_si512(p.add(i).cast()) }
        } else {
            let mask: __mmask64 = (1u64 << left) - 1;
            // SAFETY: only the `left` bytes from i (all below n) are read; masked loads do
            // not touch the bytes masked off.
            unsafe { _mm512_maskz_loadu_epi8(mask, p.add(i)) }
        }
    }

    /// The sum of the sixteen i32 lanes, in i64.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn hsum512_i32(v: __m512i) -> i64 {
        let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
        let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(v));
        _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn dot_avx512(a: &[i8], b: &[i8]) -> i64 {
        assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
        let (pa, pb, n) = (a.as_ptr(), b.as_ptr(), a.len());
        let shift = _mm512_set1_epi8(i8::MIN);
        let (mut sum, mut bias) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        let mut i = 0;
        while i < n {
            let (x, y) = (load64(pa, i, n), load64(pb, i, n));
            sum = _mm512_dpbusd_epi32(sum, _mm512_xor_si512(x, shift), y);
            bias = _mm512_dpbusd_epi32(bias, shift, y);
            i += 64;
        }
        hsum512_i32(_mm512_sub_epi32(sum, bias))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn l2sq_avx512(a: &[i8], b: &[i8]) -> i64 {
        assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
        let (pa, pb, n) = (a.as_ptr(), b.as_ptr(), a.len());
        let (mut acc0, mut acc1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        let mut i = 0;
        while i < n {
            let (x, y) = (load64(pa, i, n), load64(pb, i, n));
            let half = |v: __m512i, hi: bool| {
                _mm512_cvtepi8_epi16(if hi {
                    _mm512_extracti64x4_epi64::<1>(v)
                } else {
                    _mm512_castsi512_si256(v)
                })
            };
            let d0 = _mm512_sub_epi16(half(x, false), half(y, false));
            let d1 = _mm512_sub_epi16(half(x, true), half(y, true));
            acc0 = _mm512_dpwssd_epi32(acc0, d0, d0);
            acc1 = _mm512_dpwssd_epi32(acc1, d1, d1);
            i += 64;
        }
        hsum512_i32(acc0) + hsum512_i32(acc1)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn l1_avx512(a: &[i8], b: &[i8]) -> i64 {
        assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
        let (pa, pb, n) = (a.as_ptr(), b.as_ptr(), a.len());
        let shift = _mm512_set1_epi8(i8::MIN);
        let mut acc = _mm512_setzero_si512();
        let mut i = 0;
        while i < n {
            // Masked-off bytes are 0 in both, the same after the shift: no difference.
            let (x, y) = (load64(pa, i, n), load64(pb, i, n));
            let sad = _mm512_sad_epu8(_mm512_xor_si512(x, shift), _mm512_xor_si512(y, shift));
            acc = _mm512_add_epi64(acc, sad);
            i += 64;
        }
        _mm512_reduce_add_epi64(acc)
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

impl Int8Kernels {
    /// The kernel whose sum ranks rows for `metric`: the dot product under cosine and dot
    /// (higher is closer), squared L2 under Euclid and L1 under Manhattan (lower is closer).
    pub(crate) fn for_metric(&self, metric: Metric) -> KernelI8 {
        match metric {
            Metric::Cosine | Metric::Dot => self.dot,
            Metric::Euclid => self.l2sq,
            Metric::Manhattan => self.l1,
        }
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
