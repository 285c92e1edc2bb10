//! A collection: points (id, vector, payload) under one configuration, and every operation on
//! them.
//!
//! Row `i` holds `ids[i]`, vector `i` and `payloads[i]`, and `index` maps each live id to its
//! row; `index` is a `BTreeMap` so `scroll` pages in id order.
//!
//! Without an HNSW graph, storage is dense: a delete moves the last row into the hole. With a
//! graph, rows never move between compactions, because the graph names them: a delete (or a
//! vector replaced by an upsert) leaves a tombstone in `dead`, new vectors are appended and
//! linked into the graph at once, and [`Collection::optimize`] (run automatically once a
//! quarter of the rows are tombstones) drops the tombstones and repairs the graph around them.
//! Invariant: `dead` is empty whenever there is no graph.
//!
//! Every write validates its whole input before changing anything: a batch is applied entirely
//! or not at all.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use crate::bitset::Bitset;
use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::guard::Guard;
use crate::index::hnsw::compact::DROPPED;
use crate::index::hnsw::space::with_space;
use crate::index::hnsw::{GraphRef, HnswGraph, HnswParams};
use crate::index::payload::section as payload_section;
use crate::index::payload::{PayloadIndex, PayloadIndexType};
use crate::index::value_graphs::{self, ValueGraphRef, ValueGraphs};
use crate::point::{Payload, PointId};
use crate::quantization::{Codes, Quantization};
use crate::read::{self, Layer, PointSource};
use crate::storage::segment::{write_segment, PayloadOut, SegmentSource};
use crate::storage::{FileKind, Segment};
use crate::vectors::{self, RowsRef, VectorStore};

/// The most points one collection holds: row offsets are u32.
pub const MAX_POINTS: usize = u32::MAX as usize;

/// Rows a graph holds before guard codes are learnt for it (`crate::guard`).
const GUARD_MIN_ROWS: usize = 1024;

/// Compaction waits for at least this many tombstones, so small collections do not churn.
const COMPACT_MIN_DEAD: usize = 64;

/// A collection of points.
#[derive(Debug, Clone)]
pub struct Collection {
    config: CollectionConfig,
    /// The HNSW graph over every row, tombstones included.
    hnsw: Option<HnswGraph>,
    /// Tombstoned rows (only while there is a graph).
    dead: Bitset,
    /// Payload indexes, each over every row (tombstones hold nothing).
    payload_indexes: Vec<PayloadIndex>,
    /// Quantized codes of every row, when quantization is on.
    codes: Option<Codes>,
    /// Guard codes of every row (`crate::guard`), while there is a graph and no quantization.
    guard: Option<Guard>,
    /// Graphs over the rows of common keyword values (only while there is a graph).
    value_graphs: ValueGraphs,
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
            dead: Bitset::new(0),
            payload_indexes: Vec::new(),
            codes: None,
            guard: None,
            value_graphs: ValueGraphs::default(),
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
        self.index.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// This collection as one read layer, tombstones excluded.
    pub(crate) fn layer(&self) -> Layer<'_> {
        Layer {
            src: self,
            dead: (self.dead.count() > 0).then_some(&self.dead),
        }
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

