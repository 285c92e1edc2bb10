//! A collection: points (id, vector, payload) under one configuration, and every operation on
//! them.
//!
//! Storage is dense: row `i` holds `ids[i]`, vector `i` and `payloads[i]`, and `index` maps each
//! id to its row. Deleting moves the last row into the hole, so there are no tombstones and
//! scans touch only live rows; `index` is a `BTreeMap` so `scroll` pages in id order.
//!
//! Every write validates its whole input before changing anything: a batch is applied entirely
//! or not at all.

use std::collections::{BTreeMap, HashMap};

use crate::config::CollectionConfig;
use crate::distance::Kernels;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::point::{Payload, PointId, Record, ScoredPoint};
use crate::search::exact::{self, Candidates, Query};
use crate::vectors::{self, VectorStore};

/// Collections at least this large evaluate filters on all cores.
#[cfg(feature = "parallel")]
const PARALLEL_FILTER_MIN_ROWS: usize = 16_384;

/// The most points one collection holds: row offsets are u32.
pub const MAX_POINTS: usize = u32::MAX as usize;

/// One search: the query and what to return.
#[derive(Debug, Clone, Copy)]
pub struct SearchRequest<'a> {
    /// The query vector, in the collection's dimension.
    pub vector: &'a [f32],
    /// How many hits to return, at least 1. Values above the collection size are clamped.
    pub k: usize,
    /// Only points passing this filter are considered.
    pub filter: Option<&'a Filter>,
    /// Only hits at least this similar (cosine, dot: score >= threshold) or at most this far
    /// (euclid, manhattan: score <= threshold) are returned.
    pub score_threshold: Option<f32>,
    /// Skip this many of the closest hits first (pagination).
    pub offset: usize,
    /// Attach payloads to the hits.
    pub with_payload: bool,
    /// Attach stored vectors to the hits.
    pub with_vector: bool,
}

impl<'a> SearchRequest<'a> {
    /// A request for the `k` closest points, with payloads and without vectors.
    pub fn new(vector: &'a [f32], k: usize) -> Self {
        SearchRequest {
            vector,
            k,
            filter: None,
            score_threshold: None,
            offset: 0,
            with_payload: true,
            with_vector: false,
        }
    }

