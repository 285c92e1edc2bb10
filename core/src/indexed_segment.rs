//! An open segment together with the read structures built in memory after opening it: payload
//! indexes and quantized codes (copied from the file when it holds them). Snapshots and a
//! durable collection's checkpoint are both this, so they answer reads through one
//! `PointSource`.
//!
//! It also carries the storage tier (see `StorageTier`): `memory` reads the file into the heap,
//! `mmap` maps it, and `disk` maps it too but keeps a file handle from which searches read the
//! rows they rescore, so the full vectors are never touched through the map by a quantized
//! search (and training the codes reads rows the same way).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use crate::config::CollectionConfig;
#[cfg(feature = "fs")]
use crate::config::{StorageOptions, StorageTier};
#[cfg(feature = "fs")]
use crate::error::Error;
use crate::error::Result;
use crate::guard::Guard;
use crate::index::hnsw::GraphRef;
use crate::index::payload::{parse_key, PayloadIndex, PayloadIndexType};
use crate::index::value_graphs::ValueGraphRef;
use crate::point::{Payload, PointId};
use crate::quantization::{Codes, Quantization};
use crate::read::PointSource;
#[cfg(feature = "fs")]
use crate::search::quantized;
#[cfg(feature = "fs")]
use crate::storage::disk_vectors::DiskVectors;
use crate::storage::Segment;
use crate::topk::Candidate;
use crate::vectors::RowsRef;

/// Rows whose payloads one task reads while payload indexes are built.
const INDEX_BLOCK: usize = 4096;
/// Blocks read before they are added to the indexes (bounds the payloads held at once).
const INDEX_BLOCKS_AT_ONCE: usize = 32;

/// A segment and what has been built over it in memory.
#[derive(Debug, Clone)]
pub(crate) struct IndexedSegment {
    segment: Arc<Segment>,
    payload_indexes: Vec<PayloadIndex>,
    codes: Option<Codes>,
    /// Guard codes (`crate::guard`), made at the first walk that can use them: over rows held
    /// in memory, without quantization. Shared by clones.
    guard: Arc<OnceLock<Option<Guard>>>,
    /// The `disk` tier's reader of full vectors.
    #[cfg(feature = "fs")]
    disk: Option<Arc<DiskVectors>>,
}

impl IndexedSegment {
    /// The segment with the payload indexes its file holds, nothing built over it yet.
    pub(crate) fn new(mut segment: Segment) -> IndexedSegment {
        IndexedSegment {
            payload_indexes: segment.take_payload_indexes(),
            segment: Arc::new(segment),
            codes: None,
            guard: Arc::default(),
            #[cfg(feature = "fs")]
            disk: None,
        }
    }

    /// Opens the file at `path` in `options.tier`, lets `check` refuse it (a file of the wrong
    /// kind or settings) before any work is spent on it, then computes the codes of
    /// `options.quantization`.
    #[cfg(feature = "fs")]
    pub(crate) fn open(
        path: &std::path::Path,
        options: &StorageOptions,
        check: impl FnOnce(&Segment) -> Result<()>,
    ) -> Result<IndexedSegment> {
        options.validate()?;
        let segment = match options.tier {
            StorageTier::Memory => Segment::read(path)?,
            #[cfg(feature = "mmap")]
            StorageTier::Mmap | StorageTier::Disk => Segment::map(path)?,
            #[cfg(not(feature = "mmap"))]
            StorageTier::Mmap | StorageTier::Disk => Segment::read(path)?,
        };
        check(&segment)?;
        let disk = match options.tier {
            StorageTier::Disk => Some(Arc::new(DiskVectors::open(path, &segment)?)),
            _ => None,
        };
        let mut s = IndexedSegment {
            disk,
            ..IndexedSegment::new(segment)
        };
        s.set_quantization(options.quantization)?;
        Ok(s)
    }

    /// The tier the file is served from.
    #[cfg(feature = "fs")]
    pub(crate) fn tier(&self) -> StorageTier {
        if self.disk.is_some() {
            StorageTier::Disk
        } else if self.segment.is_mapped() {
            StorageTier::Mmap
        } else {
            StorageTier::Memory
        }
    }

