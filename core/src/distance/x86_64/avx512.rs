//! AVX-512F kernels: 16 lanes, four independent accumulators.
//!
//! The `pub(crate)` wrappers are safe functions, but they may only be placed in a kernel table
//! after `is_x86_feature_detected!("avx512f")` has returned true; that is the only place they are
//! referenced ([`crate::distance::Kernels::for_level`]).

use std::arch::x86_64::*;

use half::f16;

const STEP: usize = 64;

/// Loads 16 f32 from `p`.
///
/// # Safety
/// `p` must be valid for reading 16 f32.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load_f32(p: *const f32) -> __m512 {
    // SAFETY: the caller guarantees 16 readable f32 at p; loadu has no alignment requirement.
    unsafe { _mm512_loadu_ps(p) }
}

/// Loads 16 f16 from `p` and widens them to f32 (exact).
///
/// # Safety
/// `p` must be valid for reading 16 f16.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn load_f16(p: *const f16) -> __m512 {
    // SAFETY: the caller guarantees 32 readable bytes at p; loadu has no alignment requirement.
    unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
}

macro_rules! avx512_kernel {
    ($name:ident, $inner:ident, $elem:ty, $load:ident, $scalar:path, $step:ident) => {
        #[target_feature(enable = "avx512f")]
        fn $inner(a: &[f32], b: &[$elem]) -> f32 {
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc0 = _mm512_setzero_ps();
            let mut acc1 = _mm512_setzero_ps();
            let mut acc2 = _mm512_setzero_ps();
            let mut acc3 = _mm512_setzero_ps();
            let mut i = 0;
            while i + STEP <= n {
                // SAFETY: i + 64 <= n = a.len() = b.len(), so the four 16-wide loads at
                // i, i+16, i+32, i+48 are in bounds of both slices.
                unsafe {
                    acc0 = $step(acc0, load_f32(pa.add(i)), $load(pb.add(i)));
                    acc1 = $step(acc1, load_f32(pa.add(i + 16)), $load(pb.add(i + 16)));
                    acc2 = $step(acc2, load_f32(pa.add(i + 32)), $load(pb.add(i + 32)));
                    acc3 = $step(acc3, load_f32(pa.add(i + 48)), $load(pb.add(i + 48)));
                }
                i += STEP;
            }
            while i + 16 <= n {
                // SAFETY: i + 16 <= n, so one 16-wide load is in bounds of both slices.
                unsafe {
                    acc0 = $step(acc0, load_f32(pa.add(i)), $load(pb.add(i)));
                }
                i += 16;
            }
            let acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
            let head = _mm512_reduce_add_ps(acc);
            if i == n {
                return head;
            }
            head + $scalar(&a[i..], &b[i..])
        }

        pub(crate) fn $name(a: &[f32], b: &[$elem]) -> f32 {
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            // SAFETY: this function is only reachable through a kernel table built after
            // runtime detection of avx512f (see the module doc).
            unsafe { $inner(a, b) }
        }
    };
}

// One step per operation, shared by the f32 and f16 kernels: `acc` plus the term for lanes
// `x` (query) and `y` (stored, already widened to f32).

#[inline]
#[target_feature(enable = "avx512f")]
fn dot_step(acc: __m512, x: __m512, y: __m512) -> __m512 {
    _mm512_fmadd_ps(x, y, acc)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn l2sq_step(acc: __m512, x: __m512, y: __m512) -> __m512 {
    let d = _mm512_sub_ps(x, y);
    _mm512_fmadd_ps(d, d, acc)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn l1_step(acc: __m512, x: __m512, y: __m512) -> __m512 {
    _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)))
}

avx512_kernel!(
    dot_f32,
    dot_f32_impl,
    f32,
    load_f32,
    crate::distance::scalar::dot_f32,
    dot_step
);
avx512_kernel!(
    dot_f16,
    dot_f16_impl,
    f16,
    load_f16,
    crate::distance::scalar::dot_f16,
    dot_step
);
avx512_kernel!(
    l2sq_f32,
    l2sq_f32_impl,
    f32,
    load_f32,
    crate::distance::scalar::l2sq_f32,
    l2sq_step
);
avx512_kernel!(
    l2sq_f16,
    l2sq_f16_impl,
    f16,
    load_f16,
    crate::distance::scalar::l2sq_f16,
    l2sq_step
);
avx512_kernel!(
    l1_f32,
    l1_f32_impl,
    f32,
    load_f32,
    crate::distance::scalar::l1_f32,
    l1_step
);
avx512_kernel!(
    l1_f16,
    l1_f16_impl,
    f16,
    load_f16,
    crate::distance::scalar::l1_f16,
    l1_step
);
