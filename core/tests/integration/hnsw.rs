//! HNSW recall against exact search, with explicit thresholds (no timings), on seeded data and
//! on a slice of the shared wordnet-minilm dataset; the planner; invalidation by writes.

use std::collections::HashSet;

use serde_json::json;
use stratavec_core::{
    Collection, CollectionConfig, Error, Filter, HnswParams, Metric, Payload, PointId,
    SearchRequest, VectorType,
};
use stratavec_testkit::dataset::Wordnet;
use stratavec_testkit::Rng;

/// Mean recall@k of approximate results against exact ones.
fn recall(
    col: &Collection,
    queries: &[f32],
    dim: usize,
    k: usize,
    ef: usize,
    filter: Option<&Filter>,
) -> f64 {
    let mut found = 0usize;
    let mut total = 0usize;
    for q in queries.chunks_exact(dim) {
        let base = SearchRequest {
            filter,
            with_payload: false,
            ..SearchRequest::new(q, k)
        };
        let exact: HashSet<PointId> = col
            .search(&SearchRequest {
                exact: true,
                ..base
            })
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        let approx = col
            .search(&SearchRequest {
                ef: Some(ef),
                ..base
            })
            .unwrap();
        assert_eq!(
            approx.len(),
            exact.len(),
            "approximate search returned a different number of hits"
        );
        total += exact.len();
        found += approx.iter().filter(|h| exact.contains(&h.id)).count();
    }
    if total == 0 {
        return 1.0; // nothing passes the filter, and nothing was returned
    }
    found as f64 / total as f64
}

fn clustered(rng: &mut Rng, n: usize, dim: usize) -> Vec<f32> {
    // Points around 50 centres: harder than uniform noise, closer to real embeddings.
    let centres = rng.vectors(50, dim);
    (0..n)
        .flat_map(|i| {
            let c = (i * 7919) % 50;
            let centre = centres[c * dim..(c + 1) * dim].to_vec();
            centre
                .into_iter()
                .map(|x| x + 0.3 * (rng.unit() as f32 - 0.5))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn recall_on_seeded_data_for_every_metric_and_type() {
    let (n, dim) = (6000, 24);
    for metric in Metric::ALL {
        for vt in [VectorType::F32, VectorType::F16] {
            let mut rng = Rng::new(3);
            let mut data = clustered(&mut rng, n, dim);
            if metric == Metric::Dot {
                // Inner product is served well when norms are alike (as with embedding models);
                // widely varying norms need a transform that is not built yet.
                for v in data.chunks_exact_mut(dim) {
                    let scale = (0.9 + 0.2 * rng.unit())
                        / v.iter().map(|x| x * x).sum::<f32>().sqrt() as f64;
                    v.iter_mut().for_each(|x| *x *= scale as f32);
                }
            }
            let mut col =
                Collection::new(CollectionConfig::new(dim, metric).with_vector_type(vt)).unwrap();
            let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
            col.upsert(&ids, &data, None).unwrap();
            col.build_index(HnswParams {
                m: 12,
                ef_construction: 100,
                ..HnswParams::default()
            })
            .unwrap();
            let queries = clustered(&mut rng, 100, dim);
            // Uniform noise in 24 dimensions is hard for any graph index: it needs a wide search
            // (recall climbs from ~0.83 at ef=64 to ~0.98 at ef=256 and 1.0 at ef=2000).
            let r = recall(&col, &queries, dim, 10, 256, None);
            // Inner product is not a distance (a point need not be its own nearest neighbour),
            // so the graph's neighbour choice is weaker there: measured ~0.945 against ~0.98
            // for the true metrics on this data. Its bar is lower on purpose, not by accident.
            let bar = if metric == Metric::Dot { 0.90 } else { 0.95 };
            assert!(
                r >= bar,
                "{metric} {vt}: recall@10 at ef=256 is {r:.3}, below {bar}"
            );
        }
    }
}

#[test]
fn recall_on_wordnet_slice_with_filters_and_the_planner() {
    let Some(w) = Wordnet::load().expect("the shared dataset is present but unreadable") else {
        eprintln!("skipped: ../shared/data/wordnet-minilm is not present");
        return;
    };
    let n = 30_000;
    let dim = w.dim;
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Cosine)).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    let payloads: Vec<Payload> = w.payloads[..n].to_vec();
    col.upsert(&ids, &w.base[..n * dim], Some(payloads))
        .unwrap();
    col.build_index(HnswParams::default()).unwrap();
    let queries = &w.queries[..300 * dim];
    let r = recall(&col, queries, dim, 10, 100, None);
    eprintln!("wordnet 30k: recall@10 at ef=100 = {r:.4}");
    assert!(r >= 0.95, "unfiltered recall@10 {r:.3} below 0.95");
    let r_low = recall(&col, queries, dim, 10, 10, None);
    assert!(
        r_low <= r,
        "a smaller ef should not find more ({r_low} vs {r})"
    );
    for (name, spec) in &w.filters {
        let filter = Filter::from_json(&spec["filter"]).unwrap();
        let r = recall(&col, queries, dim, 10, 100, Some(&filter));
        eprintln!("wordnet 30k, filter {name}: recall@10 at ef=100 = {r:.4}");
        assert!(r >= 0.95, "filter {name}: recall@10 {r:.3} below 0.95");
    }
}

#[test]
fn writes_drop_the_index_and_searches_stay_correct() {
    let dim = 8;
    let mut rng = Rng::new(9);
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Euclid)).unwrap();
    let ids: Vec<PointId> = (0..2000u64).map(PointId::Num).collect();
    col.upsert(&ids, &rng.vectors(2000, dim), None).unwrap();
    col.build_index(HnswParams::default()).unwrap();
    assert!(col.has_index());
    col.delete(&[PointId::Num(5)]);
    assert!(!col.has_index(), "a delete moves rows: the graph must go");
    let q = rng.vectors(1, dim);
    let hits = col.search(&SearchRequest::new(&q, 10)).unwrap();
    let exact = col
        .search(&SearchRequest {
            exact: true,
            ..SearchRequest::new(&q, 10)
        })
        .unwrap();
    assert_eq!(hits, exact);
    col.build_index(HnswParams::default()).unwrap();
    col.set_payload(&[PointId::Num(7)], json!({"x": 1}).as_object().unwrap());
    assert!(col.has_index(), "payload changes do not touch vectors");
}

#[test]
fn bad_parameters_are_rejected() {
    let mut col = Collection::new(CollectionConfig::new(4, Metric::Dot)).unwrap();
    for params in [
        HnswParams {
            m: 1,
            ..HnswParams::default()
        },
        HnswParams {
            m: 1000,
            ..HnswParams::default()
        },
        HnswParams {
            ef_construction: 0,
            ..HnswParams::default()
        },
    ] {
        let e = col.build_index(params).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }
    // An empty collection builds an empty graph; searching it returns nothing.
    col.build_index(HnswParams::default()).unwrap();
    assert!(col
        .search(&SearchRequest::new(&[1.0; 4], 3))
        .unwrap()
        .is_empty());
}
