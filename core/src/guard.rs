//! Guard codes: int8 codes kept beside full-precision rows so that a graph walk reads a row only
//! when it might keep it.
//!
//! Key design decisions:
//! - **A bound, never an estimate.** A walk over full-precision rows rejects most rows it scores
//!   (on wordnet-minilm at ef 24, three quarters score at least 0.05 below the worst of the best
//!   `ef` so far). For each candidate the walk first computes, from the row's int8 code (a
//!   quarter of an f32 row's bytes) and two numbers kept per row, an upper bound of the score
//!   the row's own kernel would give; only when the bound reaches the current worst does it read
//!   the row. A row skipped this way would have been rejected, so the walk takes the same steps
//!   and returns the same rows and scores as without the guard: recall is the full-precision
//!   walk's, only fewer rows are read (wordnet: a quarter of them).
//! - **The bound.** With one scale `s` for all components (as int8 quantization learns it),
//!   `x = s·c + e` for a row's code `c` and error `e`, and the same for the query. Then
//!   `q·x = s²·(c_q·c_x) + s·(e_q·c_x) + q·e_x`, bounded by Cauchy–Schwarz with `|e_q|`, `|s c_x|`,
//!   `|q|` and `|e_x|`; a distance differs from the codes' distance by at most `|e_q| + |e_x|`
//!   (triangle inequality; L1 norms of the errors for Manhattan). Each row keeps its `|e_x|` and
//!   `|s c_x|`, rounded up, so clipped components (beyond the scale's range) are accounted for
//!   like any other error. The float kernels round; the bound adds a margin for that well beyond
//!   their error (`dim · 2⁻²⁴` of the terms' size).
//! - **Only where rows are long f32 and resident.** Rows of fewer than [`GUARD_MIN_ROW_BYTES`]
//!   bytes lie on too few lines for a code to save much (measured at 128 components: nothing);
//!   an f16 row is only twice its code, which did not pay for the extra step (measured); rows
//!   of a mapped file are not read whole to make codes (that would load the file the map
//!   exists to leave on disk); quantized collections walk their codes already.

use std::borrow::Cow;

use crate::config::Metric;
use crate::distance::int8::{int8_kernels, KernelI8};
use crate::error::Result;
use crate::quantization::{Int8Codes, Int8Params, RowReader};
use crate::vectors::RowsRef;

/// Shortest stored row (in bytes) worth a guard: 16 cache lines (256 f32 components). Measured:
/// 384-d f32 rows (24 lines) walked 20-30% faster with guards; 128-d ones (8 lines, the
/// synthetic 1M set) no faster (the codes' 2 lines and the extra step cost what the rows
/// skipped saved), so they have none and spare the memory.
pub(crate) const GUARD_MIN_ROW_BYTES: usize = 1024;

/// Relative margin added to every bound for the rounding of the float kernels and of the bound
/// itself: `dim · 2⁻²⁴` (a sum's worst case) plus this.
const ROUNDING: f32 = 1e-6;

/// Int8 codes of every row, each with `[|e_x|, |s c_x|]` (see the module), in row order and kept
/// current by every write like the rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Guard {
    codes: Int8Codes,
    metric: Metric,
    /// Per row: the norm of its error (L1 for Manhattan, L2 otherwise) and the L2 norm of its
    /// decoded code, both rounded up.
    norms: Vec<[f32; 2]>,
}

/// A query prepared for a [`Guard`].
pub(crate) struct GuardQuery {
    codes: Vec<i8>,
    /// The norm of the query's own error (L1 for Manhattan, L2 otherwise), rounded up.
    error: f32,
    /// `|q|`, rounded up.
    norm: f32,
    /// The relative margin for rounding at this query's length: `dim · 2⁻²⁴` plus
    /// [`ROUNDING`].
    rounding: f32,
    kernel: KernelI8,
}

