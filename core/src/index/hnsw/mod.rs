//! HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
//! Hierarchical Navigable Small World graphs", 2016): a layered proximity graph searched greedily
//! from the top layer down.
//!
//! Key design decisions:
//! - **The graph stores row numbers, never vectors.** It is built over and searched against a
//!   `RowsRef` (memory or a mapped file) with the same kernels and rank scores as exact search,
//!   so its answers are directly comparable to exact search and it can live beside any storage.
//! - **Three flat `u32` arrays**, identical in memory and on disk, so a mapped segment is
//!   searched in place (`GraphRef` borrows them from either): layer 0 gives every row a block
//!   of `m0 + 1` words (a length, then up to `m0` neighbours), which is all a layer-0 visit
//!   reads; `upper_start[r]..upper_start[r + 1]` are row `r`'s blocks of `m + 1` words in
//!   `upper`, one per layer above 0 (about `1/m` of the rows have any).
//! - **Neighbours are chosen by the paper's heuristic** (Algorithm 4): a candidate is kept only
//!   if it is closer to the new point than to every neighbour already kept, which keeps long
//!   links and so connectivity in clustered data.
//! - **Insertion runs in batches** (`insert`): the rows of a batch search the graph as it was
//!   before the batch, in parallel, then their links are written, and the reverse links are
//!   merged and pruned per target row, again in parallel. Batches grow with the graph (a fixed
//!   fraction of it), as in ParlayANN's prefix-doubling builds, so early rows still see each
//!   other. The result depends on the rows and the seed only, never on the thread count.
//! - **Deleted rows stay in the graph as tombstones** until compaction: search walks through
//!   them (they keep the graph connected) but never returns them; `compact` then removes them,
//!   reconnecting their neighbours, and renumbers the rows.
//! - **Filtered search walks every node but collects only allowed ones**, so a filter never
//!   disconnects the graph; the planner (in `read`) sends very selective filters to exact search.

pub(crate) mod compact;
mod format;
pub(crate) mod insert;
pub(crate) mod space;

use std::collections::BinaryHeap;

use crate::bitset::Bitset;
use crate::config::Metric;
use crate::error::{Error, Result};
use crate::guard::Guard;
use crate::topk::Candidate;
use crate::vectors::RowsRef;

pub(crate) use format::{decode_graph, encode_graph, GraphLayout};
use space::{with_space, Space};

/// The most layers a row can have; levels are drawn with mean `1 / ln(m)`, so this is never
/// reached in practice and only bounds hostile files.
const MAX_LEVEL: usize = 32;

/// HNSW build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per node on the upper layers; layer 0 keeps `2 * m`.
    pub m: usize,
    /// Candidate list size while inserting: larger builds slower and finds better neighbours.
    pub ef_construction: usize,
    /// Seed for the level of each row.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            seed: 0x5EED,
        }
    }
}

