//! The main job end to end: ingest the shared wordnet-minilm dataset (or, when it is absent, a
//! seeded synthetic set, said plainly), search with and without filters showing what was found,
//! check recall against the dataset's exact ground truth, and report ingest speed and latency.
//!
//! Run with `make demo`.

use std::time::Instant;

use serde_json::json;
use stratavec_core::distance::Kernels;
use stratavec_core::{
    Collection, CollectionConfig, Filter, HnswParams, Metric, Payload, PointId, ScoredPoint,
    SearchRequest,
};
use stratavec_testkit::dataset::Wordnet;
use stratavec_testkit::Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "stratavec demo — distance kernels: {}",
        Kernels::detected().level
    );
    match Wordnet::load()? {
        Some(w) => wordnet(&w),
        None => {
            println!("../shared/data/wordnet-minilm is not present: using a seeded SYNTHETIC set instead");
            synthetic()
        }
    }
}

fn ids(n: usize) -> Vec<PointId> {
    (0..n as u64).map(PointId::Num).collect()
}

/// One line per hit: id, score and the start of its text.
fn print_hits(hits: &[ScoredPoint]) {
    for h in hits {
        println!(
            "    {:>6}  {:.3}  {}",
            h.id.to_string(),
            h.score,
            text(&h.payload)
        );
    }
}

fn text(p: &Option<Payload>) -> String {
    p.as_ref()
        .and_then(|p| p.get("text"))
        .and_then(|t| t.as_str())
        .map(|t| t.chars().take(90).collect())
        .unwrap_or_default()
}