    /// Builds these payload indexes, reading every payload once for all of them; each replaces
    /// an index on the same key.
    pub(crate) fn create_payload_indexes(
        &mut self,
        defs: &[(String, PayloadIndexType)],
    ) -> Result<()> {
        let mut built: Vec<PayloadIndex> = Vec::with_capacity(defs.len());
        for (key, kind) in defs {
            built.push(PayloadIndex::new(parse_key(key)?, *kind));
        }
        if !built.is_empty() {
            // Only the top-level keys the indexes start from are read, in blocks of rows on
            // all cores; each block is then added in row order (wordnet, four indexes, 2
            // cores: 0.9 s reading whole payloads one by one).
            let mut owned: Vec<String> = built
                .iter()
                .filter_map(|i| i.key().first_key().map(str::to_owned))
                .collect();
            owned.sort_unstable();
            owned.dedup();
            let keys: Vec<&str> = owned.iter().map(String::as_str).collect();
            let n = self.segment.len();
            let blocks: Vec<std::ops::Range<usize>> = (0..n)
                .step_by(INDEX_BLOCK)
                .map(|s| s..(s + INDEX_BLOCK).min(n))
                .collect();
            for group in blocks.chunks(INDEX_BLOCKS_AT_ONCE) {
                let read = crate::index::hnsw::insert::map_ordered(group, |rows| {
                    rows.clone()
                        .map(|row| self.segment.payload_keys(row, &keys))
                        .collect::<Result<Vec<Payload>>>()
                });
                for (rows, payloads) in group.iter().zip(read) {
                    for (row, p) in rows.clone().zip(payloads?) {
                        for i in &mut built {
                            i.set_row(row as u32, Some(&p));
                        }
                    }
                }
            }
        }
        for index in built {
            self.payload_indexes
                .retain(|i| i.key().as_str() != index.key().as_str());
            self.payload_indexes.push(index);
        }
        Ok(())
    }

    /// Whether the keyword index on `key` has a value common enough for a graph of its own
    /// (see `value_graphs`) that the file holds none of: what a checkpoint would link. `false`
    /// without a graph in the file, under the dot product, or without such an index.
    #[cfg(feature = "fs")]
    pub(crate) fn lacks_value_graphs(&self, key: &str) -> bool {
        if self.segment.hnsw().is_none()
            || self.segment.config().metric == crate::config::Metric::Dot
        {
            return false;
        }
        let Some(index) = self
            .payload_indexes
            .iter()
            .find(|i| i.key().as_str() == key && i.kind() == PayloadIndexType::Keyword)
        else {
            return false;
        };
        let stored = self.segment.value_graphs().map_or(&[][..], |(_, s)| s);
        let n = self.segment.len();
        index.keyword_postings().any(|(value, rows)| {
            crate::index::value_graphs::is_common(rows.len(), n)
                && !stored.iter().any(|g| g.key == key && g.value == value)
        })
    }

    /// Makes these the payload indexes: an index the file holds on the same key with the same
    /// type is kept as it is, the others are built (in one pass) and any other index dropped.
    #[cfg(feature = "fs")]
    pub(crate) fn keep_payload_indexes(
        &mut self,
        defs: &[(String, PayloadIndexType)],
    ) -> Result<()> {
        self.payload_indexes.retain(|i| {
            defs.iter()
                .any(|(k, t)| i.key().as_str() == k && i.kind() == *t)
        });
        let missing: Vec<(String, PayloadIndexType)> = defs
            .iter()
            .filter(|(k, _)| !self.payload_indexes.iter().any(|i| i.key().as_str() == k))
            .cloned()
            .collect();
        self.create_payload_indexes(&missing)?;
        // In the order given, as a build would leave them.
        self.payload_indexes.sort_by_key(|i| {
            defs.iter()
                .position(|(k, _)| i.key().as_str() == k)
                .unwrap_or(usize::MAX)
        });
        Ok(())
    }

