//! Collection behaviour: writes, reads, search against an independent f64 brute force, and
//! every kind of bad input.

use serde_json::json;
use stratavec_core::{
    Collection, CollectionConfig, Error, Filter, Metric, Payload, PointId, SearchRequest,
    VectorType,
};

use stratavec_testkit::Rng;

fn payload(v: serde_json::Value) -> Payload {
    v.as_object().unwrap().clone()
}

fn ids(range: std::ops::Range<u64>) -> Vec<PointId> {
    range.map(PointId::Num).collect()
}

/// The user-facing score of `q` against `x`, computed independently in f64.
fn score_f64(metric: Metric, q: &[f32], x: &[f32]) -> f64 {
    let q: Vec<f64> = q.iter().map(|&v| v.into()).collect();
    let x: Vec<f64> = x.iter().map(|&v| v.into()).collect();
    match metric {
        Metric::Cosine => {
            let n = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
            q.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>() / (n(&q) * n(&x))
        }
        Metric::Dot => q.iter().zip(&x).map(|(a, b)| a * b).sum(),
        Metric::Euclid => q
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt(),
        Metric::Manhattan => q.iter().zip(&x).map(|(a, b)| (a - b).abs()).sum(),
    }
}

/// Brute-force top-k ids (as row numbers) among rows passing `keep`.
fn brute_force(
    metric: Metric,
    data: &[f32],
    dim: usize,
    q: &[f32],
    k: usize,
    keep: impl Fn(usize) -> bool,
) -> Vec<(usize, f64)> {
    let mut scored: Vec<(usize, f64)> = data
        .chunks_exact(dim)
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, x)| (i, score_f64(metric, q, x)))
        .collect();
    scored.sort_by(|a, b| {
        let o = a.1.total_cmp(&b.1);
        if metric.higher_is_closer() {
            o.reverse()
        } else {
            o
        }
    });
    scored.truncate(k);
    scored
}

fn check_against_brute_force(metric: Metric, vector_type: VectorType, n: usize, dim: usize) {
    let mut rng = Rng::new(n as u64 * 31 + dim as u64);
    let data = rng.vectors(n, dim);
    let config = CollectionConfig::new(dim, metric).with_vector_type(vector_type);
    let mut col = Collection::new(config).unwrap();
    let payloads: Vec<Payload> = (0..n).map(|i| payload(json!({"bucket": i % 7}))).collect();
    col.upsert(&ids(0..n as u64), &data, Some(payloads))
        .unwrap();
    let filter =
        Filter::from_json(&json!({"must": [{"key": "bucket", "match": {"any": [1, 4]}}]})).unwrap();
    let queries = rng.vectors(20, dim);
    // f16 storage rounds each component to 11 significant bits; allow for it in the score.
    let tol = match vector_type {
        VectorType::F32 => 1e-4,
        VectorType::F16 => 2e-2,
    };
    for q in queries.chunks_exact(dim) {
        for filtered in [false, true] {
            let mut req = SearchRequest::new(q, 10);
            if filtered {
                req = req.with_filter(&filter);
            }
            let hits = col.search(&req).unwrap();
            let keep = |i: usize| !filtered || [1, 4].contains(&(i % 7));
            let expected = brute_force(metric, &data, dim, q, 10, keep);
            assert_eq!(hits.len(), expected.len());
            for (rank, (hit, (row, exact))) in hits.iter().zip(&expected).enumerate() {
                // Scores must agree rank by rank; ids may only differ between near-ties.
                let scale = exact.abs().max(1.0);
                assert!(
                    (f64::from(hit.score) - exact).abs() <= tol * scale,
                    "{metric} {vector_type} rank {rank}: score {} vs exact {exact}",
                    hit.score
                );
                if vector_type == VectorType::F32 && hit.id != PointId::Num(*row as u64) {
                    let PointId::Num(got) = hit.id else {
                        panic!("unexpected id kind")
                    };
                    let got_exact = score_f64(
                        metric,
                        q,
                        &data[got as usize * dim..(got as usize + 1) * dim],
                    );
                    assert!(
                        (got_exact - exact).abs() <= tol * scale,
                        "{metric} rank {rank}: id {got} is not a tie of {row}"
                    );
                }
                if filtered {
                    let PointId::Num(got) = hit.id else {
                        panic!("unexpected id kind")
                    };
                    assert!(
                        keep(got as usize),
                        "filtered search returned a point outside the filter"
                    );
                }
            }
        }
    }
}

