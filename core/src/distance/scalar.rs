//! Portable reference kernels.
//!
//! Written so the compiler can vectorise them: fixed-width array accumulators over
//! `chunks_exact`, no early exits. They are the baseline every SIMD path is benchmarked against
//! and the fallback on targets without a hand-written path.

use half::f16;

const LANES: usize = 16;

#[inline]
fn sum_lanes(acc: [f32; LANES]) -> f32 {
    // Pairwise reduction keeps the rounding error of the final sum at log2(LANES) steps.
    let mut width = LANES;
    let mut acc = acc;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0]
}

macro_rules! scalar_kernel {
    ($name:ident, $elem:ty, |$x:ident, $y:ident| $term:expr) => {
        /// Scalar reference kernel; `a` and `b` must have the same length.
        pub fn $name(a: &[f32], b: &[$elem]) -> f32 {
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            let mut acc = [0.0f32; LANES];
            let ca = a.chunks_exact(LANES);
            let cb = b.chunks_exact(LANES);
            let (ta, tb) = (ca.remainder(), cb.remainder());
            for (xa, xb) in ca.zip(cb) {
                for i in 0..LANES {
                    let $x = xa[i];
                    let $y = to_f32(xb[i]);
                    acc[i] += $term;
                }
            }
            let mut tail = 0.0f32;
            for (&$x, &yb) in ta.iter().zip(tb) {
                let $y = to_f32(yb);
                tail += $term;
            }
            sum_lanes(acc) + tail
        }
    };
}

trait ToF32: Copy {
    fn to_f32_value(self) -> f32;
}

impl ToF32 for f32 {
    #[inline(always)]
    fn to_f32_value(self) -> f32 {
        self
    }
}

impl ToF32 for f16 {
    #[inline(always)]
    fn to_f32_value(self) -> f32 {
        self.to_f32()
    }
}

#[inline(always)]
fn to_f32<T: ToF32>(x: T) -> f32 {
    x.to_f32_value()
}

scalar_kernel!(dot_f32, f32, |x, y| x * y);
scalar_kernel!(l2sq_f32, f32, |x, y| (x - y) * (x - y));
scalar_kernel!(l1_f32, f32, |x, y| (x - y).abs());
scalar_kernel!(dot_f16, f16, |x, y| x * y);
scalar_kernel!(l2sq_f16, f16, |x, y| (x - y) * (x - y));
scalar_kernel!(l1_f16, f16, |x, y| (x - y).abs());
