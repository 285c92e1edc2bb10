//! Distance kernels and their one-time dispatch.
//!
//! Every kernel takes an f32 query and a stored vector (f32 or f16) of the same length and
//! returns an f32 sum: the dot product, the squared L2 distance or the L1 distance. Cosine is the
//! dot product of normalised vectors, so it needs no kernel of its own.
//!
//! Layout follows memchr's `arch/`: a portable [`scalar`] reference, and one module per
//! instruction set. x86_64 paths are chosen at run time, once, by [`Kernels::detected`]; NEON
//! (aarch64 baseline) and simd128 (a wasm build flag) are compile-time choices. The environment
//! variable `STRATAVEC_SIMD` (`scalar`, `avx2`, `avx512`, `neon`, `simd128`) forces a level for
//! tests and benchmarks; a level this CPU lacks is ignored rather than trusted.
//!
//! Callers fetch the table once per operation and call through its function pointers in the
//! inner loop: no feature check per call.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use half::f16;

use crate::config::Metric;
use crate::error::{Error, Result};

pub mod binary;
pub mod int8;
pub mod scalar;

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod aarch64;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm32;

/// Asks the CPU to start loading the first `lines` cache lines of `bytes` (x86_64: a prefetch
/// hint; wasm32: a load whose value is discarded; a no-op elsewhere). Scans over scattered rows
/// use it to overlap memory latencies.
///
/// On x86_64 lines are counted from the line holding the first byte up to the one holding the
/// last: 132 bytes from mid-line lie on three lines, and hints 64 bytes apart from the first
/// byte covered two, leaving the third to a cache miss (whole lines and rows starting on lines,
/// `crate::line_vec`: wordnet f32 walks +17-21%). In wasm32 a hint is a real load, and there
/// the same counting made walks 10% slower in Chromium (interleaved A/B): the loads start 64
/// bytes apart from the first byte.
#[inline(always)]
pub(crate) fn prefetch(bytes: &[u8], lines: usize) {
    #[cfg(target_arch = "x86_64")]
    if !bytes.is_empty() {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // Bytes of the first line before the slice.
        let skip = bytes.as_ptr() as usize % 64;
        for line in 0..lines.min((skip + bytes.len()).div_ceil(64)) {
            // The start of the line; the first may begin before the slice, in the same line.
            let at = bytes.as_ptr().wrapping_sub(skip).wrapping_add(line * 64);
            // SAFETY: a prefetch is a hint that never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast()) };
        }
    }
    // WebAssembly has no prefetch instruction. A load starts the cache miss all the same, and
    // the misses of all the rows hinted before scoring the first then overlap (the engine runs
    // the loads out of order); volatile, so neither LLVM nor the engine drops the unused value.
    #[cfg(target_arch = "wasm32")]
    for line in bytes.chunks(64).take(lines) {
        // SAFETY: the pointer is in bounds of `bytes`, and a u8 needs no alignment.
        unsafe { std::ptr::read_volatile(line.as_ptr()) };
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "wasm32")))]
    let _ = (bytes, lines);
}

/// A kernel over an f32 query and an f32 stored vector.
pub type KernelF32 = fn(&[f32], &[f32]) -> f32;
/// A kernel over an f32 query and an f16 stored vector.
pub type KernelF16 = fn(&[f32], &[f16]) -> f32;

/// An instruction-set level with its own kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    /// Portable code, auto-vectorised by the compiler for the build's baseline.
    Scalar,
    /// x86_64 AVX2 with FMA and F16C.
    Avx2,
    /// x86_64 AVX-512F.
    Avx512,
    /// aarch64 NEON.
    Neon,
    /// wasm32 simd128.
    Simd128,
}

impl SimdLevel {
    /// Every level, in order of preference from worst to best.
    pub const ALL: [SimdLevel; 5] = [
        SimdLevel::Scalar,
        SimdLevel::Simd128,
        SimdLevel::Neon,
        SimdLevel::Avx2,
        SimdLevel::Avx512,
    ];

    /// The level's name, as accepted by `STRATAVEC_SIMD` and [`SimdLevel::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Neon => "neon",
            SimdLevel::Simd128 => "simd128",
        }
    }

    /// Whether this build and this CPU can run the level's kernels.
    pub fn is_available(self) -> bool {
        match self {
            SimdLevel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => {
                std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                    && std::is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => std::is_x86_feature_detected!("avx512f"),
            #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
            SimdLevel::Neon => true,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            SimdLevel::Simd128 => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The levels this build and CPU can run, worst first.
    pub fn available() -> Vec<SimdLevel> {
        SimdLevel::ALL
            .into_iter()
            .filter(|l| l.is_available())
            .collect()
    }
}

impl FromStr for SimdLevel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        SimdLevel::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown SIMD level {s:?}; expected scalar, avx2, avx512, neon or simd128"
                ))
            })
    }
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One level's kernels.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// The level these kernels belong to.
    pub level: SimdLevel,
    /// Dot product, f32 stored.
    pub dot_f32: KernelF32,
    /// Squared L2 distance, f32 stored.
    pub l2sq_f32: KernelF32,
    /// L1 distance, f32 stored.
    pub l1_f32: KernelF32,
    /// Dot product, f16 stored.
    pub dot_f16: KernelF16,
    /// Squared L2 distance, f16 stored.
    pub l2sq_f16: KernelF16,
    /// L1 distance, f16 stored.
    pub l1_f16: KernelF16,
}

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernels")
            .field("level", &self.level)
            .finish()
    }
}

