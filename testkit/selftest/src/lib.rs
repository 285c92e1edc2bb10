//! The core's self-test for targets where the native test harness cannot run: wasm32 (simd128)
//! and aarch64 (NEON) cross-compiled and run under qemu-user.
//!
//! Key design decision: no wasm-bindgen. The wasm module exports one function, `run`, and
//! imports one, `env.report(ptr, len)`, which receives UTF-8 lines; `run.mjs` instantiates it
//! under Node, prints the lines and exits non-zero when `run` returns failures or traps (a panic
//! is a trap under panic=abort). That keeps the check independent of the binding layer it is
//! meant to support. On other targets `run` prints to stdout and the `stratavec-selftest`
//! binary turns its result into an exit code.

use serde_json::json;
use stratavec_core::distance::binary::{binary_kernel_levels, binary_kernels};
use stratavec_core::distance::int8::{int8_kernel_levels, int8_kernels};
use stratavec_core::distance::{Kernels, SimdLevel};
use stratavec_core::{
    BinaryParams, Collection, CollectionConfig, Error, Filter, HnswParams, Int8Params, Metric,
    PointId, Quantization, SearchRequest, Snapshot, VectorType,
};
use stratavec_testkit::golden::{
    golden_collection, golden_index_filters, golden_indexed_collection, GOLDEN, GOLDEN_INDEXED,
};
use stratavec_testkit::kernel_check::{check_binary_kernels, check_int8_kernels, check_kernels};
use stratavec_testkit::Rng;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "env")]
extern "C" {
    fn report(ptr: *const u8, len: usize);
}

fn say(line: &str) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: `report` only reads `len` bytes at `ptr`, which `line` keeps alive for the call.
    unsafe {
        report(line.as_ptr(), line.len())
    };
    #[cfg(not(target_arch = "wasm32"))]
    println!("{line}");
}

/// Runs every check; returns the number of failures.
#[no_mangle]
pub extern "C" fn run() -> u32 {
    let mut failures = 0u32;
    let mut passed = 0u32;
    let mut fail = |msg: String| {
        say(&format!("FAIL {msg}"));
        failures += 1;
    };

    let detected = Kernels::detected().level;
    say(&format!("detected SIMD level: {detected}"));
    if cfg!(all(target_arch = "wasm32", target_feature = "simd128"))
        && detected != SimdLevel::Simd128
    {
        fail(format!("built with simd128 but detected {detected}"));
    }
    for level in SimdLevel::available() {
        let Some(k) = Kernels::for_level(level) else {
            fail(format!("{level} is available but has no kernels"));
            continue;
        };
        let v = check_kernels(&k, 2048);
        say(&format!(
            "kernels {level}: {} violations over dims 1..=2048",
            v.len()
        ));
        for line in v.into_iter().take(10) {
            fail(line);
        }
    }
    for metric in Metric::ALL {
        if let Err(e) = search_matches_brute_force(metric) {
            fail(format!("{metric}: {e}"));
        } else {
            say(&format!("exact search {metric}: matches brute force"));
            passed += 1;
        }
    }
    let int8 = int8_kernel_levels();
    let binary = binary_kernel_levels();
    let levels = |names: Vec<&str>| names.join(", ");
    let v = check_int8_kernels(&int8);
    say(&format!(
        "int8 kernels ({}): {} violations",
        levels(int8.iter().map(|k| k.level).collect()),
        v.len()
    ));
    let v2 = check_binary_kernels(&binary);
    say(&format!(
        "binary kernels ({}): {} violations",
        levels(binary.iter().map(|k| k.level).collect()),
        v2.len()
    ));
    for line in v.into_iter().take(10).chain(v2.into_iter().take(10)) {
        fail(line);
    }
    if cfg!(all(target_arch = "wasm32", target_feature = "simd128"))
        && (int8_kernels().level != "simd128" || binary_kernels().level != "simd128")
    {
        fail(format!(
            "built with simd128 but the code kernels chosen are {} and {}",
            int8_kernels().level,
            binary_kernels().level
        ));
    }
    // 256 f32 components: rows long enough for guard codes, so that walk skips rows by them
    // (uniform data in 256 dimensions has no neighbourhoods to find: it is drawn around centres).
    for (quantization, dim, centres, floor) in [
        (None, 32, None, 0.9),
        (None, 256, Some(5), 0.9),
        (Some(Quantization::int8()), 32, None, 0.9),
        (Some(Quantization::binary()), 32, None, 0.85),
    ] {
        let name = quantization.as_ref().map_or("f32", |q| q.name());
        match hnsw_recall(quantization, dim, centres, floor) {
            Err(e) => fail(format!("{name}, {dim}-d: {e}")),
            Ok(r) => {
                say(&format!(
                    "HNSW ({name}, {dim}-d) recall@10 at ef=64 against exact search: {r:.3}"
                ));
                passed += 1;
            }
        }
    }
    if let Err(e) = golden_files_are_portable() {
        fail(e);
    } else {
        say("golden snapshots of format 1.0 and 1.2 (codes): opened, verified, and rewritten byte for byte");
        passed += 1;
    }
    if let Err(e) = bad_input_is_rejected() {
        fail(e);
    } else {
        say("bad input: typed errors, no trap");
        passed += 1;
    }
    say(&format!("{passed} passed, {failures} failed"));
    failures
}