    /// The same request restricted by `filter`.
    pub fn with_filter(mut self, filter: &'a Filter) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// One page of [`Collection::scroll`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScrollPage {
    /// The points of this page, in id order.
    pub records: Vec<Record>,
    /// The id to pass as `offset` for the next page; `None` on the last page.
    pub next_offset: Option<PointId>,
}

/// A collection of points.
#[derive(Debug, Clone)]
pub struct Collection {
    config: CollectionConfig,
    ids: Vec<PointId>,
    vectors: VectorStore,
    payloads: Vec<Payload>,
    index: BTreeMap<PointId, u32>,
}

impl Collection {
    /// An empty collection.
    pub fn new(config: CollectionConfig) -> Result<Collection> {
        config.validate()?;
        Ok(Collection {
            vectors: VectorStore::new(&config),
            config,
            ids: Vec::new(),
            payloads: Vec::new(),
            index: BTreeMap::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CollectionConfig {
        &self.config
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Inserts or replaces points. `vectors` holds `ids.len()` vectors back to back;
    /// `payloads`, when given, one per id (a replaced point without one gets an empty payload).
    ///
    /// Rejected as a whole, before any change: a wrong vector length, a non-finite component,
    /// a zero vector under cosine, a value outside f16 range under f16 storage, a payload count
    /// that differs from the id count, or an id given twice.
    pub fn upsert(
        &mut self,
        ids: &[PointId],
        vectors: &[f32],
        payloads: Option<Vec<Payload>>,
    ) -> Result<()> {
        let n = ids.len();
        let dim = self.config.dim;
        if vectors.len() != n * dim {
            if n > 0 && vectors.len().is_multiple_of(n) {
                return Err(Error::DimensionMismatch {
                    expected: dim,
                    got: vectors.len() / n,
                    context: format!("{n} vectors in the batch"),
                });
            }
            return Err(Error::InvalidArgument(format!(
                "{} floats cannot be {n} vectors of dimension {dim} (expected {})",
                vectors.len(),
                n * dim
            )));
        }
        if let Some(p) = &payloads {
            if p.len() != n {
                return Err(Error::InvalidArgument(format!(
                    "{} payloads for {n} ids; give one payload per id or none",
                    p.len()
                )));
            }
        }
        let mut seen: HashMap<PointId, usize> = HashMap::with_capacity(n);
        for (i, id) in ids.iter().enumerate() {
            if let Some(first) = seen.insert(*id, i) {
                return Err(Error::InvalidArgument(format!(
                    "point id {id} appears twice in one batch (positions {first} and {i}); \
                     each id may appear once per upsert"
                )));
            }
        }
        for (i, v) in vectors.chunks_exact(dim).enumerate() {
            vectors::validate(&self.config, v, &|| {
                format!("vector {i} of the batch, id {}", ids[i])
            })?;
        }
        let new_points = ids.iter().filter(|id| !self.index.contains_key(id)).count();
        if self.len() + new_points > MAX_POINTS {
            return Err(Error::InvalidArgument(format!(
                "a collection holds at most {MAX_POINTS} points"
            )));
        }

        self.vectors.reserve(new_points);
        self.ids.reserve(new_points);
        self.payloads.reserve(new_points);
        let mut payloads = payloads.map(Vec::into_iter);
        for (id, v) in ids.iter().zip(vectors.chunks_exact(dim)) {
            let payload = payloads
                .as_mut()
                .and_then(Iterator::next)
                .unwrap_or_default();
            match self.index.get(id) {
                Some(&row) => {
                    self.vectors.set(row as usize, v);
                    self.payloads[row as usize] = payload;
                }
                None => {
                    let row = self.ids.len() as u32;
                    self.vectors.push(v);
                    self.ids.push(*id);
                    self.payloads.push(payload);
                    self.index.insert(*id, row);
                }
            }
        }
        Ok(())
    }

    /// Deletes points by id; ids that do not exist are skipped. Returns how many were deleted.
    pub fn delete(&mut self, ids: &[PointId]) -> usize {
        ids.iter().filter(|id| self.remove(id)).count()
    }

    /// Deletes every point passing `filter`. Returns how many were deleted.
    pub fn delete_by_filter(&mut self, filter: &Filter) -> usize {
        let doomed: Vec<PointId> = self
            .matching_rows(filter)
            .into_iter()
            .map(|row| self.ids[row as usize])
            .collect();
        self.delete(&doomed)
    }

    fn remove(&mut self, id: &PointId) -> bool {
        let Some(row) = self.index.remove(id) else {
            return false;
        };
        let row = row as usize;
        let last = self.ids.len() - 1;
        self.vectors.swap_remove(row);
        self.ids.swap_remove(row);
        self.payloads.swap_remove(row);
        if row != last {
            self.index.insert(self.ids[row], row as u32);
        }
        true
    }

    fn record(&self, row: usize, with_payload: bool, with_vector: bool) -> Record {
        Record {
            id: self.ids[row],
            payload: with_payload.then(|| self.payloads[row].clone()),
            vector: with_vector.then(|| self.vectors.get(row)),
        }
    }

    /// The points with these ids, in the order asked; ids that do not exist are skipped.
    pub fn get(&self, ids: &[PointId], with_payload: bool, with_vector: bool) -> Vec<Record> {
        ids.iter()
            .filter_map(|id| self.index.get(id))
            .map(|&row| self.record(row as usize, with_payload, with_vector))
            .collect()
    }

    /// Up to `limit` points in id order, starting at `offset` (inclusive), optionally filtered.
    pub fn scroll(
        &self,
        filter: Option<&Filter>,
        limit: usize,
        offset: Option<PointId>,
        with_payload: bool,
        with_vector: bool,
    ) -> Result<ScrollPage> {
        if limit == 0 {
            return Err(Error::InvalidArgument(
                "scroll limit must be at least 1".into(),
            ));
        }
        let start = offset.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Included);
        let mut passing = self
            .index
            .range((start, std::ops::Bound::Unbounded))
            .map(|(_, &row)| row as usize)
            .filter(|&row| filter.is_none_or(|f| f.matches(self.ids[row], &self.payloads[row])));
        let records = passing
            .by_ref()
            .take(limit)
            .map(|row| self.record(row, with_payload, with_vector))
            .collect();
        let next_offset = passing.next().map(|row| self.ids[row]);
        Ok(ScrollPage {
            records,
            next_offset,
        })
    }

    /// How many points pass `filter` (all points when `None`).
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        match filter {
            None => self.len(),
            Some(f) => self.matching_rows(f).len(),
        }
    }

    /// Replaces the payload keys given in `payload` on these points, keeping other keys.
    /// Returns how many points were updated.
    pub fn set_payload(&mut self, ids: &[PointId], payload: &Payload) -> usize {
        self.update_payloads(ids, |p| {
            for (k, v) in payload {
                p.insert(k.clone(), v.clone());
            }
        })
    }

    /// Replaces the whole payload of these points. Returns how many were updated.
    pub fn overwrite_payload(&mut self, ids: &[PointId], payload: &Payload) -> usize {
        self.update_payloads(ids, |p| *p = payload.clone())
    }

    /// Removes these top-level keys from the payloads of these points.
    pub fn delete_payload_keys(&mut self, ids: &[PointId], keys: &[String]) -> usize {
        self.update_payloads(ids, |p| {
            for k in keys {
                p.shift_remove(k);
            }
        })
    }

    fn update_payloads(&mut self, ids: &[PointId], mut f: impl FnMut(&mut Payload)) -> usize {
        let mut updated = 0;
        for id in ids {
            if let Some(&row) = self.index.get(id) {
                f(&mut self.payloads[row as usize]);
                updated += 1;
            }
        }
        updated
    }

    /// The closest points to one query.
    pub fn search(&self, request: &SearchRequest<'_>) -> Result<Vec<ScoredPoint>> {
        let mut results = self.search_batch(std::slice::from_ref(request))?;
        Ok(results.pop().unwrap_or_default())
    }

    /// Several searches in one pass over the data; results in request order. Requests that
    /// share a filter share its evaluation and its scan.
    pub fn search_batch(&self, requests: &[SearchRequest<'_>]) -> Result<Vec<Vec<ScoredPoint>>> {
        let metric = self.config.metric;
        let mut prepared = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            let context = || {
                if requests.len() == 1 {
                    "query".to_owned()
                } else {
                    format!("query {i} of the batch")
                }
            };
            if r.k == 0 {
                return Err(Error::InvalidArgument(format!(
                    "k must be at least 1 ({})",
                    context()
                )));
            }
            if r.score_threshold.is_some_and(f32::is_nan) {
                return Err(Error::InvalidArgument(format!(
                    "score_threshold is NaN ({})",
                    context()
                )));
            }
            vectors::validate(&self.config, r.vector, &context)?;
            prepared.push(vectors::prepared(metric, r.vector));
        }

        // Group requests by filter so each distinct filter is evaluated once.
        let mut groups: Vec<(Option<&Filter>, Vec<usize>)> = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            let same = |g: &(Option<&Filter>, Vec<usize>)| match (g.0, r.filter) {
                (None, None) => true,
                (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
                _ => false,
            };
            match groups.iter_mut().find(|g| same(g)) {
                Some(g) => g.1.push(i),
                None => groups.push((r.filter, vec![i])),
            }
        }

        let kernels = Kernels::detected();
        let mut results: Vec<Vec<ScoredPoint>> = vec![Vec::new(); requests.len()];
        for (filter, members) in groups {
            let allowed: Option<Vec<u32>> = filter.map(|f| self.matching_rows(f));
            let cands = match &allowed {
                Some(rows) => Candidates::List(rows),
                None => Candidates::All(self.len()),
            };
            let queries: Vec<Query<'_>> = members
                .iter()
                .map(|&i| Query {
                    vector: &prepared[i],
                    cap: requests[i]
                        .k
                        .saturating_add(requests[i].offset)
                        .min(cands.len()),
                })
                .collect();
            let tops = exact::scan(
                self.vectors.rows(),
                self.config.dim,
                metric,
                kernels,
                cands,
                &queries,
            );
            for (&i, top) in members.iter().zip(tops) {
                let r = &requests[i];
                results[i] = top
                    .into_sorted()
                    .into_iter()
                    .skip(r.offset)
                    .take(r.k)
                    .map(|c| (c.offset as usize, exact::user_score(metric, c.score)))
                    .take_while(|&(_, s)| match r.score_threshold {
                        None => true,
                        Some(t) if metric.higher_is_closer() => s >= t,
                        Some(t) => s <= t,
                    })
                    .map(|(row, score)| ScoredPoint {
                        id: self.ids[row],
                        score,
                        payload: r.with_payload.then(|| self.payloads[row].clone()),
                        vector: r.with_vector.then(|| self.vectors.get(row)),
                    })
                    .collect();
            }
        }
        Ok(results)
    }

    /// Rows whose point passes `filter`, ascending. Evaluated on all cores for large
    /// collections: without payload indexes this walks every payload.
    fn matching_rows(&self, filter: &Filter) -> Vec<u32> {
        let passes = |row: usize| filter.matches(self.ids[row], &self.payloads[row]);
        #[cfg(feature = "parallel")]
        if self.len() >= PARALLEL_FILTER_MIN_ROWS {
            use rayon::prelude::*;
            return (0..self.len())
                .into_par_iter()
                .filter(|&r| passes(r))
                .map(|r| r as u32)
                .collect();
        }
        (0..self.len())
            .filter(|&r| passes(r))
            .map(|r| r as u32)
            .collect()
    }
}
