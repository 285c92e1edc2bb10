//! HNSW on the shared wordnet-minilm set: build time, then single-thread queries/s and
//! recall@10 against the dataset's exact ground truth over an ef sweep. Prints one JSON object
//! per line so `bench/hnsw_wordnet.py` can set it beside hnswlib measured in the same run.
//!
//! Usage: hnsw_bench [m] [ef_construction]

use std::collections::HashSet;
use std::time::Instant;

use stratavec_core::{Collection, CollectionConfig, HnswParams, Metric, PointId, SearchRequest};
use stratavec_testkit::dataset::Wordnet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let m = args.first().copied().unwrap_or(16);
    let ef_construction = args.get(1).copied().unwrap_or(200);
    let Some(w) = Wordnet::load()? else {
        eprintln!("../shared/data/wordnet-minilm is not present");
        std::process::exit(2);
    };
    let n = w.len();
    let mut col = Collection::new(CollectionConfig::new(w.dim, Metric::Cosine))?;
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    col.upsert(&ids, &w.base, None)?;
    let t = Instant::now();
    col.build_index(HnswParams {
        m,
        ef_construction,
        ..HnswParams::default()
    })?;
    let build = t.elapsed().as_secs_f64();
    println!(
        r#"{{"engine": "stratavec", "event": "build", "m": {m}, "ef_construction": {ef_construction}, "threads": 1, "seconds": {build:.3}}}"#
    );
    let gt = w.ground_truth("none").ok_or("no ground truth")?;
    let nq = w.queries.len() / w.dim;
    for ef in [10, 16, 32, 64, 128, 256] {
        let t = Instant::now();
        let mut found = 0usize;
        for (qi, q) in w.queries.chunks_exact(w.dim).enumerate() {
            let hits = col.search(&SearchRequest {
                ef: Some(ef),
                with_payload: false,
                ..SearchRequest::new(q, 10)
            })?;
            let truth: HashSet<u64> = gt[qi * 100..qi * 100 + 10]
                .iter()
                .map(|&r| r as u64)
                .collect();
            found += hits
                .iter()
                .filter(|h| matches!(h.id, PointId::Num(i) if truth.contains(&i)))
                .count();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            r#"{{"engine": "stratavec", "event": "search", "ef": {ef}, "qps": {:.1}, "recall": {:.4}}}"#,
            nq as f64 / secs,
            found as f64 / (nq * 10) as f64
        );
    }
    Ok(())
}
