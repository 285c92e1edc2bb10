//! The on-disk format: snapshot round trips, restore, memory maps, golden files of format
//! version 1 (read by every future version), and a corruption sweep that damages every byte.

use std::path::PathBuf;

use serde_json::json;
use stratavec_core::{
    BinaryParams, Collection, CollectionConfig, Error, Filter, HnswParams, Int8Params, Metric,
    Payload, PayloadIndexType, PointId, Quantization, ScoredPoint, SearchRequest, Snapshot,
    VectorType,
};
use stratavec_testkit::golden::{
    golden_collection, golden_index_filters, golden_indexed_collection, GOLDEN_INDEXED,
    GOLDEN_INDEXES,
};
use stratavec_testkit::Rng;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
}

use stratavec_testkit::golden::GOLDEN;

/// Reads and compares everything observable: config, every record, searches, filters.
fn assert_same_contents(snap: &Snapshot, col: &Collection) {
    assert_eq!(snap.config(), col.config());
    assert_eq!(snap.len(), col.len());
    let all_snap = snap.scroll(None, 1000, None, true, true).unwrap();
    let all_col = col.scroll(None, 1000, None, true, true).unwrap();
    assert_eq!(all_snap, all_col);
    let dim = col.config().dim;
    let mut rng = Rng::new(99);
    let en =
        Filter::from_json(&json!({"must": [{"key": "lang", "match": {"value": "en"}}]})).unwrap();
    for q in rng.vectors(5, dim).chunks_exact(dim) {
        for filter in [None, Some(&en)] {
            let req = SearchRequest {
                filter,
                with_vector: true,
                ..SearchRequest::new(q, 7)
            };
            assert_eq!(snap.search(&req).unwrap(), col.search(&req).unwrap());
        }
    }
    assert_eq!(
        snap.count(Some(&en)).unwrap(),
        col.count(Some(&en)).unwrap()
    );
    let some: Vec<PointId> = all_col.records.iter().step_by(3).map(|r| r.id).collect();
    assert_eq!(
        snap.get(&some, true, true).unwrap(),
        col.get(&some, true, true).unwrap()
    );
    let page = snap
        .scroll(Some(&en), 2, Some(PointId::Num(20)), false, false)
        .unwrap();
    assert_eq!(
        page,
        col.scroll(Some(&en), 2, Some(PointId::Num(20)), false, false)
            .unwrap()
    );
}

#[test]
fn golden_files_v1_are_read_forever() {
    if std::env::var_os("STRATAVEC_WRITE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        for (name, metric, vt) in GOLDEN {
            std::fs::write(
                golden_dir().join(name),
                golden_collection(metric, vt).snapshot_bytes().unwrap(),
            )
            .unwrap();
        }
    }
    for (name, metric, vt) in GOLDEN {
        let path = golden_dir().join(name);
        let snap = Snapshot::read(&path).unwrap_or_else(|e| panic!("golden file {name}: {e}"));
        snap.verify().unwrap();
        let col = golden_collection(metric, vt);
        assert_same_contents(&snap, &col);
        assert_eq!(snap.len(), 39);
        assert!(
            snap.get(&[PointId::Num(10)], false, false)
                .unwrap()
                .is_empty(),
            "deleted point in snapshot"
        );
    }
}

#[test]
fn the_writer_still_produces_format_v1_byte_for_byte() {
    // If this fails the writer changed the format: bump the version in FORMAT.md, keep the old
    // golden files (they must still be read), and add new ones.
    for (name, metric, vt) in GOLDEN {
        let golden = std::fs::read(golden_dir().join(name)).unwrap();
        assert!(
            golden_collection(metric, vt).snapshot_bytes().unwrap() == golden,
            "{name} differs from the writer's output"
        );
    }
}

