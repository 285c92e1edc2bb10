//! Int8 quantization: the integer kernels are exact at every level, and searches that rank by
//! codes and rescore keep recall and return full-precision scores (thresholds, no timings).

use std::collections::{HashMap, HashSet};

use stratavec_core::distance::binary::binary_kernel_levels;
use stratavec_core::distance::int8::int8_kernel_levels;
use stratavec_core::{
    BinaryParams, Collection, CollectionConfig, Error, Filter, HnswParams, Int8Params, Metric,
    PayloadIndexType, PointId, Quantization, SearchRequest, Snapshot, VectorType,
};
use stratavec_testkit::dataset::Wordnet;
use stratavec_testkit::kernel_check::{check_binary_kernels, check_int8_kernels};
use stratavec_testkit::Rng;

#[test]
fn int8_kernels_are_exact_at_every_level() {
    let failures = check_int8_kernels(&int8_kernel_levels());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn binary_kernels_are_exact_at_every_level() {
    let failures = check_binary_kernels(&binary_kernel_levels());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Recall@10 of default searches against exact ones, and every returned score checked against
/// the exact score of that id.
fn check(
    search: &dyn Fn(&SearchRequest<'_>) -> Vec<stratavec_core::ScoredPoint>,
    queries: &[f32],
    dim: usize,
    ef: usize,
    filter: Option<&Filter>,
) -> f64 {
    let (mut found, mut total) = (0, 0);
    for q in queries.chunks_exact(dim) {
        let base = SearchRequest {
            filter,
            with_payload: false,
            ..SearchRequest::new(q, 10)
        };
        let exact = search(&SearchRequest {
            exact: true,
            k: 1000,
            ..base
        });
        let exact_score: HashMap<PointId, f32> = exact.iter().map(|h| (h.id, h.score)).collect();
        let top: HashSet<PointId> = exact.iter().take(10).map(|h| h.id).collect();
        for h in search(&SearchRequest {
            ef: Some(ef),
            ..base
        }) {
            // With fewer than 1000 matches, the exact list holds every point passing.
            assert!(
                exact.len() == 1000 || exact_score.contains_key(&h.id),
                "a hit outside the filter"
            );
            if let Some(&s) = exact_score.get(&h.id) {
                assert!(
                    (s - h.score).abs() <= 1e-5 * s.abs().max(1.0),
                    "score {} vs exact {s}",
                    h.score
                );
            }
            found += usize::from(top.contains(&h.id));
        }
        total += top.len();
    }
    if total == 0 {
        return 1.0; // nothing passes the filter (and nothing was returned: checked above)
    }
    found as f64 / total as f64
}

#[test]
fn quantized_search_keeps_recall_for_every_metric() {
    let n = 6000;
    for (metric, quantization) in Metric::ALL.into_iter().flat_map(|m| {
        // Little oversampling, so the bar measures how well codes rank.
        let binary = Quantization::Binary(BinaryParams { oversampling: 3.0 });
        [(m, Quantization::int8()), (m, binary)]
    }) {
        let mut rng = Rng::new(17);
        // int8: 40 clusters in 32 dimensions. Binary needs many components and data with
        // structure, as real embeddings have: 256 dimensions spanned by 12 latent ones (each
        // point a random mix of 12 directions, plus a little noise).
        let (dim, data, queries) = match quantization {
            Quantization::Binary(_) => {
                let (dim, latent) = (256, 12);
                let basis = rng.vectors(latent, dim);
                let point = |rng: &mut Rng| -> Vec<f32> {
                    let z: Vec<f32> = (0..latent).map(|_| rng.signed()).collect();
                    (0..dim)
                        .map(|d| {
                            let x: f32 = (0..latent).map(|l| z[l] * basis[l * dim + d]).sum();
                            x + 0.1 * rng.signed()
                        })
                        .collect()
                };
                let data: Vec<f32> = (0..n + 500).flat_map(|_| point(&mut rng)).collect();
                let queries: Vec<f32> = (0..50).flat_map(|_| point(&mut rng)).collect();
                (dim, data, queries)
            }
            _ => {
                let dim = 32;
                let centres = rng.vectors(40, dim);
                let data: Vec<f32> = (0..n + 500)
                    .flat_map(|i| {
                        let c = &centres[(i % 40) * dim..(i % 40 + 1) * dim];
                        c.iter()
                            .map(|x| x + 0.25 * rng.signed())
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let queries: Vec<f32> = (0..50 * dim)
                    .map(|i| centres[i % (40 * dim)] + 0.25 * rng.signed())
                    .collect();
                (dim, data, queries)
            }
        };
        let mut col =
            Collection::new(CollectionConfig::new(dim, metric).with_vector_type(VectorType::F16))
                .unwrap();
        let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
        // The last 500 points are written later.
        col.upsert(&ids, &data[..n * dim], None).unwrap();
        col.set_quantization(Some(quantization)).unwrap();
        assert_eq!(col.quantization(), Some(quantization));
        // Scans over codes (no graph yet), then the graph walked over codes.
        let scanned = check(&|r| col.search(r).unwrap(), &queries, dim, 64, None);
        col.build_index(HnswParams::default()).unwrap();
        let walked = check(&|r| col.search(r).unwrap(), &queries, dim, 128, None);
        let q = quantization.name();
        eprintln!("{metric} {q}: recall {scanned:.3} scanned, {walked:.3} walked");
        let bar = if metric == Metric::Dot { 0.90 } else { 0.95 };
        assert!(
            scanned >= 0.97 && walked >= bar,
            "{metric} {q}: recall {scanned:.3} scanned, {walked:.3} walked"
        );
        // Writes keep the codes current.
        let more: Vec<PointId> = (n as u64..n as u64 + 500).map(PointId::Num).collect();
        col.upsert(&more, &data[n * dim..], None).unwrap();
        col.delete(&ids[..300]);
        let after = check(&|r| col.search(r).unwrap(), &queries, dim, 128, None);
        assert!(after >= bar, "{metric} {q}: recall {after:.3} after writes");
        // Switched off, searches are float searches again.
        col.set_quantization(None).unwrap();
        assert_eq!(col.quantization(), None);
        let plain = check(&|r| col.search(r).unwrap(), &queries, dim, 128, None);
        assert!(plain >= bar, "{metric}: recall {plain:.3} unquantized");
    }
}

#[test]
fn quantized_wordnet_keeps_recall_under_every_filter() {
    let Some(w) = Wordnet::load().expect("the shared dataset is present but unreadable") else {
        eprintln!("skipped: ../shared/data/wordnet-minilm is not present");
        return;
    };
    let n = 30_000;
    let dim = w.dim;
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Cosine)).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    col.upsert(&ids, &w.base[..n * dim], Some(w.payloads[..n].to_vec()))
        .unwrap();
    col.build_index(HnswParams::default()).unwrap();
    let queries = &w.queries[..200 * dim];
    for quantization in [Quantization::int8(), Quantization::binary()] {
        let q = quantization.name();
        col.set_quantization(Some(quantization)).unwrap();
        let r = check(&|r| col.search(r).unwrap(), queries, dim, 100, None);
        eprintln!("wordnet 30k {q}: recall@10 at ef=100 = {r:.4}");
        assert!(r >= 0.95, "{q}: unfiltered recall@10 {r:.3}");
        for (name, spec) in &w.filters {
            let filter = Filter::from_json(&spec["filter"]).unwrap();
            let r = check(
                &|r| col.search(r).unwrap(),
                queries,
                dim,
                100,
                Some(&filter),
            );
            eprintln!("wordnet 30k {q}, filter {name}: recall@10 = {r:.4}");
            assert!(r >= 0.95, "{q}, filter {name}: recall@10 {r:.3}");
        }
    }
    // A snapshot quantized after opening answers like the collection.
    let mut snap = Snapshot::from_bytes(&col.snapshot_bytes().unwrap()).unwrap();
    snap.set_quantization(Some(Quantization::int8())).unwrap();
    let r = check(&|r| snap.search(r).unwrap(), queries, dim, 100, None);
    assert!(r >= 0.95, "snapshot recall@10 {r:.3}");
}

/// A filter requiring one common keyword value walks that value's graph over the codes: on the
/// whole of wordnet, `lexname` `noun.animal` holds 7,372 rows (a 30,000-row slice has no value
/// that common). Inside one region binary codes tell rows apart less well, so a value walk
/// rescores more of them; recall holds for both code types.
#[test]
fn quantized_value_walks_keep_recall_on_wordnet() {
    let Some(w) = Wordnet::load().expect("the shared dataset is present but unreadable") else {
        eprintln!("skipped: ../shared/data/wordnet-minilm is not present");
        return;
    };
    let dim = w.dim;
    let n = w.base.len() / dim;
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Cosine)).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    col.upsert(&ids, &w.base, Some(w.payloads.clone())).unwrap();
    col.build_index(HnswParams::default()).unwrap();
    col.create_payload_index("lexname", PayloadIndexType::Keyword)
        .unwrap();
    let animal = Filter::from_json(&w.filters["animal"]["filter"]).unwrap();
    let queries = &w.queries[..200 * dim];
    for quantization in [
        None,
        Some(Quantization::int8()),
        Some(Quantization::binary()),
    ] {
        let q = quantization.map_or("f32", |q| q.name());
        col.set_quantization(quantization).unwrap();
        let r = check(&|r| col.search(r).unwrap(), queries, dim, 64, Some(&animal));
        eprintln!("wordnet {q}, filter animal (value graph): recall@10 at ef=64 = {r:.4}");
        assert!(r >= 0.95, "{q}: recall@10 {r:.3}");
    }
}

#[test]
fn bad_quantization_settings_are_refused() {
    let mut col = Collection::new(CollectionConfig::new(4, Metric::Dot)).unwrap();
    for params in [
        Int8Params {
            quantile: 0.2,
            ..Int8Params::default()
        },
        Int8Params {
            quantile: f32::NAN,
            ..Int8Params::default()
        },
        Int8Params {
            oversampling: 0.5,
            ..Int8Params::default()
        },
    ] {
        let e = col
            .set_quantization(Some(Quantization::Int8(params)))
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }
    for oversampling in [0.0, f32::NAN, 1000.0] {
        let e = col
            .set_quantization(Some(Quantization::Binary(BinaryParams { oversampling })))
            .unwrap_err();
        assert!(e.to_string().contains("oversampling"), "{e}");
    }
    assert_eq!(col.quantization(), None);
    // An empty collection can be quantized; points added later are encoded as they arrive.
    col.set_quantization(Some(Quantization::int8())).unwrap();
    col.upsert(&[PointId::Num(1)], &[0.5, 0.5, 0.5, 0.5], None)
        .unwrap();
    assert_eq!(
        col.search(&SearchRequest::new(&[1.0, 0.0, 0.0, 0.0], 1))
            .unwrap()[0]
            .id,
        PointId::Num(1)
    );
    assert_eq!(col.quantization(), Some(Quantization::int8()));
}
