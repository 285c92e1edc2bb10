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
use std::ops::Range;

use crate::bitset::Bitset;
use crate::config::Metric;
use crate::error::{Error, Result};
use crate::filter::{Condition, FieldCheck, Filter, MatchValue};
use crate::index::hnsw::compact::DROPPED;
use crate::index::hnsw::space::{with_space, Subset};
use crate::index::hnsw::{
    decode_graph, encode_graph, GraphLayout, GraphRef, HnswGraph, HnswParams,
};
use crate::index::payload::PayloadIndex;
use crate::storage::container::{counted_entries, ENTRIES_HEADER};
use crate::vectors::RowsRef;

/// Rows a value needs before it gets a graph: below this a scan of its rows costs about what
/// a walk does (wordnet: a filter on 3,549 rows is scanned at 0.88 of unfiltered speed).
pub(crate) const VALUE_GRAPH_MIN_ROWS: usize = 4096;

/// Whether a value held by `count` of `n` rows gets a graph of its own.
pub(crate) fn is_common(count: usize, n: usize) -> bool {
    count >= VALUE_GRAPH_MIN_ROWS && count * 2 <= n
}

/// The graph over the rows of one keyword value.
#[derive(Debug, Clone)]
pub(crate) struct ValueGraph {
    key: String,
    value: String,
    /// The rows linked: row `members[i]` is node `i` of `graph` (ascending when linked here;
    /// in the order a file gave when taken from one).
    members: Vec<u32>,
    /// One past the largest member: rows from here on were appended since.
    end: u32,
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
        let end = members.last().map_or(0, |&r| r + 1);
        ValueGraph {
            key: key.to_owned(),
            value: value.to_owned(),
            end,
            bits: Bitset::from_rows(&members, end as usize),
            members,
            graph,
        }
    }

    /// Links `added` (ascending rows, all from `end` on) into the graph.
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
            self.end = last + 1;
            self.bits.grow(last as usize + 1);
        }
        for &r in added {
            self.bits.insert(r as usize);
        }
    }

    /// The graph as searches walk it.
    pub(crate) fn view(&self) -> ValueGraphRef<'_> {
        ValueGraphRef {
            members: &self.members,
            bits: &self.bits,
            graph: self.graph.view(),
        }
    }
}

/// A value graph as searches walk it: in memory, or read in place from a file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueGraphRef<'a> {
    /// Node `i` of `graph` is row `members[i]`.
    pub(crate) members: &'a [u32],
    /// The same rows as a set.
    pub(crate) bits: &'a Bitset,
    pub(crate) graph: GraphRef<'a>,
}

/// The (key, keyword) pairs a filter requires of every row it passes: its top-level `must`
/// conditions matching one keyword.
fn required_values(f: &Filter) -> impl Iterator<Item = (&str, &str)> {
    f.must
        .iter()
        .filter_map(|c| match c {
            Condition::Field(fc) => Some(fc),
            _ => None,
        })
        .flat_map(|fc| {
            fc.checks.iter().filter_map(move |check| match check {
                FieldCheck::Value(MatchValue::Keyword(v)) => Some((fc.key.as_str(), v.as_str())),
                _ => None,
            })
        })
}

