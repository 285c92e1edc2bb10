//! simd128 kernels: 4 lanes, four independent accumulators. No FMA in baseline simd128, so each
//! step is a multiply and an add.
//!
//! f16 inputs are widened in blocks by [`crate::distance::widened`] and fed to the f32 kernels.

use std::arch::wasm32::*;

const STEP: usize = 16;

macro_rules! simd128_kernel {
    ($name:ident, $scalar:path, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
        /// simd128 kernel; `a` and `b` must have the same length.
        pub(crate) fn $name(a: &[f32], b: &[f32]) -> f32 {
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let load = |p: *const f32, i: usize| {
                // SAFETY: every call below passes i with i + 4 <= n = a.len() = b.len(), and
                // v128_load has no alignment requirement.
                unsafe { v128_load(p.add(i).cast::<v128>()) }
            };
            let mut acc0 = f32x4_splat(0.0);
            let mut acc1 = f32x4_splat(0.0);
            let mut acc2 = f32x4_splat(0.0);
            let mut acc3 = f32x4_splat(0.0);
            let mut i = 0;
            while i + STEP <= n {
                let ($acc, $x, $y) = (acc0, load(pa, i), load(pb, i));
                acc0 = $step;
                let ($acc, $x, $y) = (acc1, load(pa, i + 4), load(pb, i + 4));
                acc1 = $step;
                let ($acc, $x, $y) = (acc2, load(pa, i + 8), load(pb, i + 8));
                acc2 = $step;
                let ($acc, $x, $y) = (acc3, load(pa, i + 12), load(pb, i + 12));
                acc3 = $step;
                i += STEP;
            }
            while i + 4 <= n {
                let ($acc, $x, $y) = (acc0, load(pa, i), load(pb, i));
                acc0 = $step;
                i += 4;
            }
            let acc = f32x4_add(f32x4_add(acc0, acc1), f32x4_add(acc2, acc3));
            let lanes = f32x4_extract_lane::<0>(acc)
                + f32x4_extract_lane::<1>(acc)
                + f32x4_extract_lane::<2>(acc)
                + f32x4_extract_lane::<3>(acc);
            if i == n {
                return lanes;
            }
            lanes + $scalar(&a[i..], &b[i..])
        }
    };
}

simd128_kernel!(dot_f32, crate::distance::scalar::dot_f32, |acc, x, y| {
    f32x4_add(acc, f32x4_mul(x, y))
});
simd128_kernel!(l2sq_f32, crate::distance::scalar::l2sq_f32, |acc, x, y| {
    let d = f32x4_sub(x, y);
    f32x4_add(acc, f32x4_mul(d, d))
});
simd128_kernel!(l1_f32, crate::distance::scalar::l1_f32, |acc, x, y| {
    f32x4_add(acc, f32x4_abs(f32x4_sub(x, y)))
});
