//! The deterministic collections behind the golden files of format version 1
//! (`core/tests/golden/v1/`). Every platform that builds them must write the golden bytes
//! exactly, and every future version must still read those bytes.

use serde_json::json;
use stratavec_core::{Collection, CollectionConfig, Metric, Payload, PointId, VectorType};

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
