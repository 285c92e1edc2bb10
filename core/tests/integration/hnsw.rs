//! HNSW recall against exact search, with explicit thresholds (no timings), on seeded data and
//! on a slice of the shared wordnet-minilm dataset; the planner; invalidation by writes.

use std::collections::HashSet;

use serde_json::json;
use stratavec_core::{
    Collection, CollectionConfig, Error, Filter, HnswParams, Metric, Payload, PayloadIndexType,
    PointId, SearchRequest, VectorType,
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

/// The graph parameters of the seeded recall tests: smaller than the defaults, as the data is.
fn small_graph() -> HnswParams {
    HnswParams {
        m: 12,
        ef_construction: 100,
        ..HnswParams::default()
    }
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
            col.build_index(small_graph()).unwrap();
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

/// Builds of 10,000 rows or more find candidates by walking int8 codes made for the build when
/// those keep the rows apart, and walk the rows when they would not: rows far from the origin
/// that differ only slightly (here 1000 plus clustered offsets of at most 0.3) all round to
/// the same codes, and a graph linked on those would be noise. Recall holds in both cases.
#[test]
fn large_builds_keep_recall_whether_or_not_int8_fits_the_data() {
    let (n, dim) = (12_000, 16);
    for (offset, metric) in [
        (0.0, Metric::Euclid),
        (0.0, Metric::Cosine),
        (1000.0, Metric::Euclid),
    ] {
        let mut rng = Rng::new(5);
        let mut data = clustered(&mut rng, n, dim);
        data.iter_mut().for_each(|x| *x += offset);
        let mut col = Collection::new(CollectionConfig::new(dim, metric)).unwrap();
        let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
        col.upsert(&ids, &data, None).unwrap();
        col.build_index(small_graph()).unwrap();
        let mut queries = clustered(&mut rng, 100, dim);
        queries.iter_mut().for_each(|x| *x += offset);
        let r = recall(&col, &queries, dim, 10, 256, None);
        assert!(
            r >= 0.95,
            "{metric}, offset {offset}: recall@10 at ef=256 is {r:.3}, below 0.95"
        );
        // A collection folder links its rows when a checkpoint writes the graph: the same
        // choice is made there.
        if metric == Metric::Euclid {
            use stratavec_core::{DurableCollection, DurableOptions};
            let dir = crate::durable::temp_dir("hnsw-large-build");
            let d = DurableCollection::create(
                &dir,
                CollectionConfig::new(dim, metric),
                DurableOptions::default(),
            )
            .unwrap();
            d.upsert(&ids, &data, None).unwrap();
            d.build_index(small_graph()).unwrap();
            let r = recall_of(&|req| d.search(req).unwrap(), &queries, dim, 256);
            assert!(r >= 0.95, "folder, offset {offset}: recall@10 {r:.3}");
            drop(d);
            std::fs::remove_dir_all(&dir).unwrap();
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
    // Keyword indexes give common values graphs of their own (here three lexnames, animal's
    // among them), which one-topic filters walk instead of scanning: recall holds at ef 64.
    for key in ["lexname", "pos"] {
        col.create_payload_index(key, PayloadIndexType::Keyword)
            .unwrap();
    }
    for (name, spec) in &w.filters {
        let filter = Filter::from_json(&spec["filter"]).unwrap();
        let r = recall(&col, queries, dim, 10, 64, Some(&filter));
        eprintln!("wordnet 30k, keyword indexes, filter {name}: recall@10 at ef=64 = {r:.4}");
        assert!(r >= 0.95, "filter {name}: recall@10 {r:.3} below 0.95");
    }
}

/// Exact top-10 ids for each query, and the recall@10 of approximate search at `ef`.
fn recall_of(
    search: &dyn Fn(&SearchRequest<'_>) -> Vec<stratavec_core::ScoredPoint>,
    queries: &[f32],
    dim: usize,
    ef: usize,
) -> f64 {
    let (mut found, mut total) = (0, 0);
    for q in queries.chunks_exact(dim) {
        let base = SearchRequest {
            with_payload: false,
            ..SearchRequest::new(q, 10)
        };
        let exact: HashSet<PointId> = search(&SearchRequest {
            exact: true,
            ..base
        })
        .into_iter()
        .map(|h| h.id)
        .collect();
        let approx = search(&SearchRequest {
            ef: Some(ef),
            ..base
        });
        total += exact.len();
        found += approx.iter().filter(|h| exact.contains(&h.id)).count();
    }
    found as f64 / total.max(1) as f64
}

#[test]
fn writes_keep_the_index_current() {
    let (dim, n) = (16, 6000);
    let mut rng = Rng::new(9);
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Euclid)).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    col.upsert(&ids, &clustered(&mut rng, n, dim), None)
        .unwrap();
    col.build_index(HnswParams::default()).unwrap();
    let queries = clustered(&mut rng, 50, dim);

    // New points are linked as they arrive; replaced vectors move; deletes leave tombstones.
    let more: Vec<PointId> = (n as u64..n as u64 + 1000).map(PointId::Num).collect();
    col.upsert(&more, &clustered(&mut rng, 1000, dim), None)
        .unwrap();
    let moved: Vec<PointId> = (0..200u64).map(PointId::Num).collect();
    let moved_to = rng.vectors(200, dim);
    col.upsert(&moved, &moved_to, None).unwrap();
    let gone: Vec<PointId> = (1000..1300u64).map(PointId::Num).collect();
    assert_eq!(col.delete(&gone), 300);
    assert!(col.has_index(), "writes must not drop the index");
    assert_eq!(col.len(), n + 1000 - 300);

    let check = |col: &Collection, when: &str| {
        let r = recall_of(&|req| col.search(req).unwrap(), &queries, dim, 128);
        assert!(r >= 0.95, "{when}: recall@10 {r:.3} below 0.95");
        for q in queries.chunks_exact(dim) {
            let hits = col
                .search(&SearchRequest {
                    ef: Some(128),
                    ..SearchRequest::new(q, 50)
                })
                .unwrap();
            assert!(
                hits.iter().all(|h| !gone.contains(&h.id)),
                "{when}: a deleted point was returned"
            );
        }
        // A replaced point is found where its new vector is, as the closest hit.
        for (id, v) in moved.iter().zip(moved_to.chunks_exact(dim)).step_by(20) {
            let hit = &col
                .search(&SearchRequest {
                    ef: Some(64),
                    ..SearchRequest::new(v, 1)
                })
                .unwrap()[0];
            assert_eq!(hit.id, *id, "{when}: replaced point not at its new vector");
            assert!(hit.score < 1e-3);
        }
    };
    check(&col, "with tombstones");
    col.optimize();
    check(&col, "after optimize");

    // Deleting a third of what is left crosses the automatic compaction threshold.
    let third: Vec<PointId> = (1300..3300u64).map(PointId::Num).collect();
    col.delete(&third);
    assert_eq!(col.len(), n + 1000 - 300 - 2000);
    check(&col, "after automatic compaction");
    col.set_payload(&[PointId::Num(7)], json!({"x": 1}).as_object().unwrap());
    assert!(col.has_index());
}

#[test]
fn the_graph_travels_in_snapshots() {
    let (dim, n) = (12, 2500);
    let mut rng = Rng::new(21);
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Cosine)).unwrap();
    // Ids inserted out of order, so the file's id order differs from the row order.
    let ids: Vec<PointId> = (0..n as u64)
        .map(|i| PointId::Num((i * 7919) % 10_007))
        .collect();
    col.upsert(&ids, &clustered(&mut rng, n, dim), None)
        .unwrap();
    col.build_index(HnswParams::default()).unwrap();
    col.delete(&ids[..10]);
    let queries = clustered(&mut rng, 40, dim);
    let bytes = col.snapshot_bytes().unwrap();
    let snap = stratavec_core::Snapshot::from_bytes(&bytes).unwrap();
    assert!(snap.has_index(), "the snapshot should carry the graph");
    snap.verify().unwrap();
    assert!(
        snap.file_bytes() == bytes.as_slice(),
        "the file is kept as read"
    );
    let r = recall_of(&|req| snap.search(req).unwrap(), &queries, dim, 100);
    // The file holds the compacted graph, renumbered in id order: the same graph as an
    // optimized collection, so the same answers.
    let mut optimized = col.clone();
    optimized.optimize();
    for q in queries.chunks_exact(dim) {
        let req = SearchRequest {
            ef: Some(40),
            ..SearchRequest::new(q, 10)
        };
        assert_eq!(snap.search(&req).unwrap(), optimized.search(&req).unwrap());
    }
    assert!(r >= 0.95, "snapshot recall@10 {r:.3}");
    let dir = crate::durable::temp_dir("hnsw-snap");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.svdb");
    std::fs::write(&path, &bytes).unwrap();
    let mapped = stratavec_core::Snapshot::map(&path).unwrap();
    assert!(mapped.has_index());
    let req = SearchRequest::new(&queries[..dim], 10);
    assert_eq!(mapped.search(&req).unwrap(), snap.search(&req).unwrap());
    let restored = snap.to_collection().unwrap();
    assert!(restored.has_index(), "restoring keeps the graph");
    assert_eq!(restored.search(&req).unwrap(), snap.search(&req).unwrap());
    // A snapshot without a graph still opens, and searches exactly.
    let mut plain = Collection::new(CollectionConfig::new(dim, Metric::Cosine)).unwrap();
    plain
        .upsert(&ids, &clustered(&mut rng, n, dim), None)
        .unwrap();
    assert!(
        !stratavec_core::Snapshot::from_bytes(&plain.snapshot_bytes().unwrap())
            .unwrap()
            .has_index()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A new durable collection (Euclid) in a temporary folder holding `n` clustered points with
/// ids 0..n.
fn durable_with_points(
    name: &str,
    rng: &mut Rng,
    n: usize,
    dim: usize,
) -> (
    std::path::PathBuf,
    stratavec_core::DurableCollection,
    Vec<PointId>,
) {
    let dir = crate::durable::temp_dir(name);
    let d = stratavec_core::DurableCollection::create(
        &dir,
        CollectionConfig::new(dim, Metric::Euclid),
        stratavec_core::DurableOptions::default(),
    )
    .unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    d.upsert(&ids, &clustered(rng, n, dim), None).unwrap();
    (dir, d, ids)
}

#[test]
fn durable_collections_keep_their_graph_across_checkpoints() {
    use stratavec_core::{DurableCollection, DurableOptions};
    // Large enough that the planner prefers the graph at ef=100 (it scans small layers).
    let (dim, n) = (16, 5000);
    let mut rng = Rng::new(5);
    let (dir, d, ids) = durable_with_points("hnsw-durable", &mut rng, n, dim);
    d.build_index(HnswParams::default()).unwrap();
    assert!(d.has_index());
    let queries = clustered(&mut rng, 40, dim);
    let r = recall_of(&|req| d.search(req).unwrap(), &queries, dim, 100);
    assert!(r >= 0.95, "after build_index: recall@10 {r:.3}");
    // Writes after the checkpoint: searched exactly beside the graph, then linked into it.
    let more: Vec<PointId> = (n as u64..n as u64 + 800).map(PointId::Num).collect();
    d.upsert(&more, &clustered(&mut rng, 800, dim), None)
        .unwrap();
    d.delete(&ids[..300]).unwrap();
    let before = recall_of(&|req| d.search(req).unwrap(), &queries, dim, 100);
    d.checkpoint().unwrap();
    let after = recall_of(&|req| d.search(req).unwrap(), &queries, dim, 100);
    assert!(
        before >= 0.95 && after >= 0.95,
        "recall {before:.3} / {after:.3}"
    );
    d.close().unwrap();
    let d = DurableCollection::open(&dir, DurableOptions::default()).unwrap();
    assert!(d.has_index(), "the graph is in the checkpoint");
    assert_eq!(d.len(), n + 800 - 300);
    let r = recall_of(&|req| d.search(req).unwrap(), &queries, dim, 100);
    assert!(r >= 0.95, "after reopening: recall@10 {r:.3}");
    for q in queries.chunks_exact(dim) {
        let hits = d.search(&SearchRequest::new(q, 30)).unwrap();
        assert!(hits.iter().all(|h| !ids[..300].contains(&h.id)));
    }
    d.verify().unwrap();
    drop(d);
    std::fs::remove_dir_all(&dir).unwrap();
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

#[test]
fn many_writes_after_a_checkpoint_get_their_own_graph() {
    use stratavec_core::{DurableCollection, DurableOptions};
    let (dim, n) = (8, 12_000);
    let mut rng = Rng::new(44);
    let dir = crate::durable::temp_dir("hnsw-mem");
    let d = DurableCollection::create(
        &dir,
        CollectionConfig::new(dim, Metric::Euclid),
        DurableOptions::default(),
    )
    .unwrap();
    // Index the empty collection, then write more than the in-memory layer's graph threshold
    // without a checkpoint (the default checkpoint threshold is 64 MiB of log).
    d.build_index(HnswParams::default()).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    for chunk in ids.chunks(1000) {
        d.upsert(chunk, &clustered(&mut rng, chunk.len(), dim), None)
            .unwrap();
        if chunk[0] == PointId::Num(0) {
            assert_eq!(
                d.unindexed_points(),
                1000,
                "a few recent writes are scanned"
            );
        }
    }
    assert_eq!(
        d.unindexed_points(),
        0,
        "many recent writes have their own graph"
    );
    d.delete(&ids[..100]).unwrap();
    let queries = clustered(&mut rng, 40, dim);
    let r = recall_of(&|req| d.search(req).unwrap(), &queries, dim, 100);
    assert!(
        r >= 0.95,
        "recall@10 {r:.3} over the in-memory layer's graph"
    );
    for q in queries.chunks_exact(dim) {
        let hits = d.search(&SearchRequest::new(q, 20)).unwrap();
        assert!(hits.iter().all(|h| !ids[..100].contains(&h.id)));
    }
    // Replaying the log rebuilds the same state; a checkpoint then carries one graph.
    drop(d);
    let d = DurableCollection::open(&dir, DurableOptions::default()).unwrap();
    assert_eq!(d.unindexed_points(), 0);
    let r = recall_of(&|req| d.search(req).unwrap(), &queries, dim, 100);
    assert!(r >= 0.95, "recall@10 {r:.3} after replay");
    d.checkpoint().unwrap();
    let r = recall_of(&|req| d.search(req).unwrap(), &queries, dim, 100);
    assert!(r >= 0.95, "recall@10 {r:.3} after the checkpoint");
    drop(d);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Filters that leave 15–50% of the rows, scattered or clustered in space: the planner walks the
/// graph (at ef 64 it does from 20% of 40,000 rows, and from 15% when the rows are scattered:
/// see `SPREAD_WALK_ROWS_PER_EF`), and the walk passes disallowed rows by two-hop expansion
/// without scoring them, or through them where few allowed rows are near.
#[test]
fn mid_selectivity_filters_walk_the_graph_with_recall() {
    let (n, dim, latent) = (40_000, 32, 14);
    let mut rng = Rng::new(41);
    // Points on a 14-dimensional subspace of 32 dimensions (plus a little noise), as embeddings
    // lie near a low-dimensional manifold; `slab` cuts space along one latent coordinate.
    let basis = rng.vectors(latent, dim);
    let point = |rng: &mut Rng| {
        // The first latent coordinate spreads wider, so slabs are well apart.
        let z: Vec<f32> = (0..latent)
            .map(|l| rng.signed() * if l == 0 { 4.0 } else { 1.0 })
            .collect();
        let x: Vec<f32> = (0..dim)
            .map(|d| {
                let v: f32 = (0..latent).map(|l| z[l] * basis[l * dim + d]).sum();
                v + 0.01 * rng.signed()
            })
            .collect();
        (x, ((z[0] + 4.0) * 0.625).clamp(0.0, 4.0) as u32)
    };
    let mut data = Vec::with_capacity(n * dim);
    let mut payloads: Vec<Payload> = Vec::with_capacity(n);
    for i in 0..n {
        let (x, slab) = point(&mut rng);
        data.extend(x);
        payloads.push(
            json!({"bucket": (i * 7) % 10, "percent": (i * 37) % 100, "slab": slab})
                .as_object()
                .unwrap()
                .clone(),
        );
    }
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Euclid)).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    col.upsert(&ids, &data, Some(payloads)).unwrap();
    col.build_index(HnswParams::default()).unwrap();
    col.create_payload_index("bucket", stratavec_core::PayloadIndexType::Integer)
        .unwrap();
    col.create_payload_index("slab", stratavec_core::PayloadIndexType::Integer)
        .unwrap();
    col.create_payload_index("percent", stratavec_core::PayloadIndexType::Integer)
        .unwrap();
    let queries: Vec<f32> = (0..100).flat_map(|_| point(&mut rng).0).collect();
    for (name, filter) in [
        (
            "all",
            json!({"must": [{"key": "bucket", "range": {"lt": 10}}]}),
        ),
        (
            "scattered 15%",
            json!({"must": [{"key": "percent", "range": {"lt": 15}}]}),
        ),
        (
            "scattered 30%",
            json!({"must": [{"key": "bucket", "range": {"lt": 3}}]}),
        ),
        (
            "scattered 50%",
            json!({"must_not": [{"key": "bucket", "range": {"gte": 5}}]}),
        ),
        (
            "clustered 20%",
            json!({"must": [{"key": "slab", "match": {"value": 2}}]}),
        ),
        (
            "clustered 40%",
            json!({"must": [{"key": "slab", "match": {"any": [0, 4]}}]}),
        ),
    ] {
        let filter = Filter::from_json(&filter).unwrap();
        let r = recall(&col, &queries, dim, 10, 64, Some(&filter));
        eprintln!("{name}: recall@10 {r:.3}");
        assert!(r >= 0.95, "{name}: recall@10 {r:.3}");
    }
}

#[test]
fn builds_report_progress_and_can_be_cancelled() {
    let (n, dim) = (3000usize, 16usize);
    let mut rng = Rng::new(31);
    let data = clustered(&mut rng, n, dim);
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Euclid)).unwrap();
    col.upsert(&ids, &data, None).unwrap();
    let queries = rng.vectors(5, dim);
    let answers = |c: &Collection| -> Vec<Vec<PointId>> {
        queries
            .chunks_exact(dim)
            .map(|q| {
                c.search(&SearchRequest::new(q, 10))
                    .unwrap()
                    .into_iter()
                    .map(|h| h.id)
                    .collect()
            })
            .collect()
    };

    // Cancelled after the first report: no index, and the collection is as before.
    let mut calls = 0;
    let done = col
        .build_index_with_progress(HnswParams::default(), &mut |_| {
            calls += 1;
            false
        })
        .unwrap();
    assert!(!done && calls == 1 && !col.has_index());

    // Completed: reports grow to every point, and the graph is the one build_index makes.
    let mut seen = Vec::new();
    let done = col
        .build_index_with_progress(HnswParams::default(), &mut |k| {
            seen.push(k);
            true
        })
        .unwrap();
    assert!(done && col.has_index());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&n));
    let with_progress = answers(&col);
    let mut plain = col.clone();
    plain.build_index(HnswParams::default()).unwrap();
    assert_eq!(answers(&plain), with_progress);

    // A cancelled rebuild keeps the graph that was there.
    let done = col
        .build_index_with_progress(
            HnswParams {
                m: 8,
                ..HnswParams::default()
            },
            &mut |_| false,
        )
        .unwrap();
    assert!(!done && col.has_index());
    assert_eq!(answers(&col), with_progress);

    col.drop_index();
    assert!(!col.has_index());
    assert_eq!(col.len(), n);
}

