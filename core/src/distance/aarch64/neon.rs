//! NEON kernels: 4 lanes, four independent accumulators.
//!
//! f16 inputs are widened in blocks by [`crate::distance::widened`] and fed to the f32 kernels.

use std::arch::aarch64::*;

const STEP: usize = 16;

macro_rules! neon_kernel {
    ($name:ident, $scalar:path, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
        /// NEON kernel; `a` and `b` must have the same length.
        pub(crate) fn $name(a: &[f32], b: &[f32]) -> f32 {
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            // SAFETY: NEON is enabled for every aarch64 target this module is compiled for
            // (cfg(target_feature = "neon") in the parent); every load below is at an index
            // i + 4k with i + 4k + 4 <= n = a.len() = b.len().
            unsafe {
                let mut acc0 = vdupq_n_f32(0.0);
                let mut acc1 = vdupq_n_f32(0.0);
                let mut acc2 = vdupq_n_f32(0.0);
                let mut acc3 = vdupq_n_f32(0.0);
                let mut i = 0;
                while i + STEP <= n {
                    let ($acc, $x, $y) = (acc0, vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
                    acc0 = $step;
                    let ($acc, $x, $y) = (acc1, vld1q_f32(pa.add(i + 4)), vld1q_f32(pb.add(i + 4)));
                    acc1 = $step;
                    let ($acc, $x, $y) = (acc2, vld1q_f32(pa.add(i + 8)), vld1q_f32(pb.add(i + 8)));
                    acc2 = $step;
                    let ($acc, $x, $y) =
                        (acc3, vld1q_f32(pa.add(i + 12)), vld1q_f32(pb.add(i + 12)));
                    acc3 = $step;
                    i += STEP;
                }
                while i + 4 <= n {
                    let ($acc, $x, $y) = (acc0, vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
                    acc0 = $step;
                    i += 4;
                }
                let acc = vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3));
                let head = vaddvq_f32(acc);
                if i == n {
                    return head;
                }
                head + $scalar(&a[i..], &b[i..])
            }
        }
    };
}

neon_kernel!(dot_f32, crate::distance::scalar::dot_f32, |acc, x, y| {
    vfmaq_f32(acc, x, y)
});
neon_kernel!(l2sq_f32, crate::distance::scalar::l2sq_f32, |acc, x, y| {
    let d = vsubq_f32(x, y);
    vfmaq_f32(acc, d, d)
});
neon_kernel!(l1_f32, crate::distance::scalar::l1_f32, |acc, x, y| {
    vaddq_f32(acc, vabdq_f32(x, y))
});
