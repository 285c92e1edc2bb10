//! Read-only collections opened straight from a snapshot file: no unpacking, no copy when
//! memory-mapped. The same reads as [`Collection`](crate::Collection), answered by the same
//! code (`read`).

use std::borrow::Cow;

use crate::collection::Collection;
use crate::config::CollectionConfig;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::point::{Payload, PointId, Record, ScoredPoint};
use crate::read::{self, Layer, PointSource, ScrollPage, SearchRequest};
use crate::storage::{FileBytes, FileKind, Segment};
use crate::vectors::RowsRef;

/// A snapshot opened read-only.
#[derive(Debug)]
pub struct Snapshot {
    segment: Segment,
}

impl Snapshot {
    /// Validates snapshot bytes (a copy is made so sections are aligned for in-place reads).
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot> {
        Snapshot::from_segment(Segment::from_bytes(FileBytes::copy_from(bytes))?)
    }

    /// Reads a snapshot file into memory and validates it.
    #[cfg(feature = "fs")]
    pub fn read(path: &std::path::Path) -> Result<Snapshot> {
        Snapshot::from_segment(Segment::read(path)?)
    }

    /// Memory-maps a snapshot file and validates its structure; vectors are read on demand.
    #[cfg(feature = "mmap")]
    pub fn map(path: &std::path::Path) -> Result<Snapshot> {
        Snapshot::from_segment(Segment::map(path)?)
    }

    fn from_segment(segment: Segment) -> Result<Snapshot> {
        if segment.kind() != FileKind::Snapshot {
            return Err(Error::InvalidArgument(format!(
                "this is a {} file, not a snapshot; open a snapshot written by write_snapshot",
                segment.kind().name()
            )));
        }
        Ok(Snapshot { segment })
    }

    /// Checks every checksum in the file (reads all of it).
    pub fn verify(&self) -> Result<()> {
        self.segment.verify()
    }

    /// The settings the collection had.
    pub fn config(&self) -> &CollectionConfig {
        self.segment.config()
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.segment.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.segment.is_empty()
    }

    /// Whether the file is memory-mapped rather than read into memory.
    pub fn is_mapped(&self) -> bool {
        self.segment.is_mapped()
    }

    /// A writable in-memory collection with the same points (restore).
    pub fn to_collection(&self) -> Result<Collection> {
        Collection::from_segment(&self.segment)
    }

    /// The points with these ids, in the order asked; ids that do not exist are skipped.
    pub fn get(
        &self,
        ids: &[PointId],
        with_payload: bool,
        with_vector: bool,
    ) -> Result<Vec<Record>> {
        read::get(&[Layer::whole(self)], ids, with_payload, with_vector)
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
        read::scroll(
            &[Layer::whole(self)],
            filter,
            limit,
            offset,
            with_payload,
            with_vector,
        )
    }

    /// How many points pass `filter` (all points when `None`).
    pub fn count(&self, filter: Option<&Filter>) -> Result<usize> {
        read::count(&[Layer::whole(self)], filter)
    }

    /// The closest points to one query.
    pub fn search(&self, request: &SearchRequest<'_>) -> Result<Vec<ScoredPoint>> {
        let mut results = read::search_batch(&[Layer::whole(self)], std::slice::from_ref(request))?;
        Ok(results.pop().unwrap_or_default())
    }

    /// Several searches in one pass over the data; results in request order.
    pub fn search_batch(&self, requests: &[SearchRequest<'_>]) -> Result<Vec<Vec<ScoredPoint>>> {
        read::search_batch(&[Layer::whole(self)], requests)
    }
}

impl PointSource for Snapshot {
    fn config(&self) -> &CollectionConfig {
        self.segment.config()
    }

    fn len(&self) -> usize {
        self.segment.len()
    }

    fn rows(&self) -> RowsRef<'_> {
        self.segment.rows()
    }

    fn id(&self, row: usize) -> PointId {
        self.segment.id(row)
    }

    fn find(&self, id: PointId) -> Option<usize> {
        self.segment.find(id)
    }

    fn rows_in_id_order(&self, start: Option<PointId>) -> Box<dyn Iterator<Item = usize> + '_> {
        self.segment.rows_in_id_order(start)
    }

    fn payload(&self, row: usize) -> Result<Cow<'_, Payload>> {
        PointSource::payload(&self.segment, row)
    }
}
