//! Payload indexes stay equal to evaluating every payload through every kind of write, with and
//! without an HNSW graph, and on snapshots; bad index requests are refused.

use serde_json::json;
use stratavec_core::{
    Collection, CollectionConfig, Error, Filter, HnswParams, Metric, Payload, PayloadIndexType,
    PointId, SearchRequest, Snapshot,
};
use stratavec_testkit::Rng;

fn payload(rng: &mut Rng, i: u64) -> Payload {
    let colours = ["red", "green", "blue", "cyan"];
    let mut p = json!({
        "colour": colours[(rng.next_u64() % 4) as usize],
        "n": (rng.next_u64() % 50) as i64 - 10,
        "x": rng.unit() * 10.0,
        "flag": rng.next_u64().is_multiple_of(3),
        "when": format!("2024-03-{:02}T10:00:00Z", 1 + rng.next_u64() % 28),
        "tags": [format!("t{}", i % 7), format!("t{}", i % 5)],
    });
    if i.is_multiple_of(11) {
        // A float under the integer key: an integer index cannot hold it.
        p["n"] = json!(2.5);
    }
    p.as_object().unwrap().clone()
}

fn filters() -> Vec<Filter> {
    [
        json!({"must": [{"key": "colour", "match": {"value": "red"}}]}),
        json!({"must": [{"key": "colour", "match": {"any": ["green", "cyan"]}},
                        {"key": "flag", "match": {"value": true}}]}),
        json!({"must": [{"key": "n", "range": {"gte": 0, "lt": 3}}]}),
        json!({"must": [{"key": "n", "match": {"value": 7}}]}),
        json!({"must": [{"key": "x", "range": {"gt": 2.5, "lte": 4.0}}]}),
        json!({"must": [{"key": "when", "range": {"gte": "2024-03-10T00:00:00Z", "lt": "2024-03-12T00:00:00Z"}}]}),
        json!({"should": [{"key": "tags[]", "match": {"value": "t3"}},
                          {"key": "colour", "match": {"value": "blue"}}]}),
        json!({"must": [{"key": "colour", "match": {"value": "red"}}],
               "must_not": [{"key": "flag", "match": {"value": true}}]}),
        json!({"must": [{"has_id": [1, 2, 3, 500, 999]}, {"key": "colour", "match": {"except": ["red"]}}]}),
        json!({"must_not": [{"key": "colour", "match": {"value": "green"}}]}),
        json!({"must_not": [{"key": "colour", "match": {"any": ["blue", "cyan"]}},
                            {"key": "n", "range": {"lt": 0}}]}),
        json!({"should": [{"key": "colour", "match": {"value": "cyan"}},
                          {"key": "flag", "match": {"value": false}}],
               "must_not": [{"key": "tags[]", "match": {"value": "t1"}}]}),
    ]
    .iter()
    .map(|f| Filter::from_json(f).unwrap())
    .collect()
}

const INDEXES: [(&str, PayloadIndexType); 6] = [
    ("colour", PayloadIndexType::Keyword),
    ("n", PayloadIndexType::Integer),
    ("x", PayloadIndexType::Float),
    ("flag", PayloadIndexType::Bool),
    ("when", PayloadIndexType::Datetime),
    ("tags[]", PayloadIndexType::Keyword),
];

/// Every filter gives the same count and the same search hits on both collections.
fn assert_same(indexed: &Collection, plain: &Collection, when: &str) {
    let q = [0.5f32; 4];
    for (i, f) in filters().iter().enumerate() {
        assert_eq!(
            indexed.count(Some(f)).unwrap(),
            plain.count(Some(f)).unwrap(),
            "{when}: filter {i} counts differ"
        );
        let req = SearchRequest {
            exact: true,
            ..SearchRequest::new(&q, 20).with_filter(f)
        };
        assert_eq!(
            indexed.search(&req).unwrap(),
            plain.search(&req).unwrap(),
            "{when}: filter {i} hits differ"
        );
    }
}

