//! Exact (flat) search: every candidate row is scored against every query.
//!
//! Cache blocking: rows are visited in blocks of about [`BLOCK_BYTES`], and each block is scored
//! against every query of the batch before moving on, so a batch of queries reads the vectors
//! from memory once rather than once per query. With the `parallel` feature the candidates are
//! split into contiguous ranges scanned by rayon workers, each keeping its own top-k per query;
//! the per-range results are merged at the end. Ties resolve by row offset, so the split does
//! not change the answer.

use half::f16;

use crate::config::Metric;
use crate::distance::Kernels;
use crate::topk::TopK;
use crate::vectors::RowsRef;

/// Bytes of vectors per block: half of a typical 512 KiB–1 MiB L2, leaving room for queries.
const BLOCK_BYTES: usize = 256 * 1024;

/// How far ahead a scan over listed rows prefetches, in rows, and how many lines of that row.
const PREFETCH_AHEAD: usize = 2;
const PREFETCH_AHEAD_LINES: usize = 64;

/// Below this many multiply-adds a batch is scanned on the calling thread.
#[cfg(feature = "parallel")]
const PARALLEL_MIN_WORK: usize = 1 << 20;

/// Which rows to score.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Candidates<'a> {
    /// Rows `0..n`.
    All(usize),
    /// These row offsets.
    List(&'a [u32]),
}

impl Candidates<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Candidates::All(n) => *n,
            Candidates::List(l) => l.len(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        match self {
            // Offsets fit u32: the collection caps its size at u32::MAX rows.
            Candidates::All(_) => i as u32,
            Candidates::List(l) => l[i],
        }
    }
}

/// One query of a batch: a prepared vector (normalised under cosine) and how many of the
/// closest rows to keep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'a> {
    pub(crate) vector: &'a [f32],
    pub(crate) cap: usize,
}

/// The rank score of a kernel result: higher is closer for every metric.
#[inline]
pub(crate) fn rank_score(metric: Metric, raw: f32) -> f32 {
    if metric.higher_is_closer() {
        raw
    } else {
        -raw
    }
}

/// The user-facing score of a rank score: similarity for cosine and dot, distance otherwise.
pub(crate) fn user_score(metric: Metric, rank: f32) -> f32 {
    match metric {
        Metric::Cosine | Metric::Dot => rank,
        Metric::Euclid => (-rank).max(0.0).sqrt(),
        Metric::Manhattan => -rank,
    }
}

/// Scores `cands` against every query; returns one top-k per query, in query order.
pub(crate) fn scan(
    rows: RowsRef<'_>,
    dim: usize,
    metric: Metric,
    kernels: &Kernels,
    cands: Candidates<'_>,
    queries: &[Query<'_>],
) -> Vec<TopK> {
    match rows {
        RowsRef::F32(r) => {
            scan_typed::<f32>(r, dim, kernels.f32_for(metric), metric, cands, queries)
        }
        RowsRef::F16(r) => {
            scan_typed::<f16>(r, dim, kernels.f16_for(metric), metric, cands, queries)
        }
    }
}

fn scan_typed<T: Sync + bytemuck::Pod>(
    rows: &[T],
    dim: usize,
    kernel: fn(&[f32], &[T]) -> f32,
    metric: Metric,
    cands: Candidates<'_>,
    queries: &[Query<'_>],
) -> Vec<TopK> {
    let total = cands.len();
    let block = (BLOCK_BYTES / (dim * std::mem::size_of::<T>())).max(8);
    let scan_range = |range: std::ops::Range<usize>| -> Vec<TopK> {
        let mut tops: Vec<TopK> = queries.iter().map(|q| TopK::new(q.cap)).collect();
        // A block's scores are computed first, then offered to the top-k: the kernel calls
        // do not wait on the heap's compares, so the CPU overlaps them.
        let mut scores = vec![0f32; block];
        let mut start = range.start;
        while start < range.end {
            let end = (start + block).min(range.end);
            for (q, top) in queries.iter().zip(tops.iter_mut()) {
                for (s, i) in scores.iter_mut().zip(start..end) {
                    if let Candidates::List(list) = cands {
                        // Listed rows are scattered, out of the hardware prefetcher's reach:
                        // start loading a row a few ahead of the one being scored.
                        if let Some(&ahead) = list.get(i + PREFETCH_AHEAD) {
                            let at = ahead as usize * dim;
                            crate::distance::prefetch(
                                bytemuck::cast_slice(&rows[at..at + dim]),
                                PREFETCH_AHEAD_LINES,
                            );
                        }
                    }
                    let at = cands.get(i) as usize * dim;
                    *s = kernel(q.vector, &rows[at..at + dim]);
                }
                for (&raw, i) in scores.iter().zip(start..end) {
                    top.push(rank_score(metric, raw), cands.get(i));
                }
            }
            start = end;
        }
        tops
    };

    #[cfg(feature = "parallel")]
    {
        let work = total.saturating_mul(dim).saturating_mul(queries.len());
        let threads = rayon::current_num_threads();
        if work >= PARALLEL_MIN_WORK && threads > 1 && total > block {
            use rayon::prelude::*;
            // A few ranges per thread for load balance, each a whole number of blocks.
            let per = total.div_ceil(threads * 4).div_ceil(block) * block;
            let ranges: Vec<_> = (0..total)
                .step_by(per)
                .map(|s| s..(s + per).min(total))
                .collect();
            return ranges
                .into_par_iter()
                .map(scan_range)
                .reduce_with(|mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.merge(y);
                    }
                    a
                })
                .unwrap_or_else(|| queries.iter().map(|q| TopK::new(q.cap)).collect());
        }
    }
    scan_range(0..total)
}
