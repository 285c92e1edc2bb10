//! simd128 kernels over quantized codes: int8 dot product, squared L2 and L1 distance, and the
//! binary plane-weighted popcount (see `distance::int8` and `distance::binary` for what they
//! compute). Exact integer sums like the portable bodies, which they must match bit for bit.
//!
//! int8: 16 codes per step, widened to i16 and multiplied pairwise into four i32 lanes with
//! `i32x4.dot_i16x8_s`. A lane sums `MAX_DIM / 4` terms of at most 255² (or 128² for the dot
//! product): 1.07·10⁹, within i32.
//!
//! Binary: two code words per step; `i8x16.popcnt` counts the bits of the ANDed words byte by
//! byte into u8 accumulators (at most 16 per byte per step, flushed into u32 lanes every 15
//! steps, before a byte can overflow), each plane's lanes weighted at the flush.

use std::arch::wasm32::*;

/// Loads 16 bytes at `p`.
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[inline(always)]
unsafe fn load(p: *const u8) -> v128 {
    // SAFETY: the caller guarantees 16 readable bytes; v128_load has no alignment requirement.
    unsafe { v128_load(p.cast::<v128>()) }
}

#[inline(always)]
fn hsum_i32(v: v128) -> i64 {
    i64::from(i32x4_extract_lane::<0>(v))
        + i64::from(i32x4_extract_lane::<1>(v))
        + i64::from(i32x4_extract_lane::<2>(v))
        + i64::from(i32x4_extract_lane::<3>(v))
}

macro_rules! int8_kernel {
    ($name:ident, $scalar:path, |$x:ident, $y:ident| $step:expr) => {
        /// simd128 kernel; `a` and `b` must have the same length.
        pub(crate) fn $name(a: &[i8], b: &[i8]) -> i64 {
            assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
            let n = a.len();
            let (pa, pb) = (a.as_ptr().cast::<u8>(), b.as_ptr().cast::<u8>());
            let (mut lo, mut hi) = (i32x4_splat(0), i32x4_splat(0));
            let mut i = 0;
            while i + 16 <= n {
                // SAFETY: i + 16 <= n = a.len() = b.len().
                let (va, vb) = unsafe { (load(pa.add(i)), load(pb.add(i))) };
                let ($x, $y) = (i16x8_extend_low_i8x16(va), i16x8_extend_low_i8x16(vb));
                lo = i32x4_add(lo, $step);
                let ($x, $y) = (i16x8_extend_high_i8x16(va), i16x8_extend_high_i8x16(vb));
                hi = i32x4_add(hi, $step);
                i += 16;
            }
            hsum_i32(lo) + hsum_i32(hi) + $scalar(&a[i..], &b[i..])
        }
    };
}

int8_kernel!(dot_i8, crate::distance::int8::dot_i8, |x, y| {
    i32x4_dot_i16x8(x, y)
});
int8_kernel!(l2sq_i8, crate::distance::int8::l2sq_i8, |x, y| {
    let d = i16x8_sub(x, y);
    i32x4_dot_i16x8(d, d)
});
int8_kernel!(l1_i8, crate::distance::int8::l1_i8, |x, y| {
    i32x4_extadd_pairwise_i16x8(i16x8_abs(i16x8_sub(x, y)))
});

/// Byte counts widened to four u32 lanes (lanes 0–1: the low 8 bytes, 2–3: the high 8).
#[inline(always)]
fn widen_counts(v: v128) -> v128 {
    u32x4_extadd_pairwise_u16x8(u16x8_extadd_pairwise_u8x16(v))
}

/// Steps between flushes of the u8 accumulators: each step adds at most 16 to a byte.
const FLUSH: usize = 15;

/// simd128 plane-weighted popcount (see `distance::binary`).
pub(crate) fn planes(planes: &[u64], code: &[u64]) -> (u32, u32) {
    assert_eq!(
        planes.len(),
        4 * code.len(),
        "kernel inputs differ in length"
    );
    let words = code.len();
    let (pp, pc) = (planes.as_ptr().cast::<u8>(), code.as_ptr().cast::<u8>());
    // Weights of the lanes of the plane 0/1 and plane 2/3 accumulators after widening.
    let (w01, w23) = (i32x4(1, 1, 2, 2), i32x4(4, 4, 8, 8));
    let (mut weighted, mut bits) = (i32x4_splat(0), i32x4_splat(0));
    let mut i = 0;
    while i + 2 <= words {
        let (mut a01, mut a23, mut ab) = (u8x16_splat(0), u8x16_splat(0), u8x16_splat(0));
        let mut steps = 0;
        while steps < FLUSH && i + 2 <= words {
            // SAFETY: i + 2 <= words: code words i, i+1 and plane words 4i..4i+8 are in bounds.
            let (c, p0, p1, p2, p3) = unsafe {
                (
                    load(pc.add(8 * i)),
                    load(pp.add(32 * i)),
                    load(pp.add(32 * i + 16)),
                    load(pp.add(32 * i + 32)),
                    load(pp.add(32 * i + 48)),
                )
            };
            let c0 = i64x2_shuffle::<0, 0>(c, c);
            let c1 = i64x2_shuffle::<1, 1>(c, c);
            a01 = u8x16_add(a01, i8x16_popcnt(v128_and(p0, c0)));
            a01 = u8x16_add(a01, i8x16_popcnt(v128_and(p2, c1)));
            a23 = u8x16_add(a23, i8x16_popcnt(v128_and(p1, c0)));
            a23 = u8x16_add(a23, i8x16_popcnt(v128_and(p3, c1)));
            ab = u8x16_add(ab, i8x16_popcnt(c));
            i += 2;
            steps += 1;
        }
        weighted = i32x4_add(weighted, i32x4_mul(widen_counts(a01), w01));
        weighted = i32x4_add(weighted, i32x4_mul(widen_counts(a23), w23));
        bits = i32x4_add(bits, widen_counts(ab));
    }
    let sum = |v: v128| hsum_i32(v) as u32;
    let (tail_w, tail_b) = crate::distance::binary::planes_popcount(&planes[4 * i..], &code[i..]);
    (sum(weighted) + tail_w, sum(bits) + tail_b)
}
