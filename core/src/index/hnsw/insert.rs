//! Batched, parallel insertion (see the module docs of [`super`]).
//!
//! One batch runs in three steps:
//! 1. **Plan** (parallel, read-only): each new row descends the graph as it was before the batch
//!    and picks its neighbours on each of its layers with the heuristic.
//! 2. **Link**: the new rows' own lists are written.
//! 3. **Reverse links** (parallel per target, then written): every chosen neighbour gets a link
//!    back; a list that overflows is pruned with the same heuristic.
//!
//! Rows of one batch cannot see each other while planning, so a batch is kept to a small
//! fraction of the graph ([`BATCH_FRACTION`]); the first rows go in one at a time.

use std::borrow::Cow;

use super::space::{with_space, Space};
use super::{with_visited, Allow, GraphRef, HnswGraph};
use crate::config::Metric;
use crate::error::{Error, Result};
use crate::quantization::{BuildCodes, RowReader};
use crate::topk::Candidate;
use crate::vectors::RowsRef;

/// A batch holds at most 1/this of the rows already in the graph. Rows of one batch cannot
/// link to each other, so the fewer rows a batch hides from its members the closer the graph
/// is to one built a row at a time: on wordnet-minilm (2 threads) 1/32 gave recall@10 0.9474 at
/// ef 24, 1/256 0.9495 and one row at a time 0.9499; 1/256 built in 22.3 s against 20.8 s
/// (batches of 30 rows or more still keep a few cores busy between the joins).
const BATCH_FRACTION: usize = 256;

/// Rows linked in one call from which the graph is linked over int8 codes made for the build
/// (when they fit the data: see `BuildCodes`); fewer are linked over the rows themselves, and so
/// are small graphs (tests and golden files included).
const BUILD_CODES_MIN_ROWS: usize = 10_000;

/// A batch holds at most this many rows, so memory for plans stays small.
const MAX_BATCH: usize = 4096;

/// A 64-bit mixer (splitmix64's finaliser).
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The neighbours a new row chose, per layer (index = layer).
struct Plan {
    row: u32,
    layers: Vec<Vec<Candidate>>,
}

/// Maps `f` over `items`, on all cores with the `parallel` feature; order is kept.
pub(crate) fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        if items.len() > 1 {
            return items.par_iter().map(f).collect();
        }
    }
    items.iter().map(f).collect()
}