#[test]
fn search_matches_brute_force_for_every_metric_and_type() {
    for metric in Metric::ALL {
        for vt in [VectorType::F32, VectorType::F16] {
            // Small (sequential scan) and large enough to take the parallel path.
            check_against_brute_force(metric, vt, 500, 17);
            check_against_brute_force(metric, vt, 6000, 200);
        }
    }
}

#[test]
fn batch_search_equals_single_searches() {
    let dim = 64;
    let mut rng = Rng::new(5);
    let data = rng.vectors(3000, dim);
    let mut col = Collection::new(CollectionConfig::new(dim, Metric::Euclid)).unwrap();
    let payloads = (0..3000)
        .map(|i| payload(json!({"even": i % 2 == 0})))
        .collect();
    col.upsert(&ids(0..3000), &data, Some(payloads)).unwrap();
    let even =
        Filter::from_json(&json!({"must": [{"key": "even", "match": {"value": true}}]})).unwrap();
    let queries = rng.vectors(9, dim);
    let reqs: Vec<SearchRequest<'_>> = queries
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, q)| {
            let r = SearchRequest {
                offset: i % 3,
                ..SearchRequest::new(q, 5 + i)
            };
            if i % 2 == 0 {
                r.with_filter(&even)
            } else {
                r
            }
        })
        .collect();
    let batch = col.search_batch(&reqs).unwrap();
    for (r, got) in reqs.iter().zip(&batch) {
        assert_eq!(got, &col.search(r).unwrap());
        assert_eq!(got.len(), r.k);
    }
}

#[test]
fn offset_threshold_and_payload_options() {
    let mut col = Collection::new(CollectionConfig::new(2, Metric::Euclid)).unwrap();
    // Points on a line at distance 0, 1, 2, ..., 9 from the origin.
    let vectors: Vec<f32> = (0..10).flat_map(|i| [i as f32, 0.0]).collect();
    let payloads = (0..10).map(|i| payload(json!({"i": i}))).collect();
    col.upsert(&ids(0..10), &vectors, Some(payloads)).unwrap();
    let q = [0.0f32, 0.0];
    let hits = col
        .search(&SearchRequest {
            offset: 2,
            ..SearchRequest::new(&q, 3)
        })
        .unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), ids(2..5));
    assert_eq!(
        hits.iter().map(|h| h.score).collect::<Vec<_>>(),
        vec![2.0, 3.0, 4.0]
    );
    assert_eq!(hits[0].payload.as_ref().unwrap()["i"], json!(2));
    assert!(hits[0].vector.is_none());

    let hits = col
        .search(&SearchRequest {
            score_threshold: Some(2.5),
            ..SearchRequest::new(&q, 10)
        })
        .unwrap();
    assert_eq!(hits.len(), 3, "euclid threshold keeps distances <= 2.5");

    let hits = col
        .search(&SearchRequest {
            with_payload: false,
            with_vector: true,
            ..SearchRequest::new(&q, 1)
        })
        .unwrap();
    assert!(hits[0].payload.is_none());
    assert_eq!(hits[0].vector.as_deref(), Some(&[0.0f32, 0.0][..]));

    let mut dot = Collection::new(CollectionConfig::new(2, Metric::Dot)).unwrap();
    dot.upsert(&ids(0..10), &vectors, None).unwrap();
    let hits = dot
        .search(&SearchRequest {
            score_threshold: Some(7.0),
            ..SearchRequest::new(&[1.0, 0.0], 10)
        })
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![PointId::Num(9), PointId::Num(8), PointId::Num(7)]
    );
}

#[test]
fn upsert_replaces_and_delete_frees() {
    let mut col = Collection::new(CollectionConfig::new(3, Metric::Dot)).unwrap();
    col.upsert(
        &ids(0..4),
        &[1., 0., 0., 0., 1., 0., 0., 0., 1., 1., 1., 1.],
        None,
    )
    .unwrap();
    col.upsert(
        &[PointId::Num(1)],
        &[5., 5., 5.],
        Some(vec![payload(json!({"v": 2}))]),
    )
    .unwrap();
    assert_eq!(col.len(), 4);
    let got = col
        .get(&[PointId::Num(1), PointId::Num(99)], true, true)
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].vector.as_deref(), Some(&[5.0f32, 5., 5.][..]));
    assert_eq!(got[0].payload.as_ref().unwrap()["v"], json!(2));

    assert_eq!(
        col.delete(&[PointId::Num(0), PointId::Num(0), PointId::Num(42)]),
        1
    );
    assert_eq!(col.len(), 3);
    assert!(col.get(&[PointId::Num(0)], true, false).unwrap().is_empty());
    // The point moved into the freed row is still found by id and by search.
    assert_eq!(
        col.get(&[PointId::Num(3)], false, true).unwrap()[0]
            .vector
            .as_deref(),
        Some(&[1.0f32, 1., 1.][..])
    );
    let hits = col.search(&SearchRequest::new(&[0., 0., 1.], 3)).unwrap();
    assert_eq!(hits[0].id, PointId::Num(1));
    assert_eq!(hits.len(), 3);
}

