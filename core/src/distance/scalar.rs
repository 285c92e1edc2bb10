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
        f16_to_f32(self.to_bits())
    }
}

/// `src` widened to f32 by [`f16_to_f32`]: the conversion every f16 row goes through outside
/// the kernels (`half`'s `to_f32` checks the CPU for F16C on every value, which an f16 graph
/// build paid for every candidate it weighed).
#[inline]
pub(crate) fn widen_f16(src: &[f16]) -> impl Iterator<Item = f32> + '_ {
    src.iter().map(|h| f16_to_f32(h.to_bits()))
}

/// Exact IEEE binary16 → binary32 without branches or tables, so loops over it vectorise on
/// targets without a conversion instruction. The magnitude bits shifted into f32 position read
/// as the same number scaled by 2^-112 (normals keep their mantissa; f16 subnormals land on
/// f32 subnormals), so one multiply by 2^112 rescales exactly; infinities and NaNs get the
/// all-ones exponent, and the sign is copied.
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let mag = u32::from(h & 0x7fff) << 13;
    let scaled = f32::from_bits(mag) * f32::from_bits(0x7780_0000); // 2^112
    let special = f32::from_bits(mag | 0x7f80_0000);
    let v = if mag >= 0x7c00 << 13 { special } else { scaled };
    f32::from_bits(v.to_bits() | sign)
}

#[cfg(test)]
mod tests {
    #[test]
    fn f16_to_f32_is_exact_for_every_bit_pattern() {
        for bits in 0..=u16::MAX {
            let want = half::f16::from_bits(bits).to_f32();
            let got = super::f16_to_f32(bits);
            if want.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
                assert_eq!(
                    got.to_bits() & 0x8000_0000,
                    want.to_bits() & 0x8000_0000,
                    "{bits:#06x} sign"
                );
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
            }
        }
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
