//! HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
//! Hierarchical Navigable Small World graphs", 2016): a layered proximity graph searched greedily
//! from the top layer down.
//!
//! Key design decisions:
//! - **The graph stores row numbers, never vectors.** It is built over and searched against a
//!   `RowsRef` (memory or a mapped file) with the same kernels and rank scores as exact search,
//!   so its answers are directly comparable to exact search and it can live beside any storage.
//! - **Layer 0 is one flat array** (`m0` slots per row, with a length per row) because every
//!   search spends nearly all its time there; upper layers, holding about `1/m` of the rows, are
//!   small per-row lists.
//! - **Neighbours are chosen by the paper's heuristic** (Algorithm 4): a candidate is kept only
//!   if it is closer to the new point than to every neighbour already kept, which keeps long
//!   links and so connectivity in clustered data.
//! - **Filtered search traverses every node but collects only allowed ones**, so a filter never
//!   disconnects the graph; the caller (the planner) sends very selective filters to exact search
//!   instead, where traversal would visit many disallowed nodes.
//! - Deterministic: levels come from a seeded generator, so the same rows in the same order
//!   build the same graph.

use std::borrow::Cow;
use std::collections::BinaryHeap;

use half::f16;

use crate::config::Metric;
use crate::distance::Kernels;
use crate::error::{Error, Result};
use crate::search::exact::rank_score;
use crate::topk::Candidate;
use crate::vectors::RowsRef;

/// HNSW build parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per node on the upper layers; layer 0 keeps `2 * m`.
    pub m: usize,
    /// Candidate list size while inserting: larger builds slower and finds better neighbours.
    pub ef_construction: usize,
    /// Seed for the level generator.
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
}

/// A built HNSW graph over rows `0..len`.
#[derive(Debug, Clone)]
pub struct HnswGraph {
    m: usize,
    m0: usize,
    /// Layer-0 neighbours: row `r` owns `layer0[r * m0..(r + 1) * m0]`, of which the first
    /// `layer0_len[r]` are used.
    layer0: Vec<u32>,
    layer0_len: Vec<u16>,
    /// Upper-layer neighbours: `upper[r][l - 1]` for layers `1..=level(r)`.
    upper: Vec<Vec<Vec<u32>>>,
    entry: Option<u32>,
    top_level: usize,
}

/// The kernel for a metric and stored type, as a rank-score function (higher is closer).
#[derive(Clone, Copy)]
enum Scorer<'a> {
    F32(&'a [f32], fn(&[f32], &[f32]) -> f32),
    F16(&'a [f16], fn(&[f32], &[f16]) -> f32),
}

struct Space<'a> {
    scorer: Scorer<'a>,
    dim: usize,
    metric: Metric,
}

impl<'a> Space<'a> {
    fn new(rows: RowsRef<'a>, dim: usize, metric: Metric, k: &Kernels) -> Space<'a> {
        let scorer = match rows {
            RowsRef::F32(r) => Scorer::F32(
                r,
                match metric {
                    Metric::Cosine | Metric::Dot => k.dot_f32,
                    Metric::Euclid => k.l2sq_f32,
                    Metric::Manhattan => k.l1_f32,
                },
            ),
            RowsRef::F16(r) => Scorer::F16(
                r,
                match metric {
                    Metric::Cosine | Metric::Dot => k.dot_f16,
                    Metric::Euclid => k.l2sq_f16,
                    Metric::Manhattan => k.l1_f16,
                },
            ),
        };
        Space {
            scorer,
            dim,
            metric,
        }
    }

    /// Rank score of row `r` against an f32 query (higher is closer).
    #[inline]
    fn score(&self, q: &[f32], r: u32) -> f32 {
        let at = r as usize * self.dim;
        let raw = match self.scorer {
            Scorer::F32(rows, k) => k(q, &rows[at..at + self.dim]),
            Scorer::F16(rows, k) => k(q, &rows[at..at + self.dim]),
        };
        let s = rank_score(self.metric, raw);
        if s.is_nan() {
            f32::NEG_INFINITY
        } else {
            s
        }
    }

    /// Row `r` as an f32 query vector: borrowed in place for f32 storage, widened for f16.
    fn row_f32(&self, r: u32) -> Cow<'a, [f32]> {
        let at = r as usize * self.dim;
        match self.scorer {
            Scorer::F32(rows, _) => Cow::Borrowed(&rows[at..at + self.dim]),
            Scorer::F16(rows, _) => {
                Cow::Owned(rows[at..at + self.dim].iter().map(|x| x.to_f32()).collect())
            }
        }
    }

    fn len(&self) -> usize {
        match self.scorer {
            Scorer::F32(r, _) => r.len() / self.dim,
            Scorer::F16(r, _) => r.len() / self.dim,
        }
    }
}