impl HnswParams {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(2..=256).contains(&self.m) {
            return Err(Error::InvalidArgument(format!(
                "HNSW m must be between 2 and 256, got {}",
                self.m
            )));
        }
        if self.ef_construction == 0 || self.ef_construction > 10_000 {
            return Err(Error::InvalidArgument(format!(
                "HNSW ef_construction must be between 1 and 10000, got {}",
                self.ef_construction
            )));
        }
        Ok(())
    }

    /// The level of row `row`: a pure function of the seed and the row, so inserting the same
    /// rows gives the same graph whatever the batch or thread layout.
    fn level_of(&self, row: u32) -> usize {
        let z = insert::mix(self.seed ^ (u64::from(row).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let u = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let ml = 1.0 / (self.m as f64).ln();
        ((-u.ln() * ml) as usize).min(MAX_LEVEL)
    }

    fn m0(&self) -> usize {
        self.m * 2
    }
}

/// Which rows a search may return (it may still walk through the others).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Allow<'a> {
    /// Every row.
    All,
    /// Only the rows in the set.
    Only(&'a Bitset),
    /// Every row except those in the set (tombstones).
    Except(&'a Bitset),
}

impl Allow<'_> {
    #[inline(always)]
    fn allows(self, r: u32) -> bool {
        match self {
            Allow::All => true,
            Allow::Only(b) => b.contains(r as usize),
            Allow::Except(b) => !b.contains(r as usize),
        }
    }
}

/// Lists of disallowed neighbours a filtered walk prefetches ahead of reading them.
const HOP_PREFETCH: usize = 3;

/// Allowed rows whose neighbours are read to estimate how a filter's rows cluster.
const CLUSTERING_SAMPLES: usize = 64;

/// An HNSW graph that owns its arrays: built in memory, or decoded from a file.
#[derive(Debug, Clone)]
pub struct HnswGraph {
    params: HnswParams,
    entry: Option<u32>,
    top_level: usize,
    layer0: Vec<u32>,
    upper_start: Vec<u32>,
    upper: Vec<u32>,
}

/// A borrowed graph: the arrays of an [`HnswGraph`] or of a mapped segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GraphRef<'a> {
    params: HnswParams,
    entry: Option<u32>,
    top_level: usize,
    layer0: &'a [u32],
    upper_start: &'a [u32],
    upper: &'a [u32],
}

impl HnswGraph {
    /// A graph over `n` rows, none linked yet (for [`HnswGraph::link_rows`]).
    pub(crate) fn with_pending(params: HnswParams, n: usize) -> (HnswGraph, Vec<u32>) {
        let mut g = HnswGraph {
            params,
            entry: None,
            top_level: 0,
            layer0: Vec::new(),
            upper_start: vec![0],
            upper: Vec::new(),
        };
        g.append_empty(0..n as u32);
        (g, (0..n as u32).collect())
    }

    /// Builds a graph over every row of `rows`, calling `progress(rows linked so far)` after
    /// each batch; `None` when `progress` returned `false` (the build stopped there and was
    /// thrown away).
    pub(crate) fn build(
        rows: RowsRef<'_>,
        dim: usize,
        metric: Metric,
        params: HnswParams,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Option<HnswGraph>> {
        params.validate()?;
        let (mut g, _) = HnswGraph::with_pending(params, 0);
        let complete = g.insert_rows(rows, dim, metric, rows.len(dim), progress)?;
        Ok(complete.then_some(g))
    }

    /// Number of rows the graph covers.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The graph as borrowed arrays.
    pub(crate) fn view(&self) -> GraphRef<'_> {
        GraphRef {
            params: self.params,
            entry: self.entry,
            top_level: self.top_level,
            layer0: &self.layer0,
            upper_start: &self.upper_start,
            upper: &self.upper,
        }
    }

    /// Words per layer-0 block.
    fn stride0(&self) -> usize {
        self.params.m0() + 1
    }

    /// Words per upper-layer block.
    fn stride_upper(&self) -> usize {
        self.params.m + 1
    }

    fn set_neighbours(&mut self, r: u32, level: usize, list: &[u32]) {
        let block = if level == 0 {
            let s = self.stride0();
            &mut self.layer0[r as usize * s..(r as usize + 1) * s]
        } else {
            let s = self.stride_upper();
            let b = self.upper_start[r as usize] as usize + level - 1;
            &mut self.upper[b * s..(b + 1) * s]
        };
        block[0] = list.len() as u32;
        block[1..=list.len()].copy_from_slice(list);
    }
}

/// Reusable "visited" marks: a generation stamp per row, so clearing is O(1).
pub(crate) struct Visited {
    marks: Vec<u16>,
    generation: u16,
}

impl Visited {
    fn new() -> Visited {
        Visited {
            marks: Vec::new(),
            generation: 0,
        }
    }

    /// Clears the marks and makes room for `n` rows.
    fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            crate::huge_pages::resize(&mut self.marks, n, self.generation);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
    }

    /// Marks `r`; returns whether it was unmarked.
    #[inline(always)]
    fn insert(&mut self, r: u32) -> bool {
        let m = &mut self.marks[r as usize];
        let fresh = *m != self.generation;
        *m = self.generation;
        fresh
    }
}

