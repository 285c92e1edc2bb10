//! Dense vector storage for one collection: one contiguous buffer, row `i` at `i * dim`.
//!
//! Invariant: every stored row is finite, fits the stored type, and is unit length (up to the
//! stored type's rounding) under cosine. Validation happens before anything is written, so a
//! rejected batch leaves the store untouched.

use half::f16;

use crate::bitset::Bitset;
use crate::config::{CollectionConfig, Metric, VectorType};
use crate::error::{Error, Result};
use crate::line_vec::LineVec;

/// The rows, in the collection's stored type.
#[derive(Debug, Clone)]
enum Rows {
    F32(LineVec<f32>),
    F16(LineVec<f16>),
}

/// A borrowed view of rows in the stored type: from memory or straight from a file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowsRef<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

impl<'a> RowsRef<'a> {
    /// Number of rows of dimension `dim`.
    pub(crate) fn len(&self, dim: usize) -> usize {
        match self {
            RowsRef::F32(r) => r.len() / dim.max(1),
            RowsRef::F16(r) => r.len() / dim.max(1),
        }
    }

    /// Row `i` widened to f32.
    pub(crate) fn get(&self, i: usize, dim: usize) -> Vec<f32> {
        let range = i * dim..(i + 1) * dim;
        match self {
            RowsRef::F32(r) => r[range].to_vec(),
            RowsRef::F16(r) => crate::distance::scalar::widen_f16(&r[range]).collect(),
        }
    }

    /// Row `i` as its stored bytes.
    pub(crate) fn bytes(&self, i: usize, dim: usize) -> &'a [u8] {
        let range = i * dim..(i + 1) * dim;
        match *self {
            RowsRef::F32(r) => bytemuck::cast_slice(&r[range]),
            RowsRef::F16(r) => bytemuck::cast_slice(&r[range]),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct VectorStore {
    dim: usize,
    rows: Rows,
}

/// Checks one input vector against the configuration; `context` says where it came from.
pub(crate) fn validate(
    config: &CollectionConfig,
    v: &[f32],
    context: &dyn Fn() -> String,
) -> Result<()> {
    if v.len() != config.dim {
        return Err(Error::DimensionMismatch {
            expected: config.dim,
            got: v.len(),
            context: context(),
        });
    }
    // The common case, every component finite, is checked without an early exit so it
    // vectorises; the position is looked for only when something is wrong.
    let finite = v.iter().fold(true, |ok, x| ok & x.is_finite());
    if let Some(i) = (!finite)
        .then(|| v.iter().position(|x| !x.is_finite()))
        .flatten()
    {
        return Err(Error::InvalidVector {
            context: context(),
            reason: format!("component {i} is {}; vectors must be finite", v[i]),
        });
    }
    if config.vector_type == VectorType::F16 && config.metric != Metric::Cosine {
        let max = f16::MAX.to_f32();
        if let Some(i) = v.iter().position(|x| x.abs() > max) {
            return Err(Error::InvalidVector {
                context: context(),
                reason: format!(
                    "component {i} is {}, outside the f16 range ±{max}; store this collection as f32",
                    v[i]
                ),
            });
        }
    }
    if config.metric == Metric::Cosine && norm(v) == 0.0 {
        return Err(Error::InvalidVector {
            context: context(),
            reason: "the zero vector has no direction, so cosine similarity is undefined for it"
                .into(),
        });
    }
    Ok(())
}

/// Euclidean norm, accumulated in f64 so huge finite components cannot overflow it; eight
/// independent sums so the loop vectorises instead of waiting on one chain of additions.
pub(crate) fn norm(v: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f64::from(x) * f64::from(x);
        }
    }
    (acc.iter().sum::<f64>() + tail).sqrt()
}

/// The vector as the collection compares it: normalised under cosine, unchanged otherwise.
/// `v` must have passed [`validate`].
pub(crate) fn prepared(metric: Metric, v: &[f32]) -> std::borrow::Cow<'_, [f32]> {
    if metric == Metric::Cosine {
        let mut buf = Vec::with_capacity(v.len());
        normalise_into(v, &mut buf);
        buf.into()
    } else {
        v.into()
    }
}

/// [`prepared`] into a reused buffer: `raw` itself unless the metric normalises.
pub(crate) fn prepared_into<'a>(
    metric: Metric,
    raw: &'a [f32],
    buf: &'a mut Vec<f32>,
) -> &'a [f32] {
    if metric != Metric::Cosine {
        return raw;
    }
    normalise_into(raw, buf);
    buf
}

