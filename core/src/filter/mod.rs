//! The Qdrant filter language: parsed once from JSON into a typed tree, then evaluated on
//! payloads.
//!
//! Parsing is strict: an unknown field, a wrong type or an empty condition is an
//! [`Error::InvalidFilter`](crate::Error::InvalidFilter) naming the JSON path of the bad part
//! (`must[1].range.gt`), because a filter that silently matches everything is a wrong result.
//!
//! Semantics, where Qdrant's documentation leaves room:
//! - A key path reaches zero or more values (see [`JsonPath`]). `match` and `range` pass when
//!   any reached value passes; a reached array is checked element by element.
//! - `match.except` passes when some reached element is neither null nor in the list; a missing
//!   key, `null` or `[]` does not pass.
//! - `is_empty` passes when nothing is reached or everything reached is `null` or `[]`;
//!   `is_null` passes when some reached value is `null`.
//! - `values_count` counts reached elements (an array counts its length, `null` counts zero).
//! - Integers match integers only (`3` does not match `3.0`); ranges compare all numbers as f64.
//! - A range whose bounds are strings is a datetime range; stored strings that do not parse as
//!   datetimes do not pass it.
//! - `match.text` without a full-text index is a case-sensitive substring test.

mod datetime;
mod parse;
mod path;

use std::collections::HashSet;
use std::ops::ControlFlow;

use serde_json::Value;

pub use datetime::parse_datetime;
pub use path::JsonPath;

use crate::error::Result;
use crate::point::{Payload, PointId};

/// A boolean combination of conditions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// All of these must pass.
    pub must: Vec<Condition>,
    /// When not empty, at least one of these must pass.
    pub should: Vec<Condition>,
    /// None of these may pass.
    pub must_not: Vec<Condition>,
    /// At least `min_count` of these must pass.
    pub min_should: Option<MinShould>,
}

/// The `min_should` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct MinShould {
    /// The candidate conditions.
    pub conditions: Vec<Condition>,
    /// How many of them must pass.
    pub min_count: usize,
}

/// One condition inside a filter clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Checks on the values at a key path; all checks present must pass.
    Field(FieldCondition),
    /// The key reaches nothing, or only `null` / `[]`.
    IsEmpty(JsonPath),
    /// The key reaches a `null`.
    IsNull(JsonPath),
    /// The point's id is one of these.
    HasId(HashSet<PointId>),
    /// Some object element of the array(s) at the key passes the inner filter on its own.
    Nested {
        /// The array key.
        key: JsonPath,
        /// Evaluated with each object element as the payload root.
        filter: Box<Filter>,
    },
    /// A sub-filter.
    Filter(Box<Filter>),
}

/// A condition on the values at one key path.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCondition {
    /// Where the values are.
    pub key: JsonPath,
    /// The checks; at least one.
    pub checks: Vec<FieldCheck>,
}

/// One check on a field's values.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldCheck {
    /// `match: {value: ...}`.
    Value(MatchValue),
    /// `match: {any: [...]}`.
    Any(ValueSet),
    /// `match: {except: [...]}`.
    Except(ValueSet),
    /// `match: {text: "..."}`: substring.
    Text(String),
    /// `range` with numeric bounds.
    Range(Range<f64>),
    /// `range` with datetime bounds, as microseconds since the epoch.
    DatetimeRange(Range<i64>),
    /// `values_count`.
    ValuesCount(Range<u64>),
}

/// A single value to match exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchValue {
    /// A string (keyword).
    Keyword(String),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Bool(bool),
}

/// The list of `match.any` / `match.except`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSet {
    /// Strings.
    Keywords(HashSet<String>),
    /// Integers.
    Integers(HashSet<i64>),
}

/// Optional bounds; a missing bound is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range<T> {
    /// Strictly greater than.
    pub gt: Option<T>,
    /// Greater than or equal.
    pub gte: Option<T>,
    /// Strictly less than.
    pub lt: Option<T>,
    /// Less than or equal.
    pub lte: Option<T>,
}

