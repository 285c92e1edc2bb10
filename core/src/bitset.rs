//! A fixed-size set of row numbers.

/// Bits for rows `0..len`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bitset {
    words: Vec<u64>,
    len: usize,
    ones: usize,
}

impl Bitset {
    pub(crate) fn new(len: usize) -> Bitset {
        Bitset {
            words: vec![0; len.div_ceil(64)],
            len,
            ones: 0,
        }
    }

    pub(crate) fn contains(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Adds `i` (< len); returns whether it was absent.
    pub(crate) fn insert(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        let absent = self.words[w] & b == 0;
        self.words[w] |= b;
        self.ones += usize::from(absent);
        absent
    }

    /// Removes `i`; returns whether it was present.
    pub(crate) fn remove(&mut self, i: usize) -> bool {
        if i >= self.len {
            return false;
        }
        let (w, b) = (i / 64, 1u64 << (i % 64));
        let present = self.words[w] & b != 0;
        self.words[w] &= !b;
        self.ones -= usize::from(present);
        present
    }

    /// Extends the set to rows `0..len` (new rows absent); never shrinks it.
    pub(crate) fn grow(&mut self, len: usize) {
        if len > self.len {
            self.words.resize(len.div_ceil(64), 0);
            self.len = len;
        }
    }

    /// How many rows are in the set.
    pub(crate) fn count(&self) -> usize {
        self.ones
    }

    /// Makes the set cover rows `0..len`: rows beyond a shorter length are dropped, new rows
    /// are absent.
    fn resize(&mut self, len: usize) {
        self.words.resize(len.div_ceil(64), 0);
        self.len = len;
        self.clear_tail();
        self.recount();
    }

    /// Clears the bits past `len` in the last word.
    fn clear_tail(&mut self) {
        if !self.len.is_multiple_of(64) {
            if let Some(last) = self.words.last_mut() {
                *last &= (1 << (self.len % 64)) - 1;
            }
        }
    }

    fn recount(&mut self) {
        self.ones = self.words.iter().map(|w| w.count_ones() as usize).sum();
    }

    /// The set of the listed rows; rows `>= len` are left out. Word by word, with no per-row
    /// bookkeeping, so building the mask of a large filter costs little beside the walk it serves.
    pub(crate) fn from_rows(rows: &[u32], len: usize) -> Bitset {
        let mut b = Bitset::new(len);
        mark(
            &mut b.words,
            rows.iter().copied().filter(|&r| (r as usize) < len),
        );
        b.recount();
        b
    }
}

/// A set of rows, as an ascending list or as a bitmap, whichever the operation that made it
/// produces cheaply: a filter's answer stays a bitmap from a `must_not` or a wide `should`
/// through to the graph walk that reads it as a bitmap, without listing its rows in between.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RowSet {
    /// Ascending, distinct rows.
    List(Vec<u32>),
    Bits(Bitset),
}

