//! Value graphs: for a keyword payload index on a collection with an HNSW graph, a graph of its
//! own over the rows of each common value, linked only among themselves (Qdrant's
//! "payload-aware" links, kept as separate graphs).
//!
//! Why: a filter on one value of a topical field ("lexname is noun.animal") selects rows that
//! lie together in one region of the space. The main graph under such a filter is a poor
//! walk (a query from outside the region finds its rows all about equally far, and the walk
//! wanders among them: on wordnet five times slower than scanning them), so the planner
//! scanned them, and a scan of 7,000 rows of 1.5 KB is bound by memory traffic at about
//! 0.4 of an unfiltered search's speed. A graph over just those rows is walked like any small
//! HNSW graph, every row it meets allowed.
//!
//! Not under the dot product: it is no distance, and a graph of one region searched from
//! outside it finds the rows of largest projection poorly (recall@10 0.25 on the unit test's
//! clustered data, where the scan it replaces is exact).
//!
//! What is kept: per indexed keyword value held by at least [`VALUE_GRAPH_MIN_ROWS`] rows and
//! by at most half the rows (above that, the main graph's filtered walk passes few disallowed
//! rows anyway), the value's rows (`members`, ascending) and a graph over them numbered in
//! that order. A value graph is made when the index is made or the main graph is built (with
//! the main graph's parameters), grows with rows appended holding its value, and is made anew
//! at compaction. It never decides what a search returns, only how rows are found: rows that
//! gained the value by a payload update (not members) are scanned beside the walk, and
//! members that lost it, or were deleted, are outside the filter's rows, which the walk is
//! restricted to.

use std::borrow::Cow;

use crate::bitset::Bitset;
use crate::config::Metric;
use crate::filter::{Condition, FieldCheck, Filter, MatchValue};
use crate::index::hnsw::space::{with_space, Subset};
use crate::index::hnsw::{HnswGraph, HnswParams};
use crate::index::payload::PayloadIndex;
use crate::vectors::RowsRef;

/// Rows a value needs before it gets a graph: below this a scan of its rows costs about what
/// a walk does (wordnet: a filter on 3,549 rows is scanned at 0.88 of unfiltered speed).
pub(crate) const VALUE_GRAPH_MIN_ROWS: usize = 4096;

/// The graph over the rows of one keyword value.
#[derive(Debug, Clone)]
pub(crate) struct ValueGraph {
    key: String,
    value: String,
    /// The rows linked, ascending: row `members[i]` is node `i` of `graph`.
    members: Vec<u32>,
    /// The same rows as a set over the collection's rows.
    bits: Bitset,
    graph: HnswGraph,
}