#[test]
fn delete_by_filter_count_and_scroll() {
    let mut col = Collection::new(CollectionConfig::new(2, Metric::Cosine)).unwrap();
    let mut all_ids = ids(0..50);
    all_ids.push("6f1e2c3a-0000-4000-8000-000000000001".parse().unwrap());
    let vectors: Vec<f32> = (0..51).flat_map(|i| [1.0, i as f32]).collect();
    let payloads = (0..51)
        .map(|i| payload(json!({"group": if i % 5 == 0 { "a" } else { "b" }})))
        .collect();
    // Insert in reverse so scroll order cannot come from insertion order.
    let mut rev_ids = all_ids.clone();
    rev_ids.reverse();
    let mut rev_vec: Vec<f32> = vectors.chunks_exact(2).rev().flatten().copied().collect();
    let mut rev_pay: Vec<Payload> = payloads;
    rev_pay.reverse();
    col.upsert(&rev_ids, &rev_vec, Some(rev_pay)).unwrap();
    rev_vec.clear();

    let group_a =
        Filter::from_json(&json!({"must": [{"key": "group", "match": {"value": "a"}}]})).unwrap();
    assert_eq!(col.count(None).unwrap(), 51);
    assert_eq!(col.count(Some(&group_a)).unwrap(), 11);

    // Page through everything, 7 at a time: ids ascending, numbers before the UUID.
    let mut seen = Vec::new();
    let mut offset = None;
    loop {
        let page = col.scroll(None, 7, offset, false, false).unwrap();
        seen.extend(page.records.iter().map(|r| r.id));
        match page.next_offset {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, all_ids);

    let page = col
        .scroll(Some(&group_a), 100, Some(PointId::Num(11)), true, false)
        .unwrap();
    let mut expected: Vec<PointId> = [15, 20, 25, 30, 35, 40, 45]
        .into_iter()
        .map(PointId::Num)
        .collect();
    expected.push(all_ids[50]); // the UUID point, index 50, is in group "a" and sorts last
    assert_eq!(
        page.records.iter().map(|r| r.id).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(page.next_offset, None);
    assert_eq!(
        page.records[0].payload.as_ref().unwrap()["group"],
        json!("a")
    );

    assert_eq!(col.delete_by_filter(&group_a).unwrap(), 11);
    assert_eq!(col.count(None).unwrap(), 40);
    assert_eq!(col.count(Some(&group_a)).unwrap(), 0);
    let hits = col.search(&SearchRequest::new(&[1.0, 0.0], 100)).unwrap();
    assert_eq!(hits.len(), 40);
    assert!(hits
        .iter()
        .all(|h| h.payload.as_ref().unwrap()["group"] == json!("b")));
}

#[test]
fn payload_operations() {
    let mut col = Collection::new(CollectionConfig::new(1, Metric::Dot)).unwrap();
    col.upsert(
        &ids(0..2),
        &[1.0, 2.0],
        Some(vec![payload(json!({"a": 1, "b": 2})), payload(json!({}))]),
    )
    .unwrap();
    assert_eq!(
        col.set_payload(
            &[PointId::Num(0), PointId::Num(7)],
            &payload(json!({"b": 3, "c": 4}))
        ),
        1
    );
    assert_eq!(
        col.get(&[PointId::Num(0)], true, false).unwrap()[0].payload,
        Some(payload(json!({"a": 1, "b": 3, "c": 4})))
    );
    col.delete_payload_keys(&[PointId::Num(0)], &["a".into(), "zzz".into()]);
    assert_eq!(
        col.get(&[PointId::Num(0)], true, false).unwrap()[0].payload,
        Some(payload(json!({"b": 3, "c": 4})))
    );
    col.overwrite_payload(&ids(0..2), &payload(json!({"x": true})));
    for r in col.get(&ids(0..2), true, false).unwrap() {
        assert_eq!(r.payload, Some(payload(json!({"x": true}))));
    }
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let mut col = Collection::new(CollectionConfig::new(3, Metric::Cosine)).unwrap();
    col.upsert(&ids(0..1), &[1., 2., 3.], None).unwrap();

    let e = col
        .upsert(&ids(1..3), &[1., 2., 3., 4., 5., 6., 7., 8.], None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::DimensionMismatch {
                expected: 3,
                got: 4,
                ..
            }
        ),
        "{e}"
    );
    let e = col
        .upsert(&ids(1..3), &[1., 2., 3., 4., 5.], None)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    let e = col
        .upsert(&ids(1..3), &[1., 2., 3., 4., f32::NAN, 6.], None)
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidVector { .. })
            && e.to_string().contains("vector 1 of the batch, id 2"),
        "{e}"
    );
    let e = col
        .upsert(&ids(1..2), &[f32::INFINITY, 0., 0.], None)
        .unwrap_err();
    assert!(e.to_string().contains("component 0 is inf"), "{e}");
    let e = col.upsert(&ids(1..2), &[0., 0., 0.], None).unwrap_err();
    assert!(e.to_string().contains("zero vector"), "{e}");
    let e = col
        .upsert(
            &[PointId::Num(5), PointId::Num(5)],
            &[1., 0., 0., 0., 1., 0.],
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("appears twice"), "{e}");
    let e = col
        .upsert(
            &ids(1..3),
            &[1., 0., 0., 0., 1., 0.],
            Some(vec![Payload::new()]),
        )
        .unwrap_err();
    assert!(e.to_string().contains("1 payloads for 2 ids"), "{e}");
    assert_eq!(
        col.len(),
        1,
        "rejected batches must not change the collection"
    );

    let e = col.search(&SearchRequest::new(&[1., 2.], 3)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::DimensionMismatch {
                expected: 3,
                got: 2,
                ..
            }
        ),
        "{e}"
    );
    let e = col
        .search(&SearchRequest::new(&[1., f32::NAN, 2.], 3))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidVector { .. }), "{e}");
    let e = col
        .search(&SearchRequest::new(&[1., 2., 3.], 0))
        .unwrap_err();
    assert!(e.to_string().contains("k must be at least 1"), "{e}");
    let e = col
        .search(&SearchRequest {
            score_threshold: Some(f32::NAN),
            ..SearchRequest::new(&[1., 2., 3.], 1)
        })
        .unwrap_err();
    assert!(e.to_string().contains("NaN"), "{e}");
    let e = col.scroll(None, 0, None, false, false).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");

    // Huge k and offsets are clamped, not allocated.
    let hits = col
        .search(&SearchRequest::new(&[1., 2., 3.], usize::MAX))
        .unwrap();
    assert_eq!(hits.len(), 1);
    let hits = col
        .search(&SearchRequest {
            offset: usize::MAX,
            ..SearchRequest::new(&[1., 2., 3.], usize::MAX)
        })
        .unwrap();
    assert!(hits.is_empty());

    let e = Collection::new(CollectionConfig::new(0, Metric::Dot)).unwrap_err();
    assert!(e.to_string().contains("dimension"), "{e}");
    let e = Collection::new(CollectionConfig::new(1 << 20, Metric::Dot)).unwrap_err();
    assert!(e.to_string().contains("dimension"), "{e}");
}

