//! The `PAYLOAD_INDEXES` section (FORMAT.md, id 11): payload indexes stored with a file's rows,
//! so opening a snapshot or checkpoint takes its indexes from the file instead of reading every
//! payload again (wordnet-minilm, four indexes, mapped: open, indexes and a first filtered
//! count took 0.36 s building them, 0.026 s reading them from a 1.4 file).
//!
//! Key design decision: the section holds each index's postings (value, then its rows) and is
//! decoded into the same in-memory `PayloadIndex` a build makes, rather than being read in
//! place. Decoding is a pass over sorted integers, far cheaper than parsing payloads, and every
//! write after opening keeps using the one mutable structure. Values are written in their
//! order (strings bytewise), so the same index always gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::index::hnsw::compact::DROPPED;
use crate::storage::container::{counted_entries, ENTRIES_HEADER};

use super::{parse_key, Key, Num, PayloadIndex, PayloadIndexType, Postings, Rows};

/// Bytes before the entries.
const HEADER: usize = ENTRIES_HEADER;
/// Bytes per entry.
const ENTRY: usize = 32;

fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt("PAYLOAD_INDEXES section", reason.into())
}

/// The type's number in the section; a reader skips an index whose number it does not know.
fn type_code(kind: PayloadIndexType) -> u32 {
    match kind {
        PayloadIndexType::Keyword => 1,
        PayloadIndexType::Integer => 2,
        PayloadIndexType::Float => 3,
        PayloadIndexType::Bool => 4,
        PayloadIndexType::Datetime => 5,
        PayloadIndexType::Uuid => 6,
    }
}

fn type_of(code: u32) -> Option<PayloadIndexType> {
    PayloadIndexType::ALL
        .into_iter()
        .find(|&k| type_code(k) == code)
}

/// An index written from several parts: each an index over some layer's rows with the file
/// row of each of those rows (`DROPPED`: not written).
pub(crate) type Parts<'a> = Vec<(&'a PayloadIndex, &'a [u32])>;

/// The section holding these indexes, each gathered from its parts (which share its key and
/// type), with rows renumbered into the file's.
pub(crate) fn encode_section(indexes: &[Parts<'_>]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut bodies: Vec<(String, u32, Vec<u8>)> = Vec::new();
    for parts in indexes {
        let Some((first, _)) = parts.first() else {
            continue;
        };
        let mut values: BTreeMap<Key, Vec<u32>> = BTreeMap::new();
        let mut unrepresented: BTreeSet<u32> = BTreeSet::new();
        for (index, new_row) in parts {
            let map = |r: u32| new_row.get(r as usize).copied().filter(|&r| r != DROPPED);
            for (value, rows) in index.postings_by_value() {
                let list = values.entry(value).or_default();
                list.extend(rows.list.iter().filter_map(|&r| map(r)));
            }
            unrepresented.extend(index.unrepresented.iter().filter_map(|&r| map(r)));
        }
        values.retain(|_, rows| !rows.is_empty());
        let mut body = Vec::new();
        put64(&mut body, values.len() as u64);
        put64(&mut body, unrepresented.len() as u64);
        for r in unrepresented {
            body.extend_from_slice(&r.to_le_bytes());
        }
        for (value, mut rows) in values {
            match value {
                Key::Str(s) => {
                    put64(&mut body, s.len() as u64);
                    body.extend_from_slice(s.as_bytes());
                }
                Key::Int(i) => body.extend_from_slice(&i.to_le_bytes()),
                Key::Num(x) => body.extend_from_slice(&x.0.to_bits().to_le_bytes()),
                Key::Bool(b) => put64(&mut body, u64::from(b)),
            }
            rows.sort_unstable();
            put64(&mut body, rows.len() as u64);
            for r in rows {
                body.extend_from_slice(&r.to_le_bytes());
            }
        }
        bodies.push((
            first.key().as_str().to_owned(),
            type_code(first.kind()),
            body,
        ));
    }
    let mut out = vec![0u8; HEADER];
    out[..4].copy_from_slice(&(bodies.len() as u32).to_le_bytes());
    let mut at = (HEADER + bodies.len() * ENTRY) as u64;
    for (key, code, body) in &bodies {
        put64(&mut entries, at);
        entries.extend_from_slice(&(key.len() as u32).to_le_bytes());
        entries.extend_from_slice(&code.to_le_bytes());
        put64(&mut entries, at + key.len() as u64);
        put64(&mut entries, body.len() as u64);
        at += (key.len() + body.len()) as u64;
    }
    out.extend_from_slice(&entries);
    for (key, _, body) in &bodies {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(body);
    }
    out
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Reads bytes front to back; running out is a `Corrupt` error naming `what`.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        let end = (self.at as u64)
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len() as u64)
            .ok_or_else(|| corrupt(format!("{} runs past its end", what())))?;
        let s = &self.bytes[self.at..end as usize];
        self.at = end as usize;
        Ok(s)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// `count` rows, strictly ascending and below `n`.
    fn rows(&mut self, count: u64, n: usize, what: &dyn Fn() -> String) -> Result<Vec<u32>> {
        let b = self.take(count.saturating_mul(4), what)?;
        let rows: Vec<u32> = b
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        if let Some(&r) = rows.iter().find(|&&r| r as usize >= n) {
            return Err(corrupt(format!(
                "{} names row {r}, past the last row",
                what()
            )));
        }
        if rows.windows(2).any(|p| p[0] >= p[1]) {
            return Err(corrupt(format!("{}: rows not strictly ascending", what())));
        }
        Ok(rows)
    }
}