impl<T: PartialOrd + Copy> Range<T> {
    /// Whether `v` is inside every given bound.
    pub fn contains(&self, v: T) -> bool {
        self.gt.is_none_or(|b| v > b)
            && self.gte.is_none_or(|b| v >= b)
            && self.lt.is_none_or(|b| v < b)
            && self.lte.is_none_or(|b| v <= b)
    }
}

impl Filter {
    /// Parses a filter from its JSON form. `null` is the empty filter (matches everything).
    pub fn from_json(value: &Value) -> Result<Filter> {
        parse::parse_filter(value)
    }

    /// Parses a filter from JSON text.
    pub fn from_json_str(text: &str) -> Result<Filter> {
        let value: Value = serde_json::from_str(text).map_err(|e| crate::Error::InvalidFilter {
            path: String::new(),
            reason: format!("not valid JSON: {e}"),
        })?;
        Filter::from_json(&value)
    }

    /// Whether the point with this id and payload passes.
    pub fn matches(&self, id: PointId, payload: &Payload) -> bool {
        self.check(&Point { id, payload })
    }

    /// The top-level payload keys this filter reads, sorted and without repeats, or `None`
    /// when a key path does not start with a key (then it needs the whole payload). The filter
    /// answers the same on a payload cut down to these keys as on the whole of it: every
    /// condition reaches values only through its key path, and a nested filter's paths start
    /// inside its array's elements.
    pub(crate) fn payload_keys(&self) -> Option<Vec<&str>> {
        let mut keys = Vec::new();
        if !self.collect_keys(&mut keys) {
            return None;
        }
        keys.sort_unstable();
        keys.dedup();
        Some(keys)
    }

    fn collect_keys<'a>(&'a self, keys: &mut Vec<&'a str>) -> bool {
        let min_should = self.min_should.iter().flat_map(|ms| &ms.conditions);
        self.must
            .iter()
            .chain(&self.must_not)
            .chain(&self.should)
            .chain(min_should)
            .all(|c| c.collect_keys(keys))
    }

    fn check(&self, p: &Point<'_>) -> bool {
        self.must.iter().all(|c| c.check(p))
            && !self.must_not.iter().any(|c| c.check(p))
            && (self.should.is_empty() || self.should.iter().any(|c| c.check(p)))
            && self.min_should.as_ref().is_none_or(|ms| {
                ms.conditions
                    .iter()
                    .filter(|c| c.check(p))
                    .take(ms.min_count)
                    .count()
                    >= ms.min_count
            })
    }
}

/// The point a filter is evaluated on.
struct Point<'a> {
    id: PointId,
    payload: &'a Payload,
}

impl Condition {
    /// Adds the top-level key each of this condition's paths starts from; false when one does
    /// not start with a key.
    fn collect_keys<'a>(&'a self, keys: &mut Vec<&'a str>) -> bool {
        let path = match self {
            Condition::Field(fc) => &fc.key,
            Condition::IsEmpty(key) | Condition::IsNull(key) => key,
            Condition::Nested { key, .. } => key,
            Condition::HasId(_) => return true,
            Condition::Filter(f) => return f.collect_keys(keys),
        };
        path.first_key().map(|k| keys.push(k)).is_some()
    }

    fn check(&self, p: &Point<'_>) -> bool {
        match self {
            Condition::Field(fc) => fc
                .checks
                .iter()
                .all(|check| check.check(&fc.key, p.payload)),
            // Empty unless some reached value is neither null nor [].
            Condition::IsEmpty(key) => !any_value(key, p.payload, |v| {
                !(v.is_null() || v.as_array().is_some_and(|a| a.is_empty()))
            }),
            Condition::IsNull(key) => any_value(key, p.payload, Value::is_null),
            Condition::HasId(ids) => ids.contains(&p.id),
            Condition::Nested { key, filter } => any_element(key, p.payload, |v| {
                v.as_object().is_some_and(|obj| {
                    filter.check(&Point {
                        id: p.id,
                        payload: obj,
                    })
                })
            }),
            Condition::Filter(f) => f.check(p),
        }
    }
}