    /// Drops the payload index on `key`; `false` when there was none.
    pub(crate) fn drop_payload_index(&mut self, key: &str) -> bool {
        let before = self.payload_indexes.len();
        self.payload_indexes.retain(|i| i.key().as_str() != key);
        self.payload_indexes.len() != before
    }

    /// Takes the codes of the segment's vectors from the file when it holds them for this
    /// quantization, computes them otherwise (see `quantization`), or drops them (refused in
    /// the `disk` tier, which searches by codes).
    pub(crate) fn set_quantization(&mut self, quantization: Option<Quantization>) -> Result<()> {
        self.guard = Arc::default();
        let (n, dim) = (self.segment.len(), self.segment.config().dim);
        let stored = match (quantization, self.segment.codes_section()) {
            (Some(q), Some((section, at))) => {
                let copy = |r: std::ops::Range<usize>, buf: &mut [u8]| {
                    #[cfg(feature = "fs")]
                    if let Some(disk) = &self.disk {
                        // Not through the map: the rows would stay mapped beside their copy.
                        return disk.read_at(at + r.start as u64, buf);
                    }
                    let _ = at;
                    buf.copy_from_slice(&section[r]);
                    Ok(())
                };
                Codes::from_section(section, q, &copy)?
            }
            _ => None,
        };
        if stored.is_some() {
            self.codes = stored;
            return Ok(());
        }
        self.codes = match quantization {
            None => {
                #[cfg(feature = "fs")]
                if self.disk.is_some() {
                    return Err(Error::InvalidArgument(
                        "the disk tier searches by quantized codes; quantization cannot be \
                         switched off while the vectors stay on disk"
                            .into(),
                    ));
                }
                None
            }
            #[cfg(feature = "fs")]
            Some(q) if self.disk.is_some() => {
                let disk = self.disk.as_deref().expect("checked above");
                Some(Codes::train(n, dim, q, &|r| {
                    Ok(Cow::Owned(
                        disk.read(std::iter::once(r))?.rows().get(0, dim),
                    ))
                })?)
            }
            Some(q) => {
                let rows = self.segment.rows();
                Some(Codes::train(n, dim, q, &|r| {
                    Ok(Cow::Owned(rows.get(r, dim)))
                })?)
            }
        };
        Ok(())
    }
}

impl std::ops::Deref for IndexedSegment {
    type Target = Segment;

    fn deref(&self) -> &Segment {
        &self.segment
    }
}

