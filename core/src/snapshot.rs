//! Read-only collections opened straight from a snapshot file: no unpacking, no copy when
//! memory-mapped. The same reads as [`Collection`](crate::Collection), answered by the same
//! code (`read`).

use crate::collection::Collection;
use crate::config::CollectionConfig;
#[cfg(feature = "fs")]
use crate::config::{StorageOptions, StorageTier};
use crate::error::{Error, Result};
use crate::index::payload::PayloadIndexType;
use crate::indexed_segment::IndexedSegment;
use crate::quantization::Quantization;
use crate::read::{Layer, PointSource};
use crate::storage::{FileBytes, FileKind, Segment};

/// A snapshot opened read-only.
#[derive(Debug)]
pub struct Snapshot {
    /// The file, with the payload indexes built since opening and the codes searches rank by
    /// (copied from the file when it carries them for the quantization asked, else computed).
    segment: IndexedSegment,
}

impl Snapshot {
    /// Validates snapshot bytes (a copy is made so sections are aligned for in-place reads).
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot> {
        Snapshot::from_segment(Segment::from_bytes(FileBytes::copy_from(bytes))?)
    }

    /// Validates snapshot bytes that `fill` writes into the snapshot's own buffer of `len`
    /// bytes: one copy, for hosts whose bytes live outside Rust's memory (a JS `Uint8Array`).
    pub fn from_fill(len: usize, fill: impl FnOnce(&mut [u8])) -> Result<Snapshot> {
        Snapshot::from_segment(Segment::from_bytes(FileBytes::filled_by(len, fill))?)
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

    /// Opens a snapshot file in a storage tier, with quantization (see [`StorageOptions`]):
    /// `memory` reads it into memory, `mmap` maps it, `disk` maps it but reads full vectors
    /// only to rescore the few candidates a search ranks by codes.
    #[cfg(feature = "fs")]
    pub fn open(path: &std::path::Path, options: &StorageOptions) -> Result<Snapshot> {
        Ok(Snapshot {
            segment: IndexedSegment::open(path, options, Snapshot::check_kind)?,
        })
    }

    /// The tier the file is served from (see [`Snapshot::open`]).
    #[cfg(feature = "fs")]
    pub fn tier(&self) -> StorageTier {
        self.segment.tier()
    }

    fn check_kind(segment: &Segment) -> Result<()> {
        if segment.kind() != FileKind::Snapshot {
            return Err(Error::InvalidArgument(format!(
                "this is a {} file, not a snapshot; open a snapshot written by write_snapshot",
                segment.kind().name()
            )));
        }
        Ok(())
    }

    fn from_segment(segment: Segment) -> Result<Snapshot> {
        Snapshot::check_kind(&segment)?;
        Ok(Snapshot {
            segment: IndexedSegment::new(segment),
        })
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

    /// Indexes the payload values at `key` as `kind` for faster filters (see
    /// [`Collection::create_payload_index`]). Built in memory by reading every payload once;
    /// the file is not changed. The indexes a snapshot was written with (format 1.4) are
    /// there from the start, read from the file.
    pub fn create_payload_index(&mut self, key: &str, kind: PayloadIndexType) -> Result<()> {
        self.segment
            .create_payload_indexes(&[(key.to_owned(), kind)])
    }

    /// Drops the payload index on `key` (filters on it then read the payloads); `false` when
    /// there was none.
    pub fn drop_payload_index(&mut self, key: &str) -> bool {
        self.segment.drop_payload_index(key)
    }

    /// The payload indexes of this snapshot: those the file holds, then those built since
    /// opening (key path and type).
    pub fn payload_index_list(&self) -> Vec<(String, PayloadIndexType)> {
        self.segment
            .payload_indexes()
            .iter()
            .map(|i| (i.key().as_str().to_owned(), i.kind()))
            .collect()
    }

    /// Switches quantization on or off for searches (see [`Collection::set_quantization`]):
    /// the codes are copied into memory from the file when it carries them (a snapshot of a
    /// quantized collection, with the same kind and int8 quantile), and computed from the
    /// file's vectors otherwise; the vectors stay where they are for rescoring.
    pub fn set_quantization(&mut self, quantization: Option<Quantization>) -> Result<()> {
        self.segment.set_quantization(quantization)
    }

    /// The quantization searches use, if any.
    pub fn quantization(&self) -> Option<Quantization> {
        self.segment
            .codes()
            .map(crate::quantization::Codes::quantization)
    }

    /// Whether the file carries an HNSW graph (searches then use it, read in place).
    pub fn has_index(&self) -> bool {
        self.segment.hnsw().is_some()
    }

    /// Whether the file is memory-mapped rather than read into memory.
    pub fn is_mapped(&self) -> bool {
        self.segment.is_mapped()
    }

    /// The snapshot file itself, as read or mapped: snapshots are immutable, so these bytes
    /// are this collection's snapshot (payload indexes made or dropped since opening, and codes
    /// computed since, are not in it).
    pub fn file_bytes(&self) -> &[u8] {
        self.segment.file_bytes()
    }

    /// A writable in-memory collection with the same points and payload indexes (restore).
    pub fn to_collection(&self) -> Result<Collection> {
        let mut col = Collection::from_segment(&self.segment)?;
        for (key, kind) in self.payload_index_list() {
            col.create_payload_index(&key, kind)?;
        }
        Ok(col)
    }

    /// [`Snapshot::to_collection`], searched as this snapshot is: with its quantization and the
    /// same codes (copied, not learnt again from the vectors), which the collection then keeps
    /// current through its writes.
    pub fn to_quantized_collection(&self) -> Result<Collection> {
        let mut col = self.to_collection()?;
        col.set_codes(self.segment.codes().cloned());
        Ok(col)
    }

    crate::read::read_methods!(self => [Layer::whole(&self.segment)]);
}
