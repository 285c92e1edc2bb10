//! simd128 kernels: 4 lanes, four independent accumulators. No FMA in baseline simd128, so each
//! step is a multiply and an add.
//!
//! f16 inputs are widened in registers as they are loaded (simd128 has no conversion
//! instruction; see [`widen_f16`]), so a stored row is read once at half the bytes of f32.

use half::f16;
use std::arch::wasm32::*;

const STEP: usize = 16;

/// Loads 8 f32 from `p + i` as two vectors.
///
/// # Safety
/// `p + i .. p + i + 8` must be readable.
#[inline(always)]
unsafe fn load8_f32(p: *const f32, i: usize) -> (v128, v128) {
    // SAFETY: the caller guarantees 8 readable f32; v128_load has no alignment requirement.
    unsafe {
        (
            v128_load(p.add(i).cast::<v128>()),
            v128_load(p.add(i + 4).cast::<v128>()),
        )
    }
}

/// Loads 8 f16 from `p + i` and widens them (see [`widen_f16`]): lanes 0..4 and 4..8.
///
/// # Safety
/// `p + i .. p + i + 8` must be readable.
#[inline(always)]
unsafe fn load8_f16(p: *const f16, i: usize) -> (v128, v128) {
    // SAFETY: the caller guarantees 8 readable f16, the 16 bytes v128_load reads, with no
    // alignment requirement.
    let h = unsafe { v128_load(p.add(i).cast::<v128>()) };
    (
        widen_f16(u32x4_extend_low_u16x8(h)),
        widen_f16(u32x4_extend_high_u16x8(h)),
    )
}

macro_rules! simd128_kernel {
    ($name:ident, $elem:ty, $load8:ident, $scalar:path, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
        /// simd128 kernel; `a` and `b` must have the same length.
        pub(crate) fn $name(a: &[f32], b: &[$elem]) -> f32 {
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            // SAFETY: every call below passes i with i + 8 <= n = a.len().
            let xs = |i: usize| unsafe { load8_f32(pa, i) };
            // SAFETY: every call below passes i with i + 8 <= n = b.len().
            let ys = |i: usize| unsafe { $load8(pb, i) };
            let mut acc0 = f32x4_splat(0.0);
            let mut acc1 = f32x4_splat(0.0);
            let mut acc2 = f32x4_splat(0.0);
            let mut acc3 = f32x4_splat(0.0);
            let mut i = 0;
            while i + STEP <= n {
                let ((x0, x1), (x2, x3)) = (xs(i), xs(i + 8));
                let ((y0, y1), (y2, y3)) = (ys(i), ys(i + 8));
                let ($acc, $x, $y) = (acc0, x0, y0);
                acc0 = $step;
                let ($acc, $x, $y) = (acc1, x1, y1);
                acc1 = $step;
                let ($acc, $x, $y) = (acc2, x2, y2);
                acc2 = $step;
                let ($acc, $x, $y) = (acc3, x3, y3);
                acc3 = $step;
                i += STEP;
            }
            if i + 8 <= n {
                let ((x0, x1), (y0, y1)) = (xs(i), ys(i));
                let ($acc, $x, $y) = (acc0, x0, y0);
                acc0 = $step;
                let ($acc, $x, $y) = (acc1, x1, y1);
                acc1 = $step;
                i += 8;
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

/// Four u32 lanes holding f16 bits, as f32: the magnitude's bits moved into an f32's place read
/// as the number scaled by 2^-112 (f16 subnormals land on f32 subnormals, which simd128
/// keeps), so one multiply by 2^112 rescales exactly, and the sign is put back; as
/// [`crate::distance::scalar::f16_to_f32`] for every finite value. Stored vectors are finite
/// (writes refuse anything else); the bits of an infinity or NaN in a damaged file give a
/// wrong finite number here, never unsafety.
#[inline(always)]
fn widen_f16(h: v128) -> v128 {
    let sign = i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    let mag = i32x4_shl(v128_and(h, u32x4_splat(0x7fff)), 13);
    v128_or(
        f32x4_mul(mag, f32x4_splat(f32::from_bits(0x7780_0000))),
        sign,
    )
}

/// One operation's kernels over f32 and over f16 stored rows, from one step.
macro_rules! simd128_kernels {
    ($f32:ident, $f16:ident, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
        simd128_kernel!(
            $f32,
            f32,
            load8_f32,
            crate::distance::scalar::$f32,
            |$acc, $x, $y| $step
        );
        simd128_kernel!(
            $f16,
            f16,
            load8_f16,
            crate::distance::scalar::$f16,
            |$acc, $x, $y| $step
        );
    };
}

simd128_kernels!(dot_f32, dot_f16, |acc, x, y| f32x4_add(
    acc,
    f32x4_mul(x, y)
));
simd128_kernels!(l2sq_f32, l2sq_f16, |acc, x, y| {
    let d = f32x4_sub(x, y);
    f32x4_add(acc, f32x4_mul(d, d))
});
simd128_kernels!(l1_f32, l1_f16, |acc, x, y| f32x4_add(
    acc,
    f32x4_abs(f32x4_sub(x, y))
));
