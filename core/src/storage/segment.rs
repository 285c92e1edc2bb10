//! Segment and snapshot files (FORMAT.md, "Segment"): points sorted by id, each column a
//! section, read in place from a memory map or a byte buffer.

use std::borrow::Cow;
use std::io::Write;
use std::ops::Range;

use half::f16;

use super::bytes::FileBytes;
use super::container::{self, Container, FileKind, SectionOut};
use crate::config::{CollectionConfig, Metric, VectorType, MAX_DIM};
use crate::error::{Error, Result};
use crate::index::hnsw::{decode_graph, encode_graph, GraphLayout, GraphRef, HnswGraph};
use crate::index::payload::PayloadIndex;
use crate::index::value_graphs::{decode_section, StoredValueGraph};
use crate::point::{Payload, PointId};
use crate::quantization::CodesOut;
use crate::read::PointSource;
use crate::vectors::RowsRef;

/// Section ids of a segment.
pub(crate) mod section {
    pub(crate) const CONFIG: u32 = 1;
    pub(crate) const NUM_IDS: u32 = 2;
    pub(crate) const UUID_IDS: u32 = 3;
    pub(crate) const VECTORS: u32 = 4;
    pub(crate) const PAYLOAD_OFFSETS: u32 = 5;
    pub(crate) const PAYLOAD_DATA: u32 = 6;
    /// Format 1.1: the HNSW graph over the segment's rows (optional).
    pub(crate) const HNSW: u32 = 8;
    /// Format 1.2: the quantized codes of the segment's rows (optional).
    pub(crate) const CODES: u32 = 9;
    /// Format 1.3: graphs over the rows of common keyword values (optional).
    pub(crate) const VALUE_GRAPHS: u32 = 10;
    /// Format 1.4: payload indexes over the segment's rows (optional).
    pub(crate) const PAYLOAD_INDEXES: u32 = 11;
    /// Highest id this build knows; 7 and 12..=15 are reserved (FORMAT.md).
    pub(crate) const KNOWN_MAX: u32 = 11;

    pub(crate) fn name(id: u32) -> &'static str {
        match id {
            CONFIG => "CONFIG",
            NUM_IDS => "NUM_IDS",
            UUID_IDS => "UUID_IDS",
            VECTORS => "VECTORS",
            PAYLOAD_OFFSETS => "PAYLOAD_OFFSETS",
            PAYLOAD_DATA => "PAYLOAD_DATA",
            HNSW => "HNSW",
            CODES => "CODES",
            VALUE_GRAPHS => "VALUE_GRAPHS",
            PAYLOAD_INDEXES => "PAYLOAD_INDEXES",
            _ => "unknown",
        }
    }
}

/// A payload to write: parsed, or already JSON (copied from another segment unparsed).
pub(crate) enum PayloadOut<'a> {
    Parsed(&'a Payload),
    #[cfg(feature = "fs")]
    Json(&'a [u8]),
}

/// The points a segment is written from, already in id order.
pub(crate) struct SegmentSource<'a> {
    pub(crate) config: CollectionConfig,
    pub(crate) ids: Vec<PointId>,
    /// One row per id, in the stored type's bytes.
    pub(crate) rows: Vec<&'a [u8]>,
    pub(crate) payloads: Vec<PayloadOut<'a>>,
    /// The HNSW graph over these rows, numbered in id order.
    pub(crate) graph: Option<&'a HnswGraph>,
    /// The quantized codes of these rows, in id order.
    pub(crate) codes: Option<CodesOut<'a>>,
    /// The `VALUE_GRAPHS` section's bytes (`value_graphs::encode_section`), if any.
    pub(crate) value_graphs: Option<Vec<u8>>,
    /// The `PAYLOAD_INDEXES` section's bytes (`payload::section::encode_section`), if any.
    pub(crate) payload_indexes: Option<Vec<u8>>,
}

