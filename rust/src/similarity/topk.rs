//! [`TopK`]: the best `k` (position, score) pairs seen so far for one query.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::errors::{Result, SparkdlError};

/// One candidate: an index row's global position and its score.
#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f32,
    position: u64,
}

impl Entry {
    /// Whether `self` ranks above, equal to or below `other`: the higher
    /// score first, then the smaller position. Scores are never NaN (see
    /// [`TopK::push`]), and 0.0 and -0.0 compare equal.
    fn rank(&self, other: &Entry) -> Ordering {
        let by_score = if self.score > other.score {
            Ordering::Greater
        } else if self.score < other.score {
            Ordering::Less
        } else {
            Ordering::Equal
        };
        by_score.then_with(|| other.position.cmp(&self.position))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Greater means better ([`Entry::rank`]).
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// The best `k` index rows for one query, as (global position, score) pairs.
///
/// "Best" is the higher score; equal scores rank the smaller position first,
/// so with an index sorted by id the smaller id wins a tie. A list never
/// holds more than `k` pairs and never a NaN score.
///
/// Lists built from different index blocks combine with [`TopK::merge`]
/// into the list one pass over all the blocks would give, in any grouping
/// and order.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    /// A min-heap on rank: the worst kept candidate is on top, the first to go.
    heap: BinaryHeap<Reverse<Entry>>,
}

impl TopK {
    /// An empty list keeping at most `k` pairs; `k` must be at least 1.
    pub fn new(k: usize) -> Result<TopK> {
        if k == 0 {
            return Err(SparkdlError::InvalidArgument(
                "k must be at least 1: it is how many nearest neighbours to keep per query".to_string(),
            ));
        }
        Ok(TopK::with_capacity(k, 0))
    }

    /// An empty list keeping at most `k >= 1` pairs, with room reserved for
    /// `capacity` of them (callers pass the most they can push, so a huge
    /// `k` does not reserve memory it will never use).
    pub(crate) fn with_capacity(k: usize, capacity: usize) -> TopK {
        debug_assert!(k >= 1);
        TopK { k, heap: BinaryHeap::with_capacity(capacity.min(k)) }
    }

    /// How many pairs the list keeps at most.
    pub fn k(&self) -> usize {
        self.k
    }

    /// How many pairs the list holds now (at most [`TopK::k`]).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether the list holds no pair yet.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Offers the index row at global `position` with `score`; returns
    /// whether it was kept. A NaN score is never kept; -0.0 is kept as 0.0.
    /// A position should be offered once: the list does not look for
    /// duplicates.
    #[inline]
    pub fn push(&mut self, position: u64, score: f32) -> bool {
        if score.is_nan() {
            return false;
        }
        // Adding +0.0 turns -0.0 into 0.0 and leaves every other value alone.
        self.push_entry(Entry { score: score + 0.0, position })
    }

    #[inline]
    fn push_entry(&mut self, entry: Entry) -> bool {
        if self.heap.len() < self.k {
            self.heap.push(Reverse(entry));
            return true;
        }
        match self.heap.peek_mut() {
            // Only a replaced top is sifted down again, so a rejected
            // candidate costs one comparison.
            Some(mut worst) if entry > worst.0 => {
                *worst = Reverse(entry);
                true
            }
            _ => false,
        }
    }

    /// The best pairs of both lists, as one list keeping the smaller of the
    /// two `k`s (each list holds its own best `k`, so together they hold
    /// the best of that many of the union). Merging is associative and
    /// commutative: lists from the blocks of a split index give the result
    /// of one pass over the whole index, however they are combined. The two
    /// lists must come from different index rows (different blocks): a
    /// position present in both would be kept twice.
    pub fn merge(self, other: TopK) -> TopK {
        let (mut base, extra) = if self.heap.len() >= other.heap.len() { (self, other) } else { (other, self) };
        base.k = base.k.min(extra.k);
        while base.heap.len() > base.k {
            base.heap.pop();
        }
        for Reverse(entry) in extra.heap {
            base.push_entry(entry);
        }
        base
    }

    /// The score a new pair must reach to be kept: the worst kept score
    /// once the list is full (reaching it exactly, the position decides),
    /// -inf before.
    #[inline]
    pub fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(Reverse(worst)) if self.heap.len() >= self.k => worst.score,
            _ => f32::NEG_INFINITY,
        }
    }

    /// The pairs as (global position, score), best first.
    pub fn into_sorted(self) -> Vec<(u64, f32)> {
        let mut entries: Vec<Entry> = self.heap.into_iter().map(|Reverse(entry)| entry).collect();
        entries.sort_unstable_by(|a, b| b.rank(a));
        entries.into_iter().map(|entry| (entry.position, entry.score)).collect()
    }

    /// The positions held, in no particular order.
    pub(crate) fn positions(&self) -> impl Iterator<Item = u64> + '_ {
        self.heap.iter().map(|Reverse(entry)| entry.position)
    }
}