impl HnswGraph {
    /// Adds rows `self.len()..upto` of `rows` to the graph.
    pub(crate) fn insert_rows(
        &mut self,
        rows: RowsRef<'_>,
        dim: usize,
        metric: Metric,
        upto: usize,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<bool> {
        if upto >= u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "an HNSW graph holds fewer than 2^32 rows".into(),
            ));
        }
        let start = self.len();
        if upto <= start {
            return Ok(true);
        }
        self.append_empty(start as u32..upto as u32);
        let pending: Vec<u32> = (start as u32..upto as u32).collect();
        let complete = with_space!(rows, dim, metric, |space| {
            debug_assert!(space.len() >= upto, "rows missing for insertion");
            self.link_rows_fastest(
                space,
                metric,
                dim,
                &|r| Ok(Cow::Owned(rows.get(r, dim))),
                &pending,
                progress,
            )
        });
        Ok(complete)
    }

    /// Makes room for `rows` (all after the current last row) with empty lists.
    pub(crate) fn append_empty(&mut self, rows: std::ops::Range<u32>) {
        let (s0, su) = (self.stride0(), self.stride_upper());
        crate::huge_pages::resize(&mut self.layer0, rows.end as usize * s0, 0);
        for r in rows {
            let level = self.params.level_of(r);
            let start = *self.upper_start.last().unwrap_or(&0);
            self.upper_start.push(start + level as u32);
            self.upper.resize((start as usize + level) * su, 0);
        }
    }

    /// Links `pending`: rows that have room in the arrays but no links yet, and that no other
    /// row links to. Batches grow with the number of rows already linked. After each batch
    /// `progress(rows of pending linked so far)` is called; when it returns `false` linking
    /// stops there and `false` is returned: the graph is then only fit to be thrown away (some
    /// rows have no links), which is what a cancelled build does.
    pub(crate) fn link_rows<S: Space>(
        &mut self,
        space: &S,
        pending: &[u32],
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        self.link_rows_walking(space, space, false, pending, progress)
    }

    /// [`HnswGraph::link_rows`] over `space` (every row of the graph, also readable as f32
    /// through `row`); when `pending` holds at least [`BUILD_CODES_MIN_ROWS`] rows and int8
    /// codes fit them (see `BuildCodes`), candidates are found by walking codes of every row.
    pub(crate) fn link_rows_fastest<S: Space>(
        &mut self,
        space: &S,
        metric: Metric,
        dim: usize,
        row: RowReader<'_>,
        pending: &[u32],
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        if pending.len() >= BUILD_CODES_MIN_ROWS {
            // The rows are in memory or mapped: reading them cannot fail, and if it did the
            // rows themselves would still be walked.
            if let Ok(Some(codes)) = BuildCodes::train(self.len(), dim, row) {
                return codes.link(self, metric, space, pending, progress);
            }
        }
        self.link_rows(space, pending, progress)
    }

    /// [`HnswGraph::link_rows`], walking the graph in `walk` (codes) to find each row's
    /// candidates; with `rescore` the candidates are scored again in `exact` (the rows) before
    /// the heuristic chooses among them, so the approximation only decides who is considered,
    /// never who is linked. Lists that overflow are pruned in `exact` too.
    pub(crate) fn link_rows_walking<W: Space, S: Space>(
        &mut self,
        walk: &W,
        exact: &S,
        rescore: bool,
        pending: &[u32],
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        let before = self.len() - pending.len();
        let mut linked = self.len() - pending.len();
        // A seeded shuffle: neighbouring rows are often related (ingested from one document or
        // one synset), and rows of one batch cannot link to each other while planning.
        let mut order = pending.to_vec();
        order.sort_by_cached_key(|&r| mix(self.params.seed.rotate_left(17) ^ u64::from(r)));
        let mut rest = &order[..];
        while let Some((&first, tail)) = rest.split_first() {
            if self.entry.is_none() {
                // The very first row becomes the entry point, with no links yet.
                self.entry = Some(first);
                self.top_level = self.view().level(first);
                rest = tail;
                linked += 1;
                continue;
            }
            let size = (linked / BATCH_FRACTION)
                .clamp(1, MAX_BATCH)
                .min(rest.len());
            self.insert_batch_planned(walk, exact, rescore, &rest[..size]);
            linked += size;
            rest = &rest[size..];
            if !progress(linked - before) {
                return false;
            }
        }
        true
    }

    fn insert_batch_planned<W: Space, S: Space>(
        &mut self,
        walk: &W,
        exact: &S,
        rescore: bool,
        batch: &[u32],
    ) {
        let view = self.view();
        let ef = self.params.ef_construction;
        let m = self.params.m;
        let plans = map_ordered(batch, |&row| view.plan(walk, exact, rescore, row, ef, m));
        for p in &plans {
            for (level, chosen) in p.layers.iter().enumerate() {
                let ids: Vec<u32> = chosen.iter().map(|c| c.offset).collect();
                self.set_neighbours(p.row, level, &ids);
            }
        }
        // Reverse links grouped by (layer, target), each group merged on its own.
        let mut back: Vec<(usize, u32, Candidate)> = Vec::new();
        for p in &plans {
            for (level, chosen) in p.layers.iter().enumerate() {
                for c in chosen {
                    back.push((
                        level,
                        c.offset,
                        Candidate {
                            score: c.score,
                            offset: p.row,
                        },
                    ));
                }
            }
        }
        back.sort_unstable_by_key(|&(level, target, c)| (level, target, c.offset));
        let mut groups: Vec<&[(usize, u32, Candidate)]> = Vec::new();
        let mut rest = &back[..];
        while let Some(&(level, target, _)) = rest.first() {
            let len = rest
                .iter()
                .position(|&(l, t, _)| (l, t) != (level, target))
                .unwrap_or(rest.len());
            groups.push(&rest[..len]);
            rest = &rest[len..];
        }
        let view = self.view();
        let lists = map_ordered(&groups, |g| {
            let (level, target) = (g[0].0, g[0].1);
            let incoming: Vec<Candidate> = g.iter().map(|&(_, _, c)| c).collect();
            (
                level,
                target,
                view.merged_list(exact, target, level, &incoming),
            )
        });
        for (level, target, list) in lists {
            self.set_neighbours(target, level, &list);
        }
        // A row above the current top becomes the entry point (the first such in the batch).
        for p in &plans {
            let level = p.layers.len() - 1;
            if level > self.top_level || self.entry.is_none() {
                self.top_level = level;
                self.entry = Some(p.row);
            }
        }
    }
}