/// Writes a segment or snapshot file; returns its length.
pub(crate) fn write_segment<W: Write>(
    w: &mut W,
    kind: FileKind,
    src: &SegmentSource<'_>,
) -> Result<u64> {
    let n = src.ids.len();
    debug_assert!(
        src.ids.windows(2).all(|p| p[0] < p[1]),
        "segment ids must be strictly ascending"
    );
    let num_ids: Vec<u64> = src
        .ids
        .iter()
        .filter_map(|id| match id {
            PointId::Num(v) => Some(*v),
            PointId::Uuid(_) => None,
        })
        .collect();
    let uuids: Vec<[u8; 16]> = src
        .ids
        .iter()
        .filter_map(|id| match id {
            PointId::Uuid(u) => Some(*u.as_bytes()),
            PointId::Num(_) => None,
        })
        .collect();
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0u64);
    for p in &src.payloads {
        match p {
            PayloadOut::Parsed(p) => serde_json::to_writer(&mut data, p)
                .map_err(|e| Error::io("serialising a payload", e.into()))?,
            #[cfg(feature = "fs")]
            PayloadOut::Json(bytes) => data.extend_from_slice(bytes),
        }
        offsets.push(data.len() as u64);
    }
    let config = serde_json::json!({
        "dim": src.config.dim,
        "metric": src.config.metric.name(),
        "vector_type": src.config.vector_type.name(),
        "count": n,
        "num_ids": num_ids.len(),
    })
    .to_string();
    let graph = src.graph.map(|g| encode_graph(&g.view()));
    let mut sections = vec![
        SectionOut {
            id: section::CONFIG,
            required: true,
            chunks: vec![config.as_bytes()],
        },
        SectionOut {
            id: section::NUM_IDS,
            required: true,
            chunks: vec![bytemuck::cast_slice(&num_ids)],
        },
        SectionOut {
            id: section::UUID_IDS,
            required: true,
            chunks: vec![bytemuck::cast_slice(&uuids)],
        },
        SectionOut {
            id: section::VECTORS,
            required: true,
            chunks: src.rows.clone(),
        },
        SectionOut {
            id: section::PAYLOAD_OFFSETS,
            required: true,
            chunks: vec![bytemuck::cast_slice(&offsets)],
        },
        SectionOut {
            id: section::PAYLOAD_DATA,
            required: true,
            chunks: vec![&data],
        },
    ];
    if let Some((header, arrays)) = &graph {
        let mut chunks: Vec<&[u8]> = vec![header];
        chunks.extend(arrays);
        sections.push(SectionOut {
            id: section::HNSW,
            required: false,
            chunks,
        });
    }
    if let Some(codes) = &src.codes {
        let mut chunks: Vec<&[u8]> = vec![&codes.head];
        chunks.extend(&codes.rows);
        sections.push(SectionOut {
            id: section::CODES,
            required: false,
            chunks,
        });
    }
    if let Some(bytes) = &src.value_graphs {
        sections.push(SectionOut {
            id: section::VALUE_GRAPHS,
            required: false,
            chunks: vec![bytes],
        });
    }
    if let Some(bytes) = &src.payload_indexes {
        sections.push(SectionOut {
            id: section::PAYLOAD_INDEXES,
            required: false,
            chunks: vec![bytes],
        });
    }
    let minor = if src.payload_indexes.is_some() {
        4
    } else if src.value_graphs.is_some() {
        3
    } else if src.codes.is_some() {
        2
    } else if graph.is_some() {
        1
    } else {
        0
    };
    container::write(w, kind, minor, &sections)
        .map_err(|e| Error::io(format!("writing a {}", kind.name()), e))
}

/// An open segment or snapshot: validated structure over bytes that stay where they are.
#[derive(Debug)]
pub struct Segment {
    bytes: FileBytes,
    kind: FileKind,
    config: CollectionConfig,
    len: usize,
    num_ids: Range<usize>,
    uuids: Range<usize>,
    vectors: Range<usize>,
    payload_offsets: Range<usize>,
    payload_data: Range<usize>,
    /// The HNSW section and where its arrays lie, when the file has one.
    hnsw: Option<(Range<usize>, GraphLayout)>,
    /// The CODES section, when the file has one.
    codes: Option<Range<usize>>,
    /// The VALUE_GRAPHS section and its graphs, when the file has one.
    value_graphs: Option<(Range<usize>, Vec<StoredValueGraph>)>,
    /// The payload indexes of the PAYLOAD_INDEXES section, until taken.
    payload_indexes: Vec<PayloadIndex>,
}