fn search_matches_brute_force(metric: Metric) -> Result<(), String> {
    let (n, dim) = (2000usize, 48usize);
    let mut rng = Rng::new(42);
    let data = rng.vectors(n, dim);
    let mut col = Collection::new(CollectionConfig::new(dim, metric)).map_err(|e| e.to_string())?;
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    let payloads = (0..n)
        .map(|i| {
            json!({"odd": i % 2 == 1})
                .as_object()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    col.upsert(&ids, &data, Some(payloads))
        .map_err(|e| e.to_string())?;
    let odd = Filter::from_json(&json!({"must": [{"key": "odd", "match": {"value": true}}]}))
        .map_err(|e| e.to_string())?;
    for q in rng.vectors(10, dim).chunks_exact(dim) {
        let hits = col
            .search(&SearchRequest::new(q, 5).with_filter(&odd))
            .map_err(|e| e.to_string())?;
        let score = |row: usize| -> f64 {
            let x = &data[row * dim..(row + 1) * dim];
            let pairs = q.iter().zip(x).map(|(&a, &b)| (f64::from(a), f64::from(b)));
            match metric {
                Metric::Cosine => {
                    let (d, na, nb) = pairs.fold((0.0, 0.0, 0.0), |(d, na, nb), (a, b)| {
                        (d + a * b, na + a * a, nb + b * b)
                    });
                    d / (na.sqrt() * nb.sqrt())
                }
                Metric::Dot => pairs.map(|(a, b)| a * b).sum(),
                Metric::Euclid => pairs.map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt(),
                Metric::Manhattan => pairs.map(|(a, b)| (a - b).abs()).sum(),
            }
        };
        let mut rows: Vec<usize> = (1..n).step_by(2).collect();
        rows.sort_by(|&a, &b| {
            let o = score(a).total_cmp(&score(b));
            if metric.higher_is_closer() {
                o.reverse()
            } else {
                o
            }
        });
        for (hit, &row) in hits.iter().zip(&rows) {
            let exact = score(row);
            if (f64::from(hit.score) - exact).abs() > 1e-4 * exact.abs().max(1.0) {
                return Err(format!(
                    "hit {:?} scored {}, brute force {} for row {row}",
                    hit.id, hit.score, exact
                ));
            }
        }
        if hits.len() != 5 {
            return Err(format!("{} hits instead of 5", hits.len()));
        }
    }
    Ok(())
}

/// Builds an HNSW graph over seeded data (uniform, or around `centres` points), with the codes
/// of `quantization` when given (walks and scans over codes, then rescoring), and checks its
/// recall against exact search.
fn hnsw_recall(
    quantization: Option<Quantization>,
    dim: usize,
    centres: Option<usize>,
    floor: f64,
) -> Result<f64, String> {
    let n = 3000usize;
    let mut rng = Rng::new(11);
    let (data, queries) = match centres {
        None => (rng.vectors(n, dim), rng.vectors(20, dim)),
        Some(c) => {
            let centres = rng.vectors(c, dim);
            let mut around = |count: usize| -> Vec<f32> {
                (0..count)
                    .flat_map(|i| centres[(i % c) * dim..][..dim].to_vec())
                    .map(|x| x + 0.4 * rng.signed())
                    .collect()
            };
            (around(n), around(20))
        }
    };
    let mut col =
        Collection::new(CollectionConfig::new(dim, Metric::Cosine)).map_err(|e| e.to_string())?;
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    col.upsert(&ids, &data, None).map_err(|e| e.to_string())?;
    col.build_index(HnswParams::default())
        .map_err(|e| e.to_string())?;
    col.set_quantization(quantization)
        .map_err(|e| e.to_string())?;
    let (mut found, mut total) = (0usize, 0usize);
    for q in queries.chunks_exact(dim) {
        let base = SearchRequest {
            with_payload: false,
            ..SearchRequest::new(q, 10)
        };
        let exact = col
            .search(&SearchRequest {
                exact: true,
                ..base
            })
            .map_err(|e| e.to_string())?;
        let approx = col
            .search(&SearchRequest {
                ef: Some(64),
                ..base
            })
            .map_err(|e| e.to_string())?;
        total += exact.len();
        found += approx
            .iter()
            .filter(|h| exact.iter().any(|e| e.id == h.id))
            .count();
    }
    let r = found as f64 / total.max(1) as f64;
    if r < floor {
        return Err(format!("HNSW recall@10 at ef=64 is {r:.3}, below {floor}"));
    }
    Ok(r)
}

/// The golden files, compiled in: the very bytes the native tests read.
const GOLDEN_BYTES: [&[u8]; 2] = [
    include_bytes!("../../../core/tests/golden/v1/snapshot-f32-euclid.svdb"),
    include_bytes!("../../../core/tests/golden/v1/snapshot-f16-cosine.svdb"),
];

fn golden_files_are_portable() -> Result<(), String> {
    for ((name, metric, vector_type), bytes) in GOLDEN.into_iter().zip(GOLDEN_BYTES) {
        let snap = Snapshot::from_bytes(bytes).map_err(|e| format!("{name}: {e}"))?;
        snap.verify().map_err(|e| format!("{name}: {e}"))?;
        let col = golden_collection(metric, vector_type);
        let all =
            |r: Result<stratavec_core::ScrollPage, Error>| r.map_err(|e| format!("{name}: {e}"));
        if all(snap.scroll(None, 100, None, true, true))?
            != all(col.scroll(None, 100, None, true, true))?
        {
            return Err(format!("{name}: contents differ from the generator's"));
        }
        let written = col.snapshot_bytes().map_err(|e| format!("{name}: {e}"))?;
        if written != bytes {
            return Err(format!(
                "{name}: this platform writes different bytes than the golden file"
            ));
        }
    }
    // Format 1.4: the same points with payload indexes, answering as the collection does.
    {
        let name = GOLDEN_INDEXED;
        let bytes = GOLDEN_INDEXED_BYTES;
        let col = golden_indexed_collection();
        if col.snapshot_bytes().map_err(|e| format!("{name}: {e}"))? != bytes {
            return Err(format!(
                "{name}: this platform writes different indexes than the golden file"
            ));
        }
        let snap = Snapshot::from_bytes(bytes).map_err(|e| format!("{name}: {e}"))?;
        if snap.payload_index_list() != col.payload_index_list() {
            return Err(format!("{name}: the file's index list differs"));
        }
        for f in golden_index_filters() {
            let f = Filter::from_json(&f).map_err(|e| format!("{name}: {e}"))?;
            let count = |r: Result<usize, Error>| r.map_err(|e| format!("{name}: {e}"));
            if count(snap.count(Some(&f)))? != count(col.count(Some(&f)))? {
                return Err(format!(
                    "{name}: the file's indexes count {f:?} differently"
                ));
            }
        }
    }
    // Format 1.2: the same points with their int8 or binary codes.
    for (name, quantization, bytes) in GOLDEN_CODES {
        let mut snap = Snapshot::from_bytes(bytes).map_err(|e| format!("{name}: {e}"))?;
        snap.verify().map_err(|e| format!("{name}: {e}"))?;
        let mut col = golden_collection(Metric::Euclid, VectorType::F32);
        col.set_quantization(Some(quantization))
            .map_err(|e| format!("{name}: {e}"))?;
        if col.snapshot_bytes().map_err(|e| format!("{name}: {e}"))? != bytes {
            return Err(format!(
                "{name}: this platform writes different codes than the golden file"
            ));
        }
        snap.set_quantization(Some(quantization))
            .map_err(|e| format!("{name}: {e}"))?;
        let dim = col.config().dim;
        for q in Rng::new(3).vectors(8, dim).chunks_exact(dim) {
            let req = SearchRequest {
                oversampling: Some(1.0),
                ..SearchRequest::new(q, 5)
            };
            if snap.search(&req).map_err(|e| e.to_string())?
                != col.search(&req).map_err(|e| e.to_string())?
            {
                return Err(format!("{name}: the file's codes answer differently"));
            }
        }
    }
    Ok(())
}

const GOLDEN_INDEXED_BYTES: &[u8] =
    include_bytes!("../../../core/tests/golden/v1/snapshot-1.4-payload-indexes.svdb");

const GOLDEN_CODES: [(&str, Quantization, &[u8]); 2] = [
    (
        "snapshot-1.2-int8.svdb",
        Quantization::Int8(Int8Params {
            quantile: 0.999,
            oversampling: 3.0,
        }),
        include_bytes!("../../../core/tests/golden/v1/snapshot-1.2-int8.svdb"),
    ),
    (
        "snapshot-1.2-binary.svdb",
        Quantization::Binary(BinaryParams { oversampling: 10.0 }),
        include_bytes!("../../../core/tests/golden/v1/snapshot-1.2-binary.svdb"),
    ),
];

fn bad_input_is_rejected() -> Result<(), String> {
    let mut col =
        Collection::new(CollectionConfig::new(3, Metric::Cosine)).map_err(|e| e.to_string())?;
    match col.upsert(&[PointId::Num(1)], &[1.0, f32::NAN, 0.0], None) {
        Err(Error::InvalidVector { .. }) => {}
        other => return Err(format!("NaN vector: expected InvalidVector, got {other:?}")),
    }
    match col.search(&SearchRequest::new(&[1.0, 2.0], 3)) {
        Err(Error::DimensionMismatch {
            expected: 3,
            got: 2,
            ..
        }) => {}
        other => {
            return Err(format!(
                "short query: expected DimensionMismatch, got {other:?}"
            ))
        }
    }
    match Filter::from_json(&json!({"must": [{"key": "a", "range": {"gt": "soon"}}]})) {
        Err(Error::InvalidFilter { path, .. }) if path == "must[0].range.gt" => Ok(()),
        other => Err(format!(
            "bad filter: expected InvalidFilter at must[0].range.gt, got {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_passes_natively() {
        assert_eq!(super::run(), 0);
    }
}