/// Runs `f` with this thread's visited marks. Reused across searches: allocating them would
/// touch 2 bytes per row on every query.
pub(crate) fn with_visited<R>(f: impl FnOnce(&mut Visited) -> R) -> R {
    thread_local! {
        static VISITED: std::cell::RefCell<Visited> = std::cell::RefCell::new(Visited::new());
    }
    VISITED.with(|cell| f(&mut cell.borrow_mut()))
}

/// Cache lines of a neighbour list hinted before the list is read. Natively all of it (a list
/// of m0 + 1 words lies on three lines when m0 is 32); in wasm32, where a hint is a real load,
/// touching the third line made Chromium walks 8% slower than two (interleaved A/B).
const LIST_LINES: usize = if cfg!(target_arch = "wasm32") {
    2
} else {
    usize::MAX
};

/// Min-heap entry: the farthest on top.
type Farthest = std::cmp::Reverse<Candidate>;

impl<'a> GraphRef<'a> {
    /// Assembles a view from decoded parts; [`decode_graph`] checks them first.
    pub(crate) fn from_parts(
        params: HnswParams,
        entry: Option<u32>,
        top_level: usize,
        layer0: &'a [u32],
        upper_start: &'a [u32],
        upper: &'a [u32],
    ) -> GraphRef<'a> {
        GraphRef {
            params,
            entry,
            top_level,
            layer0,
            upper_start,
            upper,
        }
    }

    /// Number of rows the graph covers.
    pub(crate) fn len(&self) -> usize {
        self.layer0.len() / (self.params.m0() + 1)
    }

    /// The build parameters.
    pub(crate) fn params(&self) -> HnswParams {
        self.params
    }

    /// A copy that owns its arrays (to modify a graph read from a file).
    pub(crate) fn to_owned_graph(self) -> HnswGraph {
        HnswGraph {
            params: self.params,
            entry: self.entry,
            top_level: self.top_level,
            layer0: self.layer0.to_vec(),
            upper_start: self.upper_start.to_vec(),
            upper: self.upper.to_vec(),
        }
    }

    /// Number of layers above 0 that row `r` is on.
    fn level(&self, r: u32) -> usize {
        (self.upper_start[r as usize + 1] - self.upper_start[r as usize]) as usize
    }

    #[inline(always)]
    fn neighbours(&self, r: u32, level: usize) -> &'a [u32] {
        let (words, s, b) = if level == 0 {
            (self.layer0, self.params.m0() + 1, r as usize)
        } else {
            if level > self.level(r) {
                return &[];
            }
            let b = self.upper_start[r as usize] as usize + level - 1;
            (self.upper, self.params.m + 1, b)
        };
        let block = &words[b * s..(b + 1) * s];
        &block[1..=(block[0] as usize).min(s - 1)]
    }

    /// How much the rows of `allowed` (`count` of them) cluster in the graph: the fraction of
    /// their layer-0 neighbours also in `allowed`, over the fraction of all rows in it. About 1
    /// for a filter unrelated to the vectors; far above 1 for one that selects a region (one
    /// topic). Estimated from about `CLUSTERING_SAMPLES` allowed rows met at an even stride
    /// through the rows; `None` when fewer than a quarter of that many are met.
    pub(crate) fn clustering(&self, allowed: &Bitset, count: usize) -> Option<f64> {
        let n = self.len();
        if count == 0 || n == 0 {
            return None;
        }
        // About CLUSTERING_SAMPLES / s positions, so about CLUSTERING_SAMPLES of them allowed.
        let step = (count / CLUSTERING_SAMPLES).max(1);
        let (mut sampled, mut links, mut inside) = (0usize, 0usize, 0usize);
        for r in (0..n).step_by(step) {
            if !allowed.contains(r) {
                continue;
            }
            sampled += 1;
            for &nb in self.neighbours(r as u32, 0) {
                links += 1;
                inside += usize::from(allowed.contains(nb as usize));
            }
        }
        if sampled < CLUSTERING_SAMPLES / 4 || links == 0 {
            return None;
        }
        Some((inside as f64 / links as f64) / (count as f64 / n as f64))
    }

    /// Asks the CPU to start loading row `r`'s list on `level`.
    #[inline(always)]
    fn prefetch_list(&self, r: u32, level: usize) {
        if level == 0 {
            let s = self.params.m0() + 1;
            if let Some(block) = self.layer0.get(r as usize * s..(r as usize + 1) * s) {
                crate::distance::prefetch(bytemuck::cast_slice(block), LIST_LINES);
            }
        }
    }

    /// Walks to the closest neighbour until none is closer (search with ef = 1).
    fn greedy<S: Space>(
        &self,
        space: &S,
        q: &S::Query,
        mut at: Candidate,
        level: usize,
    ) -> Candidate {
        loop {
            let mut moved = false;
            let list = self.neighbours(at.offset, level);
            list.iter().for_each(|&n| space.prefetch(n));
            for (i, &n) in list.iter().enumerate() {
                if let Some(&ahead) = list.get(i + 1) {
                    space.prefetch_rest(ahead);
                }
                let s = space.score(q, n);
                if s > at.score {
                    at = Candidate {
                        score: s,
                        offset: n,
                    };
                    moved = true;
                }
            }
            if !moved {
                return at;
            }
        }
    }

    /// The entry point, descended greedily to layer `down_to`.
    fn descend<S: Space>(&self, space: &S, q: &S::Query, down_to: usize) -> Option<Candidate> {
        let entry = self.entry?;
        let mut at = Candidate {
            score: space.score(q, entry),
            offset: entry,
        };
        for l in (down_to.max(1)..=self.top_level).rev() {
            at = self.greedy(space, q, at, l);
        }
        Some(at)
    }

    /// Best-first search of one layer from `entries`; returns up to `ef` candidates, closest
    /// first; only rows `allow` accepts are returned. Tombstones (`Allow::Except`) are scored
    /// and walked through like any row. Under a filter (`Allow::Only`) disallowed rows are
    /// never scored: the walk reaches past them to their allowed neighbours, at most `m0` new
    /// rows per step (ACORN-1's two-hop expansion), so its distances go to allowed rows only;
    /// where a step finds no new allowed row within two hops (a region the filter excludes, the
    /// case that defeats plain ACORN-1: a walk starting there returns nothing) the disallowed
    /// neighbours are scored and walked through instead. On wordnet at ef 64 with 30% of rows
    /// allowed this doubled the speed of walking through every disallowed row (recall@10 0.976
    /// against 0.993); rescuing on fewer than `m` new allowed rows instead gave back most of
    /// the gain.
    #[allow(clippy::too_many_arguments)]
    fn search_layer<S: Space>(
        &self,
        space: &S,
        q: &S::Query,
        entries: &[Candidate],
        ef: usize,
        level: usize,
        visited: &mut Visited,
        allow: Allow<'_>,
    ) -> Vec<Candidate> {
        let n = self.len();
        visited.reset(n);
        let mut frontier: BinaryHeap<Candidate> = BinaryHeap::with_capacity(ef * 2);
        let mut best: BinaryHeap<Farthest> = BinaryHeap::with_capacity(ef + 1);
        for &e in entries {
            if visited.insert(e.offset) {
                frontier.push(e);
                if allow.allows(e.offset) {
                    best.push(std::cmp::Reverse(e));
                }
            }
        }
        while best.len() > ef {
            best.pop();
        }
        let cap = self.params.m0();
        let mut fresh: Vec<u32> = Vec::with_capacity(2 * cap);
        let mut hops: Vec<u32> = Vec::with_capacity(cap);
        let two_hop = matches!(allow, Allow::Only(_));
        while let Some(c) = frontier.pop() {
            if best.len() >= ef && best.peek().is_some_and(|w| c < w.0) {
                break;
            }
            if let Some(next) = frontier.peek() {
                self.prefetch_list(next.offset, level);
            }
            // Gather the unvisited neighbours and start loading all their vectors before
            // scoring the first, so the memory latencies overlap.
            fresh.clear();
            hops.clear();
            // A guarded space bounds each new row's score from its code before the row is read
            // (see `crate::guard`): once `ef` rows are held, the codes are what is loaded first.
            let screen = S::GUARDED && best.len() >= ef;
            let start = |nb: u32| {
                if screen {
                    space.prefetch_bound(nb);
                } else {
                    space.prefetch(nb);
                }
            };
            for &nb in self.neighbours(c.offset, level) {
                if (nb as usize) < n && visited.insert(nb) {
                    if two_hop && !allow.allows(nb) {
                        if hops.len() < HOP_PREFETCH {
                            self.prefetch_list(nb, level);
                        }
                        hops.push(nb);
                    } else {
                        start(nb);
                        fresh.push(nb);
                    }
                }
            }
            // Under a filter, a disallowed neighbour is not scored: the walk passes through
            // it to its own allowed neighbours instead (ACORN-1), up to m0 rows per step.
            for (i, &h) in hops.iter().enumerate() {
                if fresh.len() >= cap {
                    break;
                }
                if let Some(&ahead) = hops.get(i + HOP_PREFETCH) {
                    self.prefetch_list(ahead, level);
                }
                for &nb in self.neighbours(h, level) {
                    if fresh.len() >= cap {
                        break;
                    }
                    if (nb as usize) < n && allow.allows(nb) && visited.insert(nb) {
                        start(nb);
                        fresh.push(nb);
                    }
                }
            }
            if fresh.is_empty() {
                // No new allowed row within two hops (a region the filter excludes): walk
                // through the disallowed neighbours, scored, until allowed rows come near.
                for &h in &hops {
                    start(h);
                }
                fresh.append(&mut hops);
            }
            if screen {
                // A row whose bound is below the worst of the best `ef` would be rejected
                // below: it is dropped unread, and the walk takes the same steps as without
                // the guard. The worst only rises while the rows are scored.
                let worst = best.peek().map_or(f32::NEG_INFINITY, |w| w.0.score);
                fresh.retain(|&nb| {
                    space.bound(q, nb).partial_cmp(&worst) != Some(std::cmp::Ordering::Less)
                });
                for &nb in &fresh {
                    space.prefetch(nb);
                }
            }

            for (i, &nb) in fresh.iter().enumerate() {
                if let Some(&ahead) = fresh.get(i + 1) {
                    space.prefetch_rest(ahead);
                }
                let cand = Candidate {
                    score: space.score(q, nb),
                    offset: nb,
                };
                if best.len() >= ef && best.peek().is_some_and(|w| cand < w.0) {
                    continue;
                }
                frontier.push(cand);
                if allow.allows(nb) {
                    best.push(std::cmp::Reverse(cand));
                    if best.len() > ef {
                        best.pop();
                    }
                }
            }
        }
        let mut out: Vec<Candidate> = best.into_iter().map(|f| f.0).collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        out
    }

    /// The `k` closest rows to a prepared query (normalised under cosine), exploring `ef`
    /// candidates (at least `k`); closest first, as rank scores. Only rows `allow` accepts are
    /// returned. With `subset`, the graph is over those rows of `rows` only, numbered in that
    /// order (a value graph), and so are `allow` and the result. With `guard` (codes of `rows`,
    /// numbered as they are), rows the walk would reject are skipped unread: the same result.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn search(
        &self,
        rows: RowsRef<'_>,
        dim: usize,
        metric: Metric,
        q: &[f32],
        k: usize,
        ef: usize,
        allow: Allow<'_>,
        subset: Option<&[u32]>,
        guard: Option<&Guard>,
    ) -> Vec<Candidate> {
        with_space!(rows, dim, metric, |space| match guard {
            Some(guard) => {
                let query = guard.query(q);
                let space = &space::Guarded {
                    inner: space,
                    guard,
                    query,
                };
                self.search_subset(space, subset, q, k, ef, allow)
            }
            None => self.search_subset(space, subset, q, k, ef, allow),
        })
    }

    /// [`GraphRef::search_in`] over `space`, or over its rows `subset` when given (a value
    /// graph's).
    pub(crate) fn search_subset<S: Space>(
        &self,
        space: &S,
        subset: Option<&[u32]>,
        q: &S::Query,
        k: usize,
        ef: usize,
        allow: Allow<'_>,
    ) -> Vec<Candidate> {
        match subset {
            Some(rows) => self.search_in(&space::Subset { space, rows }, q, k, ef, allow),
            None => self.search_in(space, q, k, ef, allow),
        }
    }

    pub(crate) fn search_in<S: Space>(
        &self,
        space: &S,
        q: &S::Query,
        k: usize,
        ef: usize,
        allow: Allow<'_>,
    ) -> Vec<Candidate> {
        let Some(entry) = self.descend(space, q, 1) else {
            return Vec::new();
        };
        // Breadth beyond the row count changes nothing (and would be allocated for).
        let ef = ef.max(k).min(self.len());
        let mut found =
            with_visited(|visited| self.search_layer(space, q, &[entry], ef, 0, visited, allow));
        found.truncate(k);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded stream of numbers in [0, 1).
    fn stream(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    #[test]
    fn clustering_tells_spread_rows_from_one_regions() {
        // 6000 points around 40 centres in 16 dimensions; row i belongs to centre centres[i].
        let (n, dim, k) = (6000usize, 16usize, 40usize);
        let mut next = stream(5);
        let centres: Vec<f32> = (0..k * dim).map(|_| next() * 2.0 - 1.0).collect();
        let of: Vec<usize> = (0..n).map(|_| (next() * k as f32) as usize % k).collect();
        let data: Vec<f32> = (0..n)
            .flat_map(|i| {
                let c = &centres[of[i] * dim..(of[i] + 1) * dim];
                c.iter()
                    .map(|x| x + 0.15 * (next() - 0.5))
                    .collect::<Vec<_>>()
            })
            .collect();
        let params = HnswParams {
            m: 8,
            ef_construction: 64,
            ..HnswParams::default()
        };
        let g = HnswGraph::build(
            RowsRef::F32(&data),
            dim,
            Metric::Euclid,
            params,
            &mut |_| true,
        )
        .unwrap()
        .unwrap();
        let set = |keep: &dyn Fn(usize) -> bool| {
            let rows: Vec<u32> = (0..n as u32).filter(|&r| keep(r as usize)).collect();
            let count = rows.len();
            (Bitset::from_rows(&rows, n), count)
        };
        // A tenth of the rows drawn at random: unrelated to the vectors.
        let mut draw = stream(11);
        let picked: Vec<bool> = (0..n).map(|_| draw() < 0.1).collect();
        let (spread, count) = set(&|r| picked[r]);
        let s = g.view().clustering(&spread, count).unwrap();
        assert!((0.5..2.0).contains(&s), "spread rows: clustering {s}");
        // The rows of four centres: a tenth of the rows, all in one part of space.
        let (region, count) = set(&|r| of[r] < 4);
        let c = g.view().clustering(&region, count).unwrap();
        eprintln!("clustering: spread {s:.2}, one region {c:.2}");
        assert!(c > 5.0, "one region's rows: clustering {c}");
        // Too few rows to judge: no estimate.
        let (few, count) = set(&|r| r % 1000 == 0);
        assert_eq!(g.view().clustering(&few, count), None);
    }

    /// A space that counts the rows it scores.
    struct Counting<'a, S> {
        inner: &'a S,
        scored: std::sync::atomic::AtomicUsize,
    }

    impl<S: Space<Query = [f32]>> Space for Counting<'_, S> {
        type Query = [f32];

        fn len(&self) -> usize {
            self.inner.len()
        }

        fn score(&self, q: &[f32], r: u32) -> f32 {
            self.scored
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.score(q, r)
        }

        fn prefetch(&self, r: u32) {
            self.inner.prefetch(r);
        }

        fn row_query(&self, r: u32) -> std::borrow::Cow<'_, [f32]> {
            self.inner.row_query(r)
        }
    }

    #[test]
    fn guarded_walks_find_the_same_rows_reading_fewer() {
        // 3000 rows around 30 centres in 256 dimensions, for every metric; the walk with guard
        // codes returns exactly what the walk without returns (rows and scores), unfiltered,
        // with tombstones and under a filter, and scores fewer rows.
        let (n, dim, centres) = (3000usize, 256usize, 30usize);
        let mut next = stream(21);
        let middle: Vec<f32> = (0..centres * dim).map(|_| next() * 2.0 - 1.0).collect();
        let raw: Vec<f32> = (0..n)
            .flat_map(|i| {
                let c = &middle[(i % centres) * dim..(i % centres + 1) * dim];
                c.iter()
                    .map(|x| x + 0.6 * (next() - 0.5))
                    .collect::<Vec<_>>()
            })
            .collect();
        let dead = Bitset::from_rows(&(0..n as u32).step_by(5).collect::<Vec<_>>(), n);
        let only = Bitset::from_rows(&(0..n as u32).filter(|r| r % 3 != 1).collect::<Vec<_>>(), n);
        for metric in Metric::ALL {
            let data: Vec<f32> = raw
                .chunks_exact(dim)
                .flat_map(|v| crate::vectors::prepared(metric, v).into_owned())
                .collect();
            let rows = RowsRef::F32(&data);
            let params = HnswParams {
                m: 8,
                ef_construction: 64,
                ..HnswParams::default()
            };
            let g = HnswGraph::build(rows, dim, metric, params, &mut |_| true)
                .unwrap()
                .unwrap();
            let guard = Guard::of_rows(rows, dim, metric).unwrap();
            let (mut plain_scored, mut guarded_scored) = (0, 0);
            for allow in [Allow::All, Allow::Except(&dead), Allow::Only(&only)] {
                for qi in 0..40 {
                    let q: Vec<f32> = crate::vectors::prepared(
                        metric,
                        &raw[(qi * 71 % n) * dim..(qi * 71 % n + 1) * dim]
                            .iter()
                            .map(|x| x + 0.1 * (next() - 0.5))
                            .collect::<Vec<_>>(),
                    )
                    .into_owned();
                    with_space!(rows, dim, metric, |space| {
                        let plain = Counting {
                            inner: space,
                            scored: 0.into(),
                        };
                        let want = g.view().search_in(&plain, &q, 10, 32, allow);
                        let counted = Counting {
                            inner: space,
                            scored: 0.into(),
                        };
                        let guarded = space::Guarded {
                            inner: &counted,
                            guard: &guard,
                            query: guard.query(&q),
                        };
                        let got = g.view().search_in(&guarded, &q, 10, 32, allow);
                        assert_eq!(got, want, "{metric}: query {qi}");
                        let through = g.view().search(
                            rows,
                            dim,
                            metric,
                            &q,
                            10,
                            32,
                            allow,
                            None,
                            Some(&guard),
                        );
                        assert_eq!(through, want, "{metric}: query {qi}, through search");
                        plain_scored += plain.scored.into_inner();
                        guarded_scored += counted.scored.into_inner();
                    });
                }
            }
            eprintln!(
                "{metric}: rows scored {plain_scored} without the guard, {guarded_scored} with"
            );
            assert!(
                guarded_scored * 10 < plain_scored * 9,
                "{metric}: the guard skipped few rows ({guarded_scored} of {plain_scored} scored)"
            );
        }
    }
}