#[test]
fn indexes_follow_every_write() {
    for with_graph in [false, true] {
        let mut rng = Rng::new(31);
        // Enough rows that each colour, flag and tag value is common enough for its posting
        // to keep a bitmap beside its list (1024 rows); the deletes below thin some out again.
        let n = 5000u64;
        let mut plain = Collection::new(CollectionConfig::new(4, Metric::Euclid)).unwrap();
        let ids: Vec<PointId> = (0..n).map(PointId::Num).collect();
        let payloads: Vec<Payload> = (0..n).map(|i| payload(&mut rng, i)).collect();
        plain
            .upsert(&ids, &rng.vectors(n as usize, 4), Some(payloads))
            .unwrap();
        if with_graph {
            plain.build_index(HnswParams::default()).unwrap();
        }
        let mut indexed = plain.clone();
        for (key, kind) in INDEXES {
            indexed.create_payload_index(key, kind).unwrap();
        }
        assert_eq!(indexed.payload_index_list().len(), 6);
        let when = |what: &str| format!("{what} (graph: {with_graph})");
        assert_same(&indexed, &plain, &when("after creating"));

        // Replace some points (vectors and payloads), add new ones.
        let changed: Vec<PointId> = (0..n + 200).step_by(7).map(PointId::Num).collect();
        let payloads: Vec<Payload> = (0..changed.len() as u64)
            .map(|i| payload(&mut rng, i * 3))
            .collect();
        let vectors = rng.vectors(changed.len(), 4);
        for c in [&mut plain, &mut indexed] {
            c.upsert(&changed, &vectors, Some(payloads.clone()))
                .unwrap();
        }
        assert_same(&indexed, &plain, &when("after upserts"));

        // Payload edits.
        let edited: Vec<PointId> = (0..n).step_by(13).map(PointId::Num).collect();
        let patch = json!({"colour": "red", "n": 7})
            .as_object()
            .unwrap()
            .clone();
        let keys = vec!["flag".to_owned()];
        for c in [&mut plain, &mut indexed] {
            c.set_payload(&edited, &patch);
            c.delete_payload_keys(&edited[..20], &keys);
            c.overwrite_payload(
                &edited[20..30],
                &json!({"when": "2024-03-11T00:00:00Z"})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
        }
        assert_same(&indexed, &plain, &when("after payload edits"));

        // Deletes, by id and by filter; enough to compact a graph collection.
        let doomed: Vec<PointId> = (0..n).filter(|i| i % 3 == 1).map(PointId::Num).collect();
        let by_filter = &filters()[0];
        for c in [&mut plain, &mut indexed] {
            c.delete(&doomed);
            c.delete_by_filter(by_filter).unwrap();
        }
        assert_same(&indexed, &plain, &when("after deletes"));
        indexed.optimize();
        plain.optimize();
        assert_same(&indexed, &plain, &when("after optimize"));

        // Dropping an index changes nothing but speed.
        assert!(indexed.drop_payload_index("colour"));
        assert!(!indexed.drop_payload_index("colour"));
        assert_same(&indexed, &plain, &when("after dropping an index"));
    }
}

#[test]
fn snapshots_can_be_indexed_after_opening() {
    let mut rng = Rng::new(8);
    // More rows than one block of payloads read while indexing (4,096).
    let n = 9_000u64;
    let mut col = Collection::new(CollectionConfig::new(4, Metric::Cosine)).unwrap();
    let ids: Vec<PointId> = (0..n).map(PointId::Num).collect();
    let payloads: Vec<Payload> = (0..n).map(|i| payload(&mut rng, i)).collect();
    col.upsert(&ids, &rng.vectors(n as usize, 4), Some(payloads))
        .unwrap();
    let plain = Snapshot::from_bytes(&col.snapshot_bytes().unwrap()).unwrap();
    let mut indexed = Snapshot::from_bytes(&col.snapshot_bytes().unwrap()).unwrap();
    for (key, kind) in INDEXES {
        indexed.create_payload_index(key, kind).unwrap();
    }
    let q = [0.1f32, 0.2, 0.3, 0.4];
    for f in filters() {
        assert_eq!(
            indexed.count(Some(&f)).unwrap(),
            plain.count(Some(&f)).unwrap()
        );
        let req = SearchRequest::new(&q, 15).with_filter(&f);
        assert_eq!(indexed.search(&req).unwrap(), plain.search(&req).unwrap());
    }
}

#[test]
fn bad_index_requests_are_refused() {
    let mut col = Collection::new(CollectionConfig::new(2, Metric::Dot)).unwrap();
    for key in ["", "a..b", "a[", "."] {
        let e = col
            .create_payload_index(key, PayloadIndexType::Keyword)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidFilter { .. }), "{key:?}: {e}");
    }
    let e = "text".parse::<PayloadIndexType>().unwrap_err();
    assert!(e.to_string().contains("keyword, integer"), "{e}");
    assert_eq!(
        "Integer".parse::<PayloadIndexType>().unwrap(),
        PayloadIndexType::Integer
    );
    assert!(col.payload_index_list().is_empty());
}

