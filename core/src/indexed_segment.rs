//! An open segment together with the read structures built in memory after opening it: payload
//! indexes and quantized codes. Snapshots and a durable collection's checkpoint are both this, so
//! they answer reads through one `PointSource`.

use std::borrow::Cow;
use std::sync::Arc;

use crate::config::CollectionConfig;
use crate::error::Result;
use crate::index::hnsw::GraphRef;
use crate::index::payload::{parse_key, PayloadIndex, PayloadIndexType};
use crate::point::{Payload, PointId};
use crate::quantization::{Codes, Quantization};
use crate::read::PointSource;
use crate::storage::Segment;
use crate::vectors::RowsRef;

/// A segment and what has been built over it in memory.
#[derive(Debug, Clone)]
pub(crate) struct IndexedSegment {
    segment: Arc<Segment>,
    payload_indexes: Vec<PayloadIndex>,
    codes: Option<Codes>,
}

impl IndexedSegment {
    /// The segment with nothing built over it yet.
    pub(crate) fn new(segment: Arc<Segment>) -> IndexedSegment {
        IndexedSegment {
            segment,
            payload_indexes: Vec::new(),
            codes: None,
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
            for row in 0..self.segment.len() {
                let p = self.segment.payload(row)?;
                for i in &mut built {
                    i.set_row(row as u32, Some(&p));
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

    /// Computes codes of the segment's vectors (see `quantization`), or drops them.
    pub(crate) fn set_quantization(&mut self, quantization: Option<Quantization>) -> Result<()> {
        self.codes = match quantization {
            None => None,
            Some(q) => {
                let (rows, dim) = (self.segment.rows(), self.segment.config().dim);
                Some(Codes::train(self.segment.len(), dim, q, &|r| {
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

    fn hnsw(&self) -> Option<GraphRef<'_>> {
        self.segment.hnsw()
    }

    fn payload_indexes(&self) -> &[PayloadIndex] {
        &self.payload_indexes
    }

    fn codes(&self) -> Option<&Codes> {
        self.codes.as_ref()
    }
}