impl ValueGraph {
    /// Links `members` (ascending rows of `rows`) into a graph of their own.
    fn build(
        key: &str,
        value: &str,
        members: Vec<u32>,
        (rows, dim, metric): (RowsRef<'_>, usize, Metric),
        params: HnswParams,
    ) -> ValueGraph {
        let (mut graph, pending) = HnswGraph::with_pending(params, members.len());
        link(&mut graph, &members, &pending, (rows, dim, metric));
        let span = members.last().map_or(0, |&r| r as usize + 1);
        ValueGraph {
            key: key.to_owned(),
            value: value.to_owned(),
            bits: Bitset::from_rows(&members, span),
            members,
            graph,
        }
    }

    /// Links `added` (ascending rows, all after the last member) into the graph.
    fn extend(&mut self, added: &[u32], (rows, dim, metric): (RowsRef<'_>, usize, Metric)) {
        let start = self.members.len() as u32;
        self.members.extend_from_slice(added);
        self.graph.append_empty(start..self.members.len() as u32);
        let pending: Vec<u32> = (start..self.members.len() as u32).collect();
        link(
            &mut self.graph,
            &self.members,
            &pending,
            (rows, dim, metric),
        );
        if let Some(&last) = added.last() {
            self.bits.grow(last as usize + 1);
        }
        for &r in added {
            self.bits.insert(r as usize);
        }
    }

    /// The rows linked, ascending (node `i` of [`ValueGraph::graph`] is row `members()[i]`).
    pub(crate) fn members(&self) -> &[u32] {
        &self.members
    }

    /// Whether row `r` is linked.
    pub(crate) fn contains(&self, r: u32) -> bool {
        self.bits.contains(r as usize)
    }

    /// The graph over the members.
    pub(crate) fn graph(&self) -> &HnswGraph {
        &self.graph
    }
}

/// Links `pending` nodes of `graph`, a graph over rows `members` of `rows` (by walking int8
/// codes of the members when there are many, as the main graph's build does).
fn link(
    graph: &mut HnswGraph,
    members: &[u32],
    pending: &[u32],
    (rows, dim, metric): (RowsRef<'_>, usize, Metric),
) {
    let row = |r: usize| Ok(Cow::Owned(rows.get(members[r] as usize, dim)));
    with_space!(rows, dim, metric, |space| graph.link_rows_fastest(
        &Subset {
            space,
            rows: members,
        },
        metric,
        dim,
        &row,
        pending,
        &mut |_| true
    ));
}

/// The value graphs of a collection's keyword indexes.
#[derive(Debug, Clone, Default)]
pub(crate) struct ValueGraphs(Vec<ValueGraph>);

impl ValueGraphs {
    /// Makes anew the graphs of `index`'s common values over `len` rows (replacing any on its
    /// key); nothing for an index that is not a keyword index.
    pub(crate) fn rebuild(
        &mut self,
        index: &PayloadIndex,
        len: usize,
        rows: (RowsRef<'_>, usize, Metric),
        params: HnswParams,
    ) {
        let key = index.key().as_str();
        self.drop_key(key);
        if rows.2 == Metric::Dot {
            return;
        }
        let mut common: Vec<(&str, &[u32])> = index
            .keyword_postings()
            .filter(|(_, m)| m.len() >= VALUE_GRAPH_MIN_ROWS && m.len() * 2 <= len)
            .collect();
        common.sort_unstable();
        for (value, members) in common {
            self.0.push(ValueGraph::build(
                key,
                value,
                members.to_vec(),
                rows,
                params,
            ));
        }
    }

    /// Links into each graph the rows its value's posting in `indexes` gained after its last
    /// member (rows appended since).
    pub(crate) fn extend(&mut self, indexes: &[PayloadIndex], rows: (RowsRef<'_>, usize, Metric)) {
        for g in &mut self.0 {
            let Some(index) = indexes.iter().find(|i| i.key().as_str() == g.key) else {
                continue;
            };
            let posting = index.keyword_rows(&g.value);
            let last = g.members.last().copied();
            let from = posting.partition_point(|&r| Some(r) <= last);
            if from < posting.len() {
                g.extend(&posting[from..], rows);
            }
        }
    }

    /// Drops the graphs of the index on `key`.
    pub(crate) fn drop_key(&mut self, key: &str) {
        self.0.retain(|g| g.key != key);
    }

    /// Drops every graph.
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Number of graphs.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The smallest graph of a value `f` requires (a top-level `must` condition matching one
    /// keyword), if any.
    pub(crate) fn for_filter(&self, f: &Filter) -> Option<&ValueGraph> {
        f.must
            .iter()
            .filter_map(|c| match c {
                Condition::Field(fc) => Some(fc),
                _ => None,
            })
            .flat_map(|fc| {
                fc.checks.iter().filter_map(move |check| match check {
                    FieldCheck::Value(MatchValue::Keyword(v)) => Some((fc.key.as_str(), v)),
                    _ => None,
                })
            })
            .filter_map(|(key, value)| self.0.iter().find(|g| g.key == key && g.value == *value))
            .min_by_key(|g| g.members.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use stratavec_testkit::Rng;

    use crate::config::CollectionConfig;
    use crate::point::{Payload, PointId, ScoredPoint};
    use crate::read::VALUE_WALKS;
    use crate::{Collection, Filter, Metric, PayloadIndexType, Quantization, SearchRequest};

    use super::*;

    const DIM: usize = 16;

    /// A point near centre `c` (three centres far apart), or anywhere for `c = 3`.
    fn point(rng: &mut Rng, c: usize) -> Vec<f32> {
        (0..DIM)
            .map(|d| {
                let centre = if c < 3 && d % 3 == c { 3.0 } else { 0.0 };
                let spread = if c < 3 { 0.6 } else { 2.0 };
                centre + spread * rng.signed()
            })
            .collect()
    }

    fn topic_payload(topic: &str, i: usize) -> Payload {
        serde_json::json!({"topic": topic, "i": i})
            .as_object()
            .unwrap()
            .clone()
    }

    /// 5,000 points of topic "a", 4,500 of "b" and 300 of "c", each around its own centre,
    /// and 2,200 of "d" anywhere; an HNSW graph and a keyword index on "topic".
    fn topics(metric: Metric) -> Collection {
        let mut rng = Rng::new(7);
        let mut col = Collection::new(CollectionConfig::new(DIM, metric)).unwrap();
        let mut vectors = Vec::new();
        let mut payloads = Vec::new();
        for (c, (topic, n)) in [("a", 5000), ("b", 4500), ("c", 300), ("d", 2200)]
            .into_iter()
            .enumerate()
        {
            for _ in 0..n {
                vectors.extend(point(&mut rng, c));
                payloads.push(topic_payload(topic, payloads.len()));
            }
        }
        let ids: Vec<PointId> = (0..payloads.len() as u64).map(PointId::Num).collect();
        col.upsert(&ids, &vectors, Some(payloads)).unwrap();
        col.build_index(HnswParams {
            m: 12,
            ef_construction: 80,
            ..HnswParams::default()
        })
        .unwrap();
        col.create_payload_index("topic", PayloadIndexType::Keyword)
            .unwrap();
        col
    }

    fn filter(json: serde_json::Value) -> Filter {
        Filter::from_json(&json).unwrap()
    }

    fn topic(t: &str) -> Filter {
        filter(serde_json::json!({"must": [{"key": "topic", "match": {"value": t}}]}))
    }

    /// Searches `col` with and without `exact`; returns (recall@10 of the approximate search,
    /// value graph walks it made).
    fn recall(col: &Collection, f: &Filter, queries: &[Vec<f32>]) -> (f64, usize) {
        let walks = VALUE_WALKS.with(|w| w.get());
        let mut found = 0;
        let mut wanted = 0;
        for q in queries {
            let request = SearchRequest::new(q, 10).with_filter(f);
            let approx = col.search(&request).unwrap();
            let walked = VALUE_WALKS.with(|w| w.get());
            let exact = col
                .search(&SearchRequest {
                    exact: true,
                    ..request
                })
                .unwrap();
            // An exact search never walks.
            assert_eq!(VALUE_WALKS.with(|w| w.get()), walked);
            for hit in &approx {
                let p = hit.payload.as_ref().unwrap();
                assert!(
                    f.matches(hit.id, p),
                    "{:?} does not pass the filter",
                    hit.id
                );
            }
            let truth: HashSet<PointId> = exact.iter().map(|h| h.id).collect();
            wanted += truth.len();
            found += approx.iter().filter(|h| truth.contains(&h.id)).count();
        }
        let walks = VALUE_WALKS.with(|w| w.get()) - walks;
        (found as f64 / wanted.max(1) as f64, walks)
    }

    /// Queries from everywhere: near each centre and anywhere.
    fn queries(n: usize) -> Vec<Vec<f32>> {
        let mut rng = Rng::new(99);
        (0..n).map(|i| point(&mut rng, i % 4)).collect()
    }

    fn graphs(col: &Collection) -> &ValueGraphs {
        crate::read::PointSource::value_graphs(col).unwrap()
    }

    fn top_id(hits: &[ScoredPoint]) -> Option<PointId> {
        hits.first().map(|h| h.id)
    }

    #[test]
    fn common_values_get_graphs_that_searches_walk_with_recall() {
        for metric in [Metric::Cosine, Metric::Euclid, Metric::Manhattan] {
            let col = topics(metric);
            // "a" and "b" are common; "c" is too small and "d" would do as well; no key but
            // "topic" is indexed.
            assert_eq!(graphs(&col).len(), 2, "{metric:?}");
            let qs = queries(60);
            for t in ["a", "b"] {
                let (r, walks) = recall(&col, &topic(t), &qs);
                assert_eq!(walks, qs.len(), "{metric:?} topic {t}: every search walks");
                assert!(r >= 0.95, "{metric:?} topic {t}: recall@10 {r:.3}");
            }
            // A small value is scanned (exact), as before.
            let (r, walks) = recall(&col, &topic("c"), &qs);
            assert_eq!((r, walks), (1.0, 0), "{metric:?} topic c");
            // A conjunction inside a value: the graph is walked restricted to the rows passing
            // both, or the few rows scanned, whichever the planner finds cheaper; either way
            // only passing rows come back with recall.
            let both = filter(serde_json::json!({"must": [
                {"key": "topic", "match": {"value": "a"}},
                {"key": "i", "range": {"lt": 2500}}
            ]}));
            let (r, _) = recall(&col, &both, &qs);
            assert!(
                r >= 0.95,
                "{metric:?} topic a and i < 2500: recall@10 {r:.3}"
            );
        }
    }

    #[test]
    fn the_dot_product_gets_no_value_graphs() {
        let col = topics(Metric::Dot);
        assert_eq!(graphs(&col).len(), 0);
        let (_, walks) = recall(&col, &topic("a"), &queries(20));
        assert_eq!(walks, 0);
    }

    #[test]
    fn value_graphs_follow_writes() {
        let mut col = topics(Metric::Cosine);
        let mut rng = Rng::new(3);
        // New points of topic "a" are linked into its graph as they arrive.
        let before = graphs(&col).0.iter().find(|g| g.value == "a").unwrap();
        let members = before.members.len();
        let new_ids: Vec<PointId> = (100_000..100_050).map(PointId::Num).collect();
        let new: Vec<f32> = (0..50).flat_map(|_| point(&mut rng, 0)).collect();
        let payloads = (0..50).map(|i| topic_payload("a", 100_000 + i)).collect();
        col.upsert(&new_ids, &new, Some(payloads)).unwrap();
        let after = graphs(&col).0.iter().find(|g| g.value == "a").unwrap();
        assert_eq!(after.members.len(), members + 50);
        assert_eq!(after.graph.len(), members + 50);
        for (id, v) in new_ids.iter().zip(new.chunks_exact(DIM)) {
            let hits = col
                .search(&SearchRequest::new(v, 1).with_filter(&topic("a")))
                .unwrap();
            assert_eq!(top_id(&hits), Some(*id), "a new point of topic a is found");
        }
        // A point that gains the value by a payload update is not in the graph: it is
        // scanned beside the walk, and found.
        let moved = PointId::Num(9_600); // topic "c"
        let v = col.get(&[moved], false, true).unwrap()[0]
            .vector
            .clone()
            .unwrap();
        col.overwrite_payload(&[moved], &topic_payload("a", 9_600));
        let walks = VALUE_WALKS.with(|w| w.get());
        let hits = col
            .search(&SearchRequest::new(&v, 1).with_filter(&topic("a")))
            .unwrap();
        assert_eq!(top_id(&hits), Some(moved));
        assert_eq!(VALUE_WALKS.with(|w| w.get()), walks + 1, "still walked");
        // A member that loses the value, or is deleted, is never returned under it.
        let (lost, gone) = (PointId::Num(10), PointId::Num(11));
        let vs: Vec<Vec<f32>> = col
            .get(&[lost, gone], false, true)
            .unwrap()
            .into_iter()
            .map(|r| r.vector.unwrap())
            .collect();
        col.overwrite_payload(&[lost], &topic_payload("b", 10));
        assert_eq!(col.delete(&[gone]), 1);
        for v in &vs {
            let hits = col
                .search(&SearchRequest::new(v, 10).with_filter(&topic("a")))
                .unwrap();
            assert!(hits.iter().all(|h| h.id != lost && h.id != gone));
            assert_eq!(hits.len(), 10);
        }
        let (r, walks) = recall(&col, &topic("a"), &queries(30));
        assert!(r >= 0.95 && walks == 30, "recall {r:.3}, walks {walks}");
        // Compaction renumbers the rows and makes the graphs anew over them.
        col.optimize();
        let a = graphs(&col).0.iter().find(|g| g.value == "a").unwrap();
        // 50 added, one moved in, one moved out, one deleted.
        assert_eq!(a.members.len(), members + 49);
        let (r, walks) = recall(&col, &topic("a"), &queries(30));
        assert!(
            r >= 0.95 && walks == 30,
            "after compaction: recall {r:.3}, walks {walks}"
        );
        // Dropping the index or the graph drops them.
        assert!(col.drop_payload_index("topic"));
        assert_eq!(graphs(&col).len(), 0);
        col.create_payload_index("topic", PayloadIndexType::Keyword)
            .unwrap();
        assert_eq!(graphs(&col).len(), 2);
        col.drop_index();
        assert_eq!(graphs(&col).len(), 0);
        let (r, walks) = recall(&col, &topic("a"), &queries(10));
        assert_eq!((r, walks), (1.0, 0));
    }

    #[test]
    fn quantized_collections_walk_value_graphs_over_codes() {
        for q in [Quantization::int8(), Quantization::binary()] {
            let mut col = topics(Metric::Cosine);
            col.set_quantization(Some(q)).unwrap();
            let qs = queries(60);
            let (r, walks) = recall(&col, &topic("a"), &qs);
            assert_eq!(walks, 60, "{}", q.name());
            // The same rows by a condition value graphs do not serve: scanned over codes.
            let any = filter(serde_json::json!({"must": [
                {"key": "topic", "match": {"any": ["a"]}}
            ]}));
            let (scanned, walks) = recall(&col, &any, &qs);
            assert_eq!(walks, 0);
            eprintln!(
                "{}: recall@10 walked {r:.3}, scanned {scanned:.3}",
                q.name()
            );
            assert!(r >= scanned - 0.05, "{}: {r:.3} vs {scanned:.3}", q.name());
        }
    }
}