#[test]
fn f16_storage_rejects_out_of_range_values() {
    let mut col =
        Collection::new(CollectionConfig::new(2, Metric::Dot).with_vector_type(VectorType::F16))
            .unwrap();
    let e = col.upsert(&ids(0..1), &[70000.0, 1.0], None).unwrap_err();
    assert!(e.to_string().contains("outside the f16 range"), "{e}");
    col.upsert(&ids(0..1), &[65504.0, 1.0], None).unwrap();
    // Cosine normalises first, so large values are fine there.
    let mut cos =
        Collection::new(CollectionConfig::new(2, Metric::Cosine).with_vector_type(VectorType::F16))
            .unwrap();
    cos.upsert(&ids(0..1), &[1e30, 1.0], None).unwrap();
    assert_eq!(
        cos.get(&ids(0..1), false, true).unwrap()[0]
            .vector
            .as_deref(),
        Some(&[1.0f32, 0.0][..])
    );
}

#[test]
fn empty_collection_searches_return_nothing() {
    let col = Collection::new(CollectionConfig::new(4, Metric::Manhattan)).unwrap();
    assert!(col
        .search(&SearchRequest::new(&[0.; 4], 10))
        .unwrap()
        .is_empty());
    assert!(col
        .scroll(None, 10, None, true, true)
        .unwrap()
        .records
        .is_empty());
    assert_eq!(col.count(None).unwrap(), 0);
}

