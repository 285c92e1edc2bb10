//! Payload indexes: for one key path, the rows holding each value, so a filter condition on
//! that key is answered from posting lists instead of by reading every payload.
//!
//! Key design decisions:
//! - **An index answers a condition exactly, or says it cannot.** Each index serves the checks
//!   whose meaning it can reproduce bit for bit with the evaluator in `filter` (same element
//!   walk, same comparisons); anything else falls back to evaluating payloads, and only on the
//!   rows the indexed conditions left. So an index changes speed, never results.
//! - **Rows whose value the index cannot represent are remembered** (a float under an integer
//!   index): a range over that key then also considers them, and marks the answer inexact so
//!   the caller verifies.
//! - **Each value maps to a sorted list of rows** (a hash map for strings, an ordered map for
//!   numbers, so a range is a seek plus a walk over the distinct values in it); rows mostly
//!   arrive in ascending order, so adding one is an append. Each row also remembers its keys,
//!   so replacing or removing a payload touches only its own entries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;

use serde_json::Value;

use crate::bitset::{Bitset, RowSet};
use crate::error::{Error, Result};
use crate::filter::{parse_datetime, FieldCheck, JsonPath, MatchValue, ValueSet};
use crate::point::Payload;

pub(crate) mod section;

/// What a payload index holds, as in Qdrant's `field_schema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadIndexType {
    /// Strings: serves `match.value` and `match.any` on strings.
    Keyword,
    /// Integers: serves `match.value` and `match.any` on integers, and numeric `range`.
    Integer,
    /// Numbers: serves numeric `range`.
    Float,
    /// Booleans: serves `match.value` on booleans.
    Bool,
    /// RFC 3339 strings: serves datetime `range`.
    Datetime,
    /// UUID strings, matched as written: serves `match.value` and `match.any`.
    Uuid,
}

impl PayloadIndexType {
    /// Every type.
    pub const ALL: [PayloadIndexType; 6] = [
        PayloadIndexType::Keyword,
        PayloadIndexType::Integer,
        PayloadIndexType::Float,
        PayloadIndexType::Bool,
        PayloadIndexType::Datetime,
        PayloadIndexType::Uuid,
    ];

    /// The type's name, as parsed by [`PayloadIndexType::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            PayloadIndexType::Keyword => "keyword",
            PayloadIndexType::Integer => "integer",
            PayloadIndexType::Float => "float",
            PayloadIndexType::Bool => "bool",
            PayloadIndexType::Datetime => "datetime",
            PayloadIndexType::Uuid => "uuid",
        }
    }
}

impl fmt::Display for PayloadIndexType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PayloadIndexType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        PayloadIndexType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown payload index type {s:?}; expected keyword, integer, float, bool, \
                     datetime or uuid"
                ))
            })
    }
}

/// An f64 with a total order (values come from JSON, so never NaN).
#[derive(Debug, Clone, Copy)]
struct Num(f64);

impl PartialEq for Num {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Num {}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One indexed value of a row; ordered as a file stores an index's values (strings bytewise,
/// numbers by `f64::total_cmp`, `false` before `true`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Str(String),
    Int(i64),
    Num(Num),
    Bool(bool),
}

/// The rows holding one value: a sorted list (appends are O(1), rows mostly arrive in order)
/// and, once the value is common, the same rows as a bitmap, kept current beside the list.
/// The bitmap lets a filter on a common value (its `must_not` above all: "not a noun" is
/// 35,000 rows listed from 80,000) reach the graph walk's mask without touching each row per
/// query. It is made once the value holds one row in 32 (where a bitmap is no larger than the
/// list) and dropped below one in 64, so a value hovering at the threshold is not rebuilt on
/// every write.
#[derive(Debug, Clone, Default)]
struct Rows {
    list: Vec<u32>,
    bits: Option<Bitset>,
}

/// Rows in a posting before it also keeps a bitmap: below this, listing them is cheap anyway.
/// (A bitmap is dropped below half of this.)
const BITMAP_MIN_ROWS: usize = 1024;

