//! simd128 kernels: 4 lanes, four independent accumulators. No FMA in baseline simd128, so each
//! step is a multiply and an add.
//!
//! f16 inputs are widened in registers as they are loaded (simd128 has no conversion
//! instruction; see [`widen_f16`]), so a stored row is read once at half the bytes of f32.

use half::f16;
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

macro_rules! simd128_f16_kernel {
    ($name:ident, $scalar:path, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
        /// simd128 kernel over an f16 stored vector; `a` and `b` must have the same length.
        pub(crate) fn $name(a: &[f32], b: &[f16]) -> f32 {
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let load = |i: usize| {
                // SAFETY: every call below passes i with i + 4 <= n = a.len(), and v128_load
                // has no alignment requirement.
                unsafe { v128_load(pa.add(i).cast::<v128>()) }
            };
            // Eight f16 from b[i..i + 8], widened: (lanes 0..4, lanes 4..8).
            let load8 = |i: usize| {
                // SAFETY: every call below passes i with i + 8 <= n = b.len(); 8 f16 are the
                // 16 bytes v128_load reads, with no alignment requirement.
                let h = unsafe { v128_load(pb.add(i).cast::<v128>()) };
                (
                    widen_f16(u32x4_extend_low_u16x8(h)),
                    widen_f16(u32x4_extend_high_u16x8(h)),
                )
            };
            let mut acc0 = f32x4_splat(0.0);
            let mut acc1 = f32x4_splat(0.0);
            let mut acc2 = f32x4_splat(0.0);
            let mut acc3 = f32x4_splat(0.0);
            let mut i = 0;
            while i + STEP <= n {
                let (y0, y1) = load8(i);
                let (y2, y3) = load8(i + 8);
                let ($acc, $x, $y) = (acc0, load(i), y0);
                acc0 = $step;
                let ($acc, $x, $y) = (acc1, load(i + 4), y1);
                acc1 = $step;
                let ($acc, $x, $y) = (acc2, load(i + 8), y2);
                acc2 = $step;
                let ($acc, $x, $y) = (acc3, load(i + 12), y3);
                acc3 = $step;
                i += STEP;
            }
            while i + 8 <= n {
                let (y0, y1) = load8(i);
                let ($acc, $x, $y) = (acc0, load(i), y0);
                acc0 = $step;
                let ($acc, $x, $y) = (acc1, load(i + 4), y1);
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

simd128_f16_kernel!(dot_f16, crate::distance::scalar::dot_f16, |acc, x, y| {
    f32x4_add(acc, f32x4_mul(x, y))
});
simd128_f16_kernel!(l2sq_f16, crate::distance::scalar::l2sq_f16, |acc, x, y| {
    let d = f32x4_sub(x, y);
    f32x4_add(acc, f32x4_mul(d, d))
});
simd128_f16_kernel!(l1_f16, crate::distance::scalar::l1_f16, |acc, x, y| {
    f32x4_add(acc, f32x4_abs(f32x4_sub(x, y)))
});