impl PointSource for IndexedSegment {
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
        PointSource::rows_in_id_order(&*self.segment, start)
    }

    fn payload(&self, row: usize) -> Result<Cow<'_, Payload>> {
        PointSource::payload(&*self.segment, row)
    }

    fn payload_with_keys(&self, row: usize, keys: &[&str]) -> Result<Cow<'_, Payload>> {
        self.segment.payload_with_keys(row, keys)
    }

    fn hnsw(&self) -> Option<GraphRef<'_>> {
        self.segment.hnsw()
    }

    fn payload_indexes(&self) -> &[PayloadIndex] {
        &self.payload_indexes
    }

    fn codes(&self) -> Option<&Codes> {
        self.codes.as_ref()
    }

    fn guard(&self) -> Option<&Guard> {
        // Mapped rows are left where they are: making codes reads every one.
        if self.codes.is_some() || self.segment.is_mapped() || self.segment.hnsw().is_none() {
            return None;
        }
        let config = self.segment.config();
        self.guard
            .get_or_init(|| Guard::of_rows(self.segment.rows(), config.dim, config.metric))
            .as_ref()
    }

    fn value_graphs(&self) -> Vec<(&str, &str, ValueGraphRef<'_>)> {
        // The file's graphs serve the keys that have a keyword index, as a collection's do.
        let Some((section, stored)) = self.segment.value_graphs() else {
            return Vec::new();
        };
        let indexed = |key: &str| {
            self.payload_indexes
                .iter()
                .any(|i| i.key().as_str() == key && i.kind() == PayloadIndexType::Keyword)
        };
        stored
            .iter()
            .filter(|g| indexed(&g.key))
            .map(|g| (g.key.as_str(), g.value.as_str(), g.view(section)))
            .collect()
    }

    fn rescore(&self, q: &[f32], cands: &[Candidate], want: usize) -> Result<Vec<Candidate>> {
        #[cfg(feature = "fs")]
        if let Some(disk) = &self.disk {
            // Read just these rows, in row order (so ties break as they would in place).
            let mut rows: Vec<u32> = cands.iter().map(|c| c.offset).collect();
            rows.sort_unstable();
            let read = disk.read(rows.iter().map(|&r| r as usize))?;
            let local: Vec<Candidate> = (0..rows.len() as u32)
                .map(|i| Candidate {
                    score: 0.0,
                    offset: i,
                })
                .collect();
            let c = self.segment.config();
            let top = quantized::rescore(read.rows(), c.dim, c.metric, q, &local, want);
            return Ok(top
                .into_iter()
                .map(|t| Candidate {
                    offset: rows[t.offset as usize],
                    ..t
                })
                .collect());
        }
        Ok(crate::read::rescore_in_place(self, q, cands, want))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::FileBytes;
    use crate::{Collection, CollectionConfig, Metric};
    use serde_json::json;

    /// The indexes a file holds are served as read (not built again from the payloads), kept
    /// when asked for with the same type, and replaced or dropped otherwise.
    #[test]
    fn the_files_indexes_are_taken_kept_and_replaced() {
        let mut col = Collection::new(CollectionConfig::new(2, Metric::Euclid)).unwrap();
        let ids: Vec<PointId> = (0..4).map(PointId::Num).collect();
        let payloads: Vec<Payload> = (0..4)
            .map(|i| {
                json!({"k": format!("v{i}"), "n": i})
                    .as_object()
                    .unwrap()
                    .clone()
            })
            .collect();
        col.upsert(&ids, &[0.0; 8], Some(payloads)).unwrap();
        col.create_payload_index("k", PayloadIndexType::Keyword)
            .unwrap();
        col.create_payload_index("n", PayloadIndexType::Integer)
            .unwrap();
        let bytes = col.snapshot_bytes().unwrap();
        let open = || {
            let mut segment = Segment::from_bytes(FileBytes::copy_from(&bytes)).unwrap();
            let mut indexes = segment.take_payload_indexes();
            assert_eq!(indexes.len(), 2);
            // Marked: row 0 also holds "mark", which no payload says; only the file's index
            // can answer it.
            let mark = json!({"k": "mark"}).as_object().unwrap().clone();
            indexes[0].set_row(0, Some(&mark));
            IndexedSegment {
                payload_indexes: indexes,
                ..IndexedSegment::new(segment)
            }
        };
        let marked = |s: &IndexedSegment| {
            s.payload_indexes()
                .iter()
                .any(|i| i.keyword_rows("mark") == [0])
        };
        let mut s = open();
        assert!(marked(&s));
        s.keep_payload_indexes(&[
            ("n".to_owned(), PayloadIndexType::Integer),
            ("k".to_owned(), PayloadIndexType::Keyword),
            ("x".to_owned(), PayloadIndexType::Float),
        ])
        .unwrap();
        assert!(marked(&s), "kept, not built again");
        let list: Vec<(&str, PayloadIndexType)> = s
            .payload_indexes()
            .iter()
            .map(|i| (i.key().as_str(), i.kind()))
            .collect();
        assert_eq!(
            list,
            [
                ("n", PayloadIndexType::Integer),
                ("k", PayloadIndexType::Keyword),
                ("x", PayloadIndexType::Float)
            ]
        );
        let mut s = open();
        s.keep_payload_indexes(&[("k".to_owned(), PayloadIndexType::Uuid)])
            .unwrap();
        assert!(!marked(&s), "another type: built from the payloads");
        assert_eq!(s.payload_indexes().len(), 1);
        assert_eq!(s.payload_indexes()[0].kind(), PayloadIndexType::Uuid);
    }
}