fn range_of(c: &Container<'_>, base: *const u8, id: u32, what: &str) -> Result<Range<usize>> {
    let s = c.section(id).ok_or_else(|| {
        Error::corrupt(
            what,
            format!("required section {} is missing", section::name(id)),
        )
    })?;
    let start = s.as_ptr() as usize - base as usize;
    Ok(start..start + s.len())
}

impl Segment {
    /// The file's bytes, as read or mapped.
    pub(crate) fn file_bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// Validates `bytes` as a segment or snapshot (structure only; see [`Segment::verify`]).
    pub fn from_bytes(bytes: FileBytes) -> Result<Segment> {
        let what = "stratavec file";
        let slice = bytes.as_slice();
        let c = Container::parse(slice, what, section::KNOWN_MAX)?;
        let what = c.kind.name();
        let base = slice.as_ptr();
        let bad = |reason: String| Error::corrupt(format!("{what} section CONFIG"), reason);

        let config_json: serde_json::Value =
            serde_json::from_slice(c.section(section::CONFIG).unwrap_or_default())
                .map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let field = |name: &str| {
            config_json
                .get(name)
                .ok_or_else(|| bad(format!("missing {name:?}")))
        };
        let as_usize = |name: &str| -> Result<usize> {
            field(name)?
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| bad(format!("{name:?} is not a count")))
        };
        let as_str = |name: &str| -> Result<&str> {
            field(name)?
                .as_str()
                .ok_or_else(|| bad(format!("{name:?} is not a string")))
        };
        let dim = as_usize("dim")?;
        if dim == 0 || dim > MAX_DIM {
            return Err(bad(format!("dimension {dim} is outside 1..={MAX_DIM}")));
        }
        let metric: Metric = as_str("metric")?
            .parse()
            .map_err(|e: Error| bad(e.to_string()))?;
        let vector_type: VectorType = as_str("vector_type")?
            .parse()
            .map_err(|e: Error| bad(e.to_string()))?;
        let len = as_usize("count")?;
        let num = as_usize("num_ids")?;
        if num > len {
            return Err(bad(format!("num_ids {num} exceeds count {len}")));
        }
        let config = CollectionConfig {
            dim,
            metric,
            vector_type,
        };

        let sized = |id: u32, expected: Option<usize>| -> Result<Range<usize>> {
            let r = range_of(&c, base, id, what)?;
            match expected {
                Some(e) if e == r.len() => Ok(r),
                Some(e) => Err(Error::corrupt(
                    format!("{what} section {}", section::name(id)),
                    format!(
                        "{} bytes where {len} points of dimension {dim} need {e}",
                        r.len()
                    ),
                )),
                None => Err(Error::corrupt(
                    format!("{what} section {}", section::name(id)),
                    "size overflows",
                )),
            }
        };
        let num_ids = sized(section::NUM_IDS, num.checked_mul(8))?;
        let uuids = sized(section::UUID_IDS, (len - num).checked_mul(16))?;
        let vectors = sized(
            section::VECTORS,
            len.checked_mul(dim)
                .and_then(|x| x.checked_mul(vector_type.size())),
        )?;
        let payload_offsets = sized(
            section::PAYLOAD_OFFSETS,
            len.checked_add(1).and_then(|x| x.checked_mul(8)),
        )?;
        let payload_data = range_of(&c, base, section::PAYLOAD_DATA, what)?;
        let hnsw = match c.section(section::HNSW) {
            None => None,
            Some(bytes) => {
                let layout = decode_graph(bytes, len)?;
                Some((range_of(&c, base, section::HNSW, what)?, layout))
            }
        };
        let codes = match c.section(section::CODES) {
            None => None,
            Some(bytes) => {
                crate::quantization::check_section(bytes, len, dim)?;
                Some(range_of(&c, base, section::CODES, what)?)
            }
        };