impl RowSet {
    /// `rows` (any order, duplicates allowed, every row `< len`) as a set: a sorted list when
    /// they are few for their range, otherwise marked in a bitmap (linear, no sort).
    pub(crate) fn from_rows(mut rows: Vec<u32>, len: usize) -> RowSet {
        if rows.len().saturating_mul(64) < len {
            rows.sort_unstable();
            rows.dedup();
            return RowSet::List(rows);
        }
        let mut b = Bitset::new(len);
        for r in rows {
            b.words[r as usize / 64] |= 1 << (r % 64);
        }
        b.recount();
        RowSet::Bits(b)
    }

    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        match self {
            RowSet::List(l) => l.len(),
            RowSet::Bits(b) => b.count(),
        }
    }

    /// The rows, ascending.
    pub(crate) fn into_list(self) -> Vec<u32> {
        match self {
            RowSet::List(l) => l,
            RowSet::Bits(b) => ones(&b.words),
        }
    }

    /// The rows as a bitmap over `0..len` (rows `>= len` left out).
    pub(crate) fn into_bits(self, len: usize) -> Bitset {
        match self {
            RowSet::List(l) => Bitset::from_rows(&l, len),
            RowSet::Bits(mut b) => {
                b.resize(len);
                b
            }
        }
    }

    /// The rows as a bitmap over `0..len`, borrowed when the set is one already.
    pub(crate) fn bits(&self, len: usize) -> std::borrow::Cow<'_, Bitset> {
        match self {
            RowSet::Bits(b) if b.len == len => std::borrow::Cow::Borrowed(b),
            other => std::borrow::Cow::Owned(other.clone().into_bits(len)),
        }
    }

    /// The rows in both.
    pub(crate) fn intersect(self, other: RowSet) -> RowSet {
        match (self, other) {
            (RowSet::List(a), RowSet::List(b)) => RowSet::List(intersect(&a, &b)),
            (RowSet::List(l), RowSet::Bits(b)) | (RowSet::Bits(b), RowSet::List(l)) => {
                RowSet::List(l.into_iter().filter(|&r| b.contains(r as usize)).collect())
            }
            (RowSet::Bits(mut a), RowSet::Bits(b)) => {
                a.resize(a.len.min(b.len));
                for (x, y) in a.words.iter_mut().zip(&b.words) {
                    *x &= y;
                }
                a.recount();
                RowSet::Bits(a)
            }
        }
    }

    /// Rows `0..len` not in the set, as a bitmap.
    pub(crate) fn complement(self, len: usize) -> RowSet {
        let mut b = self.into_bits(len);
        for w in &mut b.words {
            *w = !*w;
        }
        b.clear_tail();
        b.recount();
        RowSet::Bits(b)
    }

    /// The rows in any of `parts`, each a set of rows `< len`: a bitmap if any part is one or
    /// the rows are many for their range, otherwise a list.
    pub(crate) fn union(parts: Vec<RowSet>, len: usize) -> RowSet {
        let total: usize = parts.iter().map(RowSet::len).sum();
        let any_bits = parts.iter().any(|p| matches!(p, RowSet::Bits(_)));
        if !any_bits && total.saturating_mul(64) < len {
            let rows = parts.into_iter().flat_map(RowSet::into_list).collect();
            return RowSet::from_rows(rows, len);
        }
        let mut b = Bitset::new(len);
        for p in parts {
            match p {
                RowSet::List(l) => {
                    mark(&mut b.words, l.into_iter().filter(|&r| (r as usize) < len))
                }
                RowSet::Bits(o) => {
                    for (x, y) in b.words.iter_mut().zip(&o.words) {
                        *x |= y;
                    }
                }
            }
        }
        b.clear_tail();
        b.recount();
        RowSet::Bits(b)
    }

    /// The set without the rows of `dead`.
    pub(crate) fn without(self, dead: Option<&Bitset>) -> RowSet {
        let Some(d) = dead.filter(|d| d.count() > 0) else {
            return self;
        };
        match self {
            RowSet::List(l) => {
                RowSet::List(l.into_iter().filter(|&r| !d.contains(r as usize)).collect())
            }
            RowSet::Bits(mut b) => {
                for (x, y) in b.words.iter_mut().zip(&d.words) {
                    *x &= !y;
                }
                b.recount();
                RowSet::Bits(b)
            }
        }
    }
}

/// The intersection of two ascending row lists.
pub(crate) fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Sets the bits of `rows` (each `< 64 * words.len()`). The bits of one word are gathered in a
/// register while the rows stay in it (rows mostly come ascending), so consecutive rows do not
/// wait on each other's store to the same word.
fn mark(words: &mut [u64], rows: impl Iterator<Item = u32>) {
    let (mut at, mut bits) = (0usize, 0u64);
    for r in rows {
        let w = r as usize / 64;
        if w != at {
            words[at] |= bits;
            (at, bits) = (w, 0);
        }
        bits |= 1 << (r % 64);
    }
    if bits != 0 {
        words[at] |= bits;
    }
}

