//! Scoring rows against a query inside graph code. The graph's loops are generic over
//! [`Space`] and instantiated once per stored element type (see [`with_space!`]), so the only
//! indirection per distance is the kernel pointer chosen once at start-up.

use std::borrow::Cow;

use half::f16;

use crate::config::Metric;
use crate::distance::Kernels;
use crate::guard::{Guard, GuardQuery};

/// Rows scored against queries as rank scores (higher is closer).
pub(crate) trait Space: Sync {
    /// What a query is in this space: f32 components, or int8 codes.
    type Query: ?Sized + ToOwned + Sync;
    /// Number of rows.
    fn len(&self) -> usize;
    /// Rank score of row `r` against `q`; NaN (opposite infinities summed) ranks last.
    fn score(&self, q: &Self::Query, r: u32) -> f32;
    /// Asks the CPU to start loading row `r`.
    fn prefetch(&self, r: u32);
    /// Asks the CPU to load the rest of row `r` (past what [`Space::prefetch`] hinted), just
    /// before it is scored.
    #[inline(always)]
    fn prefetch_rest(&self, _r: u32) {}
    /// Row `r` as a query: borrowed in place where the stored form is the query form.
    fn row_query(&self, r: u32) -> Cow<'_, Self::Query>;
    /// Whether [`Space::bound`] bounds anything (a guarded space, `crate::guard`).
    const GUARDED: bool = false;
    /// An upper bound of `score(q, r)`, read from less than the row.
    #[inline(always)]
    fn bound(&self, _q: &Self::Query, _r: u32) -> f32 {
        f32::INFINITY
    }
    /// Asks the CPU to start loading what [`Space::bound`] reads of row `r`.
    #[inline(always)]
    fn prefetch_bound(&self, _r: u32) {}
}

/// A float space whose rows have guard codes: scores as `inner`, and bounds them from the codes
/// (see `crate::guard`).
pub(crate) struct Guarded<'a, S> {
    pub(crate) inner: &'a S,
    pub(crate) guard: &'a Guard,
    pub(crate) query: GuardQuery,
}

impl<S: Space<Query = [f32]>> Space for Guarded<'_, S> {
    type Query = [f32];
    const GUARDED: bool = true;

    #[inline(always)]
    fn len(&self) -> usize {
        self.inner.len()
    }

    #[inline(always)]
    fn score(&self, q: &[f32], r: u32) -> f32 {
        self.inner.score(q, r)
    }

    #[inline(always)]
    fn prefetch(&self, r: u32) {
        self.inner.prefetch(r);
    }

    #[inline(always)]
    fn prefetch_rest(&self, r: u32) {
        self.inner.prefetch_rest(r);
    }

    fn row_query(&self, r: u32) -> Cow<'_, [f32]> {
        self.inner.row_query(r)
    }

    #[inline(always)]
    fn bound(&self, _q: &[f32], r: u32) -> f32 {
        self.guard.bound(&self.query, r)
    }

    #[inline(always)]
    fn prefetch_bound(&self, r: u32) {
        self.guard.prefetch(r);
    }
}

/// A stored element type.
pub(crate) trait Element: bytemuck::Pod + Sync {
    fn widen(row: &[Self]) -> Cow<'_, [f32]>;
}

impl Element for f32 {
    fn widen(row: &[f32]) -> Cow<'_, [f32]> {
        Cow::Borrowed(row)
    }
}

impl Element for f16 {
    fn widen(row: &[f16]) -> Cow<'_, [f32]> {
        Cow::Owned(crate::distance::scalar::widen_f16(row).collect())
    }
}

/// Rows of element type `T` scored with one kernel.
pub(crate) struct Rows<'a, T> {
    pub(crate) rows: &'a [T],
    pub(crate) dim: usize,
    pub(crate) kernel: fn(&[f32], &[T]) -> f32,
    /// +1 where a larger kernel value is closer (dot), -1 where it is farther (distances).
    pub(crate) sign: f32,
}

#[cfg(feature = "fs")]
/// Rows gathered from several stores: row `r` is row `origin[r].1` of `parts[origin[r].0]`.
/// A checkpoint links rows through this before the file that will number them exists.
pub(crate) struct Gathered<'a, T> {
    pub(crate) parts: Vec<&'a [T]>,
    pub(crate) origin: &'a [(u32, u32)],
    pub(crate) dim: usize,
    pub(crate) kernel: fn(&[f32], &[T]) -> f32,
    pub(crate) sign: f32,
}

#[cfg(feature = "fs")]
impl<T: Element> FloatRows for Gathered<'_, T> {
    type Elem = T;

    fn count(&self) -> usize {
        self.origin.len()
    }

    #[inline(always)]
    fn row(&self, r: u32) -> &[T] {
        let (p, i) = self.origin[r as usize];
        let at = i as usize * self.dim;
        &self.parts[p as usize][at..at + self.dim]
    }

    #[inline(always)]
    fn kernel(&self) -> (Kernel<T>, f32) {
        (self.kernel, self.sign)
    }
}

