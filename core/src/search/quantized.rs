//! Search over quantized codes with full-precision rescoring (see `quantization`).

use crate::config::Metric;
use crate::index::hnsw::space::{with_space, Space};
use crate::search::exact::Candidates;
use crate::topk::{Candidate, TopK};
use crate::vectors::RowsRef;

/// Rows scanned per parallel task: a few thousand rows of codes are already worth a thread
/// (the f32 scan splits at about a million multiply-adds, the same order).
#[cfg(feature = "parallel")]
const PARALLEL_CHUNK: usize = 2_048;

/// How far ahead a scan over listed rows prefetches, in rows.
const PREFETCH_AHEAD: usize = 4;

/// Rows scored before their scores are offered to the top-k.
const SCORE_BLOCK: usize = 64;

/// The `cap` best candidates among `cands` by code score, best first.
pub(crate) fn scan_codes<S: Space>(
    space: &S,
    q: &S::Query,
    cands: Candidates<'_>,
    cap: usize,
) -> Vec<Candidate> {
    let scan = |range: std::ops::Range<usize>| {
        let mut top = TopK::new(cap);
        // Scores of a block first, then the block's pushes: the kernel calls do not wait on
        // the heap's compares, so the CPU overlaps them.
        let mut scores = [0f32; SCORE_BLOCK];
        let mut start = range.start;
        while start < range.end {
            let end = (start + SCORE_BLOCK).min(range.end);
            for (s, i) in scores.iter_mut().zip(start..end) {
                if let Candidates::List(list) = cands {
                    if let Some(&ahead) = list.get(i + PREFETCH_AHEAD) {
                        space.prefetch(ahead);
                    }
                }
                *s = space.score(q, cands.get(i));
            }
            for (&s, i) in scores.iter().zip(start..end) {
                top.push(s, cands.get(i));
            }
            start = end;
        }
        top
    };
    #[cfg(feature = "parallel")]
    if cands.len() >= 2 * PARALLEL_CHUNK {
        use rayon::prelude::*;
        let ranges: Vec<_> = (0..cands.len())
            .step_by(PARALLEL_CHUNK)
            .map(|s| s..(s + PARALLEL_CHUNK).min(cands.len()))
            .collect();
        return ranges
            .into_par_iter()
            .map(scan)
            .reduce_with(|mut a, b| {
                a.merge(b);
                a
            })
            .map_or_else(Vec::new, TopK::into_sorted);
    }
    scan(0..cands.len()).into_sorted()
}

/// The `want` best of `cands` by full-precision rank score against the prepared query `q`,
/// best first.
pub(crate) fn rescore(
    rows: RowsRef<'_>,
    dim: usize,
    metric: Metric,
    q: &[f32],
    cands: &[Candidate],
    want: usize,
) -> Vec<Candidate> {
    with_space!(rows, dim, metric, |space| {
        cands.iter().for_each(|c| space.prefetch(c.offset));
        let mut top = TopK::new(want);
        for c in cands {
            top.push(space.score(q, c.offset), c.offset);
        }
        top.into_sorted()
    })
}
