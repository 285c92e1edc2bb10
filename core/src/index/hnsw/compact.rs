//! Compaction: dropping tombstoned rows from a graph and renumbering the rest.
//!
//! A live row that linked to a dropped row is reconnected from a two-hop neighbourhood: its
//! live neighbours plus the live neighbours of each dropped neighbour, pruned back to capacity
//! with the insertion heuristic (the repair FreshDiskANN calls delete consolidation). Rows of
//! the new numbering that no old row maps to are left *pending* (room allocated, no links) for
//! [`HnswGraph::link_rows`], which is how a checkpoint merges freshly written rows in.

use super::insert::map_ordered;
use super::space::Space;
use super::{GraphRef, HnswGraph};
use crate::topk::Candidate;
#[cfg(feature = "fs")]
use {
    super::space::{kernels_for, with_space, Gathered},
    super::HnswParams,
    crate::config::Metric,
    crate::vectors::RowsRef,
};

/// Marks a row dropped in a renumbering.
pub(crate) const DROPPED: u32 = u32::MAX;

impl GraphRef<'_> {
    /// The graph renumbered by `new_row` (old row `r` becomes `new_row[r]`, or is dropped where
    /// it is [`DROPPED`]) over `new_len` rows, with the rows no old row maps to returned as
    /// pending, ascending. `space` holds the old rows.
    pub(crate) fn compact<S: Space>(
        &self,
        space: &S,
        new_row: &[u32],
        new_len: usize,
    ) -> (HnswGraph, Vec<u32>) {
        debug_assert_eq!(new_row.len(), self.len());
        let live = |r: u32| new_row[r as usize] != DROPPED;
        let survivors: Vec<u32> = (0..self.len() as u32).filter(|&r| live(r)).collect();
        // Each survivor's lists, repaired where they lost a row, in the new numbering.
        let lists: Vec<Vec<Vec<u32>>> = map_ordered(&survivors, |&r| {
            (0..=self.level(r))
                .map(|l| {
                    let list = self.neighbours(r, l);
                    let kept: Vec<u32> = if list.iter().all(|&x| live(x)) {
                        list.to_vec()
                    } else {
                        self.repaired(space, r, l, &live)
                    };
                    kept.into_iter().map(|x| new_row[x as usize]).collect()
                })
                .collect()
        });

        let mut old_of_new = vec![DROPPED; new_len];
        for &r in &survivors {
            old_of_new[new_row[r as usize] as usize] = r;
        }
        let mut g = HnswGraph {
            params: self.params,
            entry: None,
            top_level: 0,
            layer0: crate::huge_pages::filled(new_len * (self.params.m0() + 1), 0),
            upper_start: Vec::with_capacity(new_len + 1),
            upper: Vec::new(),
        };
        g.upper_start.push(0);
        for (j, &old) in old_of_new.iter().enumerate() {
            let level = if old == DROPPED {
                self.params.level_of(j as u32)
            } else {
                self.level(old)
            };
            let start = g.upper_start[j];
            g.upper_start.push(start + level as u32);
        }
        g.upper
            .resize(g.upper_start[new_len] as usize * (self.params.m + 1), 0);
        for (&r, per_layer) in survivors.iter().zip(&lists) {
            for (l, list) in per_layer.iter().enumerate() {
                g.set_neighbours(new_row[r as usize], l, list);
            }
        }
        // The entry point survives, or the highest surviving row (the first of equals) takes
        // its place; with no survivors the first pending row will.
        let entry = self.entry.filter(|&e| live(e)).or_else(|| {
            survivors
                .iter()
                .copied()
                .max_by_key(|&r| (self.level(r), std::cmp::Reverse(r)))
        });
        if let Some(e) = entry {
            g.entry = Some(new_row[e as usize]);
            g.top_level = self.level(e);
        }
        let pending = old_of_new
            .iter()
            .enumerate()
            .filter(|&(_, &old)| old == DROPPED)
            .map(|(j, _)| j as u32)
            .collect();
        (g, pending)
    }

    /// Row `r`'s list on layer `l` rebuilt without dropped rows (old numbering).
    fn repaired<S: Space>(
        &self,
        space: &S,
        r: u32,
        l: usize,
        live: &dyn Fn(u32) -> bool,
    ) -> Vec<u32> {
        let mut cands: Vec<u32> = Vec::new();
        for &x in self.neighbours(r, l) {
            if live(x) {
                cands.push(x);
            } else {
                cands.extend(
                    self.neighbours(x, l)
                        .iter()
                        .copied()
                        .filter(|&y| y != r && live(y)),
                );
            }
        }
        cands.sort_unstable();
        cands.dedup();
        let base = space.row_query(r);
        let mut scored: Vec<Candidate> = cands
            .into_iter()
            .map(|x| Candidate {
                score: space.score(&base, x),
                offset: x,
            })
            .collect();
        scored.sort_unstable_by(|a, b| b.cmp(a));
        let cap = if l == 0 {
            self.params.m0()
        } else {
            self.params.m
        };
        self.select(space, &scored, cap)
            .into_iter()
            .map(|c| c.offset)
            .collect()
    }
}