#[test]
fn snapshot_round_trip_bytes_file_and_map() {
    let dir = std::env::temp_dir().join(format!("stratavec-storage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for metric in Metric::ALL {
        for vt in [VectorType::F32, VectorType::F16] {
            let col = golden_collection(metric, vt);
            let bytes = col.snapshot_bytes().unwrap();
            assert_eq!(
                bytes.len() % 64,
                0,
                "the section table ends on a 64-byte boundary"
            );
            let from_bytes = Snapshot::from_bytes(&bytes).unwrap();
            assert!(!from_bytes.is_mapped());
            assert_same_contents(&from_bytes, &col);

            let path = dir.join(format!("{metric}-{vt}.svdb"));
            let mut file = std::fs::File::create(&path).unwrap();
            assert_eq!(col.write_snapshot(&mut file).unwrap(), bytes.len() as u64);
            drop(file);
            let mapped = Snapshot::map(&path).unwrap();
            assert!(mapped.is_mapped());
            mapped.verify().unwrap();
            assert_same_contents(&mapped, &col);

            // Restore: a writable collection equal to the original, and writable.
            let mut restored = mapped.to_collection().unwrap();
            assert_eq!(restored.snapshot_bytes().unwrap(), bytes);
            restored
                .upsert(&[PointId::Num(1_000_000)], &[0.5; 12], None)
                .unwrap();
            assert_eq!(restored.len(), col.len() + 1);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_collection_snapshot() {
    let col = Collection::new(CollectionConfig::new(3, Metric::Dot)).unwrap();
    let snap = Snapshot::from_bytes(&col.snapshot_bytes().unwrap()).unwrap();
    snap.verify().unwrap();
    assert!(snap.is_empty());
    assert!(snap
        .search(&SearchRequest::new(&[1.0, 0.0, 0.0], 5))
        .unwrap()
        .is_empty());
    assert!(snap.to_collection().unwrap().is_empty());
    // Quantized while empty: a codes section of no rows.
    for q in [Quantization::int8(), Quantization::binary()] {
        let mut col = Collection::new(CollectionConfig::new(3, Metric::Dot)).unwrap();
        col.set_quantization(Some(q)).unwrap();
        let bytes = col.snapshot_bytes().unwrap();
        assert_eq!(&bytes[16..20], &[1, 0, 2, 0]);
        let mut snap = Snapshot::from_bytes(&bytes).unwrap();
        snap.verify().unwrap();
        snap.set_quantization(Some(q)).unwrap();
        assert!(snap
            .search(&SearchRequest::new(&[1.0, 0.0, 0.0], 5))
            .unwrap()
            .is_empty());
        let mut restored = snap.to_quantized_collection().unwrap();
        restored
            .upsert(&[PointId::Num(4)], &[0.0, 1.0, 0.0], None)
            .unwrap();
        let hits = restored
            .search(&SearchRequest::new(&[0.0, 1.0, 0.0], 5))
            .unwrap();
        assert_eq!(hits.len(), 1);
    }
}

#[test]
fn snapshot_validates_queries_like_a_collection() {
    let snap = Snapshot::from_bytes(
        &golden_collection(Metric::Dot, VectorType::F32)
            .snapshot_bytes()
            .unwrap(),
    )
    .unwrap();
    let e = snap.search(&SearchRequest::new(&[1.0; 5], 3)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::DimensionMismatch {
                expected: 12,
                got: 5,
                ..
            }
        ),
        "{e}"
    );
    let e = snap
        .search(&SearchRequest::new(&[f32::NAN; 12], 3))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidVector { .. }), "{e}");
}

/// Opening then verifying damaged bytes must fail with a typed format error: never a panic,
/// never a successful open that then serves different data.
fn assert_rejected(bytes: &[u8], what: &str) {
    let result = std::panic::catch_unwind(|| {
        Snapshot::from_bytes(bytes).and_then(|s| s.verify().map(|()| s))
    });
    match result {
        Err(_) => panic!("{what}: panicked"),
        Ok(Ok(_)) => panic!("{what}: damaged bytes were accepted"),
        Ok(Err(Error::Corrupt { .. } | Error::IncompatibleVersion { .. })) => {}
        Ok(Err(e)) => panic!("{what}: wrong error kind: {e}"),
    }
}

/// Rewrites every checksum of a container after a test edited section bytes, so only the
/// structural checks can catch the edit.
fn reseal_all(bytes: &mut [u8]) {
    let table = u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    for s in 0..count {
        let e = table + s * 32;
        let off = u64::from_le_bytes(bytes[e + 8..e + 16].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(bytes[e + 16..e + 24].try_into().unwrap()) as usize;
        let crc = stratavec_testkit::fuzz::crc32c_sw(&bytes[off..off + len]);
        bytes[e + 24..e + 28].copy_from_slice(&crc.to_le_bytes());
    }
    let crc = stratavec_testkit::fuzz::crc32c_sw(&bytes[table..table + count * 32]);
    bytes[40..44].copy_from_slice(&crc.to_le_bytes());
    let crc = stratavec_testkit::fuzz::crc32c_sw(&bytes[..60]);
    bytes[60..64].copy_from_slice(&crc.to_le_bytes());
}

/// The byte range of section `id`.
fn section_range(bytes: &[u8], id: u32) -> std::ops::Range<usize> {
    let table = u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    (0..count)
        .map(|s| &bytes[table + s * 32..table + s * 32 + 32])
        .find(|e| u32::from_le_bytes(e[0..4].try_into().unwrap()) == id)
        .map(|e| {
            let off = u64::from_le_bytes(e[8..16].try_into().unwrap()) as usize;
            off..off + u64::from_le_bytes(e[16..24].try_into().unwrap()) as usize
        })
        .expect("section present")
}

#[test]
fn hostile_graphs_with_valid_checksums_are_refused() {
    let col = with_graph(Metric::Euclid);
    let good = col.snapshot_bytes().unwrap();
    assert_eq!(
        &good[16..20],
        &[1, 0, 1, 0],
        "a file with a graph is version 1.1"
    );
    let hnsw = section_range(&good, 8);
    let n = col.len() as u32;
    let word = |at: usize| hnsw.start + 64 + at * 4;
    // (what, byte offset, new little-endian u32)
    let cases: Vec<(&str, usize, u32)> = vec![
        ("neighbour past the last row", word(1), n + 3),
        ("list longer than layer 0 holds", word(0), 9),
        ("entry point past the last row", hnsw.start + 16, n),
        ("m out of range", hnsw.start, 1),
        ("row count differs from the segment", hnsw.start + 24, n + 1),
        ("reserved header bytes set", hnsw.start + 44, 1),
    ];
    for (what, at, value) in cases {
        let mut bad = good.clone();
        bad[at..at + 4].copy_from_slice(&value.to_le_bytes());
        reseal_all(&mut bad);
        match Snapshot::from_bytes(&bad) {
            Err(Error::Corrupt { what: w, reason }) => {
                assert!(w.contains("HNSW"), "{what}: blamed {w}: {reason}")
            }
            Err(e) => panic!("{what}: wrong error {e}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
    // The untouched file opens, and its graph answers.
    let snap = Snapshot::from_bytes(&good).unwrap();
    assert!(snap.has_index());
}

#[test]
fn corruption_sweep_truncation_and_bit_flips() {
    for (metric, vt) in [
        (Metric::Euclid, VectorType::F32),
        (Metric::Cosine, VectorType::F16),
    ] {
        let bytes = golden_collection(metric, vt).snapshot_bytes().unwrap();
        sweep(&bytes);
    }
    // The same with an HNSW section (format 1.1).
    sweep(&with_graph(Metric::Dot).snapshot_bytes().unwrap());
    // And with codes (format 1.2), of both kinds.
    for q in [Quantization::int8(), Quantization::binary()] {
        sweep(&quantized(q).snapshot_bytes().unwrap());
    }
    // And with payload indexes (format 1.4).
    sweep(&golden_indexed_collection().snapshot_bytes().unwrap());
}

/// The golden f32 points under `metric` with a small HNSW graph (m 4, ef_construction 16).
fn with_graph(metric: Metric) -> Collection {
    let mut col = golden_collection(metric, VectorType::F32);
    col.build_index(HnswParams {
        m: 4,
        ef_construction: 16,
        ..HnswParams::default()
    })
    .unwrap();
    col
}

/// The golden collection with codes (no graph: a graph's float sums may round differently on
/// other instruction sets, and the golden files must come out byte for byte everywhere).
fn quantized(q: Quantization) -> Collection {
    let mut col = golden_collection(Metric::Euclid, VectorType::F32);
    col.set_quantization(Some(q)).unwrap();
    col
}

/// The golden file `name` of format 1.`minor`, which the writer must still produce byte for
/// byte from `col` (rewritten from it under `STRATAVEC_WRITE_GOLDEN`).
fn golden_bytes(name: &str, col: &Collection, minor: u8) -> Vec<u8> {
    let path = golden_dir().join(name);
    if std::env::var_os("STRATAVEC_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, col.snapshot_bytes().unwrap()).unwrap();
    }
    let golden = std::fs::read(&path).unwrap();
    assert_eq!(
        &golden[16..20],
        &[1, 0, minor, 0],
        "{name} is version 1.{minor}"
    );
    assert!(
        col.snapshot_bytes().unwrap() == golden,
        "{name} differs from the writer's output"
    );
    golden
}

/// Files of format 1.2 (int8 or binary codes), read by every future version.
const GOLDEN_CODES: [(&str, Quantization); 2] = [
    (
        "snapshot-1.2-int8.svdb",
        Quantization::Int8(Int8Params {
            quantile: 0.999,
            oversampling: 3.0,
        }),
    ),
    (
        "snapshot-1.2-binary.svdb",
        Quantization::Binary(BinaryParams { oversampling: 10.0 }),
    ),
];

#[test]
fn golden_files_with_codes_are_read_forever_and_written_byte_for_byte() {
    for (name, q) in GOLDEN_CODES {
        let col = quantized(q);
        let golden = golden_bytes(name, &col, 2);
        let mut snap = Snapshot::from_bytes(&golden).unwrap();
        snap.verify().unwrap();
        snap.set_quantization(Some(q)).unwrap();
        assert_same_contents(&snap, &col);
        let dim = col.config().dim;
        for query in Rng::new(3).vectors(8, dim).chunks_exact(dim) {
            let req = SearchRequest {
                oversampling: Some(1.0),
                ..SearchRequest::new(query, 5)
            };
            assert_eq!(snap.search(&req).unwrap(), col.search(&req).unwrap());
        }
    }
}

#[test]
fn hostile_codes_with_valid_checksums_are_refused() {
    for q in [Quantization::int8(), Quantization::binary()] {
        let good = quantized(q).snapshot_bytes().unwrap();
        let codes = section_range(&good, 9);
        let cases: Vec<(&str, usize, u64)> = vec![
            ("another dimension", codes.start + 4, 13),
            ("another row count", codes.start + 8, 40),
            ("another row width", codes.start + 16, 1),
            ("rows elsewhere", codes.start + 32, 0),
        ];
        for (what, at, value) in cases {
            let mut bad = good.clone();
            let width = if at == codes.start + 4 { 4 } else { 8 };
            bad[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            reseal_all(&mut bad);
            match Snapshot::from_bytes(&bad) {
                Err(Error::Corrupt { what: w, reason }) => {
                    assert!(w.contains("CODES"), "{what}: blamed {w}: {reason}")
                }
                Err(e) => panic!("{what}: wrong error {e}"),
                Ok(_) => panic!("{what}: accepted"),
            }
        }
        // Codes of a kind this build does not know are ignored: learnt from the vectors.
        let mut unknown = good.clone();
        unknown[codes.start..codes.start + 4].copy_from_slice(&7u32.to_le_bytes());
        reseal_all(&mut unknown);
        let mut snap = Snapshot::from_bytes(&unknown).unwrap();
        snap.set_quantization(Some(q)).unwrap();
        assert_eq!(snap.quantization(), Some(q));
    }
}

fn sweep(bytes: &[u8]) {
    {
        let bytes = bytes.to_vec();
        // Truncation at every length, which includes every section boundary.
        for len in 0..bytes.len() {
            assert_rejected(
                &bytes[..len],
                &format!("truncated to {len} of {} bytes", bytes.len()),
            );
        }
        let mut extended = bytes.clone();
        extended.extend_from_slice(&[0; 64]);
        assert_rejected(&extended, "64 trailing bytes");
        // One flipped bit in every byte: header, every section, padding, section table.
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 1 << (i % 8);
            let padding = is_padding(&bytes, i);
            if padding {
                // Padding is not covered by a checksum; damage there must not change anything.
                let snap = Snapshot::from_bytes(&damaged).unwrap();
                snap.verify().unwrap();
                continue;
            }
            assert_rejected(&damaged, &format!("bit {} of byte {i} flipped", i % 8));
        }
    }
}

/// Whether byte `i` of a well-formed file is zero padding between sections.
fn is_padding(bytes: &[u8], i: usize) -> bool {
    let table_offset = u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    if i < 64 || i >= table_offset {
        return false;
    }
    !(0..count).any(|s| {
        let e = &bytes[table_offset + s * 32..table_offset + s * 32 + 32];
        let off = u64::from_le_bytes(e[8..16].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(e[16..24].try_into().unwrap()) as usize;
        (off..off + len).contains(&i)
    })
}

#[test]
fn not_a_snapshot() {
    for (bytes, expect) in [
        (&b""[..], "too short"),
        (
            &b"PK\x03\x04 this is a zip file, not a stratavec snapshot at all, really"[..],
            "wrong magic",
        ),
        (&[0u8; 200][..], "wrong magic"),
    ] {
        let e = Snapshot::from_bytes(bytes).unwrap_err();
        assert!(
            matches!(e, Error::Corrupt { .. }) && e.to_string().contains(expect),
            "{e}"
        );
    }
    let e = Snapshot::read(std::path::Path::new("/nonexistent/stratavec.svdb")).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && e.to_string().contains("/nonexistent/stratavec.svdb"),
        "{e}"
    );
}

#[test]
fn payload_numbers_survive_a_snapshot_exactly() {
    let mut col = Collection::new(CollectionConfig::new(2, Metric::Euclid)).unwrap();
    // Values whose shortest decimal form needs correctly rounded parsing to come back.
    let values = [
        2.6824959794625522f64,
        0.1 + 0.2,
        1e-300,
        9007199254740993.0,
        -7.25e21,
    ];
    let payload = json!({ "x": values, "big": u64::MAX, "neg": i64::MIN });
    col.upsert(
        &[PointId::Num(1)],
        &[0.0, 1.0],
        Some(vec![payload.as_object().unwrap().clone()]),
    )
    .unwrap();
    let snap = Snapshot::from_bytes(&col.snapshot_bytes().unwrap()).unwrap();
    let back = snap.get(&[PointId::Num(1)], true, false).unwrap();
    assert_eq!(
        back[0].payload.as_ref().unwrap(),
        payload.as_object().unwrap()
    );
}

/// A snapshot with a `VALUE_GRAPHS` section: two keyword values of 4,500 points each, indexed.
fn with_value_graphs() -> Vec<u8> {
    let mut rng = Rng::new(5);
    let n = 9000;
    let dim = 8;
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Euclid)).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    let payloads: Vec<Payload> = (0..n)
        .map(|i| {
            json!({"topic": if i % 2 == 0 { "even" } else { "odd" }})
                .as_object()
                .unwrap()
                .clone()
        })
        .collect();
    col.upsert(&ids, &rng.vectors(n, dim), Some(payloads))
        .unwrap();
    col.build_index(HnswParams {
        m: 4,
        ef_construction: 16,
        ..HnswParams::default()
    })
    .unwrap();
    col.create_payload_index("topic", PayloadIndexType::Keyword)
        .unwrap();
    col.snapshot_bytes().unwrap()
}

#[test]
fn hostile_value_graphs_with_valid_checksums_are_refused() {
    let good = with_value_graphs();
    assert_eq!(
        &good[16..20],
        &[1, 0, 4, 0],
        "value graphs and their keyword index make version 1.4"
    );
    let s = section_range(&good, 10);
    let entry = s.start + 64;
    let get64 = |at: usize| u64::from_le_bytes(good[at..at + 8].try_into().unwrap()) as usize;
    let members = s.start + get64(entry + 24);
    let first_member = u32::from_le_bytes(good[members..members + 4].try_into().unwrap());
    // (what, byte offset, new little-endian bytes)
    let cases: Vec<(&str, usize, Vec<u8>)> = vec![
        (
            "more graphs than fit",
            s.start,
            1_000_000u32.to_le_bytes().to_vec(),
        ),
        ("reserved header bytes set", s.start + 8, vec![1]),
        (
            "key outside the section",
            entry,
            u64::MAX.to_le_bytes().to_vec(),
        ),
        ("value not UTF-8", s.start + get64(entry + 16), vec![0xff]),
        (
            "member past the last row",
            members,
            9000u32.to_le_bytes().to_vec(),
        ),
        (
            "member listed twice",
            members + 4,
            first_member.to_le_bytes().to_vec(),
        ),
        (
            "one member fewer than the graph",
            entry + 32,
            4499u64.to_le_bytes().to_vec(),
        ),
        (
            "graph not 64-byte aligned",
            entry + 40,
            (get64(entry + 40) + 4).to_le_bytes().to_vec(),
        ),
        (
            "graph neighbour past its last node",
            s.start + get64(entry + 40) + 64 + 4,
            4500u32.to_le_bytes().to_vec(),
        ),
    ];
    for (what, at, value) in cases {
        let mut bad = good.clone();
        bad[at..at + value.len()].copy_from_slice(&value);
        reseal_all(&mut bad);
        match Snapshot::from_bytes(&bad) {
            Err(Error::Corrupt { what: w, reason }) => {
                assert!(w.contains("VALUE_GRAPHS"), "{what}: blamed {w}: {reason}")
            }
            Err(e) => panic!("{what}: wrong error {e}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
    // An entry with its reserved bytes set is skipped (a later version's meaning), the rest of
    // the file served: searches under the value still answer, exactly (scanned).
    let mut later = good.clone();
    later[entry + 56] = 1;
    reseal_all(&mut later);
    let mut snap = Snapshot::from_bytes(&later).unwrap();
    snap.create_payload_index("topic", PayloadIndexType::Keyword)
        .unwrap();
    let f = Filter::from_json(&json!({"must": [{"key": "topic", "match": {"value": "even"}}]}))
        .unwrap();
    let q = [0.5f32; 8];
    let hits = snap
        .search(&SearchRequest::new(&q, 5).with_filter(&f))
        .unwrap();
    let exact = snap
        .search(&SearchRequest {
            exact: true,
            ..SearchRequest::new(&q, 5).with_filter(&f)
        })
        .unwrap();
    assert_eq!(hits, exact);
    // Truncated anywhere in the section: refused.
    for len in [s.start + 1, s.start + 64, members + 2, s.end - 1] {
        assert_rejected(&good[..len], &format!("cut at {len}"));
    }
    let snap = Snapshot::from_bytes(&good).unwrap();
    snap.verify().unwrap();
}

/// Every golden index filter's answers: a search's hits, the count, a scroll page.
fn index_filter_answers(
    search: &dyn Fn(&SearchRequest<'_>) -> Vec<ScoredPoint>,
    count: &dyn Fn(&Filter) -> usize,
    scroll: &dyn Fn(&Filter) -> Vec<PointId>,
) -> Vec<(Vec<ScoredPoint>, usize, Vec<PointId>)> {
    let q = Rng::new(4).vectors(1, 12);
    golden_index_filters()
        .iter()
        .map(|f| {
            let f = Filter::from_json(f).unwrap();
            let hits = search(&SearchRequest::new(&q, 50).with_filter(&f));
            (hits, count(&f), scroll(&f))
        })
        .collect()
}

macro_rules! answers {
    ($x:expr) => {
        index_filter_answers(
            &|r| $x.search(r).unwrap(),
            &|f| $x.count(Some(f)).unwrap(),
            &|f| {
                $x.scroll(Some(f), 100, None, false, false)
                    .unwrap()
                    .records
                    .iter()
                    .map(|r| r.id)
                    .collect()
            },
        )
    };
}

fn index_list() -> Vec<(String, PayloadIndexType)> {
    GOLDEN_INDEXES
        .iter()
        .map(|(k, t)| (k.to_string(), *t))
        .collect()
}

#[test]
fn golden_file_with_payload_indexes_is_read_forever_and_written_byte_for_byte() {
    let col = golden_indexed_collection();
    let golden = golden_bytes(GOLDEN_INDEXED, &col, 4);
    let snap = Snapshot::from_bytes(&golden).unwrap();
    snap.verify().unwrap();
    assert_eq!(snap.payload_index_list(), index_list());
    assert_same_contents(&snap, &col);
    let expect = answers!(col);
    assert!(expect.iter().all(|(hits, n, _)| !hits.is_empty() && *n > 0));
    assert!(
        answers!(snap) == expect,
        "the file's indexes answer differently"
    );
    // Without the indexes (payloads read instead) the answers are the same.
    let mut bare = Snapshot::from_bytes(&golden).unwrap();
    for (key, _) in GOLDEN_INDEXES {
        assert!(bare.drop_payload_index(key));
    }
    assert!(answers!(bare) == expect);
}

#[test]
fn payload_indexes_travel_through_snapshots_restores_and_checkpoints() {
    use stratavec_core::{Database, DurableOptions};
    let mut col = golden_indexed_collection();
    // A tombstone, and a point written after the graph: the file renumbers rows.
    col.build_index(HnswParams {
        m: 4,
        ef_construction: 16,
        ..HnswParams::default()
    })
    .unwrap();
    col.delete(&[PointId::Num(17)]);
    let late = json!({"lang": "de", "n": 4, "tags": ["b"], "nested": {"x": 9.5}});
    col.upsert(
        &[PointId::Num(1)],
        &Rng::new(8).vectors(1, 12),
        Some(vec![late.as_object().unwrap().clone()]),
    )
    .unwrap();
    let expect = answers!(col);
    let bytes = col.snapshot_bytes().unwrap();
    assert_eq!(&bytes[16..20], &[1, 0, 4, 0]);
    let dir = std::env::temp_dir().join(format!("stratavec-pi-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.svdb");
    std::fs::write(&path, &bytes).unwrap();
    for snap in [
        Snapshot::from_bytes(&bytes).unwrap(),
        Snapshot::map(&path).unwrap(),
    ] {
        assert_eq!(snap.payload_index_list(), index_list());
        assert!(answers!(snap) == expect);
        // A collection made from it keeps the indexes, and they follow its writes.
        let mut restored = snap.to_collection().unwrap();
        assert_eq!(restored.payload_index_list(), index_list());
        assert!(answers!(restored) == expect);
        restored.delete(&[PointId::Num(1)]);
        col.delete(&[PointId::Num(1)]);
        assert!(answers!(restored) == answers!(col));
        col.upsert(
            &[PointId::Num(1)],
            &Rng::new(8).vectors(1, 12),
            Some(vec![late.as_object().unwrap().clone()]),
        )
        .unwrap();
    }
    // Restored into a database: the manifest and the checkpoint take the indexes; reopened,
    // they are there, and writes since are indexed too.
    let db = Database::open(&dir.join("db"), DurableOptions::default()).unwrap();
    let snap = Snapshot::map(&path).unwrap();
    let d = db.restore_collection("c", &snap).unwrap();
    assert_eq!(d.payload_index_list(), index_list());
    assert!(answers!(d) == expect);
    drop(d);
    let d = db.open_collection("c").unwrap();
    assert_eq!(d.payload_index_list(), index_list());
    assert!(answers!(d) == expect);
    let moved = json!({"lang": "de", "n": 6, "nested": {"x": 3.0}, "date": "2025-01-01T00:00:00Z"});
    d.upsert(
        &[PointId::Num(3)],
        &Rng::new(9).vectors(1, 12),
        Some(vec![moved.as_object().unwrap().clone()]),
    )
    .unwrap();
    col.upsert(
        &[PointId::Num(3)],
        &Rng::new(9).vectors(1, 12),
        Some(vec![moved.as_object().unwrap().clone()]),
    )
    .unwrap();
    d.checkpoint().unwrap();
    drop(d);
    let d = db.open_collection("c").unwrap();
    assert_eq!(d.payload_index_list(), index_list());
    let (mut got, mut want) = (answers!(d), answers!(col));
    // Graph searches may order equal scores differently; compare the ids found.
    for (g, w) in got.iter_mut().zip(want.iter_mut()) {
        g.0.sort_by_key(|h| h.id);
        w.0.sort_by_key(|h| h.id);
    }
    assert!(got == want, "after a checkpoint and reopening");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file of format 1.1 (an HNSW graph over the golden points), read by every future version.
/// A graph build sums floats, which other instruction sets may round differently, so this file
/// is only read, never compared with the writer's output; it is written once, when missing.
#[test]
fn golden_file_with_a_graph_is_read_forever() {
    let name = "snapshot-1.1-hnsw.svdb";
    let path = golden_dir().join(name);
    let col = golden_collection(Metric::Euclid, VectorType::F32);
    if std::env::var_os("STRATAVEC_WRITE_GOLDEN").is_some() && !path.exists() {
        let bytes = with_graph(Metric::Euclid).snapshot_bytes().unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    let golden = std::fs::read(&path).unwrap();
    assert_eq!(&golden[16..20], &[1, 0, 1, 0], "{name} is version 1.1");
    let snap = Snapshot::from_bytes(&golden).unwrap();
    snap.verify().unwrap();
    assert!(snap.has_index(), "{name}: the graph is read");
    // 39 points: a walk as wide as the collection finds exactly what a scan finds.
    assert_same_contents(&snap, &col);
    for q in Rng::new(12).vectors(10, 12).chunks_exact(12) {
        let walked = snap
            .search(&SearchRequest {
                ef: Some(64),
                ..SearchRequest::new(q, 10)
            })
            .unwrap();
        let scanned = col
            .search(&SearchRequest {
                exact: true,
                ..SearchRequest::new(q, 10)
            })
            .unwrap();
        assert_eq!(walked, scanned);
    }
}