/// The smallest of `graphs` ((key, value, graph)) of a value `f` requires, if any.
pub(crate) fn pick<'a, 'k>(
    graphs: impl Iterator<Item = (&'k str, &'k str, ValueGraphRef<'a>)> + Clone,
    f: &Filter,
) -> Option<ValueGraphRef<'a>> {
    required_values(f)
        .filter_map(|(key, value)| {
            graphs
                .clone()
                .find(|(k, v, _)| *k == key && *v == value)
                .map(|g| g.2)
        })
        .min_by_key(|g| g.members.len())
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
pub(crate) struct ValueGraphs(Vec<ValueGraph>, Vec<String>);

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
            .filter(|(_, m)| is_common(m.len(), len))
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

    /// Links into each graph the rows of its value's posting in `indexes` from its `end` on
    /// (rows appended since).
    pub(crate) fn extend(&mut self, indexes: &[PayloadIndex], rows: (RowsRef<'_>, usize, Metric)) {
        for g in &mut self.0 {
            let Some(index) = indexes.iter().find(|i| i.key().as_str() == g.key) else {
                continue;
            };
            let posting = index.keyword_rows(&g.value);
            let from = posting.partition_point(|&r| r < g.end);
            if from < posting.len() {
                g.extend(&posting[from..], rows);
            }
        }
    }

    /// Drops the graphs of the index on `key`.
    pub(crate) fn drop_key(&mut self, key: &str) {
        self.0.retain(|g| g.key != key);
        self.keep(key);
    }

    /// Drops every graph.
    pub(crate) fn clear(&mut self) {
        self.0.clear();
        self.1.clear();
    }

    /// Number of graphs.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Every graph, as (key, value, graph).
    pub(crate) fn all(&self) -> Vec<(&str, &str, ValueGraphRef<'_>)> {
        self.0
            .iter()
            .map(|g| (g.key.as_str(), g.value.as_str(), g.view()))
            .collect()
    }

    /// Whether the graphs of `key` came from a file ([`ValueGraphs::adopt`]) and no index on
    /// the key has been made since.
    pub(crate) fn adopted(&self, key: &str) -> bool {
        self.1.iter().any(|k| k == key)
    }

    /// Takes copies of a file's graphs (over the same rows), kept for the keyword index on
    /// their key when it is made instead of linking them again.
    pub(crate) fn adopt(&mut self, section: &[u8], stored: &[StoredValueGraph]) {
        for g in stored {
            let view = g.view(section);
            self.0.push(ValueGraph {
                key: g.key.clone(),
                value: g.value.clone(),
                members: view.members.to_vec(),
                end: view.members.iter().max().map_or(0, |&r| r + 1),
                bits: view.bits.clone(),
                graph: view.graph.to_owned_graph(),
            });
            if !self.adopted(&g.key) {
                self.1.push(g.key.clone());
            }
        }
    }

    /// Marks the graphs of `key` as the index's own (see [`ValueGraphs::adopted`]).
    pub(crate) fn keep(&mut self, key: &str) {
        self.1.retain(|k| k != key);
    }

    /// The graphs as a file holds them: over the rows `new_row` maps to (`DROPPED`: a row the
    /// file leaves out, whose nodes are dropped and their neighbours' lists repaired), in the
    /// graph's order.
    pub(crate) fn for_file(
        &self,
        new_row: &[u32],
        (rows, dim, metric): (RowsRef<'_>, usize, Metric),
    ) -> Vec<GraphOut> {
        self.0
            .iter()
            .filter_map(|g| {
                let mut local = vec![DROPPED; g.members.len()];
                let mut members = Vec::with_capacity(g.members.len());
                for (i, &r) in g.members.iter().enumerate() {
                    if let Some(&to) = new_row.get(r as usize).filter(|&&to| to != DROPPED) {
                        local[i] = members.len() as u32;
                        members.push(to);
                    }
                }
                if members.is_empty() {
                    return None;
                }
                let graph = with_space!(rows, dim, metric, |space| {
                    let space = Subset {
                        space,
                        rows: &g.members,
                    };
                    g.graph.view().compact(&space, &local, members.len()).0
                });
                Some(GraphOut {
                    key: g.key.clone(),
                    value: g.value.clone(),
                    members,
                    graph,
                })
            })
            .collect()
    }
}

/// A value graph to write (see [`encode_section`]).
pub(crate) struct GraphOut {
    key: String,
    value: String,
    /// The file's rows, node by node.
    members: Vec<u32>,
    graph: HnswGraph,
}

#[cfg(feature = "fs")]
/// The value graphs of a file gathered from `layers` (`origin[j]` = (layer, row) of file row
/// `j`, the live rows in file order; `out_of[l][row]` the other way, `DROPPED` for a row the
/// file leaves out) for the keyword indexes on `keys`: for each value the
/// file's rows make common, the largest graph a layer has of it with `params` is carried over
/// (compacted around the rows the file leaves out, renumbered) and the value's other rows are
/// linked into it; a value no layer has a graph of is linked from scratch. What a durable
/// checkpoint writes, so the checkpoint after it serves them without linking them again.
pub(crate) fn gathered(
    params: HnswParams,
    layers: &[crate::read::Layer<'_>],
    (origin, out_of): (&[(u32, u32)], &[Vec<u32>]),
    keys: &[String],
    (dim, metric): (usize, Metric),
) -> Vec<GraphOut> {
    use std::collections::{BTreeMap, HashMap};
    if metric == Metric::Dot {
        return Vec::new();
    }
    let n = origin.len();
    let parts: Vec<RowsRef<'_>> = layers.iter().map(|l| l.src.rows()).collect();
    let mut graphs = Vec::new();
    for key in keys {
        // The file rows holding each value, from every layer's index on the key.
        let mut values: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (l, layer) in layers.iter().enumerate() {
            let index = layer
                .src
                .payload_indexes()
                .iter()
                .find(|i| i.key().as_str() == key);
            for (value, rows) in index.into_iter().flat_map(PayloadIndex::keyword_postings) {
                let file_rows = rows
                    .iter()
                    .map(|&r| out_of[l][r as usize])
                    .filter(|&j| j != DROPPED);
                values.entry(value).or_default().extend(file_rows);
            }
        }
        for (value, mut rows) in values {
            if !is_common(rows.len(), n) {
                continue;
            }
            rows.sort_unstable();
            let value_origin: Vec<(u32, u32)> = rows.iter().map(|&j| origin[j as usize]).collect();
            let carried = layers
                .iter()
                .enumerate()
                .filter_map(|(l, layer)| {
                    let g = layer.src.value_graphs().into_iter().find(|(k, v, g)| {
                        *k == key.as_str() && *v == value && g.graph.params() == params
                    })?;
                    Some((l, g.2))
                })
                .max_by_key(|(l, g)| (g.members.len(), std::cmp::Reverse(*l)));
            let (mut graph, pending) = match carried {
                Some((l, g)) => {
                    let local: HashMap<u32, u32> = g
                        .members
                        .iter()
                        .enumerate()
                        .map(|(i, &r)| (r, i as u32))
                        .collect();
                    let mut new_node = vec![DROPPED; g.members.len()];
                    for (i, &(p, r)) in value_origin.iter().enumerate() {
                        if p as usize == l {
                            if let Some(&node) = local.get(&r) {
                                new_node[node as usize] = i as u32;
                            }
                        }
                    }
                    with_space!(parts[l], dim, metric, |space| g.graph.compact(
                        &Subset {
                            space,
                            rows: g.members,
                        },
                        &new_node,
                        rows.len()
                    ))
                }
                None => HnswGraph::with_pending(params, rows.len()),
            };
            crate::index::hnsw::compact::link_gathered(
                &mut graph,
                &pending,
                &parts,
                &value_origin,
                dim,
                metric,
                &mut |_| true,
            );
            graphs.push(GraphOut {
                key: key.clone(),
                value: value.to_owned(),
                members: rows,
                graph,
            });
        }
    }
    graphs
}

/// Bytes before the section's entries, and per entry.
const SECTION_HEADER: usize = ENTRIES_HEADER;
const ENTRY: usize = 64;

/// The `VALUE_GRAPHS` section (FORMAT.md): a 64-byte header (the graph count), a 64-byte entry
/// per graph, then each graph's key, value, members (u32) and HNSW graph (the `HNSW` section's
/// layout, 64-aligned).
pub(crate) fn encode_section(graphs: &[GraphOut]) -> Vec<u8> {
    let mut out = vec![0u8; SECTION_HEADER + graphs.len() * ENTRY];
    out[0..4].copy_from_slice(&(graphs.len() as u32).to_le_bytes());
    for (i, g) in graphs.iter().enumerate() {
        let key_at = out.len();
        out.extend_from_slice(g.key.as_bytes());
        let value_at = out.len();
        out.extend_from_slice(g.value.as_bytes());
        out.resize(out.len().next_multiple_of(4), 0);
        let members_at = out.len();
        out.extend_from_slice(bytemuck::cast_slice(&g.members));
        out.resize(out.len().next_multiple_of(64), 0);
        let graph_at = out.len();
        let (header, arrays) = encode_graph(&g.graph.view());
        out.extend_from_slice(&header);
        for a in arrays {
            out.extend_from_slice(a);
        }
        let graph_len = out.len() - graph_at;
        let e = SECTION_HEADER + i * ENTRY;
        let entry = &mut out[e..e + ENTRY];
        entry[0..8].copy_from_slice(&(key_at as u64).to_le_bytes());
        entry[8..12].copy_from_slice(&(g.key.len() as u32).to_le_bytes());
        entry[12..16].copy_from_slice(&(g.value.len() as u32).to_le_bytes());
        entry[16..24].copy_from_slice(&(value_at as u64).to_le_bytes());
        entry[24..32].copy_from_slice(&(members_at as u64).to_le_bytes());
        entry[32..40].copy_from_slice(&(g.members.len() as u64).to_le_bytes());
        entry[40..48].copy_from_slice(&(graph_at as u64).to_le_bytes());
        entry[48..56].copy_from_slice(&(graph_len as u64).to_le_bytes());
    }
    out
}

/// A value graph of a file, checked: where its parts lie in the section.
#[derive(Debug, Clone)]
pub(crate) struct StoredValueGraph {
    pub(crate) key: String,
    pub(crate) value: String,
    /// Byte ranges within the section.
    members: Range<usize>,
    graph: Range<usize>,
    layout: GraphLayout,
    bits: Bitset,
}

impl StoredValueGraph {
    /// The graph over the section's bytes [`decode_section`] checked.
    pub(crate) fn view<'a>(&'a self, section: &'a [u8]) -> ValueGraphRef<'a> {
        ValueGraphRef {
            // Cannot fail: decode_section checked the alignment of these very bytes.
            members: bytemuck::cast_slice(&section[self.members.clone()]),
            bits: &self.bits,
            graph: self.layout.view(&section[self.graph.clone()]),
        }
    }
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt("VALUE_GRAPHS section", reason.into())
}

/// Reads and checks the value graphs of a section over `n` rows (its bytes 64-aligned): every
/// range in bounds, keys and values UTF-8 and distinct, members distinct rows below `n`, each
/// graph as the `HNSW` section is checked. An entry with reserved bytes set is skipped (a
/// later minor version may give them a meaning).
pub(crate) fn decode_section(bytes: &[u8], n: usize) -> Result<Vec<StoredValueGraph>> {
    let count = counted_entries(bytes, ENTRY, "graphs").map_err(corrupt)?;
    let get32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let get64 = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let range = |at: u64, len: u64, what: &str| -> Result<Range<usize>> {
        at.checked_add(len)
            .filter(|&end| end <= bytes.len() as u64)
            .map(|end| at as usize..end as usize)
            .ok_or_else(|| corrupt(format!("{what} lies outside the section")))
    };
    let mut out: Vec<StoredValueGraph> = Vec::with_capacity(count);
    for i in 0..count {
        let e = SECTION_HEADER + i * ENTRY;
        if get64(e + 56) != 0 {
            continue;
        }
        let text = |at: u64, len: u32, what: &str| -> Result<String> {
            let r = range(at, u64::from(len), what)?;
            std::str::from_utf8(&bytes[r])
                .map(str::to_owned)
                .map_err(|_| corrupt(format!("{what} is not UTF-8")))
        };
        let key = text(get64(e), get32(e + 8), &format!("graph {i}'s key"))?;
        let value = text(get64(e + 16), get32(e + 12), &format!("graph {i}'s value"))?;
        let what = || format!("graph {i} ({key} = {value:?})");
        if out.iter().any(|g| g.key == key && g.value == value) {
            return Err(corrupt(format!("{} is stored twice", what())));
        }
        let m = get64(e + 32);
        let members = range(
            get64(e + 24),
            m.saturating_mul(4),
            &format!("{}'s members", what()),
        )?;
        let rows: &[u32] = bytemuck::try_cast_slice(&bytes[members.clone()])
            .map_err(|_| corrupt(format!("{}'s members are not 4-byte aligned", what())))?;
        let mut bits = Bitset::new(n);
        for &r in rows {
            if r as usize >= n {
                return Err(corrupt(format!(
                    "{} names row {r}, past the last row",
                    what()
                )));
            }
            if !bits.insert(r as usize) {
                return Err(corrupt(format!("{} names row {r} twice", what())));
            }
        }
        let graph = range(get64(e + 40), get64(e + 48), &format!("{}'s graph", what()))?;
        if graph.start % 64 != 0 {
            return Err(corrupt(format!(
                "{}'s graph is not 64-byte aligned",
                what()
            )));
        }
        let layout = decode_graph(&bytes[graph.clone()], rows.len()).map_err(|e| match e {
            Error::Corrupt { reason, .. } => corrupt(format!("{}: {reason}", what())),
            other => other,
        })?;
        out.push(StoredValueGraph {
            key,
            value,
            members,
            graph,
            layout,
            bits,
        });
    }
    Ok(out)
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
        let mut col = Collection::new(CollectionConfig::new(DIM, metric)).unwrap();
        let (ids, vectors, payloads) = topic_points();
        col.upsert(&ids, &vectors, Some(payloads)).unwrap();
        col.build_index(small_graph()).unwrap();
        col.create_payload_index("topic", PayloadIndexType::Keyword)
            .unwrap();
        col
    }

    fn small_graph() -> HnswParams {
        HnswParams {
            m: 12,
            ef_construction: 80,
            ..HnswParams::default()
        }
    }

    /// The points of [`topics`].
    fn topic_points() -> (Vec<PointId>, Vec<f32>, Vec<Payload>) {
        let mut rng = Rng::new(7);
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
        (ids, vectors, payloads)
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
        recall_of(&|r| col.search(r).unwrap(), f, queries)
    }

    /// [`recall`] of any collection kind's search.
    fn recall_of(
        search: &dyn Fn(&SearchRequest<'_>) -> Vec<ScoredPoint>,
        f: &Filter,
        queries: &[Vec<f32>],
    ) -> (f64, usize) {
        let walks = VALUE_WALKS.with(|w| w.get());
        let mut found = 0;
        let mut wanted = 0;
        for q in queries {
            let request = SearchRequest::new(q, 10).with_filter(f);
            let approx = search(&request);
            let walked = VALUE_WALKS.with(|w| w.get());
            let exact = search(&SearchRequest {
                exact: true,
                ..request
            });
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
        col.value_graph_set()
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
    fn snapshots_carry_value_graphs_and_serve_them_once_indexed() {
        let mut col = topics(Metric::Cosine);
        // Tombstones and a late point: the file leaves the first out and renumbers the rest.
        assert_eq!(col.delete(&[PointId::Num(3), PointId::Num(5_000)]), 2);
        let mut rng = Rng::new(11);
        let late = point(&mut rng, 0);
        // Id 3 again, now in a new row: the file numbers it third, so the graph's members
        // come out of order there.
        let late_id = PointId::Num(3);
        let payload = vec![topic_payload("a", 50_000)];
        col.upsert(&[late_id], &late, Some(payload)).unwrap();
        let bytes = col.snapshot_bytes().unwrap();
        assert_eq!(
            &bytes[16..20],
            &[1, 0, 4, 0],
            "a file with value graphs and the payload index is version 1.4"
        );
        let mut snap = crate::Snapshot::from_bytes(&bytes).unwrap();
        snap.verify().unwrap();
        let qs = queries(60);
        let search = |snap: &crate::Snapshot, q: &[f32], f: &Filter| {
            snap.search(&SearchRequest::new(q, 10).with_filter(f))
                .unwrap()
        };
        // The file carries the keyword index; without it, the file's graphs stay unused.
        assert_eq!(
            snap.payload_index_list(),
            vec![("topic".to_owned(), PayloadIndexType::Keyword)]
        );
        assert!(snap.drop_payload_index("topic"));
        let walks = VALUE_WALKS.with(|w| w.get());
        search(&snap, &qs[0], &topic("a"));
        assert_eq!(VALUE_WALKS.with(|w| w.get()), walks);
        snap.create_payload_index("topic", PayloadIndexType::Keyword)
            .unwrap();
        for t in ["a", "b"] {
            let f = topic(t);
            let walks = VALUE_WALKS.with(|w| w.get());
            let (mut found, mut wanted) = (0, 0);
            for q in &qs {
                let hits = search(&snap, q, &f);
                let exact = col
                    .search(&SearchRequest {
                        exact: true,
                        ..SearchRequest::new(q, 10).with_filter(&f)
                    })
                    .unwrap();
                let truth: HashSet<PointId> = exact.iter().map(|h| h.id).collect();
                assert!(hits
                    .iter()
                    .all(|h| f.matches(h.id, h.payload.as_ref().unwrap())));
                wanted += truth.len();
                found += hits.iter().filter(|h| truth.contains(&h.id)).count();
            }
            assert_eq!(VALUE_WALKS.with(|w| w.get()), walks + qs.len(), "topic {t}");
            let r = found as f64 / wanted as f64;
            assert!(r >= 0.95, "snapshot, topic {t}: recall@10 {r:.3}");
        }
        let hits = search(&snap, &late, &topic("a"));
        assert_eq!(
            top_id(&hits),
            Some(late_id),
            "the late point is in the file's graph"
        );
        // A collection restored from the snapshot takes its index and the file's graphs.
        let mut restored = snap.to_collection().unwrap();
        assert_eq!(
            restored.payload_index_list(),
            vec![("topic".to_owned(), PayloadIndexType::Keyword)]
        );
        assert_eq!(graphs(&restored).len(), 2);
        let (r, walks) = recall(&restored, &topic("a"), &qs);
        assert!(
            r >= 0.95 && walks == qs.len(),
            "restored: recall {r:.3}, walks {walks}"
        );
        // and writes the same graphs back.
        assert!(restored.snapshot_bytes().unwrap() == bytes);
        // Its members are in the file's order, not ascending: a new point is linked once.
        let a = |c: &Collection| {
            graphs(c)
                .0
                .iter()
                .find(|g| g.value == "a")
                .unwrap()
                .members
                .clone()
        };
        let before = a(&restored);
        assert!(before.windows(2).any(|w| w[0] > w[1]));
        let fresh = point(&mut rng, 0);
        let fresh_id = PointId::Num(60_000);
        let payload = vec![topic_payload("a", 60_000)];
        restored.upsert(&[fresh_id], &fresh, Some(payload)).unwrap();
        let after = a(&restored);
        assert_eq!(after.len(), before.len() + 1);
        let distinct: HashSet<u32> = after.iter().copied().collect();
        assert_eq!(distinct.len(), after.len());
        let hits = restored
            .search(&SearchRequest::new(&fresh, 10).with_filter(&topic("a")))
            .unwrap();
        assert_eq!(top_id(&hits), Some(fresh_id));
        let ids: HashSet<PointId> = hits.iter().map(|h| h.id).collect();
        assert_eq!(ids.len(), hits.len(), "no point twice");
    }

    #[cfg(feature = "fs")]
    #[test]
    fn durable_checkpoints_carry_value_graphs_over() {
        use crate::{DurableCollection, DurableOptions};
        let dir =
            std::env::temp_dir().join(format!("stratavec-value-graphs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = CollectionConfig::new(DIM, Metric::Cosine);
        let d = DurableCollection::create(&dir, config, DurableOptions::default()).unwrap();
        let (ids, vectors, payloads) = topic_points();
        d.upsert(&ids, &vectors, Some(payloads)).unwrap();
        d.create_payload_index("topic", PayloadIndexType::Keyword)
            .unwrap();
        // The checkpoint the build writes links the graphs of the common values.
        d.build_index(small_graph()).unwrap();
        let qs = queries(40);
        let members = |d: &DurableCollection, t: &str| {
            let snap = crate::Snapshot::from_bytes(&{
                let mut out = Vec::new();
                d.write_snapshot(&mut out).unwrap();
                out
            })
            .unwrap();
            let col = snap.to_collection().unwrap();
            let g = graphs(&col)
                .0
                .iter()
                .find(|g| g.value == t)
                .map(|g| g.members.len());
            g
        };
        assert_eq!(
            (members(&d, "a"), members(&d, "b")),
            (Some(5000), Some(4500))
        );
        let (r, walks) = recall_of(&|q| d.search(q).unwrap(), &topic("a"), &qs);
        assert!(
            r >= 0.95 && walks == qs.len(),
            "recall {r:.3}, walks {walks}"
        );
        // Writes since, then a checkpoint: the graph is carried over, the deleted points
        // dropped from it and the new ones linked in.
        let mut rng = Rng::new(21);
        let new_ids: Vec<PointId> = (70_000..70_060).map(PointId::Num).collect();
        let new: Vec<f32> = (0..60).flat_map(|_| point(&mut rng, 0)).collect();
        let payloads = (0..60).map(|i| topic_payload("a", 70_000 + i)).collect();
        d.upsert(&new_ids, &new, Some(payloads)).unwrap();
        assert_eq!(d.delete(&[PointId::Num(1), PointId::Num(2)]).unwrap(), 2);
        d.checkpoint().unwrap();
        assert_eq!(members(&d, "a"), Some(5058));
        let (r, walks) = recall_of(&|q| d.search(q).unwrap(), &topic("a"), &qs);
        assert!(
            r >= 0.95 && walks == qs.len(),
            "after a checkpoint: recall {r:.3}, walks {walks}"
        );
        for (id, v) in new_ids.iter().zip(new.chunks_exact(DIM)) {
            let hits = d
                .search(&SearchRequest::new(v, 1).with_filter(&topic("a")))
                .unwrap();
            assert_eq!(top_id(&hits), Some(*id));
        }
        // Reopened, the checkpoint's graphs serve again.
        d.close().unwrap();
        let d = DurableCollection::open(&dir, DurableOptions::default()).unwrap();
        let (r, walks) = recall_of(&|q| d.search(q).unwrap(), &topic("b"), &qs);
        assert!(
            r >= 0.95 && walks == qs.len(),
            "reopened: recall {r:.3}, walks {walks}"
        );
        // Without a keyword index on the key, the next checkpoint leaves the graphs out.
        assert!(d.drop_payload_index("topic").unwrap());
        d.delete(&[PointId::Num(3)]).unwrap();
        d.checkpoint().unwrap();
        assert_eq!(members(&d, "a"), None);
        let segments = || {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("seg-"))
                .collect();
            names.sort();
            names
        };
        // A keyword index with no common value writes no checkpoint.
        let before = segments();
        d.create_payload_index("i", PayloadIndexType::Keyword)
            .unwrap();
        assert_eq!(segments(), before);
        // Made again on an indexed collection, the index links its graphs at once (through a
        // checkpoint), not at the next checkpoint.
        d.create_payload_index("topic", PayloadIndexType::Keyword)
            .unwrap();
        assert_ne!(segments(), before);
        assert_eq!(members(&d, "a"), Some(5057));
        let (r, walks) = recall_of(&|q| d.search(q).unwrap(), &topic("a"), &qs);
        assert!(
            r >= 0.95 && walks == qs.len(),
            "index made again: recall {r:.3}, walks {walks}"
        );
        d.close().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
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