fn wordnet(w: &Wordnet) -> Result<(), Box<dyn std::error::Error>> {
    let n = w.len();
    println!(
        "dataset: wordnet-minilm, {n} sentence embeddings of dimension {}, cosine",
        w.dim
    );
    let mut col = Collection::new(CollectionConfig::new(w.dim, Metric::Cosine))?;
    let t = Instant::now();
    col.upsert(&ids(n), &w.base, Some(w.payloads.clone()))?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "ingested {n} points with payloads in {secs:.2} s ({:.0} points/s)\n",
        n as f64 / secs
    );

    let animal = Filter::from_json(&w.filters["animal"]["filter"])?;
    let adverb = Filter::from_json(&w.filters["adverb"]["filter"])?;
    for &qi in &[3usize, 1234] {
        let q = &w.queries[qi * w.dim..(qi + 1) * w.dim];
        println!("query {qi}: {:?}", w.query_texts[qi]);
        for (label, filter) in [
            ("no filter", None),
            ("lexname = noun.animal", Some(&animal)),
            ("pos = adv", Some(&adverb)),
        ] {
            let req = SearchRequest {
                filter,
                ..SearchRequest::new(q, 3)
            };
            let t = Instant::now();
            let hits = col.search(&req)?;
            println!("  {label} ({:.1} ms):", t.elapsed().as_secs_f64() * 1e3);
            print_hits(&hits);
        }
        println!();
    }

    println!(
        "recall@10 of exact search against the dataset's ground truth, 2000 queries per filter:"
    );
    for (name, spec) in &w.filters {
        let filter = Filter::from_json(&spec["filter"])?;
        let reqs: Vec<SearchRequest<'_>> = w
            .queries
            .chunks_exact(w.dim)
            .map(|q| SearchRequest {
                filter: Some(&filter),
                with_payload: false,
                ..SearchRequest::new(q, 10)
            })
            .collect();
        let t = Instant::now();
        let results = col.search_batch(&reqs)?;
        let secs = t.elapsed().as_secs_f64();
        let gt = w.ground_truth(name).ok_or("missing ground truth")?;
        let (mut found, mut total) = (0usize, 0usize);
        for (qi, hits) in results.iter().enumerate() {
            let truth: Vec<u64> = gt[qi * 100..qi * 100 + 10]
                .iter()
                .filter(|&&r| r >= 0)
                .map(|&r| r as u64)
                .collect();
            total += truth.len();
            found += hits
                .iter()
                .filter(|h| matches!(h.id, PointId::Num(i) if truth.contains(&i)))
                .count();
        }
        println!(
            "  {name:<20} selectivity {:>7.4}  recall@10 {:.4}  batch of 2000: {:>7.0} queries/s",
            spec["selectivity"].as_f64().unwrap_or(f64::NAN),
            found as f64 / total.max(1) as f64,
            results.len() as f64 / secs
        );
    }

    let mut lat: Vec<f64> = w
        .queries
        .chunks_exact(w.dim)
        .take(200)
        .map(|q| {
            let t = Instant::now();
            let _ = col.search(&SearchRequest {
                with_payload: false,
                ..SearchRequest::new(q, 10)
            });
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    println!(
        "\nsingle-query exact search latency over {n} points: p50 {:.2} ms, p99 {:.2} ms",
        lat[100], lat[197]
    );
    let exact_p50 = lat[100];

    println!("\nbuilding an HNSW index (m=16, ef_construction=100) ...");
    let t = Instant::now();
    col.build_index(HnswParams {
        m: 16,
        ef_construction: 100,
        ..HnswParams::default()
    })?;
    println!("built in {:.1} s on one thread", t.elapsed().as_secs_f64());
    let gt = w.ground_truth("none").ok_or("missing ground truth")?;
    for ef in [32, 64, 128] {
        let (mut found, mut lat) = (0usize, Vec::new());
        for (qi, q) in w.queries.chunks_exact(w.dim).enumerate() {
            let t = Instant::now();
            let hits = col.search(&SearchRequest {
                ef: Some(ef),
                with_payload: false,
                ..SearchRequest::new(q, 10)
            })?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            let truth = &gt[qi * 100..qi * 100 + 10];
            found += hits
                .iter()
                .filter(|h| matches!(h.id, PointId::Num(i) if truth.contains(&(i as i32))))
                .count();
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "  HNSW ef={ef:<4} recall@10 {:.4}  p50 {:.3} ms  p99 {:.3} ms  ({:.0}x faster than exact at p50)",
            found as f64 / (lat.len() * 10) as f64,
            lat[lat.len() / 2],
            lat[lat.len() * 99 / 100],
            exact_p50 / lat[lat.len() / 2]
        );
    }
    let q = &w.queries[3 * w.dim..4 * w.dim];
    println!("query 3 through the index, filtered to noun.animal (the planner picks the path):");
    print_hits(&col.search(&SearchRequest::new(q, 3).with_filter(&animal))?);

    let bad = Filter::from_json(&json!({"must": [{"key": "pos", "match": {"value": 1.5}}]}));
    println!(
        "a malformed filter is an error, not a wrong answer: {}",
        bad.err().map(|e| e.to_string()).unwrap_or_default()
    );
    Ok(())
}

fn synthetic() -> Result<(), Box<dyn std::error::Error>> {
    let (n, dim) = (50_000usize, 384usize);
    let mut rng = Rng::new(2026);
    let base = rng.vectors(n, dim);
    let payloads: Vec<Payload> = (0..n)
        .map(|i| {
            json!({"group": i % 10, "text": format!("synthetic point {i}")})
                .as_object()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Cosine))?;
    let t = Instant::now();
    col.upsert(&ids(n), &base, Some(payloads))?;
    println!(
        "ingested {n} synthetic points of dimension {dim} in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let group3 = Filter::from_json(&json!({"must": [{"key": "group", "match": {"value": 3}}]}))?;
    let q = rng.vectors(1, dim);
    for (label, filter) in [("no filter", None), ("group = 3", Some(&group3))] {
        let t = Instant::now();
        let hits = col.search(&SearchRequest {
            filter,
            ..SearchRequest::new(&q, 3)
        })?;
        println!("  {label} ({:.1} ms):", t.elapsed().as_secs_f64() * 1e3);
        print_hits(&hits);
    }
    Ok(())
}
