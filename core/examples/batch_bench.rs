//! Batch search over a snapshot file, for `bench/python_binding.py`, which times the same
//! searches through the Python package and sets the two side by side.
//!
//! Usage: batch_bench SNAPSHOT QUERIES.f32 DIM K EF
//! (QUERIES.f32: raw little-endian float32 rows.) Prints one JSON line: queries/s of the
//! fastest of three passes of one `search_batch` call over every query.

use std::time::Instant;

use stratavec_core::{SearchRequest, Snapshot};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: batch_bench SNAPSHOT QUERIES.f32 DIM K EF");
        std::process::exit(2);
    }
    let snap = Snapshot::map(std::path::Path::new(&args[1]))?;
    let bytes = std::fs::read(&args[2])?;
    let queries: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let (dim, k, ef): (usize, usize, usize) =
        (args[3].parse()?, args[4].parse()?, args[5].parse()?);
    let requests: Vec<SearchRequest<'_>> = queries
        .chunks_exact(dim)
        .map(|q| SearchRequest {
            ef: Some(ef),
            with_payload: false,
            ..SearchRequest::new(q, k)
        })
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let results = snap.search_batch(&requests)?;
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(results.len(), requests.len());
    }
    println!(
        r#"{{"engine": "rust", "queries": {}, "ef": {ef}, "qps": {:.1}}}"#,
        requests.len(),
        requests.len() as f64 / best
    );
    Ok(())
}