        let value_graphs = match c.section(section::VALUE_GRAPHS) {
            None => None,
            Some(bytes) => Some((
                range_of(&c, base, section::VALUE_GRAPHS, what)?,
                decode_section(bytes, len)?,
            )),
        };

        let payload_indexes = match c.section(section::PAYLOAD_INDEXES) {
            None => Vec::new(),
            Some(bytes) => crate::index::payload::section::decode_section(bytes, len)?,
        };

        let seg = Segment {
            value_graphs,
            payload_indexes,
            kind: c.kind,
            config,
            len,
            num_ids,
            uuids,
            vectors,
            payload_offsets,
            payload_data,
            hnsw,
            codes,
            bytes,
        };
        seg.check_order()?;
        Ok(seg)
    }

    /// Reads a file into memory and validates it.
    #[cfg(feature = "fs")]
    pub fn read(path: &std::path::Path) -> Result<Segment> {
        Segment::from_bytes(FileBytes::read(path)?)
    }

    /// Memory-maps a file and validates it; vectors stay on disk until used.
    #[cfg(feature = "mmap")]
    pub fn map(path: &std::path::Path) -> Result<Segment> {
        Segment::from_bytes(FileBytes::map(path)?)
    }

    /// Ids strictly ascending and payload offsets in order and in bounds: reads ids and offsets,
    /// never vectors.
    fn check_order(&self) -> Result<()> {
        let what = self.kind.name();
        if let Some(i) = self.num_id_slice().windows(2).position(|p| p[0] >= p[1]) {
            return Err(Error::corrupt(
                format!("{what} section NUM_IDS"),
                format!("ids not strictly ascending at row {}", i + 1),
            ));
        }
        if let Some(i) = self.uuid_slice().windows(2).position(|p| p[0] >= p[1]) {
            return Err(Error::corrupt(
                format!("{what} section UUID_IDS"),
                format!(
                    "ids not strictly ascending at row {}",
                    self.num_id_slice().len() + i + 1
                ),
            ));
        }
        let offsets = self.offsets();
        let data_len = self.payload_data.len() as u64;
        if offsets.first() != Some(&0)
            || offsets.last() != Some(&data_len)
            || offsets.windows(2).any(|p| p[0] > p[1])
        {
            return Err(Error::corrupt(
                format!("{what} section PAYLOAD_OFFSETS"),
                format!(
                    "offsets must start at 0, never decrease and end at the data length {data_len}"
                ),
            ));
        }
        Ok(())
    }

    /// Checks every section's checksum: reads the whole file.
    pub fn verify(&self) -> Result<()> {
        let c = Container::parse(self.bytes.as_slice(), self.kind.name(), section::KNOWN_MAX)?;
        c.verify(self.kind.name(), section::name)
    }

    /// Segment or snapshot.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The collection settings the points were stored with.
    pub fn config(&self) -> &CollectionConfig {
        &self.config
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the file is memory-mapped (vectors read on demand) rather than in memory.
    pub fn is_mapped(&self) -> bool {
        self.bytes.is_mapped()
    }

    fn bytes_of(&self, r: &Range<usize>) -> &[u8] {
        &self.bytes.as_slice()[r.clone()]
    }

    fn num_id_slice(&self) -> &[u64] {
        // Sections are 64-aligned within an 8-aligned buffer and their sizes were checked.
        bytemuck::cast_slice(self.bytes_of(&self.num_ids))
    }

    fn uuid_slice(&self) -> &[[u8; 16]] {
        bytemuck::cast_slice(self.bytes_of(&self.uuids))
    }

    fn offsets(&self) -> &[u64] {
        bytemuck::cast_slice(self.bytes_of(&self.payload_offsets))
    }

    /// The id of row `row` (< `len`).
    pub(crate) fn id(&self, row: usize) -> PointId {
        let nums = self.num_id_slice();
        match nums.get(row) {
            Some(&n) => PointId::Num(n),
            None => PointId::Uuid(uuid::Uuid::from_bytes(self.uuid_slice()[row - nums.len()])),
        }
    }

    /// The row of `id`, by binary search.
    pub(crate) fn find(&self, id: PointId) -> Option<usize> {
        let nums = self.num_id_slice();
        match id {
            PointId::Num(n) => nums.binary_search(&n).ok(),
            PointId::Uuid(u) => self
                .uuid_slice()
                .binary_search(u.as_bytes())
                .ok()
                .map(|i| i + nums.len()),
        }
    }

    /// The first row whose id is `>= id`.
    pub(crate) fn lower_bound(&self, id: PointId) -> usize {
        let nums = self.num_id_slice();
        match id {
            PointId::Num(n) => nums.partition_point(|&x| x < n),
            PointId::Uuid(u) => {
                nums.len() + self.uuid_slice().partition_point(|x| x < u.as_bytes())
            }
        }
    }

    /// Where the vectors section lies in the file, in bytes.
    #[cfg(feature = "fs")]
    pub(crate) fn vectors_range(&self) -> Range<usize> {
        self.vectors.clone()
    }

    /// The stored vectors, in place.
    pub(crate) fn rows(&self) -> RowsRef<'_> {
        let bytes = self.bytes_of(&self.vectors);
        match self.config.vector_type {
            VectorType::F32 => RowsRef::F32(bytemuck::cast_slice(bytes)),
            VectorType::F16 => RowsRef::F16(bytemuck::cast_slice::<u8, f16>(bytes)),
        }
    }

    /// Row `row`'s payload as stored: JSON bytes, not yet checked.
    pub(crate) fn payload_json(&self, row: usize) -> &[u8] {
        let o = self.offsets();
        &self.bytes_of(&self.payload_data)[o[row] as usize..o[row + 1] as usize]
    }

    /// The `CODES` section's bytes and their offset in the file, when the file has one (its
    /// structure checked on open).
    pub(crate) fn codes_section(&self) -> Option<(&[u8], u64)> {
        self.codes
            .as_ref()
            .map(|r| (self.bytes_of(r), r.start as u64))
    }

    /// The payload indexes the file holds (`PAYLOAD_INDEXES`), checked and decoded on open;
    /// taken once, by the `IndexedSegment` serving the file.
    pub(crate) fn take_payload_indexes(&mut self) -> Vec<PayloadIndex> {
        std::mem::take(&mut self.payload_indexes)
    }

    /// The `VALUE_GRAPHS` section's bytes and its checked graphs, when the file has one.
    pub(crate) fn value_graphs(&self) -> Option<(&[u8], &[StoredValueGraph])> {
        self.value_graphs
            .as_ref()
            .map(|(r, graphs)| (self.bytes_of(r), graphs.as_slice()))
    }

    /// The HNSW graph stored in the file, read in place.
    pub(crate) fn hnsw(&self) -> Option<GraphRef<'_>> {
        self.hnsw
            .as_ref()
            .map(|(range, layout)| layout.view(self.bytes_of(range)))
    }

    /// Row `row`'s payload, parsed from its JSON.
    pub(crate) fn payload(&self, row: usize) -> Result<Payload> {
        serde_json::from_slice(self.payload_json(row)).map_err(|e| self.bad_payload(row, e))
    }

    /// Row `row`'s payload with only the top-level `keys` (the others are checked, as UTF-8
    /// and JSON, and skipped without being built): what payload indexes on paths under those
    /// keys read, at a fraction of the allocations of [`Segment::payload`]; refuses what it
    /// refuses.
    pub(crate) fn payload_keys(&self, row: usize, keys: &[&str]) -> Result<Payload> {
        use serde::de::DeserializeSeed;
        // Skipped strings are not decoded, so the text is checked as a whole first.
        let text =
            std::str::from_utf8(self.payload_json(row)).map_err(|e| self.bad_payload(row, e))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let payload = only_keys::Only(keys)
            .deserialize(&mut de)
            .and_then(|p| de.end().map(|()| p));
        payload.map_err(|e| self.bad_payload(row, e))
    }

    fn bad_payload(&self, row: usize, e: impl std::fmt::Display) -> Error {
        Error::corrupt(
            format!("{} section PAYLOAD_DATA", self.kind.name()),
            format!("payload of row {row} is not a JSON object: {e}"),
        )
    }
}

