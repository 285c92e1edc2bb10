//! `LineVec<T>`: a growable buffer like `Vec<T>` whose first element starts on a 64-byte cache
//! line, for the rows graph walks read at random (stored vectors, quantized codes).
//!
//! Key design decision: a row should lie on as few cache lines as its size allows, as it does
//! in a memory-mapped file (sections there are 64-byte aligned). A `Vec<f32>` of a large
//! collection starts 16 bytes past a page (the allocator's block header), so every 1,536-byte
//! row of a 384-d collection lay on 25 lines instead of 24, and a 384-byte int8 code on 7
//! instead of 6: one more line of memory traffic per row scored. The buffer is a `Vec` of
//! 64-byte, 64-aligned lines viewed as `[T]`, so it needs no unsafe code.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use bytemuck::{Pod, Zeroable};

/// One cache line of bytes; its alignment is what aligns the buffer.
#[derive(Clone, Copy, Zeroable, Pod)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// A growable buffer of `T` starting on a cache line. `T`'s size must divide 64.
pub(crate) struct LineVec<T> {
    /// Whole lines holding at least `len` elements.
    lines: Vec<Line>,
    len: usize,
    elem: PhantomData<T>,
}

impl<T: Pod> LineVec<T> {
    /// Lines holding `n` elements.
    fn lines_for(n: usize) -> usize {
        const { assert!(64 % size_of::<T>() == 0, "element size must divide 64") };
        (n * size_of::<T>()).div_ceil(64)
    }

    pub(crate) fn new() -> LineVec<T> {
        LineVec {
            lines: Vec::new(),
            len: 0,
            elem: PhantomData,
        }
    }

    /// An empty buffer with room for `n` elements, advised for huge pages.
    pub(crate) fn with_capacity(n: usize) -> LineVec<T> {
        let mut v = LineVec::new();
        v.reserve(n);
        v
    }

    /// `n` zero elements, advised for huge pages.
    pub(crate) fn zeroed(n: usize) -> LineVec<T> {
        let mut v = LineVec::new();
        v.grow_to(n);
        v
    }

    /// Makes room for `additional` more elements; a new allocation is advised for huge pages
    /// ([`crate::huge_pages::reserve`]) before anything is written to it.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let more = LineVec::<T>::lines_for(self.len + additional).saturating_sub(self.lines.len());
        crate::huge_pages::reserve(&mut self.lines, more);
    }

    /// Sets the length to `n` (>= the current length); new elements are zero bytes.
    fn grow_to(&mut self, n: usize) {
        self.reserve(n - self.len);
        self.lines
            .resize(LineVec::<T>::lines_for(n), Line::zeroed());
        self.len = n;
    }

    pub(crate) fn push(&mut self, x: T) {
        let at = self.len;
        self.grow_to(at + 1);
        self[at] = x;
    }

    pub(crate) fn extend_from_slice(&mut self, xs: &[T]) {
        let at = self.len;
        self.grow_to(at + xs.len());
        self[at..].copy_from_slice(xs);
    }

    /// Shortens to `n` elements (nothing when already as short).
    pub(crate) fn truncate(&mut self, n: usize) {
        if n < self.len {
            self.len = n;
            self.lines.truncate(LineVec::<T>::lines_for(n));
            // The rest of the last line is zeroed again, as `grow_to` promises.
            bytemuck::cast_slice_mut::<Line, u8>(&mut self.lines)[n * size_of::<T>()..].fill(0);
        }
    }
}

impl<T: Pod> Extend<T> for LineVec<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        let mut items = items.into_iter();
        // Grown once for the items the iterator promises and written in place (growing per
        // item cost a tenth of a disk-tier sweep's profile, in learning codes at open).
        let start = self.len;
        self.grow_to(start + items.size_hint().0);
        let mut written = 0;
        for (slot, x) in self[start..].iter_mut().zip(&mut items) {
            *slot = x;
            written += 1;
        }
        // Fewer than promised leaves zeros past them; more are pushed one by one.
        self.truncate(start + written);
        for x in items {
            self.push(x);
        }
    }
}

impl<T: Pod> Default for LineVec<T> {
    fn default() -> LineVec<T> {
        LineVec::new()
    }
}

impl<T: Pod> Deref for LineVec<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &bytemuck::cast_slice(&self.lines)[..self.len]
    }
}

impl<T: Pod> DerefMut for LineVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut bytemuck::cast_slice_mut(&mut self.lines)[..self.len]
    }
}

impl<T: Pod> Clone for LineVec<T> {
    fn clone(&self) -> LineVec<T> {
        LineVec {
            lines: self.lines.clone(),
            len: self.len,
            elem: PhantomData,
        }
    }
}

impl<T: Pod + PartialEq> PartialEq for LineVec<T> {
    fn eq(&self, other: &LineVec<T>) -> bool {
        **self == **other
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for LineVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_shrinks_and_stays_on_a_line() {
        let mut v: LineVec<f32> = LineVec::with_capacity(3);
        let mut reference: Vec<f32> = Vec::new();
        for i in 0..1000 {
            v.push(i as f32);
            reference.push(i as f32);
            assert_eq!(v.as_ptr() as usize % 64, 0);
        }
        v.extend_from_slice(&[-1.0, -2.0]);
        reference.extend_from_slice(&[-1.0, -2.0]);
        v.extend((0..37).map(|i| i as f32 * 0.5));
        reference.extend((0..37).map(|i| i as f32 * 0.5));
        assert_eq!(&*v, reference.as_slice());
        v.truncate(17);
        reference.truncate(17);
        assert_eq!(&*v, reference.as_slice());
        // Growing again after a truncation shows the new values, never the old ones.
        v.extend_from_slice(&[7.0; 20]);
        reference.extend_from_slice(&[7.0; 20]);
        assert_eq!(&*v, reference.as_slice());
        v.truncate(100);
        assert_eq!(v.len(), 37);
        let copy = v.clone();
        assert_eq!(copy, v);
        assert_eq!(copy.as_ptr() as usize % 64, 0);
        // Iterators that promise more or fewer items than they give.
        struct Lying(std::ops::Range<u64>, usize);
        impl Iterator for Lying {
            type Item = u64;
            fn next(&mut self) -> Option<u64> {
                self.0.next()
            }
            fn size_hint(&self) -> (usize, Option<usize>) {
                (self.1, None)
            }
        }
        let mut words: LineVec<u64> = LineVec::new();
        words.extend(Lying(0..5, 9));
        words.extend(Lying(5..30, 2));
        assert_eq!(&*words, (0..30).collect::<Vec<u64>>().as_slice());
        let mut bytes: LineVec<i8> = LineVec::new();
        bytes.extend([1i8, 2, 3]);
        assert_eq!(&*bytes, &[1, 2, 3]);
        assert!(LineVec::<u64>::new().is_empty());
    }
}
