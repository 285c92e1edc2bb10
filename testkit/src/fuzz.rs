//! What each fuzz target does with its input, shared by `fuzz/` (cargo-fuzz) and the regression
//! test that replays saved inputs (`core/tests/fuzz-regressions/<target>/`). Each function must
//! return normally for every input: errors are fine, panics and hangs are bugs.

use serde_json::json;
use stratavec_core::{Filter, PointId, SearchRequest, Snapshot};

/// Opens arbitrary bytes as a snapshot; when that succeeds, verifies and reads everything.
pub fn snapshot(data: &[u8]) {
    let Ok(s) = Snapshot::from_bytes(data) else {
        return;
    };
    let _ = s.verify();
    let _ = s.scroll(None, 64, None, true, true);
    let _ = s.scroll(None, 3, Some(PointId::Num(5)), false, true);
    let _ = s.get(&[PointId::Num(0), PointId::Num(3)], true, true);
    let dim = s.config().dim;
    let q: Vec<f32> = (0..dim).map(|i| (i % 7) as f32 - 3.0).collect();
    let filter = Filter::from_json(&json!({"must": [{"key": "lang", "match": {"value": "en"}}]}));
    if let Ok(f) = filter {
        let _ = s.search(&SearchRequest::new(&q, 5).with_filter(&f));
        let _ = s.count(Some(&f));
    }
    let _ = s.search(&SearchRequest::new(&q, 5));
    let _ = s.to_collection();
}

/// Parses arbitrary bytes as a filter; when that succeeds, evaluates it on a few payloads.
pub fn filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(f) = Filter::from_json_str(text) else {
        return;
    };
    for p in [
        json!({}),
        json!({"a": 1, "b": "x", "c": [1, 2, {"d": null}], "date": "2024-01-01T00:00:00Z"}),
        json!({"a": {"b": [{"c": 1.5}, {"c": "y"}]}, "tags": ["a", "b"], "n": null}),
    ] {
        if let Some(obj) = p.as_object() {
            let _ = f.matches(PointId::Num(1), obj);
        }
    }
}

/// Writes arbitrary bytes as a collection's write-ahead log and opens the collection; when that
/// succeeds, reads everything.
#[cfg(feature = "files")]
pub fn wal(data: &[u8]) {
    use std::path::PathBuf;
    use std::sync::OnceLock;
    use stratavec_core::{CollectionConfig, DurableCollection, DurableOptions, Metric};

    // One template collection per process: its manifest names wal-000000.log.
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("stratavec-fuzz-wal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let created = DurableCollection::create(
            &dir,
            CollectionConfig::new(4, Metric::Cosine),
            DurableOptions::default(),
        );
        drop(created.expect("template collection"));
        dir
    });
    let mut log = wal_header();
    log.extend_from_slice(data);
    if std::fs::write(dir.join("wal-000000.log"), &log).is_err() {
        return;
    }
    let Ok(d) = DurableCollection::open(dir, DurableOptions::default()) else {
        return;
    };
    let _ = d.scroll(None, 1000, None, true, true);
    let _ = d.search(&SearchRequest::new(&[1.0, 0.0, 0.0, 0.0], 3));
}

/// A valid log header, so fuzzing explores records rather than the header check.
#[cfg(feature = "files")]
fn wal_header() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..8].copy_from_slice(b"\x89SVWAL\r\n");
    h[8..12].copy_from_slice(&0x0A0B_0C0Du32.to_le_bytes());
    h[12..16].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32c_sw(&h[..60]);
    h[60..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Bitwise CRC32C, so the testkit needs no checksum dependency of its own.
#[cfg(feature = "files")]
pub fn crc32c_sw(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