/// Reads and checks the indexes of a section over `n` rows: every range in bounds, keys valid
/// key paths and distinct, values of the index's type, distinct and in order, each with rows
/// strictly ascending below `n`; rows kept aside only under an integer index. An entry of a type
/// this build does not know is skipped (a later minor version may add types).
pub(crate) fn decode_section(bytes: &[u8], n: usize) -> Result<Vec<PayloadIndex>> {
    let count = counted_entries(bytes, ENTRY, "indexes").map_err(corrupt)?;
    let get32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let get64 = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let mut out: Vec<PayloadIndex> = Vec::with_capacity(count);
    for i in 0..count {
        let e = HEADER + i * ENTRY;
        let Some(kind) = type_of(get32(e + 12)) else {
            continue;
        };
        let slice = |at: u64, len: u64, part: &str| {
            at.checked_add(len)
                .filter(|&end| end <= bytes.len() as u64)
                .map(|end| &bytes[at as usize..end as usize])
                .ok_or_else(|| corrupt(format!("index {i}'s {part} lies outside the section")))
        };
        let key = slice(get64(e), u64::from(get32(e + 8)), "key")?;
        let key = std::str::from_utf8(key)
            .map_err(|_| corrupt(format!("index {i}'s key is not UTF-8")))?;
        let path = parse_key(key)
            .map_err(|e| corrupt(format!("index {i}'s key {key:?} is not a key path: {e}")))?;
        if out.iter().any(|x| x.key().as_str() == key) {
            return Err(corrupt(format!("the index on {key:?} is stored twice")));
        }
        let body = slice(get64(e + 16), get64(e + 24), "body")?;
        let what = |part: &str| format!("the {kind} index on {key:?}: {part}");
        let index = decode_index(body, PayloadIndex::new(path, kind), n, &what)?;
        out.push(index);
    }
    Ok(out)
}