#[test]
fn durable_builds_and_checkpoints_report_progress_and_can_be_cancelled() {
    use stratavec_core::{DurableCollection, DurableOptions};
    let (dim, n) = (8, 3000);
    let mut rng = Rng::new(9);
    let (dir, d, _) = durable_with_points("hnsw-durable-progress", &mut rng, n, dim);
    let files = || std::fs::read_dir(&dir).unwrap().count();
    let before = files();

    // A cancelled build writes nothing and leaves no index.
    let done = d
        .build_index_with_progress(HnswParams::default(), &mut |_| false)
        .unwrap();
    assert!(!done && !d.has_index() && files() == before);
    assert_eq!(d.len(), n);

    let mut seen = Vec::new();
    assert!(d
        .build_index_with_progress(HnswParams::default(), &mut |k| {
            seen.push(k);
            true
        })
        .unwrap());
    assert!(
        d.has_index() && seen.last() == Some(&n),
        "{:?}",
        seen.last()
    );

    // Writes since the checkpoint: a cancelled checkpoint leaves them unlinked and in the log.
    let more: Vec<PointId> = (n as u64..n as u64 + 500).map(PointId::Num).collect();
    d.upsert(&more, &clustered(&mut rng, 500, dim), None)
        .unwrap();
    assert_eq!(d.unindexed_points(), 500);
    assert!(!d.checkpoint_with_progress(&mut |_| false).unwrap());
    assert_eq!(d.unindexed_points(), 500);
    let mut last = 0;
    assert!(d
        .checkpoint_with_progress(&mut |k| {
            last = k;
            true
        })
        .unwrap());
    assert_eq!((last, d.unindexed_points()), (500, 0));
    d.close().unwrap();
    let d = DurableCollection::open(&dir, DurableOptions::default()).unwrap();
    assert!(d.has_index() && d.len() == n + 500);
}

