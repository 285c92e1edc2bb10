//! Maximal marginal relevance (Carbonell & Goldstein, 1998): from the closest candidates to a
//! query, pick results that are both relevant to it and unlike the ones already picked.
//!
//! Both terms are cosine similarities of the vectors, whatever the collection's metric, so
//! `lambda` weighs quantities on one scale: each step picks the candidate maximising
//! `lambda * cos(query, c) - (1 - lambda) * max(cos(c, s) for s already picked)`. A zero vector
//! is similar to nothing (cosine 0). Ties go to the candidate listed first, that is the closer
//! one in the search's order.

use crate::config::Metric;
use crate::distance::Kernels;
use crate::error::{Error, Result};

/// Checks a diversity weight: `lambda` in [0, 1] (1 ranks by relevance alone, 0 by diversity
/// alone).
pub(crate) fn check_lambda(lambda: f32) -> Result<()> {
    if (0.0..=1.0).contains(&lambda) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "the MMR weight lambda must be between 0 and 1, got {lambda}"
        )))
    }
}

/// Picks up to `k` of `candidates` (vectors of the query's length) by maximal marginal
/// relevance; returns their indexes in the order picked.
pub(crate) fn select(query: &[f32], candidates: &[&[f32]], k: usize, lambda: f32) -> Vec<usize> {
    let dot = Kernels::detected().f32_for(Metric::Dot);
    let unit = |v: &[f32]| -> Vec<f32> {
        let norm = dot(v, v).sqrt();
        if norm > 0.0 && norm.is_finite() {
            v.iter().map(|x| x / norm).collect()
        } else {
            vec![0.0; v.len()]
        }
    };
    let q = unit(query);
    let units: Vec<Vec<f32>> = candidates.iter().map(|c| unit(c)).collect();
    let relevance: Vec<f32> = units.iter().map(|u| dot(&q, u)).collect();
    // The highest similarity of each candidate to anything picked so far.
    let mut redundancy = vec![f32::NEG_INFINITY; units.len()];
    let mut picked = vec![false; units.len()];
    let mut order = Vec::with_capacity(k.min(units.len()));
    while order.len() < k.min(units.len()) {
        let mut best: Option<(usize, f32)> = None;
        for (i, &rel) in relevance.iter().enumerate() {
            if picked[i] {
                continue;
            }
            let penalty = if order.is_empty() { 0.0 } else { redundancy[i] };
            let score = lambda * rel - (1.0 - lambda) * penalty;
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((i, score));
            }
        }
        let Some((chosen, _)) = best else { break };
        picked[chosen] = true;
        order.push(chosen);
        for (i, u) in units.iter().enumerate() {
            if !picked[i] {
                redundancy[i] = redundancy[i].max(dot(u, &units[chosen]));
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_alone_keeps_the_search_order_and_diversity_skips_duplicates() {
        let q = [1.0, 0.0];
        let near = [1.0, 0.1];
        let twin = [1.0, 0.1];
        // 30 degrees the other side of the query: less relevant, but unlike `near`.
        let other = [0.866, -0.5];
        let cands: Vec<&[f32]> = vec![&near, &twin, &other];
        assert_eq!(select(&q, &cands, 3, 1.0), vec![0, 1, 2]);
        // With diversity weighed, the twin of the first pick comes last.
        assert_eq!(select(&q, &cands, 3, 0.5), vec![0, 2, 1]);
        assert_eq!(select(&q, &cands, 2, 0.5), vec![0, 2]);
        assert_eq!(select(&q, &cands, 10, 0.5).len(), 3);
        assert!(select(&q, &[], 3, 0.5).is_empty());
    }

    #[test]
    fn zero_vectors_are_similar_to_nothing() {
        let q = [0.0, 0.0];
        let a = [1.0, 0.0];
        let z = [0.0, 0.0];
        assert_eq!(select(&q, &[&a, &z], 2, 0.5), vec![0, 1]);
    }

    #[test]
    fn lambda_is_checked() {
        for bad in [-0.1, 1.5, f32::NAN] {
            assert!(check_lambda(bad).is_err());
        }
        assert!(check_lambda(0.0).is_ok() && check_lambda(1.0).is_ok());
    }
}