/// For a vector `v` and its codes `c` at scale `s`: the norm of the error `v - s·c` (L1 under
/// Manhattan, L2 otherwise), `|s·c|` and `|v|`, each rounded up.
fn norms(metric: Metric, s: f32, v: &[f32], c: &[i8]) -> [f32; 3] {
    let s = f64::from(s);
    let (mut error, mut decoded, mut norm) = (0f64, 0f64, 0f64);
    for (&x, &c) in v.iter().zip(c) {
        let (x, xh) = (f64::from(x), s * f64::from(c));
        error += match metric {
            Metric::Manhattan => (x - xh).abs(),
            _ => (x - xh) * (x - xh),
        };
        decoded += xh * xh;
        norm += x * x;
    }
    let error = match metric {
        Metric::Manhattan => error,
        _ => error.sqrt(),
    };
    [error, decoded.sqrt(), norm.sqrt()].map(|n| up(n * (1.0 + 1e-9)))
}

/// `v` rounded up to f32.
fn up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v {
        f.next_up()
    } else {
        f
    }
}

impl Guard {
    /// Whether f32 rows of `dim` components are worth a guard: at least
    /// [`GUARD_MIN_ROW_BYTES`]. (f16 rows never are: a code is half such a row, too much to save
    /// reading the rest; wordnet f16, ef 24: 11-16k queries/s with a guard against 16-20k
    /// without.) wasm32 builds have them too: Chromium walks on wordnet +34% at ef 24 and
    /// +33-35% at ef 16 and 64 (interleaved A/B), once the row's norms are touched with its
    /// codes (see [`Guard::prefetch`]).
    fn worth(dim: usize) -> bool {
        dim * std::mem::size_of::<f32>() >= GUARD_MIN_ROW_BYTES
    }

    /// Codes for rows `0..n` (read through `row`, prepared for `metric`).
    pub(crate) fn train(n: usize, dim: usize, metric: Metric, row: RowReader<'_>) -> Result<Guard> {
        let codes = Int8Codes::train(n, dim, Int8Params::default(), row)?;
        let mut norms = Vec::with_capacity(n);
        for r in 0..n {
            norms.push(Self::norms_of(&codes, metric, r, &row(r)?));
        }
        Ok(Guard {
            codes,
            metric,
            norms,
        })
    }

    /// Codes for every row of `rows`, when they are f32 rows worth one.
    pub(crate) fn of_rows(rows: RowsRef<'_>, dim: usize, metric: Metric) -> Option<Guard> {
        let RowsRef::F32(data) = rows else {
            return None;
        };
        let n = rows.len(dim);
        if n == 0 || !Self::worth(dim) {
            return None;
        }
        let row = |r: usize| Ok(Cow::Borrowed(&data[r * dim..(r + 1) * dim]));
        Self::train(n, dim, metric, &row).ok()
    }

    /// `[|e_x|, |s c_x|]` of row `r`, whose prepared vector is `v`.
    fn norms_of(codes: &Int8Codes, metric: Metric, r: usize, v: &[f32]) -> [f32; 2] {
        let [error, decoded, _] = norms(metric, codes.scale(), v, codes.row(r));
        [error, decoded]
    }

    /// Appends the codes of a prepared vector (as stored: guards are only over f32 rows).
    pub(crate) fn push(&mut self, v: &[f32]) {
        self.codes.push(v);
        let r = self.norms.len();
        self.norms
            .push(Self::norms_of(&self.codes, self.metric, r, v));
    }

    /// Replaces row `i`'s codes.
    pub(crate) fn set(&mut self, i: usize, v: &[f32]) {
        self.codes.set(i, v);
        self.norms[i] = Self::norms_of(&self.codes, self.metric, i, v);
    }

    /// Moves the last row into row `i` and drops the last row.
    pub(crate) fn swap_remove(&mut self, i: usize) {
        self.codes.swap_remove(i);
        self.norms.swap_remove(i);
    }