/// One index's body into `index` (new, empty), over `n` rows.
fn decode_index(
    body: &[u8],
    mut index: PayloadIndex,
    n: usize,
    what: &dyn Fn(&str) -> String,
) -> Result<PayloadIndex> {
    let mut c = Cursor { bytes: body, at: 0 };
    let values = c.u64(&|| what("the value count"))?;
    let aside = c.u64(&|| what("the count of rows kept aside"))?;
    if aside > 0 && index.kind != PayloadIndexType::Integer {
        return Err(corrupt(what(
            "rows kept aside, which only an integer index has",
        )));
    }
    index.unrepresented = c
        .rows(aside, n, &|| what("the rows kept aside"))?
        .into_iter()
        .collect();
    index.row_keys = vec![Vec::new(); n];
    let mut last: Option<Key> = None;
    for v in 0..values {
        let value = match index.kind {
            PayloadIndexType::Keyword | PayloadIndexType::Uuid => {
                let len = c.u64(&|| what(&format!("value {v}'s length")))?;
                let s = c.take(len, &|| what(&format!("value {v}")))?;
                Key::Str(
                    std::str::from_utf8(s)
                        .map_err(|_| corrupt(what(&format!("value {v} is not UTF-8"))))?
                        .to_owned(),
                )
            }
            PayloadIndexType::Integer | PayloadIndexType::Datetime => {
                Key::Int(c.u64(&|| what(&format!("value {v}")))? as i64)
            }
            PayloadIndexType::Float => {
                let x = f64::from_bits(c.u64(&|| what(&format!("value {v}")))?);
                if x.is_nan() {
                    return Err(corrupt(what(&format!("value {v} is NaN"))));
                }
                Key::Num(Num(x))
            }
            PayloadIndexType::Bool => match c.u64(&|| what(&format!("value {v}")))? {
                0 => Key::Bool(false),
                1 => Key::Bool(true),
                b => return Err(corrupt(what(&format!("value {v} is {b}, not 0 or 1")))),
            },
        };
        if last.as_ref().is_some_and(|l| *l >= value) {
            return Err(corrupt(what(&format!(
                "value {v} is not after the one before it"
            ))));
        }
        let count = c.u64(&|| what(&format!("value {v}'s row count")))?;
        if count == 0 {
            return Err(corrupt(what(&format!("value {v} has no rows"))));
        }
        let list = c.rows(count, n, &|| what(&format!("value {v}'s rows")))?;
        for &r in &list {
            index.row_keys[r as usize].push(value.clone());
        }
        let rows = Rows::from_list(list);
        match (&mut index.postings, &value) {
            (Postings::Strings(m), Key::Str(s)) => {
                m.insert(s.clone(), rows);
            }
            (Postings::Ints(m), Key::Int(i)) => {
                m.insert(*i, rows);
            }
            (Postings::Nums(m), Key::Num(x)) => {
                m.insert(*x, rows);
            }
            (Postings::Bools(lists), Key::Bool(b)) => lists[usize::from(*b)] = rows,
            _ => unreachable!("values are read by the index's type"),
        }
        last = Some(value);
    }
    if c.at != body.len() {
        return Err(corrupt(what(&format!(
            "{} bytes after the last value",
            body.len() - c.at
        ))));
    }
    Ok(index)
}

impl PayloadIndex {
    /// Each value with its rows, for writing.
    fn postings_by_value(&self) -> Vec<(Key, &Rows)> {
        match &self.postings {
            Postings::Strings(m) => m.iter().map(|(s, r)| (Key::Str(s.clone()), r)).collect(),
            Postings::Ints(m) => m.iter().map(|(&i, r)| (Key::Int(i), r)).collect(),
            Postings::Nums(m) => m.iter().map(|(&x, r)| (Key::Num(x), r)).collect(),
            Postings::Bools(lists) => [false, true]
                .into_iter()
                .zip(lists)
                .filter(|(_, r)| !r.is_empty())
                .map(|(b, r)| (Key::Bool(b), r))
                .collect(),
        }
    }
}

