//! Int8 scalar quantization: every component `x` is stored as the code
//! `round(clamp(x / scale, -127, 127))`, one byte instead of four.
//!
//! Key design decisions:
//! - **One scale for all components, learnt from a quantile.** The scale is the `quantile` of
//!   `|x|` over (a sample of) the stored components, divided by 127: the rare outliers above
//!   it are clipped instead of stretching the grid for everyone. One shared scale keeps every
//!   metric's ranking exact in code space up to rounding (dot and distances scale by `scale²`
//!   or `scale`), so no per-dimension correction terms are needed in the kernels.
//! - **Codes rank, full precision decides.** A search ranks candidates by integer kernels over
//!   codes (4× less memory traffic than f32), keeps `oversampling × k` of them, then rescores
//!   those against the stored full-precision vectors; returned scores are always exact.
//! - **Codes live in memory next to the rows** and are kept current by every write; a snapshot
//!   or a checkpoint computes them when quantization is switched on after opening.

use crate::config::Metric;
use crate::distance::int8::{int8_kernels, KernelI8};
use crate::error::{Error, Result};
use crate::vectors::{retain_rows, swap_remove_row, RowsRef};

/// Int8 quantization settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int8Params {
    /// The fraction of component magnitudes kept unclipped, in `[0.5, 1]` (default 0.999).
    pub quantile: f32,
    /// Candidates rescored with full precision per hit wanted, at least 1 (default 3).
    pub oversampling: f32,
}

impl Default for Int8Params {
    fn default() -> Self {
        Int8Params {
            quantile: 0.999,
            oversampling: 3.0,
        }
    }
}

impl Int8Params {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !(0.5..=1.0).contains(&self.quantile) {
            return Err(Error::InvalidArgument(format!(
                "int8 quantile must be between 0.5 and 1, got {}",
                self.quantile
            )));
        }
        if !(1.0..=100.0).contains(&self.oversampling) {
            return Err(Error::InvalidArgument(format!(
                "oversampling must be between 1 and 100, got {}",
                self.oversampling
            )));
        }
        Ok(())
    }

    /// How many candidates to rescore for `want` hits.
    pub(crate) fn candidates(&self, want: usize) -> usize {
        ((want as f64) * f64::from(self.oversampling)).ceil() as usize
    }
}

/// Components sampled to learn the scale: enough for a stable 0.999 quantile.
const SAMPLE: usize = 1 << 20;

/// The int8 codes of a collection's rows.
#[derive(Debug, Clone)]
pub(crate) struct Int8Codes {
    params: Int8Params,
    dim: usize,
    scale: f32,
    codes: Vec<i8>,
}

impl Int8Codes {
    /// Learns the scale from `rows` and encodes them all.
    pub(crate) fn train(rows: RowsRef<'_>, dim: usize, params: Int8Params) -> Result<Int8Codes> {
        params.validate()?;
        let n = rows.len(dim);
        let step = (n * dim / SAMPLE).max(1);
        let mut mags: Vec<f32> = Vec::with_capacity((n * dim / step).min(SAMPLE) + 1);
        for r in (0..n).step_by(step) {
            mags.extend(rows.get(r, dim).iter().map(|x| x.abs()));
        }
        let scale = if mags.is_empty() {
            // Nothing to learn from: unit-range data (normalised vectors) is the common case.
            1.0 / 127.0
        } else {
            let at = ((mags.len() - 1) as f64 * f64::from(params.quantile)).round() as usize;
            let (_, clip, _) = mags.select_nth_unstable_by(at, f32::total_cmp);
            if *clip > 0.0 {
                *clip / 127.0
            } else {
                1.0 / 127.0
            }
        };
        let mut c = Int8Codes {
            params,
            dim,
            scale,
            codes: Vec::with_capacity(n * dim),
        };
        for r in 0..n {
            c.push(&rows.get(r, dim));
        }
        Ok(c)
    }

    pub(crate) fn params(&self) -> Int8Params {
        self.params
    }

    /// Encodes a prepared (normalised under cosine) vector.
    pub(crate) fn encode(&self, v: &[f32]) -> Vec<i8> {
        v.iter().map(|&x| code(self.scale, x)).collect()
    }

    /// Appends the codes of a prepared vector.
    pub(crate) fn push(&mut self, v: &[f32]) {
        let scale = self.scale;
        self.codes.extend(v.iter().map(|&x| code(scale, x)));
    }

    /// Replaces row `i`'s codes.
    pub(crate) fn set(&mut self, i: usize, v: &[f32]) {
        let scale = self.scale;
        let row = &mut self.codes[i * self.dim..(i + 1) * self.dim];
        for (c, &x) in row.iter_mut().zip(v) {
            *c = code(scale, x);
        }
    }

    /// Moves the last row into row `i` and drops the last row.
    pub(crate) fn swap_remove(&mut self, i: usize) {
        swap_remove_row(&mut self.codes, self.dim, i);
    }

    /// Keeps the rows `keep` accepts, in order.
    pub(crate) fn retain_rows(&mut self, keep: impl Fn(usize) -> bool) {
        retain_rows(&mut self.codes, self.dim, keep);
    }

    /// The codes as a search space for `metric`.
    pub(crate) fn space(&self, metric: Metric) -> CodeSpace<'_> {
        let k = int8_kernels();
        let (kernel, sign) = match metric {
            Metric::Cosine | Metric::Dot => (k.dot, 1.0),
            Metric::Euclid => (k.l2sq, -1.0),
            Metric::Manhattan => (k.l1, -1.0),
        };
        CodeSpace {
            codes: &self.codes,
            dim: self.dim,
            kernel,
            sign,
        }
    }
}

/// The code of one component under `scale`.
#[inline]
fn code(scale: f32, x: f32) -> i8 {
    (x / scale).round().clamp(-127.0, 127.0) as i8
}

/// Int8 codes scored against an int8 query.
pub(crate) struct CodeSpace<'a> {
    codes: &'a [i8],
    dim: usize,
    kernel: KernelI8,
    sign: f32,
}

impl CodeSpace<'_> {
    #[inline(always)]
    fn row(&self, r: u32) -> &[i8] {
        let at = r as usize * self.dim;
        &self.codes[at..at + self.dim]
    }
}

impl crate::index::hnsw::space::Space for CodeSpace<'_> {
    type Query = [i8];

    fn len(&self) -> usize {
        self.codes.len() / self.dim
    }

    #[inline(always)]
    fn score(&self, q: &[i8], r: u32) -> f32 {
        self.sign * (self.kernel)(q, self.row(r)) as f32
    }

    #[inline(always)]
    fn prefetch(&self, r: u32) {
        crate::distance::prefetch(bytemuck::cast_slice(self.row(r)), 2);
    }

    fn row_query(&self, r: u32) -> std::borrow::Cow<'_, [i8]> {
        std::borrow::Cow::Borrowed(self.row(r))
    }
}