#[test]
fn durable_collections_drop_their_graph_and_payload_indexes() {
    use stratavec_core::{DurableCollection, DurableOptions, PayloadIndexType};
    let (dim, n) = (8, 2000);
    let mut rng = Rng::new(17);
    let (dir, d, ids) = durable_with_points("hnsw-durable-drop", &mut rng, n, dim);
    d.set_payload(&ids[..500], json!({"half": 1}).as_object().unwrap().clone())
        .unwrap();
    d.create_payload_index("half", PayloadIndexType::Integer)
        .unwrap();
    d.build_index(HnswParams::default()).unwrap();
    let filter =
        Filter::from_json(&json!({"must": [{"key": "half", "match": {"value": 1}}]})).unwrap();
    assert_eq!(d.count(Some(&filter)).unwrap(), 500);

    d.drop_index().unwrap();
    assert!(!d.has_index() && d.unindexed_points() == n);
    // Without a graph every search is exact.
    let queries = clustered(&mut rng, 20, dim);
    for q in queries.chunks_exact(dim) {
        let got = d.search(&SearchRequest::new(q, 10)).unwrap();
        let mut req = SearchRequest::new(q, 10);
        req.exact = true;
        let exact = d.search(&req).unwrap();
        assert_eq!(
            got.iter().map(|h| h.id).collect::<Vec<_>>(),
            exact.iter().map(|h| h.id).collect::<Vec<_>>()
        );
    }
    assert!(d.drop_payload_index("half").unwrap());
    assert!(!d.drop_payload_index("half").unwrap(), "already gone");
    assert!(d.payload_index_list().is_empty());
    // Filters on the key still work, from the payloads.
    assert_eq!(d.count(Some(&filter)).unwrap(), 500);
    d.drop_index().unwrap(); // no graph: nothing to do
    d.close().unwrap();

    let d = DurableCollection::open(&dir, DurableOptions::default()).unwrap();
    assert!(!d.has_index() && d.payload_index_list().is_empty());
    assert_eq!((d.len(), d.count(Some(&filter)).unwrap()), (n, 500));
    d.build_index(HnswParams::default()).unwrap();
    assert!(d.has_index());
    drop(d);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn any_ef_is_accepted_and_a_breadth_past_the_rows_walks_them_all() {
    let (dim, n) = (8, 500);
    let mut rng = Rng::new(61);
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Euclid)).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    col.upsert(&ids, &clustered(&mut rng, n, dim), None)
        .unwrap();
    col.build_index(small_graph()).unwrap();
    let queries = clustered(&mut rng, 10, dim);
    for quantization in [None, Some(stratavec_core::Quantization::int8())] {
        col.set_quantization(quantization).unwrap();
        for q in queries.chunks_exact(dim) {
            let exact = col
                .search(&SearchRequest {
                    exact: true,
                    ..SearchRequest::new(q, 10)
                })
                .unwrap();
            // 2^62 on 64 bits: 20 times it wraps to 0, which once made the planner walk with
            // a heap sized for 2^63 rows (a capacity-overflow panic).
            for ef in [n, 1 << (usize::BITS - 2), usize::MAX / 2, usize::MAX] {
                let hits = col
                    .search(&SearchRequest {
                        ef: Some(ef),
                        ..SearchRequest::new(q, 10)
                    })
                    .unwrap();
                let ids: Vec<PointId> = hits.iter().map(|h| h.id).collect();
                let want: Vec<PointId> = exact.iter().map(|h| h.id).collect();
                assert_eq!(ids, want, "ef {ef}, {quantization:?}");
            }
        }
    }
}