    /// Keeps the rows `keep` accepts, in order.
    pub(crate) fn retain_rows(&mut self, keep: impl Fn(usize) -> bool) {
        self.codes.retain_rows(&keep);
        let mut r = 0;
        self.norms.retain(|_| {
            r += 1;
            keep(r - 1)
        });
    }

    /// Number of rows.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.norms.len()
    }

    /// The prepared query `q` (normalised under cosine) for bounds.
    pub(crate) fn query(&self, q: &[f32]) -> GuardQuery {
        let codes = self.codes.encode(q);
        let [error, _, norm] = norms(self.metric, self.codes.scale(), q, &codes);
        GuardQuery {
            codes,
            error,
            norm,
            rounding: q.len() as f32 * f32::EPSILON / 2.0 + ROUNDING,
            kernel: int8_kernels().for_metric(self.metric),
        }
    }

    /// An upper bound of the rank score the float kernel gives row `r` against the query `g`
    /// was prepared from (see the module).
    #[inline(always)]
    pub(crate) fn bound(&self, g: &GuardQuery, r: u32) -> f32 {
        let s = self.codes.scale();
        let code = self.codes.row(r as usize);
        let [error, decoded] = self.norms[r as usize];
        let raw = (g.kernel)(&g.codes, code) as f32;
        match self.metric {
            Metric::Cosine | Metric::Dot => {
                let slack = g.error * decoded + g.norm * error;
                // The kernel's terms sum in size to at most |q| |x| <= |q| (|s c_x| + |e_x|).
                let size = g.norm * (decoded + error);
                let near = s * s * raw;
                near + slack * (1.0 + ROUNDING) + g.rounding * (size + near.abs())
            }
            Metric::Euclid => {
                let apart =
                    s * raw.sqrt() * (1.0 - ROUNDING) - (g.error + error) * (1.0 + ROUNDING);
                let near = apart.max(0.0);
                -(near * near) * (1.0 - g.rounding)
            }
            Metric::Manhattan => {
                let apart = s * raw * (1.0 - ROUNDING) - (g.error + error) * (1.0 + ROUNDING);
                -apart.max(0.0) * (1.0 - g.rounding)
            }
        }
    }

    /// Asks the CPU to start loading what [`Guard::bound`] reads of row `r`: its code and its
    /// norms (another array, so another cache line). In wasm32, where these are loads that
    /// wait, touching the norms too took guarded Chromium walks from +11% to +34% over
    /// unguarded ones (wordnet, ef 24, interleaved; without it an earlier session measured
    /// them slower and left wasm32 without guards); natively it changes nothing measurable.
    #[inline(always)]
    pub(crate) fn prefetch(&self, r: u32) {
        let r = r as usize;
        crate::distance::prefetch(bytemuck::cast_slice(self.codes.row(r)), usize::MAX);
        if let Some(norms) = self.norms.get(r..=r) {
            crate::distance::prefetch(bytemuck::cast_slice(norms), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;
    use crate::index::hnsw::space::{with_space, Space};
    use crate::vectors::prepared;

    /// `n` prepared rows of `dim` components, scaled by `size`; with `spikes`, every 7th has a
    /// component far beyond the rest (clipped by the codes).
    fn rows(n: usize, dim: usize, metric: Metric, size: f32, seed: u64, spikes: bool) -> Vec<f32> {
        let mut rng = stratavec_testkit::Rng::new(seed);
        (0..n)
            .flat_map(|r| {
                let mut v: Vec<f32> = (0..dim).map(|_| size * rng.signed()).collect();
                if spikes && r % 7 == 0 {
                    v[r % dim] = 40.0 * size;
                }
                prepared(metric, &v).into_owned()
            })
            .collect()
    }

    /// Checks that every row's bound is at least its float score for `queries`, and returns
    /// the mean of bound minus score.
    fn check(data: RowsRef<'_>, dim: usize, metric: Metric, queries: &[f32]) -> f64 {
        let guard = Guard::of_rows(data, dim, metric).expect("long rows have a guard");
        let n = data.len(dim);
        assert_eq!(guard.len(), n);
        let (mut gap, mut count) = (0f64, 0usize);
        with_space!(data, dim, metric, |space| {
            for q in queries.chunks_exact(dim) {
                let g = guard.query(q);
                for r in 0..n as u32 {
                    let (score, bound) = (space.score(q, r), guard.bound(&g, r));
                    assert!(
                        bound >= score,
                        "{metric}: row {r}: bound {bound} below the score {score}"
                    );
                    gap += f64::from(bound - score);
                    count += 1;
                }
            }
        });
        gap / count as f64
    }

    #[test]
    fn bounds_are_never_below_the_kernels_score() {
        let dim = 256;
        for metric in Metric::ALL {
            for size in [1e-3f32, 1.0, 300.0] {
                let data = rows(300, dim, metric, size, 3, true);
                let queries = rows(20, dim, metric, size, 4, true);
                // Queries far outside the rows' range (clipped everywhere) too.
                let far: Vec<f32> = queries.iter().map(|x| x * 50.0).collect();
                let far = if metric == Metric::Cosine {
                    queries.clone()
                } else {
                    far
                };
                check(RowsRef::F32(&data), dim, metric, &queries);
                check(RowsRef::F32(&data), dim, metric, &far);
                let halves: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
                assert!(Guard::of_rows(RowsRef::F16(&halves), dim, metric).is_none());
            }
        }
    }

    #[test]
    fn bounds_are_close_enough_to_skip_rows() {
        // Unit vectors in 384 dimensions: a bound is within a few hundredths of the score,
        // while scores of unrelated rows spread over tenths.
        let dim = 384;
        let data = rows(400, dim, Metric::Cosine, 1.0, 5, false);
        let queries = rows(10, dim, Metric::Cosine, 1.0, 6, false);
        let gap = check(RowsRef::F32(&data), dim, Metric::Cosine, &queries);
        assert!(gap < 0.05, "mean gap between bound and score {gap}");
    }

    #[test]
    fn writes_keep_codes_and_rows_in_step() {
        let (dim, metric) = (256, Metric::Euclid);
        let data = rows(200, dim, metric, 1.0, 7, true);
        let mut guard = Guard::of_rows(RowsRef::F32(&data), dim, metric).unwrap();
        let mut held: Vec<Vec<f32>> = data.chunks_exact(dim).map(<[f32]>::to_vec).collect();
        let extra = rows(50, dim, metric, 2.0, 8, true);
        for v in extra.chunks_exact(dim) {
            guard.push(v);
            held.push(v.to_vec());
        }
        guard.set(3, &extra[..dim]);
        held[3] = extra[..dim].to_vec();
        guard.swap_remove(10);
        held.swap_remove(10);
        guard.retain_rows(|r| r % 3 != 0);
        let held: Vec<f32> = held
            .into_iter()
            .enumerate()
            .filter(|(r, _)| r % 3 != 0)
            .flat_map(|(_, v)| v)
            .collect();
        assert_eq!(guard.len(), held.len() / dim);
        // The same as codes made afresh, at the same scale, for the rows now held.
        let mut fresh = Guard::of_rows(RowsRef::F32(&data), dim, metric).unwrap();
        fresh.retain_rows(|_| false);
        for v in held.chunks_exact(dim) {
            fresh.push(v);
        }
        assert!(guard == fresh, "codes or norms out of step with the rows");
    }

    #[test]
    fn short_rows_have_no_guard() {
        let data = rows(100, 128, Metric::Dot, 1.0, 9, false);
        assert!(Guard::of_rows(RowsRef::F32(&data), 128, Metric::Dot).is_none());
        assert!(Guard::of_rows(RowsRef::F32(&[]), 128, Metric::Dot).is_none());
    }
}