    /// [`Collection::upsert`] for long batches: checked as a whole once, then applied `chunk`
    /// points at a time (each chunk linked into the graph as one batch), calling
    /// `progress(points written so far)` after each. When `progress` returns `false` the rest
    /// is not written (the chunks before it stay written): hosts use it for progress bars and
    /// to stop on an interrupt. Returns how many points were written.
    pub fn upsert_chunked(
        &mut self,
        ids: &[PointId],
        vectors: &[f32],
        payloads: Option<Vec<Payload>>,
        chunk: usize,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<usize> {
        self.check_upsert(ids, vectors, payloads.as_deref())?;
        // Room for the whole batch at once: growing chunk by chunk would copy the store.
        self.vectors.reserve(ids.len());
        self.ids.reserve(ids.len());
        self.payloads.reserve(ids.len());
        let dim = self.config.dim;
        in_chunks(ids, vectors, dim, payloads, chunk, progress, |i, v, p| {
            self.apply_upsert(i, v, p);
            Ok(())
        })
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
        let new_rows = if self.hnsw.is_some() {
            n
        } else {
            ids.iter().filter(|id| !self.index.contains_key(id)).count()
        };
        if self.ids.len() + new_rows > MAX_POINTS {
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
        let indexed = self.hnsw.is_some();
        let new_rows = if indexed {
            ids.len()
        } else {
            ids.iter().filter(|id| !self.index.contains_key(id)).count()
        };
        self.vectors.reserve(new_rows);
        self.ids.reserve(new_rows);
        self.payloads.reserve(new_rows);
        let mut payloads = payloads.map(Vec::into_iter);
        let mut buf = Vec::with_capacity(dim);
        for (id, raw) in ids.iter().zip(vectors.chunks_exact(dim)) {
            // Normalised once (under cosine) for the store and the codes alike.
            let v = vectors::prepared_into(self.config.metric, raw, &mut buf);
            let payload = payloads
                .as_mut()
                .and_then(Iterator::next)
                .unwrap_or_default();
            match self.index.get(id) {
                Some(&row) if !indexed => {
                    self.vectors.set(row as usize, v);
                    if let Some(c) = &mut self.codes {
                        c.set(row as usize, v);
                    }
                    if let Some(g) = &mut self.guard {
                        g.set(row as usize, v);
                    }
                    for i in &mut self.payload_indexes {
                        i.set_row(row, Some(&payload));
                    }
                    self.payloads[row as usize] = payload;
                }
                old => {
                    if let Some(&row) = old {
                        // The graph names this row: the new vector goes in a new row.
                        self.dead.grow(self.ids.len());
                        self.dead.insert(row as usize);
                        for i in &mut self.payload_indexes {
                            i.set_row(row, None);
                        }
                    }
                    for i in &mut self.payload_indexes {
                        i.set_row(self.ids.len() as u32, Some(&payload));
                    }
                    if let Some(c) = &mut self.codes {
                        c.push(v);
                    }
                    let row = self.ids.len() as u32;
                    self.vectors.push(v);
                    if let Some(g) = &mut self.guard {
                        g.push(v);
                    }
                    self.ids.push(*id);
                    self.payloads.push(payload);
                    self.index.insert(*id, row);
                }
            }
        }
        self.link_new_rows();
        self.compact_if_worthwhile();
    }

    /// Links rows appended since the graph last grew.
    fn link_new_rows(&mut self) {
        let Some(g) = self.hnsw.as_mut() else {
            return;
        };
        self.dead.grow(self.ids.len());
        // Cannot fail: the row count was checked against MAX_POINTS before any row was added.
        let linked = g.insert_rows(
            self.vectors.rows(),
            self.config.dim,
            self.config.metric,
            self.ids.len(),
            &mut |_| true,
        );
        debug_assert!(linked.is_ok());
        // A graph built over too few rows to learn codes from gets them once it has grown.
        if self.guard.is_none() && self.codes.is_none() && self.ids.len() >= GUARD_MIN_ROWS {
            self.refresh_guard();
        }
        let rows = (self.vectors.rows(), self.config.dim, self.config.metric);
        self.value_graphs.extend(&self.payload_indexes, rows);
    }

    /// Compacts once tombstones are a quarter of the rows.
    fn compact_if_worthwhile(&mut self) {
        let dead = self.dead.count();
        if dead >= COMPACT_MIN_DEAD && dead * 4 >= self.ids.len() {
            self.optimize();
        }
    }

    /// Drops tombstoned rows now, repairing the graph around them (this otherwise happens by
    /// itself once a quarter of the rows are tombstones). Searches are correct either way;
    /// compaction reclaims memory and keeps the graph tight.
    pub fn optimize(&mut self) {
        if self.dead.count() == 0 {
            return;
        }
        let mut new_row = vec![DROPPED; self.ids.len()];
        let mut next = 0u32;
        for (r, slot) in new_row.iter_mut().enumerate() {
            if !self.dead.contains(r) {
                *slot = next;
                next += 1;
            }
        }
        if let Some(g) = &self.hnsw {
            let (compacted, pending) = with_space!(
                self.vectors.rows(),
                self.config.dim,
                self.config.metric,
                |space| g.view().compact(space, &new_row, next as usize)
            );
            debug_assert!(pending.is_empty());
            self.hnsw = Some(compacted);
        }
        self.vectors.remove_rows(&self.dead);
        if let Some(c) = &mut self.codes {
            c.retain_rows(|r| !self.dead.contains(r));
        }
        if let Some(g) = &mut self.guard {
            g.retain_rows(|r| !self.dead.contains(r));
        }
        let mut r = 0;
        self.ids.retain(|_| {
            r += 1;
            !self.dead.contains(r - 1)
        });
        let mut r = 0;
        self.payloads.retain(|_| {
            r += 1;
            !self.dead.contains(r - 1)
        });
        for row in self.index.values_mut() {
            *row = new_row[*row as usize];
        }
        self.dead = Bitset::new(self.ids.len());
        let defs = self.payload_index_list();
        self.payload_indexes.clear();
        // Made anew over the renumbered rows with the indexes.
        self.value_graphs.clear();
        for (key, kind) in defs {
            // Cannot fail: the key parsed when the index was created.
            let _ = self.create_payload_index(&key, kind);
        }
    }

    /// Indexes the payload values at `key` (a key path as in filters: `a.b`, `a[].b`) as
    /// `kind`, so filter conditions on it are answered from the index instead of by reading
    /// every payload; kept current by every write. An index on the same key is replaced.
    pub fn create_payload_index(&mut self, key: &str, kind: PayloadIndexType) -> Result<()> {
        let index = PayloadIndex::build(key, kind, self.payloads.len(), |r| {
            Ok((!self.dead.contains(r)).then_some(Cow::Borrowed(&self.payloads[r])))
        })?;
        self.payload_indexes.retain(|i| i.key().as_str() != key);
        let rows = (self.vectors.rows(), self.config.dim, self.config.metric);
        if kind == PayloadIndexType::Keyword && self.value_graphs.adopted(key) {
            // The graphs came with the rows from a file: the index takes them as they are.
            self.value_graphs.keep(key);
        } else if let Some(g) = &self.hnsw {
            let params = g.view().params();
            self.value_graphs
                .rebuild(&index, self.ids.len(), rows, params);
        } else {
            self.value_graphs.drop_key(key);
        }
        self.payload_indexes.push(index);
        self.value_graphs.extend(&self.payload_indexes, rows);
        Ok(())
    }

    /// Switches quantization on (int8: a byte per component; binary: a bit) or off (`None`).
    /// The quantizer is learnt from the current vectors and the codes are kept current
    /// through every write. Searches then rank by codes and rescore `oversampling × k`
    /// candidates with the full vectors (see [`crate::quantization`]);
    /// `SearchRequest::exact` still searches at full precision. Calling it again relearns.
    pub fn set_quantization(&mut self, quantization: Option<Quantization>) -> Result<()> {
        self.codes = match quantization {
            None => None,
            Some(q) => {
                let (rows, dim) = (self.vectors.rows(), self.config.dim);
                Some(Codes::train(self.ids.len(), dim, q, &|r| {
                    Ok(Cow::Owned(rows.get(r, dim)))
                })?)
            }
        };
        self.refresh_guard();
        Ok(())
    }

    /// Takes `codes` of this collection's rows, in row order (a snapshot's, restored with it).
    pub(crate) fn set_codes(&mut self, codes: Option<Codes>) {
        self.codes = codes;
        self.refresh_guard();
    }

    /// Makes the guard codes afresh where walks use them (a graph over full-precision rows),
    /// or drops them.
    fn refresh_guard(&mut self) {
        self.guard = match (&self.hnsw, &self.codes) {
            (Some(_), None) if self.ids.len() >= GUARD_MIN_ROWS => {
                Guard::of_rows(self.vectors.rows(), self.config.dim, self.config.metric)
            }
            _ => None,
        };
    }

    /// The quantization searches use, if any.
    pub fn quantization(&self) -> Option<Quantization> {
        self.codes.as_ref().map(Codes::quantization)
    }

    /// Removes the payload index on `key`; returns whether there was one.
    pub fn drop_payload_index(&mut self, key: &str) -> bool {
        let before = self.payload_indexes.len();
        self.payload_indexes.retain(|i| i.key().as_str() != key);
        self.value_graphs.drop_key(key);
        self.payload_indexes.len() != before
    }

    /// The payload indexes: key path and type, in creation order.
    pub fn payload_index_list(&self) -> Vec<(String, PayloadIndexType)> {
        self.payload_indexes
            .iter()
            .map(|i| (i.key().as_str().to_owned(), i.kind()))
            .collect()
    }

    /// Deletes points by id; ids that do not exist are skipped. Returns how many were deleted.
    pub fn delete(&mut self, ids: &[PointId]) -> usize {
        let deleted = ids.iter().filter(|id| self.remove(id)).count();
        self.compact_if_worthwhile();
        deleted
    }

    /// Deletes every point passing `filter`. Returns how many were deleted.
    pub fn delete_by_filter(&mut self, filter: &Filter) -> Result<usize> {
        let doomed: Vec<PointId> = read::matching_rows(self.layer(), filter)?
            .into_iter()
            .map(|row| self.ids[row as usize])
            .collect();
        Ok(self.delete(&doomed))
    }

    fn remove(&mut self, id: &PointId) -> bool {
        let Some(row) = self.index.remove(id) else {
            return false;
        };
        let row = row as usize;
        for i in &mut self.payload_indexes {
            i.set_row(row as u32, None);
        }
        if self.hnsw.is_some() {
            self.dead.grow(self.ids.len());
            self.dead.insert(row);
            return true;
        }
        let last = self.ids.len() - 1;
        self.vectors.swap_remove(row);
        if let Some(c) = &mut self.codes {
            c.swap_remove(row);
        }
        if let Some(g) = &mut self.guard {
            g.swap_remove(row);
        }
        self.ids.swap_remove(row);
        self.payloads.swap_remove(row);
        if row != last {
            self.index.insert(self.ids[row], row as u32);
            for i in &mut self.payload_indexes {
                i.move_row(last as u32, row as u32);
            }
        }
        for i in &mut self.payload_indexes {
            i.truncate(last);
        }
        true
    }

    crate::read::read_methods!(self => [self.layer()]);

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
                for i in &mut self.payload_indexes {
                    i.set_row(row, Some(&self.payloads[row as usize]));
                }
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
        // The file numbers rows in id order: the graphs are renumbered to match, and tombstones
        // are dropped on the way.
        let mut new_row = vec![DROPPED; self.ids.len()];
        for (i, &r) in self.index.values().enumerate() {
            new_row[r as usize] = i as u32;
        }
        let graph = self.hnsw.as_ref().map(|g| {
            with_space!(rows, dim, self.config.metric, |space| {
                g.view().compact(space, &new_row, self.index.len()).0
            })
        });
        let value_graphs = self
            .value_graphs
            .for_file(&new_row, (rows, dim, self.config.metric));
        let payload_indexes: Vec<payload_section::Parts<'_>> = self
            .payload_indexes
            .iter()
            .map(|i| vec![(i, new_row.as_slice())])
            .collect();
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
            graph: graph.as_ref(),
            codes: self
                .codes
                .as_ref()
                .map(|c| c.section(self.index.values().map(|&r| r as usize))),
            value_graphs: (!value_graphs.is_empty())
                .then(|| value_graphs::encode_section(&value_graphs)),
            payload_indexes: (!payload_indexes.is_empty())
                .then(|| payload_section::encode_section(&payload_indexes)),
        };
        write_segment(w, kind, &source)
    }

