//! AVX2 + FMA + F16C kernels: 8 lanes, four independent accumulators to hide FMA latency.
//!
//! The `pub(crate)` wrappers are safe functions, but they may only be placed in a kernel table
//! after `is_x86_feature_detected!` has confirmed avx2, fma and f16c; that is the only place
//! they are referenced ([`crate::distance::Kernels::for_level`]).

use std::arch::x86_64::*;

use half::f16;

const STEP: usize = 32;

/// Horizontal sum of 8 lanes.
#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Loads 8 f32 from `p`.
///
/// # Safety
/// `p` must be valid for reading 8 f32.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load_f32(p: *const f32) -> __m256 {
    // SAFETY: the caller guarantees 8 readable f32 at p; loadu has no alignment requirement.
    unsafe { _mm256_loadu_ps(p) }
}

/// Loads 8 f16 from `p` and widens them to f32 (exact).
///
/// # Safety
/// `p` must be valid for reading 8 f16.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn load_f16(p: *const f16) -> __m256 {
    // SAFETY: the caller guarantees 16 readable bytes at p; loadu has no alignment requirement.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
}

macro_rules! avx2_kernel {
    ($name:ident, $inner:ident, $elem:ty, $load:ident, $scalar:path, $step:ident) => {
        #[target_feature(enable = "avx2,fma,f16c")]
        fn $inner(a: &[f32], b: &[$elem]) -> f32 {
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc0 = _mm256_setzero_ps();
            let mut acc1 = _mm256_setzero_ps();
            let mut acc2 = _mm256_setzero_ps();
            let mut acc3 = _mm256_setzero_ps();
            let mut i = 0;
            while i + STEP <= n {
                // SAFETY: i + 32 <= n = a.len() = b.len(), so the four 8-wide loads at
                // i, i+8, i+16, i+24 are in bounds of both slices.
                unsafe {
                    acc0 = $step(acc0, load_f32(pa.add(i)), $load(pb.add(i)));
                    acc1 = $step(acc1, load_f32(pa.add(i + 8)), $load(pb.add(i + 8)));
                    acc2 = $step(acc2, load_f32(pa.add(i + 16)), $load(pb.add(i + 16)));
                    acc3 = $step(acc3, load_f32(pa.add(i + 24)), $load(pb.add(i + 24)));
                }
                i += STEP;
            }
            while i + 8 <= n {
                // SAFETY: i + 8 <= n, so one 8-wide load is in bounds of both slices.
                unsafe {
                    acc0 = $step(acc0, load_f32(pa.add(i)), $load(pb.add(i)));
                }
                i += 8;
            }
            let acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
            let head = hsum(acc);
            if i == n {
                return head;
            }
            head + $scalar(&a[i..], &b[i..])
        }

        pub(crate) fn $name(a: &[f32], b: &[$elem]) -> f32 {
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            // SAFETY: this function is only reachable through a kernel table built after
            // runtime detection of avx2, fma and f16c (see the module doc).
            unsafe { $inner(a, b) }
        }
    };
}

// One step per operation, shared by the f32 and f16 kernels: `acc` plus the term for lanes
// `x` (query) and `y` (stored, already widened to f32).

#[inline]
#[target_feature(enable = "avx2,fma")]
fn dot_step(acc: __m256, x: __m256, y: __m256) -> __m256 {
    _mm256_fmadd_ps(x, y, acc)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn l2sq_step(acc: __m256, x: __m256, y: __m256) -> __m256 {
    let d = _mm256_sub_ps(x, y);
    _mm256_fmadd_ps(d, d, acc)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn l1_step(acc: __m256, x: __m256, y: __m256) -> __m256 {
    _mm256_add_ps(
        acc,
        _mm256_andnot_ps(_mm256_set1_ps(-0.0), _mm256_sub_ps(x, y)),
    )
}

avx2_kernel!(
    dot_f32,
    dot_f32_impl,
    f32,
    load_f32,
    crate::distance::scalar::dot_f32,
    dot_step
);
avx2_kernel!(
    dot_f16,
    dot_f16_impl,
    f16,
    load_f16,
    crate::distance::scalar::dot_f16,
    dot_step
);
avx2_kernel!(
    l2sq_f32,
    l2sq_f32_impl,
    f32,
    load_f32,
    crate::distance::scalar::l2sq_f32,
    l2sq_step
);
avx2_kernel!(
    l2sq_f16,
    l2sq_f16_impl,
    f16,
    load_f16,
    crate::distance::scalar::l2sq_f16,
    l2sq_step
);
avx2_kernel!(
    l1_f32,
    l1_f32_impl,
    f32,
    load_f32,
    crate::distance::scalar::l1_f32,
    l1_step
);
avx2_kernel!(
    l1_f16,
    l1_f16_impl,
    f16,
    load_f16,
    crate::distance::scalar::l1_f16,
    l1_step
);