/// Reusable "visited" marks: a generation counter per row, so clearing is O(1).
struct Visited {
    marks: Vec<u32>,
    generation: u32,
}

impl Visited {
    fn new(n: usize) -> Visited {
        Visited {
            marks: vec![0; n],
            generation: 0,
        }
    }

    fn reset(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
    }

    /// Marks `r`; returns whether it was unmarked.
    #[inline]
    fn insert(&mut self, r: u32) -> bool {
        let m = &mut self.marks[r as usize];
        let fresh = *m != self.generation;
        *m = self.generation;
        fresh
    }
}

/// Max-heap entry ordered by closeness (the closest on top).
type Closest = Candidate;

/// Min-heap entry: the farthest on top.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Farthest(std::cmp::Reverse<Candidate>);

impl HnswGraph {
    /// Number of rows the graph covers.
    pub fn len(&self) -> usize {
        self.layer0_len.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.layer0_len.is_empty()
    }

    fn neighbours(&self, r: u32, level: usize) -> &[u32] {
        if level == 0 {
            let at = r as usize * self.m0;
            &self.layer0[at..at + self.layer0_len[r as usize] as usize]
        } else {
            &self.upper[r as usize][level - 1]
        }
    }

    fn set_neighbours(&mut self, r: u32, level: usize, list: &[u32]) {
        if level == 0 {
            let at = r as usize * self.m0;
            self.layer0[at..at + list.len()].copy_from_slice(list);
            self.layer0_len[r as usize] = list.len() as u16;
        } else {
            let slot = &mut self.upper[r as usize][level - 1];
            slot.clear();
            slot.extend_from_slice(list);
        }
    }