/// An index's values in order, each with its rows, and the rows it keeps aside: what tests
/// compare.
#[cfg(test)]
pub(crate) fn contents(index: &PayloadIndex) -> (Vec<(String, Vec<u32>)>, Vec<u32>) {
    let mut values = index.postings_by_value();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    (
        values
            .into_iter()
            .map(|(v, r)| (format!("{v:?}"), r.list.clone()))
            .collect(),
        index.unrepresented.iter().copied().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::Payload;
    use serde_json::json;

    const N: usize = 5000;

    fn payload(r: usize) -> Payload {
        let v = match r % 7 {
            // A common value (a bitmap beside its list), arrays, a float under the integer index.
            0 => {
                json!({"tag": "common", "n": r, "x": r as f64 / 8.0, "ok": true, "at": "2024-05-01T12:00:00Z"})
            }
            1 => json!({"tag": ["a", "ünï", "a"], "n": 2.5, "x": -0.0, "ok": false}),
            2 => {
                json!({"tag": format!("v{}", r % 50), "n": [1, -7, i64::MAX], "at": "1999-12-31T23:59:59.5+01:00"})
            }
            3 => json!({"u": "5c56c793-69f3-4fbf-87e6-c4bf54c28c00", "x": 1e300}),
            4 => json!({"tag": "", "n": -3, "x": [1.5, 2.5]}),
            5 => json!({}),
            _ => json!({"tag": "common", "n": 0, "ok": true}),
        };
        v.as_object().cloned().unwrap()
    }

    fn indexes() -> Vec<PayloadIndex> {
        [
            ("tag", PayloadIndexType::Keyword),
            ("n", PayloadIndexType::Integer),
            ("x", PayloadIndexType::Float),
            ("ok", PayloadIndexType::Bool),
            ("at", PayloadIndexType::Datetime),
            ("u", PayloadIndexType::Uuid),
        ]
        .into_iter()
        .map(|(key, kind)| {
            PayloadIndex::build(key, kind, N, |r| {
                Ok((r % 11 != 10).then(|| std::borrow::Cow::Owned(payload(r))))
            })
            .unwrap()
        })
        .collect()
    }

    fn identity() -> Vec<u32> {
        (0..N as u32).collect()
    }

    #[test]
    fn indexes_come_back_as_written_and_keep_working() {
        let built = indexes();
        let rows = identity();
        let parts: Vec<Parts<'_>> = built.iter().map(|i| vec![(i, rows.as_slice())]).collect();
        let bytes = encode_section(&parts);
        assert_eq!(
            encode_section(&parts),
            bytes,
            "the same indexes, the same bytes"
        );
        let mut read = decode_section(&bytes, N).unwrap();
        assert_eq!(read.len(), built.len());
        for (a, b) in built.iter().zip(&read) {
            assert_eq!((a.key().as_str(), a.kind()), (b.key().as_str(), b.kind()));
            assert!(contents(a) == contents(b), "{}", a.key().as_str());
        }
        assert!(
            !contents(&read[1]).1.is_empty(),
            "2.5 kept aside by the integer index"
        );
        // A common value has its bitmap back, as a build gives it.
        let common = |i: &PayloadIndex| match &i.postings {
            Postings::Strings(m) => m["common"].bits.is_some(),
            _ => unreachable!(),
        };
        assert!(common(&built[0]) && common(&read[0]));
        // Rows know their keys again: rewriting and removing rows changes both alike.
        let mut built = built;
        for (a, b) in built.iter_mut().zip(&mut read) {
            for r in [0u32, 1, 2, 9, 700, 2999] {
                a.set_row(r, Some(&payload(r as usize + 3)));
                b.set_row(r, Some(&payload(r as usize + 3)));
            }
            a.set_row(4, None);
            b.set_row(4, None);
            assert!(
                contents(a) == contents(b),
                "{} after writes",
                a.key().as_str()
            );
        }
    }

    #[test]
    fn parts_are_renumbered_and_merged() {
        let built = indexes();
        // Two layers: rows 0..H of the first become file rows H.., rows H.. of the second
        // become 0..H; every third row is dropped.
        const H: u32 = N as u32 / 2;
        let first: Vec<u32> = (0..N as u32)
            .map(|r| if r < H && r % 3 != 0 { r + H } else { DROPPED })
            .collect();
        let second: Vec<u32> = (0..N as u32)
            .map(|r| if r >= H && r % 3 != 0 { r - H } else { DROPPED })
            .collect();
        let parts: Vec<Parts<'_>> = built
            .iter()
            .map(|i| vec![(i, first.as_slice()), (i, second.as_slice())])
            .collect();
        let read = decode_section(&encode_section(&parts), N).unwrap();
        for (a, b) in built.iter().zip(&read) {
            let expect = PayloadIndex::build(a.key().as_str(), a.kind(), N, |file_row| {
                let r = (file_row + H as usize) % N;
                Ok((!r.is_multiple_of(3) && r % 11 != 10)
                    .then(|| std::borrow::Cow::Owned(payload(r))))
            })
            .unwrap();
            assert!(contents(&expect) == contents(b), "{}", a.key().as_str());
        }
    }

    /// A hand-made section: one index's key, type and body.
    fn section(key: impl AsRef<[u8]>, code: u32, body: &[u8]) -> Vec<u8> {
        let key = key.as_ref();
        let mut out = vec![0u8; HEADER];
        out[0] = 1;
        let at = (HEADER + ENTRY) as u64;
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(&code.to_le_bytes());
        out.extend_from_slice(&(at + key.len() as u64).to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(body);
        out
    }

    fn words(ws: &[u64]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn rows(rs: &[u32]) -> Vec<u8> {
        rs.iter().flat_map(|r| r.to_le_bytes()).collect()
    }

    #[test]
    fn hostile_sections_are_refused_with_the_reason() {
        let int = |v: i64| v as u64;
        let one_int =
            |value: u64, rs: &[u32]| [words(&[1, 0, value, rs.len() as u64]), rows(rs)].concat();
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "row past the end",
                section("n", 2, &one_int(5, &[3, 10])),
                "past the last row",
            ),
            (
                "rows out of order",
                section("n", 2, &one_int(5, &[4, 3])),
                "ascending",
            ),
            (
                "a row twice",
                section("n", 2, &one_int(5, &[4, 4])),
                "ascending",
            ),
            ("no rows", section("n", 2, &one_int(5, &[])), "no rows"),
            (
                "values out of order",
                section(
                    "n",
                    2,
                    &[
                        words(&[2, 0, int(5), 1]),
                        rows(&[1]),
                        words(&[int(-5), 1]),
                        rows(&[2]),
                    ]
                    .concat(),
                ),
                "not after",
            ),
            (
                "NaN",
                section("x", 3, &one_int(f64::NAN.to_bits(), &[1])),
                "NaN",
            ),
            (
                "a bool of 2",
                section("ok", 4, &one_int(2, &[1])),
                "not 0 or 1",
            ),
            (
                "rows aside under a keyword index",
                section("t", 1, &[words(&[0, 1]), rows(&[1])].concat()),
                "only an integer index",
            ),
            (
                "a value not UTF-8",
                section(
                    "t",
                    1,
                    &[words(&[1, 0, 1]), vec![0xff], words(&[1]), rows(&[1])].concat(),
                ),
                "not UTF-8",
            ),
            (
                "a string longer than the body",
                section("t", 1, &words(&[1, 0, u64::MAX])),
                "runs past",
            ),
            (
                "a count beyond the body",
                section("n", 2, &words(&[u64::MAX, 0])),
                "runs past",
            ),
            (
                "bytes after the values",
                section("n", 2, &[one_int(5, &[1]), vec![0]].concat()),
                "after the last",
            ),
            (
                "a key that is no key path",
                section("a..b", 2, &one_int(5, &[1])),
                "not a key path",
            ),
            (
                "a key not UTF-8",
                section([0xff], 2, &one_int(5, &[1])),
                "not UTF-8",
            ),
        ];
        for (what, bytes, expect) in cases {
            match decode_section(&bytes, 8) {
                Err(Error::Corrupt { what: w, reason }) => {
                    assert!(w.contains("PAYLOAD_INDEXES"), "{what}: blamed {w}");
                    assert!(reason.contains(expect), "{what}: {reason}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        // The same key twice; entries outside the section; a header that promises more.
        let good = section("n", 2, &one_int(5, &[1]));
        let mut twice = good.clone();
        twice[0] = 2;
        twice.splice(
            HEADER + ENTRY..HEADER + ENTRY,
            good[HEADER..HEADER + ENTRY].to_vec(),
        );
        for e in [HEADER, HEADER + ENTRY] {
            for field in [e, e + 16] {
                let at = u64::from_le_bytes(twice[field..field + 8].try_into().unwrap());
                twice[field..field + 8].copy_from_slice(&(at + ENTRY as u64).to_le_bytes());
            }
        }
        assert!(
            matches!(decode_section(&twice, 8), Err(Error::Corrupt { reason, .. }) if reason.contains("twice"))
        );
        let mut outside = good.clone();
        outside[HEADER + 24..HEADER + 32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(
            matches!(decode_section(&outside, 8), Err(Error::Corrupt { reason, .. }) if reason.contains("outside"))
        );
        let mut many = good.clone();
        many[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            matches!(decode_section(&many, 8), Err(Error::Corrupt { reason, .. }) if reason.contains("do not fit"))
        );
        // An index of a type this build does not know is skipped; the good one still reads.
        assert_eq!(decode_section(&section("n", 99, &[]), 8).unwrap().len(), 0);
        assert_eq!(decode_section(&good, 8).unwrap().len(), 1);
    }

    /// Every single-byte change and every truncation of a real section is read or refused,
    /// never a panic.
    #[test]
    fn damaged_sections_never_panic() {
        let built: Vec<PayloadIndex> = indexes();
        let n = 64;
        let small: Vec<PayloadIndex> = built
            .iter()
            .map(|i| {
                PayloadIndex::build(i.key().as_str(), i.kind(), n, |r| {
                    Ok(Some(std::borrow::Cow::Owned(payload(r))))
                })
                .unwrap()
            })
            .collect();
        let rows: Vec<u32> = (0..n as u32).collect();
        let parts: Vec<Parts<'_>> = small.iter().map(|i| vec![(i, rows.as_slice())]).collect();
        let bytes = encode_section(&parts);
        for len in 0..bytes.len() {
            let _ = decode_section(&bytes[..len], n);
        }
        for i in 0..bytes.len() {
            for flip in [1u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let _ = decode_section(&b, n);
            }
        }
    }
}
