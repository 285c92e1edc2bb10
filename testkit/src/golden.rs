//! The deterministic collections behind the golden files of format version 1
//! (`core/tests/golden/v1/`). Every platform that builds them must write the golden bytes
//! exactly, and every future version must still read those bytes.

use serde_json::json;
use stratavec_core::{
    Collection, CollectionConfig, Metric, Payload, PayloadIndexType, PointId, VectorType,
};

use crate::Rng;

/// Golden file name, metric and stored type.
pub const GOLDEN: [(&str, Metric, VectorType); 2] = [
    ("snapshot-f32-euclid.svdb", Metric::Euclid, VectorType::F32),
    ("snapshot-f16-cosine.svdb", Metric::Cosine, VectorType::F16),
];

/// 40 points of dimension 12 (30 numeric ids, 10 UUIDs, varied payloads), inserted out of id
/// order, one of them then deleted: 39 remain.
pub fn golden_collection(metric: Metric, vector_type: VectorType) -> Collection {
    let dim = 12;
    let mut rng = Rng::new(7);
    let config = CollectionConfig::new(dim, metric).with_vector_type(vector_type);
    let mut col = Collection::new(config).expect("valid config");
    let mut ids: Vec<PointId> = (0..30u64).map(|i| PointId::Num(i * 7 + 3)).collect();
    for i in 0..10u128 {
        ids.push(PointId::Uuid(uuid::Uuid::from_u128(
            0x5c56_c793_69f3_4fbf_87e6_c4bf_54c2_8c00 + i * 977,
        )));
    }
    let vectors = rng.vectors(ids.len(), dim);
    let payloads: Vec<Payload> = (0..ids.len())
        .map(|i| {
            let p = match i % 4 {
                0 => json!({}),
                1 => json!({"lang": "en", "n": i, "tags": ["a", "b"]}),
                2 => json!({"lang": "de", "n": i, "nested": {"x": i as f64 / 3.0, "y": null}}),
                _ => json!({"text": format!("point {i} with ünïcödé"), "date": "2024-05-01T12:00:00Z"}),
            };
            p.as_object().cloned().unwrap_or_default()
        })
        .collect();
    // Inserted in reverse: the snapshot must sort by id.
    let order: Vec<usize> = (0..ids.len()).rev().collect();
    let ids_r: Vec<PointId> = order.iter().map(|&i| ids[i]).collect();
    let vec_r: Vec<f32> = order
        .iter()
        .flat_map(|&i| vectors[i * dim..(i + 1) * dim].to_vec())
        .collect();
    let pay_r: Vec<Payload> = order.iter().map(|&i| payloads[i].clone()).collect();
    col.upsert(&ids_r, &vec_r, Some(pay_r))
        .expect("valid points");
    col.delete(&[PointId::Num(10)]);
    col
}

/// The payload indexes of the golden file of format 1.4, one of each kind the golden payloads
/// hold (`n` holds integers only, so the float index reads `nested.x`).
pub const GOLDEN_INDEXES: [(&str, PayloadIndexType); 5] = [
    ("lang", PayloadIndexType::Keyword),
    ("n", PayloadIndexType::Integer),
    ("nested.x", PayloadIndexType::Float),
    ("date", PayloadIndexType::Datetime),
    ("tags", PayloadIndexType::Keyword),
];

/// The golden file of format 1.4: the f32 euclid golden collection with [`GOLDEN_INDEXES`]
/// (no graph, so every platform writes the same bytes).
pub const GOLDEN_INDEXED: &str = "snapshot-1.4-payload-indexes.svdb";

/// The collection behind [`GOLDEN_INDEXED`].
pub fn golden_indexed_collection() -> Collection {
    let mut col = golden_collection(Metric::Euclid, VectorType::F32);
    for (key, kind) in GOLDEN_INDEXES {
        col.create_payload_index(key, kind).expect("valid index");
    }
    col
}

/// Filters that the golden indexes answer (and one they answer only in part), as JSON.
pub fn golden_index_filters() -> Vec<serde_json::Value> {
    vec![
        json!({"must": [{"key": "lang", "match": {"value": "de"}}]}),
        json!({"must": [{"key": "tags", "match": {"any": ["b", "zz"]}}]}),
        json!({"must": [{"key": "n", "range": {"gte": 5, "lt": 30}}]}),
        json!({"must": [{"key": "nested.x", "range": {"gt": 2.0}}]}),
        json!({"must": [{"key": "date", "range": {"gte": "2024-01-01T00:00:00Z"}}]}),
        json!({"must_not": [{"key": "lang", "match": {"value": "en"}}]}),
        json!({"must": [{"key": "lang", "match": {"value": "en"}}, {"key": "n", "range": {"lt": 20}}]}),
        json!({"should": [{"key": "text", "match": {"text": "point 1"}}, {"key": "lang", "match": {"value": "de"}}]}),
    ]
}
