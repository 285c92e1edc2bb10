//! A collection: points (id, vector, payload) under one configuration, and every operation on
//! them.
//!
//! Storage is dense: row `i` holds `ids[i]`, vector `i` and `payloads[i]`, and `index` maps each
//! id to its row. Deleting moves the last row into the hole, so there are no tombstones and
//! scans touch only live rows; `index` is a `BTreeMap` so `scroll` pages in id order.
//!
//! Every write validates its whole input before changing anything: a batch is applied entirely
//! or not at all.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::index::hnsw::{HnswGraph, HnswParams};
use crate::point::{Payload, PointId};
use crate::read::{self, Layer, PointSource};
use crate::storage::segment::{write_segment, PayloadOut, SegmentSource};
use crate::storage::{FileKind, Segment};
use crate::vectors::{self, RowsRef, VectorStore};

/// The most points one collection holds: row offsets are u32.
pub const MAX_POINTS: usize = u32::MAX as usize;

/// A collection of points.
#[derive(Debug, Clone)]
pub struct Collection {
    config: CollectionConfig,
    /// The HNSW graph over the current rows; dropped by any change to vectors or row order.
    hnsw: Option<HnswGraph>,
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
            hnsw: None,
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
        self.check_upsert(ids, vectors, payloads.as_deref())?;
        self.apply_upsert(ids, vectors, payloads);
        Ok(())
    }

    /// Checks an upsert without applying it: exactly the checks [`Collection::upsert`] makes.
    pub fn check_upsert(
        &self,
        ids: &[PointId],
        vectors: &[f32],
        payloads: Option<&[Payload]>,
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
        if let Some(p) = payloads {
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
        Ok(())
    }

    /// Applies an upsert that passed [`Collection::check_upsert`].
    pub(crate) fn apply_upsert(
        &mut self,
        ids: &[PointId],
        vectors: &[f32],
        payloads: Option<Vec<Payload>>,
    ) {
        let dim = self.config.dim;
        if !ids.is_empty() {
            self.hnsw = None;
        }
        let new_points = ids.iter().filter(|id| !self.index.contains_key(id)).count();
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
    }

    /// Deletes points by id; ids that do not exist are skipped. Returns how many were deleted.
    pub fn delete(&mut self, ids: &[PointId]) -> usize {
        ids.iter().filter(|id| self.remove(id)).count()
    }

    /// Deletes every point passing `filter`. Returns how many were deleted.
    pub fn delete_by_filter(&mut self, filter: &Filter) -> Result<usize> {
        let doomed: Vec<PointId> = read::matching_rows(Layer::whole(self), filter)?
            .into_iter()
            .map(|row| self.ids[row as usize])
            .collect();
        Ok(self.delete(&doomed))
    }

    fn remove(&mut self, id: &PointId) -> bool {
        let Some(row) = self.index.remove(id) else {
            return false;
        };
        self.hnsw = None;
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

    crate::read::read_methods!(self => [Layer::whole(self)]);

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

    /// Writes the collection as one snapshot file (FORMAT.md) to `w`; returns its length. The
    /// snapshot is self-contained: [`Snapshot`](crate::Snapshot) opens and searches it as is.
    pub fn write_snapshot<W: std::io::Write>(&self, w: &mut W) -> Result<u64> {
        self.write_segment(w, FileKind::Snapshot)
    }

    /// Writes all points as a segment file of `kind`.
    pub(crate) fn write_segment<W: std::io::Write>(
        &self,
        w: &mut W,
        kind: FileKind,
    ) -> Result<u64> {
        let rows = self.vectors.rows();
        let dim = self.config.dim;
        let source = SegmentSource {
            config: self.config,
            ids: self.index.keys().copied().collect(),
            rows: self
                .index
                .values()
                .map(|&r| rows.bytes(r as usize, dim))
                .collect(),
            payloads: self
                .index
                .values()
                .map(|&r| PayloadOut::Parsed(&self.payloads[r as usize]))
                .collect(),
        };
        write_segment(w, kind, &source)
    }

    /// The snapshot file's bytes (see [`Collection::write_snapshot`]).
    pub fn snapshot_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_snapshot(&mut out)?;
        Ok(out)
    }

    /// Builds an HNSW graph over the current points; searches use it (see
    /// [`crate::SearchRequest::ef`]) until the next change to vectors, which drops it, after which
    /// searches are exact until it is built again.
    pub fn build_index(&mut self, params: HnswParams) -> Result<()> {
        self.hnsw = Some(HnswGraph::build(
            self.vectors.rows(),
            self.config.dim,
            self.config.metric,
            params,
        )?);
        Ok(())
    }

    /// Whether an HNSW graph is built and current.
    pub fn has_index(&self) -> bool {
        self.hnsw.is_some()
    }

    #[cfg(feature = "fs")]
    /// Appends a point whose vector is row `row` of `from` (already prepared, in this
    /// collection's type) and whose id is not present. Used to move a point between layers.
    pub(crate) fn insert_stored(
        &mut self,
        id: PointId,
        from: RowsRef<'_>,
        row: usize,
        payload: Payload,
    ) {
        debug_assert!(!self.index.contains_key(&id));
        self.hnsw = None;
        let at = self.ids.len() as u32;
        self.vectors.push_stored(from, row);
        self.ids.push(id);
        self.payloads.push(payload);
        self.index.insert(id, at);
    }

    /// The payload of row `row`.
    #[cfg(feature = "fs")]
    pub(crate) fn payload_at(&self, row: usize) -> &Payload {
        &self.payloads[row]
    }

    /// A collection holding exactly the points of an open segment or snapshot.
    pub(crate) fn from_segment(segment: &Segment) -> Result<Collection> {
        let mut col = Collection::new(*segment.config())?;
        let n = segment.len();
        let rows = segment.rows();
        col.vectors.reserve(n);
        col.ids.reserve(n);
        col.payloads.reserve(n);
        for row in 0..n {
            let id = segment.id(row);
            col.vectors.push_stored(rows, row);
            col.ids.push(id);
            col.payloads.push(segment.payload(row)?);
            col.index.insert(id, row as u32);
        }
        Ok(col)
    }
}

impl PointSource for Collection {
    fn config(&self) -> &CollectionConfig {
        &self.config
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn rows(&self) -> RowsRef<'_> {
        self.vectors.rows()
    }

    fn id(&self, row: usize) -> PointId {
        self.ids[row]
    }

    fn find(&self, id: PointId) -> Option<usize> {
        self.index.get(&id).map(|&r| r as usize)
    }

    fn rows_in_id_order(&self, start: Option<PointId>) -> Box<dyn Iterator<Item = usize> + '_> {
        let start = start.map_or(Bound::Unbounded, Bound::Included);
        Box::new(
            self.index
                .range((start, Bound::Unbounded))
                .map(|(_, &r)| r as usize),
        )
    }

    fn payload(&self, row: usize) -> Result<Cow<'_, Payload>> {
        Ok(Cow::Borrowed(&self.payloads[row]))
    }

    fn hnsw(&self) -> Option<&HnswGraph> {
        self.hnsw.as_ref()
    }
}
