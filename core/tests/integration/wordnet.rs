//! Exact search over the shared wordnet-minilm dataset must reproduce its ground truth: the top
//! 10 of every one of the 2,000 queries, unfiltered and under every filter in `filters.json`.
//! Skipped, with a message, when `../shared/data/wordnet-minilm` is absent.
//!
//! "Reproduce" allows only true ties: where our top 10 and the ground truth differ, the ids
//! involved must score within 1e-6 (f64) of the 10th score.

use std::collections::HashSet;

use stratavec_core::{
    Collection, CollectionConfig, Filter, Metric, PointId, SearchRequest, VectorType,
};
use stratavec_testkit::dataset::Wordnet;

const K: usize = 10;

fn load() -> Option<Wordnet> {
    let w = Wordnet::load().expect("the shared dataset is present but unreadable");
    if w.is_none() {
        eprintln!("skipped: ../shared/data/wordnet-minilm is not present");
    }
    w
}

fn unit(v: &[f32]) -> Vec<f64> {
    let n = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    v.iter().map(|&x| f64::from(x) / n).collect()
}

fn build(w: &Wordnet, vector_type: VectorType) -> Collection {
    let n = w.len();
    let mut col =
        Collection::new(CollectionConfig::new(w.dim, Metric::Cosine).with_vector_type(vector_type))
            .unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    col.upsert(&ids, &w.base, Some(w.payloads.clone())).unwrap();
    col
}

fn ground_truth<'a>(w: &'a Wordnet, name: &str) -> &'a [i32] {
    &w.ground_truth
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no ground truth for {name}"))
        .1
}

#[test]
fn exact_search_reproduces_ground_truth_for_every_filter() {
    let Some(w) = load() else { return };
    let col = build(&w, VectorType::F32);
    let dim = w.dim;
    let nq = w.queries.len() / dim;
    let base_unit: Vec<Vec<f64>> = w.base.chunks_exact(dim).map(unit).collect();
    let filters = &w.filters;
    assert!(
        filters.len() >= 7,
        "filters.json should name at least 7 filters"
    );
    for (name, spec) in filters {
        let filter = Filter::from_json(&spec["filter"]).unwrap();
        let matches = spec["matches"].as_u64().unwrap() as usize;
        assert_eq!(
            col.count(Some(&filter)).unwrap(),
            matches,
            "filter {name}: count differs from filters.json"
        );
        let reqs: Vec<SearchRequest<'_>> = w
            .queries
            .chunks_exact(dim)
            .map(|q| SearchRequest {
                filter: Some(&filter),
                with_payload: false,
                ..SearchRequest::new(q, K)
            })
            .collect();
        let results = col.search_batch(&reqs).unwrap();
        let gt = ground_truth(&w, name);
        let mut tie_swaps = 0;
        for (qi, hits) in results.iter().enumerate() {
            let q = unit(&w.queries[qi * dim..(qi + 1) * dim]);
            let exact = |row: usize| {
                q.iter()
                    .zip(&base_unit[row])
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
            };
            let truth: Vec<usize> = gt[qi * 100..qi * 100 + K]
                .iter()
                .filter(|&&r| r >= 0)
                .map(|&r| r as usize)
                .collect();
            let ours: Vec<usize> = hits
                .iter()
                .map(|h| match h.id {
                    PointId::Num(n) => n as usize,
                    PointId::Uuid(_) => unreachable!("numeric ids only"),
                })
                .collect();
            assert_eq!(
                ours.len(),
                truth.len().min(K),
                "filter {name} query {qi}: wrong number of hits"
            );
            let (ours_set, truth_set): (HashSet<_>, HashSet<_>) =
                (ours.iter().collect(), truth.iter().collect());
            if ours_set == truth_set {
                continue;
            }
            let kth = exact(*truth.last().unwrap());
            for &row in ours_set.symmetric_difference(&truth_set) {
                assert!(
                    (exact(*row) - kth).abs() <= 1e-6,
                    "filter {name} query {qi}: id {row} (score {}) differs from the ground truth and is not a tie of the 10th ({kth})",
                    exact(*row)
                );
            }
            tie_swaps += 1;
        }
        eprintln!("filter {name}: {nq} queries reproduce the ground truth ({tie_swaps} differ only by exact ties)");
    }
}

#[test]
fn f16_storage_keeps_recall_on_wordnet() {
    let Some(w) = load() else { return };
    let col = build(&w, VectorType::F16);
    let reqs: Vec<SearchRequest<'_>> = w
        .queries
        .chunks_exact(w.dim)
        .map(|q| SearchRequest {
            with_payload: false,
            ..SearchRequest::new(q, K)
        })
        .collect();
    let results = col.search_batch(&reqs).unwrap();
    let gt = ground_truth(&w, "none");
    let mut found = 0usize;
    for (qi, hits) in results.iter().enumerate() {
        let truth: HashSet<u64> = gt[qi * 100..qi * 100 + K]
            .iter()
            .map(|&r| r as u64)
            .collect();
        found += hits
            .iter()
            .filter(|h| matches!(h.id, PointId::Num(n) if truth.contains(&n)))
            .count();
    }
    let recall = found as f64 / (results.len() * K) as f64;
    eprintln!("f16 storage recall@10 = {recall:.4}");
    assert!(recall >= 0.99, "f16 storage recall@10 {recall} below 0.99");
}