#[test]
fn point_ids_parse_and_order() {
    let u: PointId = "550e8400-e29b-41d4-a716-446655440000".parse().unwrap();
    assert!(PointId::Num(u64::MAX) < u);
    assert_eq!("17".parse::<PointId>().unwrap(), PointId::Num(17));
    assert!("not-an-id"
        .parse::<PointId>()
        .unwrap_err()
        .to_string()
        .contains("neither"));
    assert!(PointId::from_json(&json!(-1)).is_err());
    assert!(PointId::from_json(&json!(1.5)).is_err());
    assert_eq!(PointId::from_json(&u.to_json()).unwrap(), u);
    assert_eq!(u.to_string(), "550e8400-e29b-41d4-a716-446655440000");
}

#[test]
fn metric_and_type_names_round_trip() {
    for m in Metric::ALL {
        assert_eq!(m.name().parse::<Metric>().unwrap(), m);
    }
    assert_eq!("Euclid".parse::<Metric>().unwrap(), Metric::Euclid);
    assert!("hamming"
        .parse::<Metric>()
        .unwrap_err()
        .to_string()
        .contains("unknown metric"));
    assert_eq!("float16".parse::<VectorType>().unwrap(), VectorType::F16);
}

#[test]
fn mmr_search_trades_closeness_for_diversity() {
    // Three tight groups of near-duplicates around directions at 0, 30 and 90 degrees.
    let mut col = Collection::new(CollectionConfig::new(2, Metric::Cosine)).unwrap();
    let mut vectors = Vec::new();
    let mut payloads = Vec::new();
    for (group, angle) in [0.0f32, 30.0, 90.0].into_iter().enumerate() {
        for j in 0..5 {
            let a = (angle + j as f32 * 0.2).to_radians();
            vectors.extend([a.cos(), a.sin()]);
            payloads.push(payload(json!({"group": group})));
        }
    }
    col.upsert(&ids(0..15), &vectors, Some(payloads)).unwrap();
    let q = [1.0, 0.05];
    let plain = col.search(&SearchRequest::new(&q, 3)).unwrap();
    let group = |id: PointId| match id {
        PointId::Num(n) => n / 5,
        PointId::Uuid(_) => unreachable!(),
    };
    assert!(
        plain.iter().all(|h| group(h.id) == 0),
        "plain search: one group"
    );

    // Relevance alone is the plain search.
    let same = col.search_mmr(&SearchRequest::new(&q, 3), 15, 1.0).unwrap();
    assert_eq!(same, plain);
    // Weighing diversity picks one point of each group, the closest group first; then the
    // group at 90 degrees (unlike the first) before the one at 30 (close to it). Scores intact.
    let diverse = col.search_mmr(&SearchRequest::new(&q, 3), 15, 0.3).unwrap();
    assert_eq!(
        diverse.iter().map(|h| group(h.id)).collect::<Vec<_>>(),
        vec![0, 2, 1]
    );
    assert_eq!(diverse[0], plain[0]);
    for h in &diverse {
        let at = 2 * match h.id {
            PointId::Num(n) => n as usize,
            PointId::Uuid(_) => unreachable!(),
        };
        let want = score_f64(Metric::Cosine, &q, &vectors[at..at + 2]);
        assert!(h.vector.is_none() && h.payload.is_some());
        assert!(
            (f64::from(h.score) - want).abs() < 1e-5,
            "{} vs {want}",
            h.score
        );
    }
    // Only the fetched candidates are considered: fetching 5 sees one group.
    let narrow = col.search_mmr(&SearchRequest::new(&q, 3), 5, 0.5).unwrap();
    assert!(narrow.iter().all(|h| group(h.id) == 0));
    // Filters, offsets and vectors as in a plain search.
    let f =
        Filter::from_json(&json!({"must_not": [{"key": "group", "match": {"value": 1}}]})).unwrap();
    let mut req = SearchRequest::new(&q, 1).with_filter(&f);
    req.offset = 1;
    req.with_vector = true;
    let filtered = col.search_mmr(&req, 15, 0.5).unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(group(filtered[0].id), 2);
    assert_eq!(filtered[0].vector.as_ref().map(Vec::len), Some(2));

    for bad in [-0.5, 1.01, f32::NAN] {
        let e = col
            .search_mmr(&SearchRequest::new(&q, 3), 15, bad)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("lambda"));
    }
    let e = col
        .search_mmr(&SearchRequest::new(&[f32::NAN, 0.0], 3), 15, 0.5)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidVector { .. }), "{e}");
}