/// Whether `pred` holds for some value reached by `key` (arrays as whole values).
fn any_value(key: &JsonPath, payload: &Payload, pred: impl Fn(&Value) -> bool) -> bool {
    key.visit(payload, &mut |v| {
        if pred(v) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
}

/// Whether `pred` holds for some element reached by `key`: a reached array contributes its
/// items (not recursively), any other value itself.
fn any_element(key: &JsonPath, payload: &Payload, pred: impl Fn(&Value) -> bool) -> bool {
    key.visit(payload, &mut |v| {
        let hit = match v {
            Value::Array(items) => items.iter().any(&pred),
            other => pred(other),
        };
        if hit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
}

impl FieldCheck {
    fn check(&self, key: &JsonPath, payload: &Payload) -> bool {
        match self {
            FieldCheck::Value(m) => any_element(key, payload, |v| match (m, v) {
                (MatchValue::Keyword(s), Value::String(x)) => s == x,
                (MatchValue::Integer(i), Value::Number(n)) => n.as_i64() == Some(*i),
                (MatchValue::Bool(b), Value::Bool(x)) => b == x,
                _ => false,
            }),
            FieldCheck::Any(set) => any_element(key, payload, |v| set.contains(v)),
            FieldCheck::Except(set) => {
                any_element(key, payload, |v| !v.is_null() && !set.contains(v))
            }
            FieldCheck::Text(t) => any_element(key, payload, |v| {
                v.as_str().is_some_and(|s| s.contains(t.as_str()))
            }),
            FieldCheck::Range(r) => {
                any_element(key, payload, |v| v.as_f64().is_some_and(|x| r.contains(x)))
            }
            FieldCheck::DatetimeRange(r) => any_element(key, payload, |v| {
                v.as_str()
                    .and_then(parse_datetime)
                    .is_some_and(|t| r.contains(t))
            }),
            FieldCheck::ValuesCount(r) => {
                let mut count = 0u64;
                key.visit(payload, &mut |v| {
                    count += match v {
                        Value::Null => 0,
                        Value::Array(a) => a.len() as u64,
                        _ => 1,
                    };
                    ControlFlow::Continue(())
                });
                r.contains(count)
            }
        }
    }
}

impl ValueSet {
    fn contains(&self, v: &Value) -> bool {
        match (self, v) {
            (ValueSet::Keywords(set), Value::String(s)) => set.contains(s),
            (ValueSet::Integers(set), Value::Number(n)) => {
                n.as_i64().is_some_and(|i| set.contains(&i))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_keys_are_the_first_keys_of_every_path() {
        let f = Filter::from_json(&serde_json::json!({
            "must": [{"key": "a.b[].c", "match": {"value": 1}}, {"has_id": [1]}],
            "must_not": [{"is_empty": {"key": "c[0]"}}],
            "should": [
                {"nested": {"key": "d", "filter": {"must": [{"key": "x", "range": {"gt": 1}}]}}},
                {"must": [{"is_null": {"key": "\"e.f\".g"}}, {"key": "a", "values_count": {"lt": 3}}]}
            ],
            "min_should": {"conditions": [{"key": "z", "match": {"text": "q"}}], "min_count": 1}
        }))
        .unwrap();
        // `x` is inside `d`'s elements, not a top-level key; `a` is listed once.
        assert_eq!(f.payload_keys(), Some(vec!["a", "c", "d", "e.f", "z"]));
        let ids_only = Filter::from_json(&serde_json::json!({"must": [{"has_id": [1]}]})).unwrap();
        assert_eq!(ids_only.payload_keys(), Some(vec![]));
    }
}