impl GraphRef<'_> {
    /// Chooses the neighbours of `row` on each of its layers: candidates found by walking in
    /// `walk`, chosen in `exact` (scored again there first when `rescore`).
    fn plan<W: Space, S: Space>(
        &self,
        walk: &W,
        exact: &S,
        rescore: bool,
        row: u32,
        ef: usize,
        m: usize,
    ) -> Plan {
        let level = self.level(row);
        let mut layers = vec![Vec::new(); level + 1];
        let q = walk.row_query(row);
        let Some(entry) = self.descend(walk, &q, level + 1) else {
            return Plan { row, layers };
        };
        let qe = rescore.then(|| exact.row_query(row));
        let mut entries = vec![entry];
        with_visited(|visited| {
            for l in (0..=level.min(self.top_level)).rev() {
                let found = self.search_layer(walk, &q, &entries, ef, l, visited, Allow::All);
                layers[l] = if let Some(qe) = &qe {
                    found.iter().for_each(|c| exact.prefetch(c.offset));
                    let mut scored: Vec<Candidate> = found
                        .iter()
                        .map(|c| Candidate {
                            score: exact.score(qe, c.offset),
                            offset: c.offset,
                        })
                        .collect();
                    scored.sort_unstable_by(|a, b| b.cmp(a));
                    self.select(exact, &scored, m)
                } else {
                    self.select(exact, &found, m)
                };
                entries = found;
            }
        });
        Plan { row, layers }
    }

    /// `target`'s list on `level` with `incoming` links added, pruned by the heuristic when it
    /// would exceed the layer's capacity.
    fn merged_list<S: Space>(
        &self,
        space: &S,
        target: u32,
        level: usize,
        incoming: &[Candidate],
    ) -> Vec<u32> {
        let cap = if level == 0 {
            self.params.m0()
        } else {
            self.params.m
        };
        let current = self.neighbours(target, level);
        if current.len() + incoming.len() <= cap {
            let mut list = current.to_vec();
            list.extend(incoming.iter().map(|c| c.offset));
            return list;
        }
        current.iter().for_each(|&n| space.prefetch(n));
        let base = space.row_query(target);
        let mut cands: Vec<Candidate> = current
            .iter()
            .map(|&n| Candidate {
                score: space.score(&base, n),
                offset: n,
            })
            .chain(incoming.iter().copied())
            .collect();
        cands.sort_unstable_by(|a, b| b.cmp(a));
        self.select(space, &cands, cap)
            .into_iter()
            .map(|c| c.offset)
            .collect()
    }

    /// The paper's neighbour heuristic over candidates sorted closest first: keep a candidate
    /// only if it is closer to the base point than to every candidate already kept.
    pub(crate) fn select<S: Space>(
        &self,
        space: &S,
        sorted: &[Candidate],
        cap: usize,
    ) -> Vec<Candidate> {
        let mut kept: Vec<Candidate> = Vec::with_capacity(cap);
        for &c in sorted {
            if kept.len() == cap {
                break;
            }
            let cv = space.row_query(c.offset);
            if kept.iter().all(|k| space.score(&cv, k.offset) < c.score) {
                kept.push(c);
            }
        }
        kept
    }
}