impl Rows {
    /// These rows (ascending), with the bitmap a value this common gets.
    fn from_list(list: Vec<u32>) -> Rows {
        let (len, span) = (list.len(), list.last().map_or(0, |&r| r as usize + 1));
        let bits =
            (len >= BITMAP_MIN_ROWS && len * 32 >= span).then(|| Bitset::from_rows(&list, span));
        Rows { list, bits }
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The rows as a set: the bitmap if there is one.
    fn set(&self) -> RowSet {
        match &self.bits {
            Some(b) => RowSet::Bits(b.clone()),
            None => RowSet::List(self.list.clone()),
        }
    }

    /// Adds or removes `row`, keeping the bitmap when the rows are dense enough for it.
    fn toggle(&mut self, row: u32, add: bool) {
        match (self.list.binary_search(&row), add) {
            (Err(at), true) => self.list.insert(at, row),
            (Ok(at), false) => {
                self.list.remove(at);
            }
            _ => return,
        }
        let (len, span) = (
            self.list.len(),
            self.list.last().map_or(0, |&r| r as usize + 1),
        );
        match &mut self.bits {
            Some(b) if len >= BITMAP_MIN_ROWS / 2 && len * 64 >= span => {
                if add {
                    b.grow(row as usize + 1);
                    b.insert(row as usize);
                } else {
                    b.remove(row as usize);
                }
            }
            Some(_) => self.bits = None,
            None if len >= BITMAP_MIN_ROWS && len * 32 >= span => {
                self.bits = Some(Bitset::from_rows(&self.list, span));
            }
            None => {}
        }
    }
}

#[derive(Debug, Clone)]
enum Postings {
    Strings(HashMap<String, Rows>),
    Ints(BTreeMap<i64, Rows>),
    Nums(BTreeMap<Num, Rows>),
    Bools([Rows; 2]),
}

/// Rows matching an indexed condition, ascending; `exact` unless some must still be checked
/// against their payloads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hits {
    pub(crate) rows: RowSet,
    pub(crate) exact: bool,
}

/// The index of one key path.
#[derive(Debug, Clone)]
pub(crate) struct PayloadIndex {
    key: JsonPath,
    kind: PayloadIndexType,
    postings: Postings,
    /// Row `r`'s indexed values.
    row_keys: Vec<Vec<Key>>,
    /// Rows with a number the index does not hold (a non-integer under an integer index).
    unrepresented: BTreeSet<u32>,
}

/// Parses the key path of an index; an error names the key.
pub(crate) fn parse_key(key: &str) -> Result<JsonPath> {
    JsonPath::parse(key).map_err(|reason| Error::InvalidFilter {
        path: key.to_owned(),
        reason,
    })
}