#[cfg(feature = "fs")]
/// The graph over rows gathered from `parts` (`origin[j]` = (part, row) of new row `j`):
/// `carried` (the graph of part `carried.0`, when there is one) is compacted into the new
/// numbering, and every other row is linked into it. Without a carried graph, every row is
/// linked from scratch.
pub(crate) fn gathered_graph(
    params: HnswParams,
    carried: Option<(usize, GraphRef<'_>)>,
    parts: &[RowsRef<'_>],
    origin: &[(u32, u32)],
    dim: usize,
    metric: Metric,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Option<HnswGraph> {
    let n = origin.len();
    let (mut g, pending) = match carried {
        Some((part, graph)) => {
            let mut new_row = vec![DROPPED; graph.len()];
            for (j, &(p, r)) in origin.iter().enumerate() {
                if p as usize == part {
                    new_row[r as usize] = j as u32;
                }
            }
            with_space!(parts[part], dim, metric, |space| graph
                .compact(space, &new_row, n))
        }
        None => HnswGraph::with_pending(params, n),
    };
    link_gathered(&mut g, &pending, parts, origin, dim, metric, progress).then_some(g)
}

#[cfg(feature = "fs")]
/// Links `pending` rows of `g`, a graph over rows gathered from `parts` (`origin[j]` = (part,
/// row) of node `j`); `false` when `progress` stopped it.
pub(crate) fn link_gathered(
    g: &mut HnswGraph,
    pending: &[u32],
    parts: &[RowsRef<'_>],
    origin: &[(u32, u32)],
    dim: usize,
    metric: Metric,
    progress: &mut dyn FnMut(usize) -> bool,
) -> bool {
    let (k, sign) = kernels_for(metric);
    let row = |r: usize| {
        let (p, i) = origin[r];
        Ok(std::borrow::Cow::Owned(
            parts[p as usize].get(i as usize, dim),
        ))
    };
    let f32_parts: Vec<&[f32]> = parts
        .iter()
        .filter_map(|p| match p {
            RowsRef::F32(r) => Some(*r),
            RowsRef::F16(_) => None,
        })
        .collect();
    if f32_parts.len() == parts.len() {
        let space = Gathered {
            parts: f32_parts,
            origin,
            dim,
            kernel: k.f32_for(metric),
            sign,
        };
        g.link_rows_fastest(&space, metric, dim, &row, pending, progress)
    } else {
        let f16_parts: Vec<&[half::f16]> = parts
            .iter()
            .filter_map(|p| match p {
                RowsRef::F16(r) => Some(*r),
                RowsRef::F32(_) => None,
            })
            .collect();
        debug_assert_eq!(
            f16_parts.len(),
            parts.len(),
            "parts of one collection share a type"
        );
        let space = Gathered {
            parts: f16_parts,
            origin,
            dim,
            kernel: k.f16_for(metric),
            sign,
        };
        g.link_rows_fastest(&space, metric, dim, &row, pending, progress)
    }
}