    /// Builds a graph over every row of `rows`, inserting them in row order.
    pub(crate) fn build(
        rows: RowsRef<'_>,
        dim: usize,
        metric: Metric,
        params: HnswParams,
    ) -> Result<HnswGraph> {
        params.validate()?;
        let space = Space::new(rows, dim, metric, Kernels::detected());
        let n = space.len();
        if n >= u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "an HNSW graph holds fewer than 2^32 rows".into(),
            ));
        }
        let m0 = params.m * 2;
        let mut g = HnswGraph {
            m: params.m,
            m0,
            layer0: vec![0; n * m0],
            layer0_len: vec![0; n],
            upper: vec![Vec::new(); n],
            entry: None,
            top_level: 0,
        };
        let ml = 1.0 / (params.m as f64).ln();
        let mut state = params.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut visited = Visited::new(n);
        for r in 0..n as u32 {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = ((state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5)
                / (1u64 << 53) as f64;
            let level = ((-u.ln() * ml) as usize).min(32);
            g.insert(&space, r, level, params.ef_construction, &mut visited);
        }
        Ok(g)
    }

    fn insert(
        &mut self,
        space: &Space<'_>,
        r: u32,
        level: usize,
        ef: usize,
        visited: &mut Visited,
    ) {
        self.upper[r as usize] = vec![Vec::new(); level];
        let Some(mut entry) = self.entry else {
            self.entry = Some(r);
            self.top_level = level;
            return;
        };
        let q = space.row_f32(r);
        let mut entry_score = space.score(&q, entry);
        for l in (level + 1..=self.top_level).rev() {
            (entry, entry_score) = self.greedy(space, &q, entry, entry_score, l);
        }
        let mut eps = vec![Candidate {
            score: entry_score,
            offset: entry,
        }];
        for l in (0..=level.min(self.top_level)).rev() {
            let found = self.search_layer(space, &q, &eps, ef, l, visited, None);
            let cap = if l == 0 { self.m0 } else { self.m };
            let chosen = self.select(space, &found, cap.min(self.m.max(cap / 2)));
            let ids: Vec<u32> = chosen.iter().map(|c| c.offset).collect();
            self.set_neighbours(r, l, &ids);
            for c in &chosen {
                self.link(space, c.offset, r, c.score, l);
            }
            eps = found;
        }
        if level > self.top_level {
            self.top_level = level;
            self.entry = Some(r);
        }
    }

    /// Adds `new` to `node`'s list on `level`, pruning with the heuristic when full.
    fn link(&mut self, space: &Space<'_>, node: u32, new: u32, score: f32, level: usize) {
        let cap = if level == 0 { self.m0 } else { self.m };
        let current = self.neighbours(node, level);
        if current.len() < cap {
            let mut list = current.to_vec();
            list.push(new);
            self.set_neighbours(node, level, &list);
            return;
        }
        let base = space.row_f32(node);
        let mut cands: Vec<Candidate> = current
            .iter()
            .map(|&n| Candidate {
                score: space.score(&base, n),
                offset: n,
            })
            .collect();
        cands.push(Candidate { score, offset: new });
        cands.sort_by(|a, b| b.cmp(a));
        let kept = self.select(space, &cands, cap);
        let ids: Vec<u32> = kept.iter().map(|c| c.offset).collect();
        self.set_neighbours(node, level, &ids);
    }

    /// The paper's neighbour heuristic over candidates sorted closest first: keep a candidate
    /// only if it is closer to the base point than to every candidate already kept.
    fn select(&self, space: &Space<'_>, sorted: &[Candidate], cap: usize) -> Vec<Candidate> {
        let mut kept: Vec<Candidate> = Vec::with_capacity(cap);
        for &c in sorted {
            if kept.len() == cap {
                break;
            }
            let cv = space.row_f32(c.offset);
            if kept.iter().all(|k| space.score(&cv, k.offset) < c.score) {
                kept.push(c);
            }
        }
        kept
    }

    /// Walks to the closest neighbour until none is closer (search with ef = 1).
    fn greedy(
        &self,
        space: &Space<'_>,
        q: &[f32],
        mut at: u32,
        mut at_score: f32,
        level: usize,
    ) -> (u32, f32) {
        loop {
            let mut moved = false;
            for &n in self.neighbours(at, level) {
                let s = space.score(q, n);
                if s > at_score {
                    (at, at_score, moved) = (n, s, true);
                }
            }
            if !moved {
                return (at, at_score);
            }
        }
    }

    /// Best-first search of one layer from `entries`; returns up to `ef` candidates, closest
    /// first. With `allowed`, every node is traversed but only allowed ones are returned.
    #[allow(clippy::too_many_arguments)]
    fn search_layer(
        &self,
        space: &Space<'_>,
        q: &[f32],
        entries: &[Candidate],
        ef: usize,
        level: usize,
        visited: &mut Visited,
        allowed: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Candidate> {
        visited.reset();
        let ok = |r: u32| allowed.is_none_or(|f| f(r));
        let mut frontier: BinaryHeap<Closest> = BinaryHeap::new();
        let mut best: BinaryHeap<Farthest> = BinaryHeap::new();
        for &e in entries {
            if visited.insert(e.offset) {
                frontier.push(e);
                if ok(e.offset) {
                    best.push(Farthest(std::cmp::Reverse(e)));
                }
            }
        }
        while best.len() > ef {
            best.pop();
        }
        while let Some(c) = frontier.pop() {
            if best.len() >= ef {
                if let Some(worst) = best.peek() {
                    if c < worst.0 .0 {
                        break;
                    }
                }
            }
            for &n in self.neighbours(c.offset, level) {
                if !visited.insert(n) {
                    continue;
                }
                let cand = Candidate {
                    score: space.score(q, n),
                    offset: n,
                };
                let worse_than_all = best.len() >= ef && best.peek().is_some_and(|w| cand < w.0 .0);
                if worse_than_all {
                    continue;
                }
                frontier.push(cand);
                if ok(n) {
                    best.push(Farthest(std::cmp::Reverse(cand)));
                    if best.len() > ef {
                        best.pop();
                    }
                }
            }
        }
        let mut out: Vec<Candidate> = best.into_iter().map(|f| f.0 .0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }

    /// The `k` closest rows to a prepared query (normalised under cosine), exploring `ef`
    /// candidates (at least `k`); closest first, as rank scores. With `allowed`, only rows it
    /// accepts are returned.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn search(
        &self,
        rows: RowsRef<'_>,
        dim: usize,
        metric: Metric,
        q: &[f32],
        k: usize,
        ef: usize,
        allowed: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Candidate> {
        let Some(mut entry) = self.entry else {
            return Vec::new();
        };
        let space = Space::new(rows, dim, metric, Kernels::detected());
        let mut entry_score = space.score(q, entry);
        for l in (1..=self.top_level).rev() {
            (entry, entry_score) = self.greedy(&space, q, entry, entry_score, l);
        }
        // One visited array per thread, reused across searches: it is generation-stamped, so
        // reuse costs nothing, while allocating it would zero 4 bytes per row on every query.
        thread_local! {
            static VISITED: std::cell::RefCell<Visited> = std::cell::RefCell::new(Visited::new(0));
        }
        let entries = [Candidate {
            score: entry_score,
            offset: entry,
        }];
        let mut found = VISITED.with(|cell| {
            let mut visited = cell.borrow_mut();
            if visited.marks.len() < self.len() {
                *visited = Visited::new(self.len());
            }
            self.search_layer(&space, q, &entries, ef.max(k), 0, &mut visited, allowed)
        });
        found.truncate(k);
        found
    }
}