#[test]
fn guard_codes_change_no_answer() {
    // 256-d f32 rows are long enough for guard codes (`guard.rs`): a collection's walk and an
    // in-memory snapshot's skip rows by them; a mapped snapshot's walk reads every row. All
    // three hold the same graph over the same rows, so they must give the same answers (ids
    // and scores), filtered or not, before and after writes.
    let (dim, n) = (96, 3000);
    for metric in [
        Metric::Cosine,
        Metric::Euclid,
        Metric::Dot,
        Metric::Manhattan,
    ] {
        let mut rng = Rng::new(41);
        let mut col = Collection::new(CollectionConfig::new(dim, metric)).unwrap();
        let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
        let payloads: Vec<_> = (0..n)
            .map(|i| json!({"even": i % 2 == 0}).as_object().unwrap().clone())
            .collect();
        col.upsert(&ids, &clustered(&mut rng, n, dim), Some(payloads))
            .unwrap();
        col.build_index(HnswParams {
            m: 8,
            ef_construction: 64,
            ..HnswParams::default()
        })
        .unwrap();
        let queries = clustered(&mut rng, 30, dim);
        let filter =
            Filter::from_json(&json!({"must": [{"key": "even", "match": {"value": true}}]}))
                .unwrap();
        let dir = crate::durable::temp_dir("guard");
        std::fs::create_dir_all(&dir).unwrap();
        let compare = |col: &Collection, round: &str| {
            let mut optimized = col.clone();
            optimized.optimize();
            let bytes = optimized.snapshot_bytes().unwrap();
            let path = dir.join(format!("{round}.svdb"));
            std::fs::write(&path, &bytes).unwrap();
            let mapped = stratavec_core::Snapshot::map(&path).unwrap();
            let held = stratavec_core::Snapshot::from_bytes(&bytes).unwrap();
            for q in queries.chunks_exact(dim) {
                for ef in [10, 40] {
                    for f in [None, Some(&filter)] {
                        let req = SearchRequest {
                            ef: Some(ef),
                            filter: f,
                            ..SearchRequest::new(q, 10)
                        };
                        let want = mapped.search(&req).unwrap();
                        assert_eq!(want.len(), 10);
                        assert_eq!(
                            held.search(&req).unwrap(),
                            want,
                            "{metric} {round}: in memory"
                        );
                        assert_eq!(
                            optimized.search(&req).unwrap(),
                            want,
                            "{metric} {round}: collection"
                        );
                    }
                }
            }
        };
        compare(&col, "built");
        // Writes after the build: new rows linked (codes appended), replaced and deleted rows
        // (tombstones), then a compaction (codes dropped with their rows).
        let more: Vec<PointId> = (n as u64..n as u64 + 500).map(PointId::Num).collect();
        col.upsert(&more, &clustered(&mut rng, 500, dim), None)
            .unwrap();
        col.upsert(&ids[..300], &clustered(&mut rng, 300, dim), None)
            .unwrap();
        col.delete(&ids[300..700]);
        compare(&col, "written");
        col.optimize();
        col.upsert(&ids[..50], &clustered(&mut rng, 50, dim), None)
            .unwrap();
        compare(&col, "compacted");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