/// The positions of the set bits of `words`, ascending.
fn ones(words: &[u64]) -> Vec<u32> {
    let total: usize = words.iter().map(|w| w.count_ones() as usize).sum();
    let mut out = Vec::with_capacity(total);
    for (i, &w) in words.iter().enumerate() {
        let mut b = w;
        while b != 0 {
            out.push((i * 64) as u32 + b.trailing_zeros());
            b &= b - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complement_and_union_match_a_plain_reference() {
        for len in [0usize, 1, 63, 64, 65, 200] {
            let rows: Vec<u32> = (0..len as u32)
                .filter(|r| r % 3 == 0 || r % 7 == 2)
                .collect();
            let expect: Vec<u32> = (0..len as u32).filter(|r| !rows.contains(r)).collect();
            assert_eq!(
                RowSet::List(rows.clone()).complement(len).into_list(),
                expect,
                "len {len}"
            );
            let mut twice = rows.clone();
            twice.extend(rows.iter().rev());
            let set = RowSet::from_rows(twice.clone(), len);
            assert!(len == 0 || matches!(set, RowSet::Bits(_)));
            assert_eq!(set.into_list(), rows, "len {len}");
            let set = RowSet::from_rows(twice.clone(), 64 * twice.len() + 1);
            assert!(matches!(set, RowSet::List(_)));
            assert_eq!(set.into_list(), rows, "len {len}, sorted");
            let b = Bitset::from_rows(&rows, len);
            assert_eq!(b.count(), rows.len());
            assert!((0..len).all(|r| b.contains(r) == rows.contains(&(r as u32))));
        }
        assert_eq!(Bitset::from_rows(&[5, 500], 10).count(), 1);
    }

    /// Every operation on every pairing of representations against plain set arithmetic.
    #[test]
    fn row_sets_agree_in_both_forms() {
        let len = 300usize;
        let a: Vec<u32> = (0..len as u32).filter(|r| r % 5 == 1 || *r > 250).collect();
        let b: Vec<u32> = (0..len as u32).filter(|r| r % 3 == 0).collect();
        let dead = Bitset::from_rows(&[1, 3, 6, 299], len);
        let forms = |rows: &[u32]| {
            [
                RowSet::List(rows.to_vec()),
                RowSet::Bits(Bitset::from_rows(rows, len)),
            ]
        };
        let has = |rows: &[u32], r: u32| rows.contains(&r);
        for x in forms(&a) {
            assert_eq!(x.len(), a.len());
            assert_eq!(x.clone().into_list(), a);
            let not: Vec<u32> = (0..len as u32).filter(|&r| !has(&a, r)).collect();
            assert_eq!(x.clone().complement(len).into_list(), not);
            let live: Vec<u32> = a
                .iter()
                .copied()
                .filter(|&r| !dead.contains(r as usize))
                .collect();
            assert_eq!(x.clone().without(Some(&dead)).into_list(), live);
            assert_eq!(x.clone().without(None).into_list(), a);
            assert_eq!(x.bits(len).count(), a.len());
            for y in forms(&b) {
                let both: Vec<u32> = a.iter().copied().filter(|&r| has(&b, r)).collect();
                assert_eq!(x.clone().intersect(y.clone()).into_list(), both);
                let either: Vec<u32> = (0..len as u32)
                    .filter(|&r| has(&a, r) || has(&b, r))
                    .collect();
                let u = RowSet::union(vec![x.clone(), y.clone()], len);
                assert_eq!(u.len(), either.len());
                assert_eq!(u.into_list(), either);
            }
        }
        // A short bitmap (rows added since it was made) reads as absent past its end.
        let short = RowSet::Bits(Bitset::from_rows(&[1, 2], 3));
        assert_eq!(short.clone().complement(5).into_list(), vec![0, 3, 4]);
        assert_eq!(short.bits(70).count(), 2);
    }
}
