//! Bounded top-k selection.
//!
//! Candidates are ranked by a "rank score" where higher is always closer (distances are
//! negated by the caller) and ties go to the lower row offset, so results are deterministic and
//! independent of how the scan was split across threads.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub(crate) score: f32,
    pub(crate) offset: u32,
}

impl Ord for Candidate {
    /// Greater means closer: higher score, then lower offset.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.offset.cmp(&self.offset))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// Keeps the `cap` closest candidates seen; the heap's root is the worst one kept.
#[derive(Debug, Clone)]
pub(crate) struct TopK {
    cap: usize,
    heap: BinaryHeap<Reverse<Candidate>>,
}

impl TopK {
    pub(crate) fn new(cap: usize) -> TopK {
        TopK {
            cap,
            // Bounded by cap, which the caller has already clamped to the candidate count.
            heap: BinaryHeap::with_capacity(cap.min(1 << 16)),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, score: f32, offset: u32) {
        // A NaN score (an overflowing dot product) ranks below everything.
        let score = if score.is_nan() {
            f32::NEG_INFINITY
        } else {
            score
        };
        let c = Candidate { score, offset };
        if self.heap.len() < self.cap {
            self.heap.push(Reverse(c));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if c > worst.0 {
                *worst = Reverse(c);
            }
        }
    }

    #[cfg(any(feature = "parallel", test))]
    pub(crate) fn merge(&mut self, other: TopK) {
        for Reverse(c) in other.heap {
            self.push(c.score, c.offset);
        }
    }

    /// The kept candidates, closest first.
    pub(crate) fn into_sorted(self) -> Vec<Candidate> {
        // into_sorted_vec is ascending in Reverse order, i.e. closest first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(c)| c)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::TopK;

    #[test]
    fn keeps_the_best_with_offset_tiebreak() {
        let mut t = TopK::new(3);
        for (i, s) in [0.5f32, 0.9, 0.1, 0.9, f32::NAN, 0.7, 0.9]
            .into_iter()
            .enumerate()
        {
            t.push(s, i as u32);
        }
        let got: Vec<(f32, u32)> = t
            .into_sorted()
            .into_iter()
            .map(|c| (c.score, c.offset))
            .collect();
        assert_eq!(got, vec![(0.9, 1), (0.9, 3), (0.9, 6)]);
    }

    #[test]
    fn merge_equals_single_pass() {
        let scores: Vec<f32> = (0..100).map(|i| ((i * 37) % 101) as f32).collect();
        let mut whole = TopK::new(10);
        let (mut a, mut b) = (TopK::new(10), TopK::new(10));
        for (i, &s) in scores.iter().enumerate() {
            whole.push(s, i as u32);
            if i % 2 == 0 {
                a.push(s, i as u32)
            } else {
                b.push(s, i as u32)
            }
        }
        a.merge(b);
        let key = |t: TopK| {
            t.into_sorted()
                .into_iter()
                .map(|c| c.offset)
                .collect::<Vec<_>>()
        };
        assert_eq!(key(a), key(whole));
    }

    #[test]
    fn zero_cap_keeps_nothing() {
        let mut t = TopK::new(0);
        t.push(1.0, 0);
        assert!(t.into_sorted().is_empty());
    }
}