    /// The snapshot file's bytes (see [`Collection::write_snapshot`]).
    pub fn snapshot_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_snapshot(&mut out)?;
        Ok(out)
    }

    /// Builds an HNSW graph over the current points (on all cores with the `parallel`
    /// feature); searches use it (see [`crate::SearchRequest::ef`]). From then on, upserts link
    /// new vectors into the graph as they arrive and deletes leave tombstones (see the module
    /// docs), so the index stays current. Building again replaces the graph.
    pub fn build_index(&mut self, params: HnswParams) -> Result<()> {
        self.build_index_with_progress(params, &mut |_| true)
            .map(|_| ())
    }

    /// [`Collection::build_index`] for long builds: `progress(points linked so far)` is called
    /// as the build goes; when it returns `false` the build stops, the partial graph is thrown
    /// away and the collection keeps the index it had (returns `Ok(false)`). The old graph
    /// serves searches until the new one replaces it.
    pub fn build_index_with_progress(
        &mut self,
        params: HnswParams,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<bool> {
        params.validate()?;
        self.optimize();
        let built = HnswGraph::build(
            self.vectors.rows(),
            self.config.dim,
            self.config.metric,
            params,
            progress,
        )?;
        match built {
            Some(g) => {
                let params = g.view().params();
                self.hnsw = Some(g);
                self.refresh_guard();
                self.value_graphs.clear();
                let rows = (self.vectors.rows(), self.config.dim, self.config.metric);
                for index in &self.payload_indexes {
                    self.value_graphs
                        .rebuild(index, self.ids.len(), rows, params);
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Drops the HNSW graph: searches scan every point (exact) until an index is built again.
    pub fn drop_index(&mut self) {
        self.optimize();
        self.hnsw = None;
        self.guard = None;
        self.value_graphs.clear();
    }

    /// The value graphs (tests look inside).
    #[cfg(test)]
    pub(crate) fn value_graph_set(&self) -> &ValueGraphs {
        &self.value_graphs
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
        let at = self.ids.len() as u32;
        for i in &mut self.payload_indexes {
            i.set_row(at, Some(&payload));
        }
        self.vectors.push_stored(from, row);
        if self.codes.is_some() || self.guard.is_some() {
            let v = from.get(row, self.config.dim);
            if let Some(c) = &mut self.codes {
                c.push(&v);
            }
            if let Some(g) = &mut self.guard {
                g.push(&v);
            }
        }
        self.ids.push(id);
        self.payloads.push(payload);
        self.index.insert(id, at);
        self.link_new_rows();
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
        col.hnsw = segment.hnsw().map(|g| g.to_owned_graph());
        col.refresh_guard();
        // Value graphs need rows that stay put, as they do only while there is a graph.
        if let (Some(_), Some((section, stored))) = (&col.hnsw, segment.value_graphs()) {
            col.value_graphs.adopt(section, stored);
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

    fn hnsw(&self) -> Option<GraphRef<'_>> {
        self.hnsw.as_ref().map(HnswGraph::view)
    }

    fn payload_indexes(&self) -> &[PayloadIndex] {
        &self.payload_indexes
    }

    fn codes(&self) -> Option<&Codes> {
        self.codes.as_ref()
    }

    fn guard(&self) -> Option<&Guard> {
        self.guard.as_ref()
    }

    fn value_graphs(&self) -> Vec<(&str, &str, ValueGraphRef<'_>)> {
        self.value_graphs.all()
    }
}

/// Hands a checked upsert batch to `write` `chunk` points at a time (`vectors` holds `dim`
/// components per id), calling `progress(points written so far)` after each chunk and stopping
/// when it returns `false`; returns how many points were written. The one chunking of every
/// collection kind's `upsert_chunked`.
pub(crate) fn in_chunks(
    ids: &[PointId],
    vectors: &[f32],
    dim: usize,
    payloads: Option<Vec<Payload>>,
    chunk: usize,
    progress: &mut dyn FnMut(usize) -> bool,
    mut write: impl FnMut(&[PointId], &[f32], Option<Vec<Payload>>) -> Result<()>,
) -> Result<usize> {
    let chunk = chunk.max(1);
    let mut payloads = payloads.map(Vec::into_iter);
    let mut done = 0;
    for (chunk_ids, chunk_rows) in ids.chunks(chunk).zip(vectors.chunks(chunk * dim.max(1))) {
        let chunk_payloads = payloads
            .as_mut()
            .map(|p| p.by_ref().take(chunk_ids.len()).collect());
        write(chunk_ids, chunk_rows, chunk_payloads)?;
        done += chunk_ids.len();
        if !progress(done) {
            break;
        }
    }
    Ok(done)
}