const SCALAR: Kernels = Kernels {
    level: SimdLevel::Scalar,
    dot_f32: scalar::dot_f32,
    l2sq_f32: scalar::l2sq_f32,
    l1_f32: scalar::l1_f32,
    dot_f16: scalar::dot_f16,
    l2sq_f16: scalar::l2sq_f16,
    l1_f16: scalar::l1_f16,
};

impl Kernels {
    /// The kernels of `level`, or `None` when this build or CPU cannot run them.
    ///
    /// This is the only place SIMD kernels enter a table, and it checks availability first;
    /// the x86_64 kernels rely on that for soundness.
    pub fn for_level(level: SimdLevel) -> Option<Kernels> {
        if !level.is_available() {
            return None;
        }
        match level {
            SimdLevel::Scalar => Some(SCALAR),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => Some(Kernels {
                level,
                dot_f32: x86_64::avx2::dot_f32,
                l2sq_f32: x86_64::avx2::l2sq_f32,
                l1_f32: x86_64::avx2::l1_f32,
                dot_f16: x86_64::avx2::dot_f16,
                l2sq_f16: x86_64::avx2::l2sq_f16,
                l1_f16: x86_64::avx2::l1_f16,
            }),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => Some(Kernels {
                level,
                dot_f32: x86_64::avx512::dot_f32,
                l2sq_f32: x86_64::avx512::l2sq_f32,
                l1_f32: x86_64::avx512::l1_f32,
                dot_f16: x86_64::avx512::dot_f16,
                l2sq_f16: x86_64::avx512::l2sq_f16,
                l1_f16: x86_64::avx512::l1_f16,
            }),
            #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
            SimdLevel::Neon => Some(Kernels {
                level,
                dot_f32: aarch64::neon::dot_f32,
                l2sq_f32: aarch64::neon::l2sq_f32,
                l1_f32: aarch64::neon::l1_f32,
                dot_f16: neon_f16::dot,
                l2sq_f16: neon_f16::l2sq,
                l1_f16: neon_f16::l1,
            }),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            SimdLevel::Simd128 => Some(Kernels {
                level,
                dot_f32: wasm32::simd128::dot_f32,
                l2sq_f32: wasm32::simd128::l2sq_f32,
                l1_f32: wasm32::simd128::l1_f32,
                dot_f16: wasm32::simd128::dot_f16,
                l2sq_f16: wasm32::simd128::l2sq_f16,
                l1_f16: wasm32::simd128::l1_f16,
            }),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The f32-storage kernel that scores `metric`: the dot product for cosine (on normalised
    /// vectors) and dot, squared L2 for euclid, L1 for manhattan.
    pub fn f32_for(&self, metric: Metric) -> KernelF32 {
        match metric {
            Metric::Cosine | Metric::Dot => self.dot_f32,
            Metric::Euclid => self.l2sq_f32,
            Metric::Manhattan => self.l1_f32,
        }
    }

    /// The f16-storage kernel that scores `metric` (see [`Kernels::f32_for`]).
    pub fn f16_for(&self, metric: Metric) -> KernelF16 {
        match metric {
            Metric::Cosine | Metric::Dot => self.dot_f16,
            Metric::Euclid => self.l2sq_f16,
            Metric::Manhattan => self.l1_f16,
        }
    }

    /// The best kernels for this CPU, detected on first use and cached. `STRATAVEC_SIMD` forces
    /// a level when that level is available.
    pub fn detected() -> &'static Kernels {
        static DETECTED: OnceLock<Kernels> = OnceLock::new();
        DETECTED.get_or_init(|| {
            let forced = std::env::var("STRATAVEC_SIMD")
                .ok()
                .and_then(|s| s.parse::<SimdLevel>().ok())
                .and_then(Kernels::for_level);
            forced.unwrap_or_else(|| {
                SimdLevel::ALL
                    .into_iter()
                    .rev()
                    .find_map(Kernels::for_level)
                    .unwrap_or(SCALAR)
            })
        })
    }
}

/// Runs an f32 kernel over an f16 stored vector by widening it in stack blocks. Exact: widening
/// f16 to f32 loses nothing, and every kernel is a sum that splits across blocks.
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[inline]
fn widened(a: &[f32], b: &[f16], kernel: KernelF32) -> f32 {
    const BLOCK: usize = 256;
    assert_eq!(a.len(), b.len(), "kernel inputs differ in length");
    let mut buf = [0.0f32; BLOCK];
    let mut sum = 0.0f32;
    for (qa, qb) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let wide = &mut buf[..qb.len()];
        for (w, x) in wide.iter_mut().zip(scalar::widen_f16(qb)) {
            *w = x;
        }
        sum += kernel(qa, wide);
    }
    sum
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod neon_f16 {
    use super::{aarch64::neon, f16, widened};
    pub(super) fn dot(a: &[f32], b: &[f16]) -> f32 {
        widened(a, b, neon::dot_f32)
    }
    pub(super) fn l2sq(a: &[f32], b: &[f16]) -> f32 {
        widened(a, b, neon::l2sq_f32)
    }
    pub(super) fn l1(a: &[f32], b: &[f16]) -> f32 {
        widened(a, b, neon::l1_f32)
    }
}