/// The kernel table and sign for a metric.
pub(crate) fn kernels_for(metric: Metric) -> (&'static Kernels, f32) {
    let sign = if metric.higher_is_closer() { 1.0 } else { -1.0 };
    (Kernels::detected(), sign)
}

/// Evaluates `$body` with `$space` bound to the [`Rows`] space of `$rows` (a `RowsRef`) for
/// `$metric`, compiled once per stored element type.
macro_rules! with_space {
    ($rows:expr, $dim:expr, $metric:expr, |$space:ident| $body:expr) => {{
        let (k, sign) = $crate::index::hnsw::space::kernels_for($metric);
        match $rows {
            $crate::vectors::RowsRef::F32(rows) => {
                let $space = &$crate::index::hnsw::space::Rows {
                    rows,
                    dim: $dim,
                    kernel: k.f32_for($metric),
                    sign,
                };
                $body
            }
            $crate::vectors::RowsRef::F16(rows) => {
                let $space = &$crate::index::hnsw::space::Rows {
                    rows,
                    dim: $dim,
                    kernel: k.f16_for($metric),
                    sign,
                };
                $body
            }
        }
    }};
}
pub(crate) use with_space;

/// Pulls the first cache lines of `bytes` toward the core: the first lines only, because the
/// hardware streamer takes over on longer vectors and more hints would flood the load queue.
#[inline(always)]
pub(crate) fn prefetch_bytes(bytes: &[u8]) {
    crate::distance::prefetch(bytes, PREFETCH_LINES);
}

/// Cache lines of each row hinted before it is scored.
const PREFETCH_LINES: usize = 2;

impl<T: Element> FloatRows for Rows<'_, T> {
    type Elem = T;

    #[inline(always)]
    fn count(&self) -> usize {
        self.rows.len() / self.dim
    }

    #[inline(always)]
    fn row(&self, r: u32) -> &[T] {
        let at = r as usize * self.dim;
        &self.rows[at..at + self.dim]
    }

    #[inline(always)]
    fn kernel(&self) -> (Kernel<T>, f32) {
        (self.kernel, self.sign)
    }
}

/// A float kernel over an f32 query and a stored row of `T`.
pub(crate) type Kernel<T> = fn(&[f32], &[T]) -> f32;

/// Stores of float rows scored by one float kernel (rows in place, or gathered from several
/// stores); the one [`Space`] implementation below serves them all.
pub(crate) trait FloatRows: Sync {
    type Elem: Element;
    /// Number of rows.
    fn count(&self) -> usize;
    /// Row `r` as stored.
    fn row(&self, r: u32) -> &[Self::Elem];
    /// The kernel, and +1 where a larger kernel value is closer or -1 where it is farther.
    fn kernel(&self) -> (Kernel<Self::Elem>, f32);
}

impl<S: FloatRows> Space for S {
    type Query = [f32];

    #[inline(always)]
    fn len(&self) -> usize {
        self.count()
    }

    #[inline(always)]
    fn score(&self, q: &[f32], r: u32) -> f32 {
        let (kernel, sign) = self.kernel();
        let s = sign * kernel(q, self.row(r));
        if s.is_nan() {
            f32::NEG_INFINITY
        } else {
            s
        }
    }

    #[inline(always)]
    fn prefetch(&self, r: u32) {
        prefetch_bytes(bytemuck::cast_slice(self.row(r)));
    }

    #[inline(always)]
    fn prefetch_rest(&self, r: u32) {
        let bytes: &[u8] = bytemuck::cast_slice(self.row(r));
        if let Some(rest) = bytes.get(PREFETCH_LINES * 64..) {
            crate::distance::prefetch(rest, usize::MAX);
        }
    }

    fn row_query(&self, r: u32) -> Cow<'_, [f32]> {
        S::Elem::widen(self.row(r))
    }
}

/// The rows of `space` listed in `rows`, renumbered `0..rows.len()`: the space a graph over
/// part of a collection is built and walked in (a value graph, `crate::index::value_graphs`).
pub(crate) struct Subset<'a, S: ?Sized> {
    pub(crate) space: &'a S,
    pub(crate) rows: &'a [u32],
}

impl<S: Space + ?Sized> Space for Subset<'_, S> {
    type Query = S::Query;
    const GUARDED: bool = S::GUARDED;

    #[inline(always)]
    fn bound(&self, q: &Self::Query, r: u32) -> f32 {
        self.space.bound(q, self.rows[r as usize])
    }

    #[inline(always)]
    fn prefetch_bound(&self, r: u32) {
        self.space.prefetch_bound(self.rows[r as usize]);
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.rows.len()
    }

    #[inline(always)]
    fn score(&self, q: &Self::Query, r: u32) -> f32 {
        self.space.score(q, self.rows[r as usize])
    }

    #[inline(always)]
    fn prefetch(&self, r: u32) {
        self.space.prefetch(self.rows[r as usize]);
    }

    #[inline(always)]
    fn prefetch_rest(&self, r: u32) {
        self.space.prefetch_rest(self.rows[r as usize]);
    }

    fn row_query(&self, r: u32) -> Cow<'_, Self::Query> {
        self.space.row_query(self.rows[r as usize])
    }
}