impl PayloadIndex {
    /// An index of `key` as `kind` over rows `0..n`, where `payload(r)` gives row `r`'s
    /// payload (`None` for a row that holds nothing).
    pub(crate) fn build<'p>(
        key: &str,
        kind: PayloadIndexType,
        n: usize,
        mut payload: impl FnMut(usize) -> Result<Option<std::borrow::Cow<'p, Payload>>>,
    ) -> Result<PayloadIndex> {
        let mut index = PayloadIndex::new(parse_key(key)?, kind);
        for r in 0..n {
            index.set_row(r as u32, payload(r)?.as_deref());
        }
        Ok(index)
    }

    /// An empty index of `key`.
    pub(crate) fn new(key: JsonPath, kind: PayloadIndexType) -> PayloadIndex {
        let postings = match kind {
            PayloadIndexType::Keyword | PayloadIndexType::Uuid => Postings::Strings(HashMap::new()),
            PayloadIndexType::Integer | PayloadIndexType::Datetime => {
                Postings::Ints(BTreeMap::new())
            }
            PayloadIndexType::Float => Postings::Nums(BTreeMap::new()),
            PayloadIndexType::Bool => Postings::Bools([Rows::default(), Rows::default()]),
        };
        PayloadIndex {
            key,
            kind,
            postings,
            row_keys: Vec::new(),
            unrepresented: BTreeSet::new(),
        }
    }

    /// The indexed key path.
    pub(crate) fn key(&self) -> &JsonPath {
        &self.key
    }

    /// The index type.
    pub(crate) fn kind(&self) -> PayloadIndexType {
        self.kind
    }

    /// The values of `payload` this index holds, and whether some number was left out.
    fn keys_of(&self, payload: &Payload) -> (Vec<Key>, bool) {
        let mut keys = Vec::new();
        let mut left_out = false;
        let mut take = |v: &Value| match (self.kind, v) {
            (PayloadIndexType::Keyword | PayloadIndexType::Uuid, Value::String(s)) => {
                keys.push(Key::Str(s.clone()))
            }
            (PayloadIndexType::Integer, Value::Number(n)) => match n.as_i64() {
                Some(i) => keys.push(Key::Int(i)),
                None => left_out = true,
            },
            (PayloadIndexType::Float, Value::Number(n)) => {
                if let Some(x) = n.as_f64() {
                    keys.push(Key::Num(Num(x)));
                }
            }
            (PayloadIndexType::Bool, Value::Bool(b)) => keys.push(Key::Bool(*b)),
            (PayloadIndexType::Datetime, Value::String(s)) => {
                if let Some(t) = parse_datetime(s) {
                    keys.push(Key::Int(t));
                }
            }
            _ => {}
        };
        // The evaluator's element walk: a reached array contributes its items.
        self.key.visit(payload, &mut |v| {
            match v {
                Value::Array(items) => items.iter().for_each(&mut take),
                other => take(other),
            }
            ControlFlow::Continue(())
        });
        (keys, left_out)
    }

    /// Each value of a keyword index with its rows, ascending (nothing for other kinds).
    pub(crate) fn keyword_postings(&self) -> impl Iterator<Item = (&str, &[u32])> {
        let strings = match (&self.postings, self.kind) {
            (Postings::Strings(m), PayloadIndexType::Keyword) => Some(m),
            _ => None,
        };
        strings
            .into_iter()
            .flatten()
            .map(|(v, rows)| (v.as_str(), rows.list.as_slice()))
    }

    /// The rows holding keyword `value`, ascending (none unless this is a keyword index).
    pub(crate) fn keyword_rows(&self, value: &str) -> &[u32] {
        match (&self.postings, self.kind) {
            (Postings::Strings(m), PayloadIndexType::Keyword) => {
                m.get(value).map_or(&[], |rows| rows.list.as_slice())
            }
            _ => &[],
        }
    }

    /// Indexes row `row` as holding `payload` (`None`: nothing), replacing what it held.
    pub(crate) fn set_row(&mut self, row: u32, payload: Option<&Payload>) {
        let r = row as usize;
        if r >= self.row_keys.len() {
            self.row_keys.resize_with(r + 1, Vec::new);
        }
        for k in std::mem::take(&mut self.row_keys[r]) {
            self.posting(k, row, false);
        }
        self.unrepresented.remove(&row);
        let Some(p) = payload else {
            return;
        };
        let (keys, left_out) = self.keys_of(p);
        if left_out {
            self.unrepresented.insert(row);
        }
        for k in &keys {
            self.posting(k.clone(), row, true);
        }
        self.row_keys[r] = keys;
    }

    /// Moves row `from`'s entries to row `to` (which must hold nothing), as a delete that moves
    /// the last row into the hole does.
    pub(crate) fn move_row(&mut self, from: u32, to: u32) {
        let keys = std::mem::take(&mut self.row_keys[from as usize]);
        for k in &keys {
            self.posting(k.clone(), from, false);
            self.posting(k.clone(), to, true);
        }
        if self.unrepresented.remove(&from) {
            self.unrepresented.insert(to);
        }
        self.row_keys[to as usize] = keys;
    }

    /// Forgets rows from `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        while self.row_keys.len() > len {
            let row = (self.row_keys.len() - 1) as u32;
            self.set_row(row, None);
            self.row_keys.pop();
        }
    }

    fn posting(&mut self, k: Key, row: u32, add: bool) {
        fn keyed<K: Ord>(map: &mut BTreeMap<K, Rows>, k: K, row: u32, add: bool) {
            if add {
                map.entry(k).or_default().toggle(row, true);
            } else if let Some(rows) = map.get_mut(&k) {
                rows.toggle(row, false);
                if rows.is_empty() {
                    map.remove(&k);
                }
            }
        }
        match (&mut self.postings, k) {
            (Postings::Strings(map), Key::Str(s)) => {
                if add {
                    map.entry(s).or_default().toggle(row, true);
                } else if let Some(rows) = map.get_mut(&s) {
                    rows.toggle(row, false);
                    if rows.is_empty() {
                        map.remove(&s);
                    }
                }
            }
            (Postings::Ints(map), Key::Int(i)) => keyed(map, i, row, add),
            (Postings::Nums(map), Key::Num(x)) => keyed(map, x, row, add),
            (Postings::Bools(lists), Key::Bool(b)) => lists[usize::from(b)].toggle(row, add),
            _ => debug_assert!(false, "a key of the wrong type for its index"),
        }
    }

    /// The rows passing `check` on this index's key, or `None` when this index cannot
    /// answer that check.
    pub(crate) fn answer(&self, check: &FieldCheck) -> Option<Hits> {
        let exact = |rows: RowSet| Some(Hits { rows, exact: true });
        let list = |rows: Option<&Rows>| rows.map_or(RowSet::List(Vec::new()), Rows::set);
        match (&self.postings, check) {
            (Postings::Strings(map), FieldCheck::Value(MatchValue::Keyword(s))) => {
                exact(list(map.get(s)))
            }
            (Postings::Strings(map), FieldCheck::Any(ValueSet::Keywords(values))) => {
                exact(union(values.iter().filter_map(|v| map.get(v))))
            }
            (Postings::Ints(map), FieldCheck::Value(MatchValue::Integer(i)))
                if self.kind == PayloadIndexType::Integer =>
            {
                exact(list(map.get(i)))
            }
            (Postings::Ints(map), FieldCheck::Any(ValueSet::Integers(values)))
                if self.kind == PayloadIndexType::Integer =>
            {
                exact(union(values.iter().filter_map(|v| map.get(v))))
            }
            (Postings::Ints(map), FieldCheck::Range(range))
                if self.kind == PayloadIndexType::Integer =>
            {
                // Compared as f64, as the evaluator does; the seek is one wider on each side so
                // f64 rounding of the bounds cannot drop a value.
                let lo = range
                    .gt
                    .or(range.gte)
                    .map_or(i64::MIN, |b| (b.floor() as i64).saturating_sub(1));
                let hi = range
                    .lt
                    .or(range.lte)
                    .map_or(i64::MAX, |b| (b.ceil() as i64).saturating_add(1));
                if lo > hi {
                    return exact(RowSet::List(Vec::new()));
                }
                let rows = union(
                    map.range(lo..=hi)
                        .filter(|&(&v, _)| range.contains(v as f64))
                        .map(|(_, rows)| rows),
                );
                if self.unrepresented.is_empty() {
                    return exact(rows);
                }
                let mut rows = rows.into_list();
                rows.extend(self.unrepresented.iter().copied());
                rows.sort_unstable();
                rows.dedup();
                Some(Hits {
                    rows: RowSet::List(rows),
                    exact: false,
                })
            }
            (Postings::Nums(map), FieldCheck::Range(range)) => {
                let lo = range.gt.or(range.gte).map_or(f64::NEG_INFINITY, |b| b);
                let hi = range.lt.or(range.lte).map_or(f64::INFINITY, |b| b);
                if lo > hi {
                    return exact(RowSet::List(Vec::new()));
                }
                exact(union(
                    map.range(Num(lo)..=Num(hi))
                        .filter(|&(v, _)| range.contains(v.0))
                        .map(|(_, rows)| rows),
                ))
            }
            (Postings::Ints(map), FieldCheck::DatetimeRange(range))
                if self.kind == PayloadIndexType::Datetime =>
            {
                let lo = range.gt.or(range.gte).unwrap_or(i64::MIN);
                let hi = range.lt.or(range.lte).unwrap_or(i64::MAX);
                if lo > hi {
                    return exact(RowSet::List(Vec::new()));
                }
                exact(union(
                    map.range(lo..=hi)
                        .filter(|&(&v, _)| range.contains(v))
                        .map(|(_, rows)| rows),
                ))
            }
            (Postings::Bools(lists), FieldCheck::Value(MatchValue::Bool(b))) => {
                exact(list(Some(&lists[usize::from(*b)])))
            }
            _ => None,
        }
    }
}

