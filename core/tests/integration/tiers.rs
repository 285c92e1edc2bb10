//! Storage tiers: the same snapshot or durable collection served from memory, from a memory
//! map, and from disk with quantized codes in memory, answering alike.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use stratavec_core::{
    BinaryParams, Collection, CollectionConfig, DurableCollection, DurableOptions, Error, Filter,
    HnswParams, Metric, PointId, Quantization, ScoredPoint, SearchRequest, Snapshot,
    StorageOptions, StorageTier, VectorType,
};
use stratavec_testkit::Rng;

use crate::durable::temp_dir;

/// A collection of clustered points with payloads and a graph.
fn sample(metric: Metric, vector_type: VectorType) -> (Collection, Vec<f32>) {
    let (n, dim) = (3000, 48);
    let mut rng = Rng::new(23);
    let centres = rng.vectors(30, dim);
    let data: Vec<f32> = (0..n)
        .flat_map(|i| {
            let c = &centres[(i % 30) * dim..(i % 30 + 1) * dim];
            c.iter().map(|x| x + 0.3 * rng.signed()).collect::<Vec<_>>()
        })
        .collect();
    let mut col =
        Collection::new(CollectionConfig::new(dim, metric).with_vector_type(vector_type)).unwrap();
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    let payloads = (0..n)
        .map(|i| {
            json!({"i": i, "even": i % 2 == 0})
                .as_object()
                .unwrap()
                .clone()
        })
        .collect();
    col.upsert(&ids, &data, Some(payloads)).unwrap();
    col.build_index(HnswParams::default()).unwrap();
    let queries = (0..40 * dim)
        .map(|i| centres[i % (30 * dim)] + 0.3 * rng.signed())
        .collect();
    (col, queries)
}

fn search(s: &dyn Fn(&SearchRequest<'_>) -> Vec<ScoredPoint>, q: &[f32]) -> Vec<ScoredPoint> {
    s(&SearchRequest {
        ef: Some(128),
        with_vector: true,
        ..SearchRequest::new(q, 10)
    })
}

#[test]
fn every_tier_serves_a_snapshot() {
    for (metric, vector_type) in [
        (Metric::Cosine, VectorType::F32),
        (Metric::Euclid, VectorType::F16),
    ] {
        let (col, queries) = sample(metric, vector_type);
        let dim = col.config().dim;
        let path = temp_dir("snapshot");
        col.write_snapshot(&mut std::fs::File::create(&path).unwrap())
            .unwrap();
        for tier in [StorageTier::Memory, StorageTier::Mmap] {
            let snap = Snapshot::open(
                &path,
                &StorageOptions {
                    tier,
                    quantization: None,
                },
            )
            .unwrap();
            assert_eq!(snap.tier(), tier);
            assert_eq!(snap.is_mapped(), tier == StorageTier::Mmap);
            for q in queries.chunks_exact(dim) {
                let a = search(&|r| col.search(r).unwrap(), q);
                let b = search(&|r| snap.search(r).unwrap(), q);
                assert_eq!(a, b, "{metric} {tier}: same graph, same answers");
            }
        }
        for quantization in [Quantization::int8(), Quantization::binary()] {
            let snap = Snapshot::open(
                &path,
                &StorageOptions {
                    tier: StorageTier::Disk,
                    quantization: Some(quantization),
                },
            )
            .unwrap();
            assert_eq!(snap.tier(), StorageTier::Disk);
            assert_eq!(snap.quantization(), Some(quantization));
            let (mut found, mut total) = (0, 0);
            for q in queries.chunks_exact(dim) {
                let exact = col
                    .search(&SearchRequest {
                        exact: true,
                        ..SearchRequest::new(q, 10)
                    })
                    .unwrap();
                let truth: HashMap<PointId, f32> = exact.iter().map(|h| (h.id, h.score)).collect();
                let hits = search(&|r| snap.search(r).unwrap(), q);
                for h in &hits {
                    // Rescored from the file: the exact score and the stored vector.
                    let stored = col.get(&[h.id], false, true).unwrap();
                    assert_eq!(h.vector, stored[0].vector);
                    if let Some(s) = truth.get(&h.id) {
                        assert!((s - h.score).abs() <= 1e-5 * s.abs().max(1.0));
                    }
                }
                found += hits.iter().filter(|h| truth.contains_key(&h.id)).count();
                total += truth.len();
            }
            let recall = found as f64 / total as f64;
            let name = quantization.name();
            eprintln!("{metric} {vector_type} disk {name}: recall@10 {recall:.3}");
            assert!(recall >= 0.9, "{metric} disk {name}: recall@10 {recall:.3}");
            // Filters and exact searches work as in the other tiers.
            let even = stratavec_core::Filter::from_json(
                &json!({"must": [{"key": "even", "match": {"value": true}}]}),
            )
            .unwrap();
            let q = &queries[..dim];
            let hits = snap
                .search(&SearchRequest {
                    filter: Some(&even),
                    ..SearchRequest::new(q, 10)
                })
                .unwrap();
            assert_eq!(hits.len(), 10);
            assert!(hits
                .iter()
                .all(|h| matches!(h.id, PointId::Num(i) if i % 2 == 0)));
            let exact = |s: &dyn Fn(&SearchRequest<'_>) -> Vec<ScoredPoint>| {
                s(&SearchRequest {
                    exact: true,
                    ..SearchRequest::new(q, 10)
                })
            };
            assert_eq!(
                exact(&|r| snap.search(r).unwrap()),
                exact(&|r| col.search(r).unwrap())
            );
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn the_disk_tier_needs_quantization() {
    let (col, _) = sample(Metric::Dot, VectorType::F32);
    let path = temp_dir("needs-quantization");
    col.write_snapshot(&mut std::fs::File::create(&path).unwrap())
        .unwrap();
    let no_codes = StorageOptions {
        tier: StorageTier::Disk,
        quantization: None,
    };
    let e = Snapshot::open(&path, &no_codes).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument(m) if m.contains("quantization")),
        "{e}"
    );
    let mut snap = Snapshot::open(
        &path,
        &StorageOptions {
            tier: StorageTier::Disk,
            quantization: Some(Quantization::binary()),
        },
    )
    .unwrap();
    let e = snap.set_quantization(None).unwrap_err();
    assert!(e.to_string().contains("disk tier"), "{e}");
    // Another quantization is fine, and is what searches then use.
    snap.set_quantization(Some(Quantization::int8())).unwrap();
    assert_eq!(snap.quantization(), Some(Quantization::int8()));
    // Not a snapshot: a clear error in every tier.
    let junk = temp_dir("junk");
    std::fs::write(&junk, b"not a stratavec file").unwrap();
    for tier in StorageTier::ALL {
        let e = Snapshot::open(
            &junk,
            &StorageOptions {
                tier,
                quantization: Some(Quantization::int8()),
            },
        )
        .unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{tier}: {e}");
    }
    assert!("tape".parse::<StorageTier>().is_err());
    assert_eq!("on_disk".parse::<StorageTier>().unwrap(), StorageTier::Disk);
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&junk).unwrap();
}

type Search<'a> = dyn Fn(&SearchRequest<'_>) -> Vec<ScoredPoint> + 'a;

