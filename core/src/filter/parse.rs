//! JSON → [`Filter`], with errors that name the JSON path of the bad part.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{
    Condition, FieldCheck, FieldCondition, Filter, JsonPath, MatchValue, MinShould, Range, ValueSet,
};
use crate::error::{Error, Result};
use crate::point::PointId;

/// Nesting deeper than this is rejected, so a hostile filter cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

fn err(path: &str, reason: impl Into<String>) -> Error {
    Error::InvalidFilter {
        path: if path.is_empty() {
            "<root>".to_owned()
        } else {
            path.to_owned()
        },
        reason: reason.into(),
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object<'a>(v: &'a Value, path: &str, what: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| {
        err(
            path,
            format!("expected {what} (an object), got {}", kind(v)),
        )
    })
}

/// Rejects fields outside `allowed`, naming the first unknown one.
fn only_fields(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<()> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(err(
            &join(path, k),
            format!(
                "unknown field {k:?}; expected one of {}",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// A present, non-null field.
fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).filter(|v| !v.is_null())
}

pub(super) fn parse_filter(v: &Value) -> Result<Filter> {
    if v.is_null() {
        return Ok(Filter::default());
    }
    filter_at(v, "", 0)
}

fn filter_at(v: &Value, path: &str, depth: usize) -> Result<Filter> {
    if depth > MAX_DEPTH {
        return Err(err(
            path,
            format!("filter nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let map = object(v, path, "a filter")?;
    only_fields(map, path, &["must", "should", "must_not", "min_should"])?;
    let clause = |name: &str| -> Result<Vec<Condition>> {
        match field(map, name) {
            None => Ok(Vec::new()),
            Some(v) => conditions(v, &join(path, name), depth),
        }
    };
    let min_should = match field(map, "min_should") {
        None => None,
        Some(v) => {
            let p = join(path, "min_should");
            let ms = object(v, &p, "min_should")?;
            only_fields(ms, &p, &["conditions", "min_count"])?;
            let conds = field(ms, "conditions")
                .ok_or_else(|| err(&p, "min_should needs a \"conditions\" list"))?;
            let conditions = conditions(conds, &join(&p, "conditions"), depth)?;
            let mc =
                field(ms, "min_count").ok_or_else(|| err(&p, "min_should needs \"min_count\""))?;
            let min_count = mc.as_u64().ok_or_else(|| {
                err(
                    &join(&p, "min_count"),
                    format!("expected a non-negative integer, got {mc}"),
                )
            })?;
            Some(MinShould {
                conditions,
                min_count: usize::try_from(min_count).unwrap_or(usize::MAX),
            })
        }
    };
    Ok(Filter {
        must: clause("must")?,
        should: clause("should")?,
        must_not: clause("must_not")?,
        min_should,
    })
}

/// A clause: a list of conditions, or a single condition object.
fn conditions(v: &Value, path: &str, depth: usize) -> Result<Vec<Condition>> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, c)| condition(c, &format!("{path}[{i}]"), depth + 1))
            .collect(),
        Value::Object(_) => Ok(vec![condition(v, path, depth + 1)?]),
        other => Err(err(
            path,
            format!("expected a list of conditions, got {}", kind(other)),
        )),
    }
}

fn key_path(v: Option<&Value>, path: &str) -> Result<JsonPath> {
    let v = v.ok_or_else(|| err(path, "missing \"key\""))?;
    let p = join(path, "key");
    let s = v
        .as_str()
        .ok_or_else(|| err(&p, format!("expected a string key, got {}", kind(v))))?;
    JsonPath::parse(s).map_err(|reason| err(&p, reason))
}

fn condition(v: &Value, path: &str, depth: usize) -> Result<Condition> {
    if depth > MAX_DEPTH {
        return Err(err(
            path,
            format!("filter nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let map = object(v, path, "a condition")?;
    let present = |name: &str| map.contains_key(name);
    if present("key") {
        return field_condition(map, path).map(Condition::Field);
    }
    if ["must", "should", "must_not", "min_should"]
        .iter()
        .any(|k| present(k))
    {
        return filter_at(v, path, depth).map(|f| Condition::Filter(Box::new(f)));
    }
    if let Some(inner) = map.get("is_empty") {
        only_fields(map, path, &["is_empty"])?;
        let p = join(path, "is_empty");
        let m = object(inner, &p, "{\"key\": ...}")?;
        only_fields(m, &p, &["key"])?;
        return key_path(m.get("key"), &p).map(Condition::IsEmpty);
    }
    if let Some(inner) = map.get("is_null") {
        only_fields(map, path, &["is_null"])?;
        let p = join(path, "is_null");
        let m = object(inner, &p, "{\"key\": ...}")?;
        only_fields(m, &p, &["key"])?;
        return key_path(m.get("key"), &p).map(Condition::IsNull);
    }
    if let Some(inner) = map.get("has_id") {
        only_fields(map, path, &["has_id"])?;
        let p = join(path, "has_id");
        let items = inner.as_array().ok_or_else(|| {
            err(
                &p,
                format!("expected a list of point ids, got {}", kind(inner)),
            )
        })?;
        let ids = items
            .iter()
            .enumerate()
            .map(|(i, id)| {
                PointId::from_json(id).map_err(|e| err(&format!("{p}[{i}]"), e.to_string()))
            })
            .collect::<Result<HashSet<_>>>()?;
        return Ok(Condition::HasId(ids));
    }
    if let Some(inner) = map.get("nested") {
        only_fields(map, path, &["nested"])?;
        let p = join(path, "nested");
        let m = object(inner, &p, "{\"key\": ..., \"filter\": ...}")?;
        only_fields(m, &p, &["key", "filter"])?;
        let key = key_path(m.get("key"), &p)?;
        let f = field(m, "filter").ok_or_else(|| err(&p, "nested needs a \"filter\""))?;
        let filter = filter_at(f, &join(&p, "filter"), depth + 1)?;
        return Ok(Condition::Nested {
            key,
            filter: Box::new(filter),
        });
    }
    for unsupported in [
        "has_vector",
        "geo_radius",
        "geo_bounding_box",
        "geo_polygon",
    ] {
        if present(unsupported) {
            return Err(err(
                &join(path, unsupported),
                format!("{unsupported} conditions are not supported"),
            ));
        }
    }
    Err(err(
        path,
        "a condition needs one of: key (with match, range or values_count), is_empty, is_null, \
         has_id, nested, or a sub-filter (must, should, must_not, min_should)",
    ))
}

fn field_condition(map: &Map<String, Value>, path: &str) -> Result<FieldCondition> {
    only_fields(
        map,
        path,
        &[
            "key",
            "match",
            "range",
            "values_count",
            "geo_radius",
            "geo_bounding_box",
            "geo_polygon",
        ],
    )?;
    let key = key_path(map.get("key"), path)?;
    let mut checks = Vec::new();
    if let Some(m) = field(map, "match") {
        checks.push(match_check(m, &join(path, "match"))?);
    }
    if let Some(r) = field(map, "range") {
        checks.push(range_check(r, &join(path, "range"))?);
    }
    if let Some(vc) = field(map, "values_count") {
        let p = join(path, "values_count");
        let r = bounds(vc, &p, |v, p| {
            v.as_u64()
                .ok_or_else(|| err(p, format!("expected a non-negative integer, got {v}")))
        })?;
        checks.push(FieldCheck::ValuesCount(r));
    }
    for geo in ["geo_radius", "geo_bounding_box", "geo_polygon"] {
        if field(map, geo).is_some() {
            return Err(err(
                &join(path, geo),
                format!("{geo} conditions are not supported"),
            ));
        }
    }
    if checks.is_empty() {
        return Err(err(
            path,
            format!("condition on key {key} needs one of match, range or values_count"),
        ));
    }
    Ok(FieldCondition { key, checks })
}

fn match_check(v: &Value, path: &str) -> Result<FieldCheck> {
    let map = object(v, path, "a match")?;
    let given: Vec<&String> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k)
        .collect();
    only_fields(map, path, &["value", "any", "except", "text"])?;
    let [name] = given.as_slice() else {
        return Err(err(
            path,
            "match needs exactly one of value, any, except, text",
        ));
    };
    let p = join(path, name);
    let inner = &map[name.as_str()];
    match name.as_str() {
        "value" => Ok(FieldCheck::Value(match inner {
            Value::String(s) => MatchValue::Keyword(s.clone()),
            Value::Bool(b) => MatchValue::Bool(*b),
            Value::Number(n) => MatchValue::Integer(n.as_i64().ok_or_else(|| {
                err(
                    &p,
                    format!("match value {n} is not an integer; use range for other numbers"),
                )
            })?),
            other => {
                return Err(err(
                    &p,
                    format!("expected a string, integer or boolean, got {}", kind(other)),
                ))
            }
        })),
        "any" => value_set(inner, &p).map(FieldCheck::Any),
        "except" => value_set(inner, &p).map(FieldCheck::Except),
        // only_fields admitted nothing else, so this is "text".
        _ => inner
            .as_str()
            .map(|s| FieldCheck::Text(s.to_owned()))
            .ok_or_else(|| err(&p, format!("expected a string, got {}", kind(inner)))),
    }
}

fn value_set(v: &Value, path: &str) -> Result<ValueSet> {
    let items = v.as_array().ok_or_else(|| {
        err(
            path,
            format!("expected a list of strings or of integers, got {}", kind(v)),
        )
    })?;
    if items.iter().all(Value::is_string) {
        return Ok(ValueSet::Keywords(
            items
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_i64().ok_or_else(|| {
                err(
                    &format!("{path}[{i}]"),
                    format!("lists must be all strings or all integers; found {x}"),
                )
            })
        })
        .collect::<Result<HashSet<_>>>()
        .map(ValueSet::Integers)
}

fn range_check(v: &Value, path: &str) -> Result<FieldCheck> {
    let map = object(v, path, "a range")?;
    let is_datetime = ["gt", "gte", "lt", "lte"]
        .iter()
        .any(|k| map.get(*k).is_some_and(Value::is_string));
    if is_datetime {
        let r = bounds(v, path, |x, p| {
            let s = x.as_str().ok_or_else(|| {
                err(
                    p,
                    format!("a datetime range needs datetime strings for every bound, got {x}"),
                )
            })?;
            super::parse_datetime(s).ok_or_else(|| {
                err(
                    p,
                    format!("{s:?} is not a datetime; use RFC 3339, e.g. 2024-05-01T12:00:00Z"),
                )
            })
        })?;
        Ok(FieldCheck::DatetimeRange(r))
    } else {
        let r = bounds(v, path, |x, p| {
            x.as_f64().ok_or_else(|| {
                err(
                    p,
                    format!("expected a number or a datetime string, got {}", kind(x)),
                )
            })
        })?;
        Ok(FieldCheck::Range(r))
    }
}

fn bounds<T>(v: &Value, path: &str, conv: impl Fn(&Value, &str) -> Result<T>) -> Result<Range<T>> {
    let map = object(v, path, "bounds")?;
    only_fields(map, path, &["gt", "gte", "lt", "lte"])?;
    let get = |name: &str| -> Result<Option<T>> {
        field(map, name)
            .map(|x| conv(x, &join(path, name)))
            .transpose()
    };
    Ok(Range {
        gt: get("gt")?,
        gte: get("gte")?,
        lt: get("lt")?,
        lte: get("lte")?,
    })
}