/// `v` scaled to unit length into `buf` (cleared first). `v` must not be zero.
fn normalise_into(v: &[f32], buf: &mut Vec<f32>) {
    let inv = 1.0 / norm(v);
    buf.clear();
    buf.extend(v.iter().map(|&x| (f64::from(x) * inv) as f32));
}

impl VectorStore {
    pub(crate) fn new(config: &CollectionConfig) -> VectorStore {
        let rows = match config.vector_type {
            VectorType::F32 => Rows::F32(LineVec::new()),
            VectorType::F16 => Rows::F16(LineVec::new()),
        };
        VectorStore {
            dim: config.dim,
            rows,
        }
    }

    pub(crate) fn rows(&self) -> RowsRef<'_> {
        match &self.rows {
            Rows::F32(r) => RowsRef::F32(r),
            Rows::F16(r) => RowsRef::F16(r),
        }
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        let extra = n.saturating_mul(self.dim);
        match &mut self.rows {
            Rows::F32(r) => r.reserve(extra),
            Rows::F16(r) => r.reserve(extra),
        }
    }

    /// Appends a validated vector already [`prepared`] for the metric.
    pub(crate) fn push(&mut self, v: &[f32]) {
        self.reserve(1);
        match &mut self.rows {
            Rows::F32(r) => r.extend_from_slice(v),
            Rows::F16(r) => r.extend(v.iter().map(|&x| f16::from_f32(x))),
        }
    }

    /// Appends row `i` of `from`, which holds this store's type, as stored: already prepared,
    /// so it is not normalised again.
    pub(crate) fn push_stored(&mut self, from: RowsRef<'_>, i: usize) {
        let range = i * self.dim..(i + 1) * self.dim;
        self.reserve(1);
        match (&mut self.rows, from) {
            (Rows::F32(r), RowsRef::F32(src)) => r.extend_from_slice(&src[range]),
            (Rows::F16(r), RowsRef::F16(src)) => r.extend_from_slice(&src[range]),
            (Rows::F32(r), RowsRef::F16(src)) => {
                r.extend(crate::distance::scalar::widen_f16(&src[range]))
            }
            (Rows::F16(r), RowsRef::F32(src)) => {
                r.extend(src[range].iter().map(|&x| f16::from_f32(x)))
            }
        }
    }

    /// Overwrites row `i` with a validated vector already [`prepared`] for the metric.
    pub(crate) fn set(&mut self, i: usize, v: &[f32]) {
        let range = i * self.dim..(i + 1) * self.dim;
        match &mut self.rows {
            Rows::F32(r) => r[range].copy_from_slice(v),
            Rows::F16(r) => {
                for (dst, &x) in r[range].iter_mut().zip(v.iter()) {
                    *dst = f16::from_f32(x);
                }
            }
        }
    }

    /// Drops the rows in `dead`, keeping the others in order.
    pub(crate) fn remove_rows(&mut self, dead: &Bitset) {
        let keep = |r: usize| !dead.contains(r);
        match &mut self.rows {
            Rows::F32(r) => retain_rows(r, self.dim, keep),
            Rows::F16(r) => retain_rows(r, self.dim, keep),
        }
    }

    /// Moves the last row into row `i` and drops the last row.
    pub(crate) fn swap_remove(&mut self, i: usize) {
        match &mut self.rows {
            Rows::F32(r) => swap_remove_row(r, self.dim, i),
            Rows::F16(r) => swap_remove_row(r, self.dim, i),
        }
    }
}

/// Keeps the rows (of `width` elements, back to back in `buf`) that `keep` accepts, in order.
pub(crate) fn retain_rows<T: bytemuck::Pod>(
    buf: &mut LineVec<T>,
    width: usize,
    keep: impl Fn(usize) -> bool,
) {
    let mut to = 0;
    for from in 0..buf.len() / width {
        if keep(from) {
            buf.copy_within(from * width..(from + 1) * width, to * width);
            to += 1;
        }
    }
    buf.truncate(to * width);
}

/// Moves the last row (of `width` elements) of `buf` into row `i` and drops the last row.
pub(crate) fn swap_remove_row<T: bytemuck::Pod>(buf: &mut LineVec<T>, width: usize, i: usize) {
    let last = buf.len() / width - 1;
    if i != last {
        buf.copy_within(last * width..(last + 1) * width, i * width);
    }
    buf.truncate(last * width);
}