/// The union of postings: one is copied as is (list or bitmap); many become a list or a
/// bitmap ([`RowSet::union`]).
fn union<'a>(lists: impl Iterator<Item = &'a Rows>) -> RowSet {
    let lists: Vec<&Rows> = lists.collect();
    match lists.as_slice() {
        [] => RowSet::List(Vec::new()),
        [one] => one.set(),
        many => {
            let end = many
                .iter()
                .filter_map(|l| l.list.last())
                .max()
                .map_or(0, |&r| r as usize + 1);
            RowSet::union(many.iter().map(|l| l.set()).collect(), end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A posting's bitmap is made when the value becomes common, kept current through adds and
    /// removes, and dropped when it thins out; its set is the list's rows throughout.
    #[test]
    fn a_posting_bitmap_follows_its_list() {
        let mut rows = Rows::default();
        let check = |rows: &Rows| assert_eq!(rows.set().into_list(), rows.list);
        for r in (0..3000u32).step_by(2) {
            rows.toggle(r, true);
        }
        assert!(rows.bits.is_some(), "1500 rows, one in two: a bitmap");
        check(&rows);
        rows.toggle(5000, true);
        rows.toggle(4, false);
        rows.toggle(4, false);
        check(&rows);
        for r in (0..3000u32).step_by(2).filter(|r| r % 10 != 0) {
            rows.toggle(r, false);
        }
        assert!(rows.bits.is_none(), "301 rows: the bitmap is dropped");
        check(&rows);
        let mut sparse = Rows::default();
        for r in (0..2000u32).map(|r| r * 40) {
            sparse.toggle(r, true);
        }
        assert!(sparse.bits.is_none(), "one row in 40: no bitmap");
        check(&sparse);
    }
}
