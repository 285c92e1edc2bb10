//! Replays the language-neutral filter corpus in `tests/fixtures/filters/`.

use std::path::PathBuf;

use serde_json::Value;
use stratavec_core::{Filter, PointId};

fn corpus() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/filters");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for case in doc["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{file} has no cases"))
        {
            cases.push((
                format!("{file}: {}", case["name"].as_str().unwrap()),
                case.clone(),
            ));
        }
    }
    cases
}

#[test]
fn filter_fixture_corpus() {
    let cases = corpus();
    assert!(
        cases.len() >= 60,
        "the corpus should hold at least 60 cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for (name, case) in &cases {
        let parsed = Filter::from_json(&case["filter"]);
        if let Some(expected) = case.get("error") {
            let expected = expected.as_str().unwrap();
            match parsed {
                Ok(f) => failures.push(format!(
                    "{name}: parsed, expected an error containing {expected:?}: {f:?}"
                )),
                Err(e) if !e.to_string().contains(expected) => failures.push(format!(
                    "{name}: error {:?} does not contain {expected:?}",
                    e.to_string()
                )),
                Err(_) => {}
            }
            continue;
        }
        let filter = match parsed {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{name}: unexpected parse error: {e}"));
                continue;
            }
        };
        let id = case
            .get("id")
            .map_or(PointId::Num(1), |v| PointId::from_json(v).unwrap());
        let payload = case["payload"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: payload is not an object"));
        let expected = case["expect"]
            .as_bool()
            .unwrap_or_else(|| panic!("{name}: expect is not a boolean"));
        if filter.matches(id, payload) != expected {
            failures.push(format!("{name}: expected {expected}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    let mut text = String::from(r#"{"key": "a", "match": {"value": 1}}"#);
    for _ in 0..10_000 {
        text = format!(r#"{{"must": [{text}]}}"#);
    }
    // serde_json's own recursion limit (128) may reject it first; either way, an error.
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => {
            let err = Filter::from_json(&v).unwrap_err().to_string();
            assert!(err.contains("nested deeper"), "{err}");
        }
        Err(e) => assert!(e.to_string().contains("recursion limit"), "{e}"),
    }
    let mut text = String::from(r#"{"key": "a", "match": {"value": 1}}"#);
    for _ in 0..40 {
        text = format!(r#"{{"must": [{text}]}}"#);
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    let err = Filter::from_json(&v).unwrap_err().to_string();
    assert!(err.contains("nested deeper than 32"), "{err}");
}

#[test]
fn filter_from_invalid_json_text() {
    let err = Filter::from_json_str("{\"must\": [")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not valid JSON"), "{err}");
}

/// Key paths of the field conditions at the top level of `f` (and in its sub-filters), where a
/// payload index could answer them.
fn field_keys(f: &Filter, out: &mut Vec<String>) {
    use stratavec_core::filter::Condition;
    let mut conditions: Vec<&Condition> =
        f.must.iter().chain(&f.should).chain(&f.must_not).collect();
    if let Some(ms) = &f.min_should {
        conditions.extend(&ms.conditions);
    }
    for c in conditions {
        match c {
            Condition::Field(fc) => out.push(fc.key.as_str().to_owned()),
            Condition::Filter(sub) => field_keys(sub, out),
            _ => {}
        }
    }
}

/// The ids of a search's hits, in order.
fn hit_ids(hits: stratavec_core::Result<Vec<stratavec_core::ScoredPoint>>) -> Vec<PointId> {
    hits.unwrap().into_iter().map(|h| h.id).collect()
}

/// Payload indexes and files change speed, never answers: every corpus filter, over a collection
/// holding every corpus payload, counts and lists the same points with an index of each type on
/// each key it uses as without indexes, and on a snapshot of the collection (which reads only the
/// keys the filter uses), and the case's own point passes exactly when the corpus says.
#[test]
fn payload_indexes_never_change_an_answer() {
    use stratavec_core::{Collection, CollectionConfig, Metric, PayloadIndexType};
    let cases: Vec<(String, Value)> = corpus()
        .into_iter()
        .filter(|(_, c)| c.get("error").is_none())
        .collect();
    let decoys: Vec<(PointId, stratavec_core::Payload)> = cases
        .iter()
        .enumerate()
        .map(|(j, (_, c))| {
            (
                PointId::Num(1_000_000 + j as u64),
                c["payload"].as_object().unwrap().clone(),
            )
        })
        .collect();
    let mut failures = Vec::new();
    let mut served = 0usize;
    for (name, case) in &cases {
        let filter = Filter::from_json(&case["filter"]).unwrap();
        let id = case
            .get("id")
            .map_or(PointId::Num(1), |v| PointId::from_json(v).unwrap());
        let mut plain = Collection::new(CollectionConfig::new(2, Metric::Euclid)).unwrap();
        let (mut ids, mut payloads): (Vec<PointId>, Vec<_>) = decoys.iter().cloned().unzip();
        ids.push(id);
        payloads.push(case["payload"].as_object().unwrap().clone());
        let vectors: Vec<f32> = (0..ids.len()).flat_map(|i| [i as f32, 1.0]).collect();
        plain.upsert(&ids, &vectors, Some(payloads)).unwrap();
        let q = [0.0, 1.0];
        let all = stratavec_core::SearchRequest {
            with_payload: false,
            ..stratavec_core::SearchRequest::new(&q, ids.len()).with_filter(&filter)
        };
        let truth = hit_ids(plain.search(&all));
        let expected = case["expect"].as_bool().unwrap();
        if truth.contains(&id) != expected {
            failures.push(format!(
                "{name}: the evaluator itself disagrees with the corpus"
            ));
        }
        // A snapshot evaluates the filter on payloads read from the file with only the
        // filter's top-level keys: the same points, in search, count and scroll.
        let snap = stratavec_core::Snapshot::from_bytes(&plain.snapshot_bytes().unwrap()).unwrap();
        let from_file = hit_ids(snap.search(&all));
        let scrolled = snap.scroll(Some(&filter), ids.len(), None, false, false);
        let listed = plain.scroll(Some(&filter), ids.len(), None, false, false);
        if from_file != truth
            || snap.count(Some(&filter)).unwrap() != truth.len()
            || scrolled.unwrap() != listed.unwrap()
        {
            failures.push(format!("{name}: a snapshot answers differently"));
        }
        let mut keys = Vec::new();
        field_keys(&filter, &mut keys);
        for kind in PayloadIndexType::ALL {
            let mut indexed = plain.clone();
            for k in &keys {
                indexed.create_payload_index(k, kind).unwrap();
            }
            let got = hit_ids(indexed.search(&all));
            if got != truth {
                failures.push(format!(
                    "{name}: with {kind} indexes on {keys:?}: {} points, expected {}",
                    got.len(),
                    truth.len()
                ));
            }
            if indexed.count(Some(&filter)).unwrap() != truth.len() {
                failures.push(format!("{name}: with {kind} indexes, count differs"));
            }
            served += usize::from(!keys.is_empty());
        }
    }
    assert!(served > 300, "too few cases exercised an index ({served})");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