#[test]
fn a_request_sets_its_own_oversampling() {
    // Binary codes rank 48-d points coarsely, so rescoring few candidates misses true
    // neighbours, and rescoring every row (30 hits x 100 >= 3000 rows) finds exactly them.
    let (mut col, queries) = sample(Metric::Cosine, VectorType::F32);
    let (n, dim, k) = (col.len(), col.config().dim, 30);
    assert!(k * 100 >= n);
    let path = temp_dir("oversampling");
    col.write_snapshot(&mut std::fs::File::create(&path).unwrap())
        .unwrap();
    // Few rows pass this filter (and it has no payload index), so it is searched by a scan of
    // codes, not the graph: both paths take the request's value.
    let few = Filter::from_json(&json!({"must": [{"key": "i", "range": {"lt": 200}}]})).unwrap();
    for setting in [1.0, 100.0] {
        let q = Some(Quantization::Binary(BinaryParams {
            oversampling: setting,
        }));
        col.set_quantization(q).unwrap();
        let disk = Snapshot::open(
            &path,
            &StorageOptions {
                tier: StorageTier::Disk,
                quantization: q,
            },
        )
        .unwrap();
        let sources: [(&str, &Search<'_>); 2] = [
            ("memory", &|r| col.search(r).unwrap()),
            ("disk", &|r| disk.search(r).unwrap()),
        ];
        for (tier, search) in sources {
            for filter in [None, Some(&few)] {
                for asked in [None, Some(1.0), Some(100.0)] {
                    let mut missed = 0;
                    for v in queries.chunks_exact(dim) {
                        let base = SearchRequest {
                            filter,
                            with_payload: false,
                            ..SearchRequest::new(v, k)
                        };
                        let exact = search(&SearchRequest {
                            exact: true,
                            ..base
                        });
                        let hits = search(&SearchRequest {
                            oversampling: asked,
                            ..base
                        });
                        if asked.unwrap_or(setting) == 100.0 {
                            assert_eq!(hits.len(), exact.len());
                            for (h, e) in hits.iter().zip(&exact) {
                                assert_eq!(h.id, e.id, "{tier} {setting} {asked:?}");
                                assert!((h.score - e.score).abs() <= 1e-5);
                            }
                        } else {
                            let truth: HashSet<PointId> = exact.iter().map(|h| h.id).collect();
                            missed += hits.iter().filter(|h| !truth.contains(&h.id)).count();
                        }
                    }
                    if asked.unwrap_or(setting) != 100.0 {
                        assert!(
                            missed > 0,
                            "{tier} {setting} {asked:?}: oversampling 1 rescored every row?"
                        );
                    }
                }
            }
        }
        for bad in [0.5, 101.0, f32::NAN, f32::INFINITY] {
            let e = col
                .search(&SearchRequest {
                    oversampling: Some(bad),
                    ..SearchRequest::new(&queries[..dim], k)
                })
                .unwrap_err();
            assert!(
                matches!(&e, Error::InvalidArgument(m) if m.contains("oversampling")),
                "{e}"
            );
        }
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn quantization_settings_round_trip_as_json() {
    for q in [
        Quantization::int8(),
        Quantization::binary(),
        Quantization::Int8(stratavec_core::Int8Params {
            quantile: 0.99,
            oversampling: 2.5,
        }),
    ] {
        assert_eq!(Quantization::from_json(&q.to_json()).unwrap(), q);
    }
    assert_eq!(
        Quantization::from_json(&json!({"type": "binary"})).unwrap(),
        Quantization::binary()
    );
    for bad in [
        json!({"type": "int4"}),
        json!({}),
        json!({"type": "int8", "quantile": "high"}),
        json!({"type": "binary", "oversampling": 0.5}),
    ] {
        assert!(Quantization::from_json(&bad).is_err(), "{bad}");
    }
}

#[test]
fn a_durable_collection_keeps_its_tier() {
    let dir = temp_dir("durable");
    let (col, queries) = sample(Metric::Cosine, VectorType::F32);
    let dim = col.config().dim;
    let snap = Snapshot::from_bytes(&col.snapshot_bytes().unwrap()).unwrap();
    let d = DurableCollection::restore(&dir, &snap, DurableOptions::default()).unwrap();
    assert_eq!(d.storage(), StorageOptions::default());
    let e = d
        .set_storage(StorageOptions {
            tier: StorageTier::Disk,
            quantization: None,
        })
        .unwrap_err();
    assert!(e.to_string().contains("quantization"), "{e}");
    let disk = StorageOptions {
        tier: StorageTier::Disk,
        quantization: Some(Quantization::int8()),
    };
    d.set_storage(disk).unwrap();
    let recall = |d: &DurableCollection| {
        let (mut found, mut total) = (0, 0);
        for q in queries.chunks_exact(dim) {
            let truth: HashSet<PointId> = col
                .search(&SearchRequest {
                    exact: true,
                    ..SearchRequest::new(q, 10)
                })
                .unwrap()
                .iter()
                .map(|h| h.id)
                .collect();
            let hits = d.search(&SearchRequest::new(q, 10)).unwrap();
            found += hits.iter().filter(|h| truth.contains(&h.id)).count();
            total += truth.len();
        }
        found as f64 / total as f64
    };
    assert!(recall(&d) >= 0.95);
    // Writes, a checkpoint and a reopen keep the setting and the answers. The checkpoint
    // carries the codes (format 1.2), so reopening reads them instead of every vector.
    d.delete(&[PointId::Num(0)]).unwrap();
    d.checkpoint().unwrap();
    assert_eq!(d.storage(), disk);
    assert_eq!(
        checkpoint_version(&dir),
        [1, 0, 2, 0],
        "checkpoint with codes"
    );
    let before: Vec<_> = queries
        .chunks_exact(dim)
        .map(|q| d.search(&SearchRequest::new(q, 10)).unwrap())
        .collect();
    drop(d);
    let d = DurableCollection::open(&dir, DurableOptions::default()).unwrap();
    assert_eq!(d.storage(), disk);
    assert_eq!(d.len(), 2999);
    for (q, b) in queries.chunks_exact(dim).zip(&before) {
        assert_eq!(&d.search(&SearchRequest::new(q, 10)).unwrap(), b);
    }
    assert!(recall(&d) >= 0.95);
    // Back to memory.
    let memory = StorageOptions {
        tier: StorageTier::Memory,
        quantization: None,
    };
    d.set_storage(memory).unwrap();
    d.delete(&[PointId::Num(1)]).unwrap();
    d.checkpoint().unwrap();
    assert_eq!(
        checkpoint_version(&dir),
        [1, 0, 1, 0],
        "no codes without quantization"
    );
    drop(d);
    let d = DurableCollection::open(&dir, DurableOptions::default()).unwrap();
    assert_eq!(d.storage(), memory);
    assert!(recall(&d) >= 0.95);
    drop(d);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The format version bytes of a durable collection's checkpoint segment.
fn checkpoint_version(dir: &std::path::Path) -> [u8; 4] {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("MANIFEST")).unwrap()).unwrap();
    let segment = dir.join(manifest["segment"].as_str().unwrap());
    std::fs::read(segment).unwrap()[16..20].try_into().unwrap()
}

#[test]
fn a_file_keeps_the_codes_it_was_written_with() {
    // The int8 scale is learnt from small vectors, then much larger ones arrive and clip: the
    // collection's codes are not what learning them from all its vectors would give, so a
    // snapshot opened with the same quantization answers like the collection only if it
    // takes the codes from the file.
    let (dim, small, large) = (32, 300, 1200);
    let mut rng = Rng::new(41);
    for quantization in [Quantization::int8(), Quantization::binary()] {
        let mut col = Collection::new(CollectionConfig::new(dim, Metric::Euclid)).unwrap();
        let data: Vec<f32> = rng.vectors(small, dim).iter().map(|x| 0.05 * x).collect();
        let ids: Vec<PointId> = (0..small as u64).map(PointId::Num).collect();
        col.upsert(&ids, &data, None).unwrap();
        col.set_quantization(Some(quantization)).unwrap();
        let data = rng.vectors(large, dim);
        let ids: Vec<PointId> = (small as u64..(small + large) as u64)
            .map(PointId::Num)
            .collect();
        col.upsert(&ids, &data, None).unwrap();
        col.build_index(HnswParams::default()).unwrap();
        let queries = rng.vectors(40, dim);
        let ask = |q| SearchRequest {
            oversampling: Some(1.0),
            ..SearchRequest::new(q, 10)
        };
        let want: Vec<_> = queries
            .chunks_exact(dim)
            .map(|q| col.search(&ask(q)).unwrap())
            .collect();
        let path = temp_dir("codes");
        col.write_snapshot(&mut std::fs::File::create(&path).unwrap())
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            &bytes[16..20],
            &[1, 0, 2, 0],
            "a file with codes is version 1.2"
        );
        for tier in [StorageTier::Memory, StorageTier::Mmap, StorageTier::Disk] {
            let snap = Snapshot::open(
                &path,
                &StorageOptions {
                    tier,
                    quantization: Some(quantization),
                },
            )
            .unwrap();
            for (q, w) in queries.chunks_exact(dim).zip(&want) {
                assert_eq!(&snap.search(&ask(q)).unwrap(), w, "{quantization:?} {tier}");
            }
            if tier == StorageTier::Memory {
                // Made writable, it keeps the same codes, and keeps them current.
                let mut restored = snap.to_quantized_collection().unwrap();
                assert_eq!(restored.quantization(), Some(quantization));
                for (q, w) in queries.chunks_exact(dim).zip(&want) {
                    assert_eq!(&restored.search(&ask(q)).unwrap(), w, "{quantization:?}");
                }
                let id = PointId::Num(1_000_000);
                restored.upsert(&[id], &queries[..dim], None).unwrap();
                let hit = restored.search(&ask(&queries[..dim])).unwrap()[0].clone();
                assert_eq!(
                    (hit.id, hit.score),
                    (id, 0.0),
                    "the new point is found first"
                );
            }
        }
        if quantization == Quantization::int8() {
            // Clipping at another quantile learns codes from the file's vectors: other answers.
            let relearnt = Snapshot::open(
                &path,
                &StorageOptions {
                    tier: StorageTier::Memory,
                    quantization: Some(Quantization::Int8(stratavec_core::Int8Params {
                        quantile: 0.9995,
                        oversampling: 3.0,
                    })),
                },
            )
            .unwrap();
            let differ = queries
                .chunks_exact(dim)
                .zip(&want)
                .filter(|(q, w)| &relearnt.search(&ask(q)).unwrap() != *w)
                .count();
            assert!(differ > 0, "relearnt codes answered exactly alike");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
