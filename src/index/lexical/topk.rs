//! Exact top-k selection over a dense score array.

/// A top-k entry ordered by score, then by lower segment and document first; packed so that
/// comparisons are integer comparisons. Positive finite scores keep their order as bits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Ranked {
    score_bits: u32,
    inv_seg: u32,
    inv_doc: u32,
}

impl Ranked {
    pub(super) fn new(score: f32, seg: u32, doc: u32) -> Ranked {
        Ranked {
            score_bits: score.to_bits(),
            inv_seg: u32::MAX - seg,
            inv_doc: u32::MAX - doc,
        }
    }
}

/// The `k` highest positive scores whose index `accept`s, best first (ties: lower index
/// first). Exact. A strided sample gives a lower bound on the k-th score first, so only
/// the few documents above it are sorted; if that bound turns out too high (fewer than `k`
/// accepted documents reach it), every positive score is considered.
///
/// `dense` says most scores are positive (the query's postings outnumber the documents); for
/// sparse score arrays a single pass with a bounded heap is cheaper.
pub fn select_top_k(
    scores: &[f32],
    k: usize,
    dense: bool,
    accept: impl Fn(usize) -> bool,
) -> Vec<(f32, u32)> {
    if k == 0 {
        return Vec::new();
    }
    if !dense {
        return heap_top_k(scores, k, accept);
    }
    const STRIDE: usize = 8;
    let mut threshold = f32::MIN_POSITIVE;
    if scores.len() >= k * STRIDE * 4 {
        let mut sample: Vec<f32> = scores
            .iter()
            .step_by(STRIDE)
            .copied()
            .filter(|s| *s > 0.0)
            .collect();
        // the sample's (2k/STRIDE)-th best is, in expectation, the 2k-th best overall: below
        // the k-th best, so usually at least k documents reach it
        let rank = (2 * k).div_ceil(STRIDE);
        if sample.len() > rank {
            let (_, nth, _) = sample.select_nth_unstable_by(rank - 1, |a, b| b.total_cmp(a));
            threshold = threshold.max(*nth);
        }
    }
    let collect = |t: f32| -> Vec<(f32, u32)> {
        scores
            .iter()
            .enumerate()
            .filter(|&(d, &s)| s >= t && s > 0.0 && accept(d))
            .map(|(d, &s)| (s, d as u32))
            .collect()
    };
    let mut found = collect(threshold);
    if found.len() < k && threshold > f32::MIN_POSITIVE {
        found = collect(f32::MIN_POSITIVE);
    }
    let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if found.len() > k {
        found.select_nth_unstable_by(k - 1, order);
        found.truncate(k);
    }
    found.sort_unstable_by(order);
    found
}

/// [`select_top_k`] with a bounded min-heap: one pass, work proportional to the number of
/// times the k-th best score improves.
pub(super) fn heap_top_k(
    scores: &[f32],
    k: usize,
    accept: impl Fn(usize) -> bool,
) -> Vec<(f32, u32)> {
    use std::cmp::Reverse;
    let mut heap: std::collections::BinaryHeap<Reverse<Ranked>> =
        std::collections::BinaryHeap::with_capacity(k + 1);
    let mut min_score = 0.0f32;
    for (d, &s) in scores.iter().enumerate() {
        if s <= min_score || !accept(d) {
            continue;
        }
        let entry = Reverse(Ranked::new(s, 0, d as u32));
        if heap.len() < k {
            heap.push(entry);
        } else if let Some(mut min) = heap.peek_mut() {
            *min = entry;
        }
        if heap.len() == k {
            min_score = heap.peek().map_or(0.0, |m| f32::from_bits(m.0.score_bits));
        }
    }
    let mut out: Vec<(f32, u32)> = heap
        .into_iter()
        .map(|Reverse(r)| (f32::from_bits(r.score_bits), u32::MAX - r.inv_doc))
        .collect();
    out.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(scores: &[f32], k: usize, accept: impl Fn(usize) -> bool) -> Vec<(f32, u32)> {
        let mut v: Vec<(f32, u32)> = scores
            .iter()
            .enumerate()
            .filter(|&(d, &s)| s > 0.0 && accept(d))
            .map(|(d, &s)| (s, d as u32))
            .collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        v.truncate(k);
        v
    }

    proptest! {
        /// Both top-k strategies give exactly the k best positive scores, ties by lower index.
        #[test]
        fn top_k_matches_a_full_sort(
            scores in proptest::collection::vec(prop_oneof![Just(0.0f32), 0.0f32..10.0, Just(1.5f32)], 0..5000),
            k in 1usize..150,
            dense in any::<bool>(),
            modulo in 1usize..4,
        ) {
            let accept = |d: usize| d.is_multiple_of(modulo);
            prop_assert_eq!(select_top_k(&scores, k, dense, accept), naive(&scores, k, accept));
        }
    }
}