impl PointSource for Segment {
    fn config(&self) -> &CollectionConfig {
        &self.config
    }

    fn len(&self) -> usize {
        self.len
    }

    fn rows(&self) -> RowsRef<'_> {
        Segment::rows(self)
    }

    fn id(&self, row: usize) -> PointId {
        Segment::id(self, row)
    }

    fn find(&self, id: PointId) -> Option<usize> {
        Segment::find(self, id)
    }

    fn rows_in_id_order(&self, start: Option<PointId>) -> Box<dyn Iterator<Item = usize> + '_> {
        let first = start.map_or(0, |id| self.lower_bound(id));
        Box::new(first..self.len)
    }

    fn payload(&self, row: usize) -> Result<Cow<'_, Payload>> {
        Segment::payload(self, row).map(Cow::Owned)
    }

    fn payload_with_keys(&self, row: usize, keys: &[&str]) -> Result<Cow<'_, Payload>> {
        self.payload_keys(row, keys).map(Cow::Owned)
    }

    fn hnsw(&self) -> Option<GraphRef<'_>> {
        Segment::hnsw(self)
    }
}

/// A JSON object read into a [`Payload`] keeping only some top-level keys.
mod only_keys {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    use serde_json::Value;

    use crate::point::Payload;

    /// Keeps the keys listed; a key written twice keeps its last value, as a full parse does.
    pub(super) struct Only<'k>(pub(super) &'k [&'k str]);

    impl<'de> DeserializeSeed<'de> for Only<'_> {
        type Value = Payload;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Payload, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Only<'_> {
        type Value = Payload;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload, A::Error> {
            let mut out = Payload::new();
            while let Some(Key(key)) = map.next_key()? {
                if self.0.contains(&key.as_ref()) {
                    let value: Value = map.next_value()?;
                    out.insert(key.into_owned(), value);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }

    /// An object key, borrowed from the input when it has no escapes.
    struct Key<'de>(Cow<'de, str>);

    impl<'de> serde::Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key<'de>;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string key")
                }

                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }

                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_owned())))
                }
            }
            d.deserialize_str(KeyVisitor)
        }
    }

    #[cfg(test)]
    mod tests {
        use serde::de::DeserializeSeed;
        use serde_json::json;

        use super::*;

        fn only(text: &str, keys: &[&str]) -> serde_json::Result<Payload> {
            let mut de = serde_json::Deserializer::from_str(text);
            let p = Only(keys).deserialize(&mut de)?;
            de.end()?;
            Ok(p)
        }

        #[test]
        fn keeps_the_keys_asked_for_as_a_full_parse_reads_them() {
            let text = r#"{"text": "skipped \" quote", "co\u006cour": "red", "meta": {"a": [1, {"b": null}]},
                "n": 1, "n": 2.5, "lemmas": ["x", "y"], "flag": true}"#;
            let full: Payload = serde_json::from_str(text).unwrap();
            for keys in [
                &["colour", "meta", "n"][..],
                &["flag"],
                &[],
                &["absent"],
                &["text", "lemmas"],
            ] {
                let mut want = full.clone();
                want.retain(|k, _| keys.contains(&k.as_str()));
                assert_eq!(only(text, keys).unwrap(), want, "{keys:?}");
            }
            // A key written twice keeps its last value, as in the full parse.
            assert_eq!(only(text, &["n"]).unwrap()["n"], json!(2.5));
        }

        #[test]
        fn refuses_what_a_full_parse_refuses() {
            for bad in [
                r#"[1, 2]"#,
                r#""text""#,
                r#"{"a": 1"#,
                r#"{"a": 1} x"#,
                r#"{"a": tru}"#,
                r#"{"b": [1,}"#,
                "",
            ] {
                assert!(only(bad, &["a"]).is_err(), "{bad:?}");
                assert!(serde_json::from_str::<Payload>(bad).is_err(), "{bad:?}");
            }
        }
    }
}