#[test]
fn durable_collections_keep_index_definitions_across_reopen() {
    use stratavec_core::{DurableCollection, DurableOptions};
    let dir = crate::durable::temp_dir("payload-index");
    let mut rng = Rng::new(12);
    let n = 600u64;
    let config = CollectionConfig::new(4, Metric::Euclid);
    let d = DurableCollection::create(&dir, config, DurableOptions::default()).unwrap();
    let mut plain = Collection::new(config).unwrap();
    let ids: Vec<PointId> = (0..n).map(PointId::Num).collect();
    let payloads: Vec<Payload> = (0..n).map(|i| payload(&mut rng, i)).collect();
    let vectors = rng.vectors(n as usize, 4);
    d.upsert(&ids, &vectors, Some(payloads.clone())).unwrap();
    plain.upsert(&ids, &vectors, Some(payloads)).unwrap();
    d.checkpoint().unwrap();
    for (key, kind) in INDEXES {
        d.create_payload_index(key, kind).unwrap();
    }
    let check = |d: &DurableCollection, plain: &Collection, when: &str| {
        let q = [0.5f32; 4];
        for (i, f) in filters().iter().enumerate() {
            assert_eq!(
                d.count(Some(f)).unwrap(),
                plain.count(Some(f)).unwrap(),
                "{when}: filter {i}"
            );
            let req = SearchRequest::new(&q, 10).with_filter(f);
            assert_eq!(
                d.search(&req).unwrap(),
                plain.search(&req).unwrap(),
                "{when}: filter {i}"
            );
        }
    };
    check(&d, &plain, "indexed over the checkpoint");
    // Writes after the checkpoint land in the in-memory layer, indexed as they arrive.
    let more: Vec<PointId> = (n..n + 100).map(PointId::Num).collect();
    let payloads: Vec<Payload> = (0..100).map(|i| payload(&mut rng, i)).collect();
    let vectors = rng.vectors(100, 4);
    d.upsert(&more, &vectors, Some(payloads.clone())).unwrap();
    plain.upsert(&more, &vectors, Some(payloads)).unwrap();
    d.delete(&ids[..50]).unwrap();
    plain.delete(&ids[..50]);
    let patch = json!({"colour": "cyan"}).as_object().unwrap().clone();
    d.set_payload(&ids[50..80], patch.clone()).unwrap();
    plain.set_payload(&ids[50..80], &patch);
    check(&d, &plain, "after writes");
    d.close().unwrap();
    let d = DurableCollection::open(&dir, DurableOptions::default()).unwrap();
    assert_eq!(d.payload_index_list().len(), INDEXES.len());
    check(&d, &plain, "after reopening");
    let e = d
        .create_payload_index("a[", PayloadIndexType::Bool)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidFilter { .. }), "{e}");
    drop(d);
    std::fs::remove_dir_all(&dir).unwrap();
}
