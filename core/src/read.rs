//! Every read operation (search, get, scroll, count, filtering), written once over
//! [`PointSource`], so an in-memory collection and a snapshot file answer identically.

use std::borrow::Cow;

use crate::bitset::{Bitset, RowSet};
use crate::config::CollectionConfig;
use crate::distance::Kernels;
use crate::error::{Error, Result};
use crate::filter::{Condition, Filter};
use crate::guard::Guard;
use crate::index::hnsw::{Allow, GraphRef};
use crate::index::payload::{Hits, PayloadIndex};
use crate::index::value_graphs::ValueGraphRef;
use crate::point::{Payload, PointId, Record, ScoredPoint};
use crate::quantization::{Codes, Quantization};
use crate::search::exact::{self, Candidates, Query};
use crate::search::quantized;
use crate::topk::{Candidate, TopK};
use crate::vectors::{self, RowsRef};

/// The planner's estimate of the distances a graph search computes per unit of `ef` when
/// every row is allowed (measured on wordnet-minilm at m=16: about 20). With a fraction `s` of
/// rows allowed, the walk visits about `1/s` times more.
const GRAPH_DISTANCES_PER_EF: usize = 20;

/// What a walk under a spread filter costs per unit of `ef`, in rows a scan reads in the same
/// time. Measured on wordnet-minilm (384-d, m=16, ef 64, one thread): `many_lemmas` (7% of the
/// rows, clustering 3.0) and `not_noun` (30%, clustering 1.8) both about 85, against about 48
/// for an unfiltered walk.
const SPREAD_WALK_ROWS_PER_EF: usize = 85;

/// The largest clustering (`GraphRef::clustering`) of a filter treated as spread. Measured on
/// wordnet-minilm: spread filters 1.8 and 3.0, where a walk beats the scan; one-topic filters
/// 7.8 and 10.3, where a walk is 5 to 30 times slower than the scan.
const SPREAD_MAX_CLUSTERING: f64 = 5.0;

/// How much wider than the request's `ef` a value graph is walked. A value's rows lie in one
/// region and most queries come from outside it, where they are all about equally far: HNSW
/// needs a wider beam there. Measured on wordnet-minilm (`lexname` is `noun.animal`, 7,372
/// rows, m=16): recall@10 0.91 at ef 64, 0.97 at 128, which still reads about a third of
/// the rows a scan would.
const VALUE_WALK_EF_FACTOR: usize = 2;

/// Sources at least this large evaluate filters on all cores.
#[cfg(feature = "parallel")]
const PARALLEL_FILTER_MIN_ROWS: usize = 16_384;

/// Points addressed by row `0..len`: the columns a read needs.
pub(crate) trait PointSource: Sync {
    fn config(&self) -> &CollectionConfig;
    fn len(&self) -> usize;
    fn rows(&self) -> RowsRef<'_>;
    fn id(&self, row: usize) -> PointId;
    fn find(&self, id: PointId) -> Option<usize>;
    /// Rows in ascending id order, starting at the first id `>= start`.
    fn rows_in_id_order(&self, start: Option<PointId>) -> Box<dyn Iterator<Item = usize> + '_>;
    fn payload(&self, row: usize) -> Result<Cow<'_, Payload>>;
    /// Row `row`'s payload with at least the top-level `keys`: sources that parse payloads
    /// from a file leave the other keys out (checked, not built). What a filter reading only
    /// those keys is evaluated on.
    fn payload_with_keys(&self, row: usize, keys: &[&str]) -> Result<Cow<'_, Payload>> {
        let _ = keys;
        self.payload(row)
    }
    /// The HNSW graph over these rows, if one is built and current.
    fn hnsw(&self) -> Option<GraphRef<'_>> {
        None
    }
    /// Payload indexes over these rows.
    fn payload_indexes(&self) -> &[PayloadIndex] {
        &[]
    }
    /// Guard codes of these rows (`crate::guard`), when their walks have them.
    fn guard(&self) -> Option<&Guard> {
        None
    }

    /// Quantized codes of these rows, when quantization is on.
    fn codes(&self) -> Option<&Codes> {
        None
    }
    /// The graphs over the rows of common keyword values, as (key, value, graph) (see
    /// `crate::index::value_graphs`).
    fn value_graphs(&self) -> Vec<(&str, &str, ValueGraphRef<'_>)> {
        Vec::new()
    }
    /// The smallest of [`PointSource::value_graphs`] of a keyword value `f` requires, if any.
    fn value_graph(&self, f: &Filter) -> Option<ValueGraphRef<'_>> {
        crate::index::value_graphs::pick(self.value_graphs().into_iter(), f)
    }
    /// The `want` best of `cands` by full-precision rank score against the prepared query
    /// `q`, best first. Sources whose vectors stay on disk read just these rows.
    fn rescore(&self, q: &[f32], cands: &[Candidate], want: usize) -> Result<Vec<Candidate>> {
        Ok(rescore_in_place(self, q, cands, want))
    }
}

/// [`PointSource::rescore`] over the rows the source holds in place.
pub(crate) fn rescore_in_place<S: PointSource + ?Sized>(
    src: &S,
    q: &[f32],
    cands: &[Candidate],
    want: usize,
) -> Vec<Candidate> {
    let c = src.config();
    quantized::rescore(src.rows(), c.dim, c.metric, q, cands, want)
}

/// One layer of a layered read: a source and the rows of it that no longer count (deleted, or
/// superseded by a newer layer). Layers are ordered oldest first; an id is live in at most one.
#[derive(Clone, Copy)]
pub(crate) struct Layer<'a> {
    pub(crate) src: &'a dyn PointSource,
    pub(crate) dead: Option<&'a Bitset>,
}

impl<'a> Layer<'a> {
    /// A layer with every row live.
    pub(crate) fn whole(src: &'a dyn PointSource) -> Layer<'a> {
        Layer { src, dead: None }
    }

    fn live(&self, row: usize) -> bool {
        self.dead.is_none_or(|d| !d.contains(row))
    }

    fn live_count(&self) -> usize {
        self.src.len() - self.dead.map_or(0, Bitset::count)
    }
}

/// One search: the query and what to return.
#[derive(Debug, Clone, Copy)]
pub struct SearchRequest<'a> {
    /// The query vector, in the collection's dimension.
    pub vector: &'a [f32],
    /// How many hits to return, at least 1. Values above the collection size are clamped.
    pub k: usize,
    /// Only points passing this filter are considered.
    pub filter: Option<&'a Filter>,
    /// Only hits at least this similar (cosine, dot: score >= threshold) or at most this far
    /// (euclid, manhattan: score <= threshold) are returned.
    pub score_threshold: Option<f32>,
    /// Skip this many of the closest hits first (pagination).
    pub offset: usize,
    /// Attach payloads to the hits.
    pub with_payload: bool,
    /// Attach stored vectors to the hits.
    pub with_vector: bool,
    /// HNSW search breadth (candidates explored); larger is slower and more accurate. `None`
    /// uses `max(64, k + offset)`. Ignored where no index is built.
    pub ef: Option<usize>,
    /// Force exact search even where an index is built.
    pub exact: bool,
    /// Where vectors are searched by quantized codes: candidates rescored at full precision
    /// per hit wanted, in `[1, 100]`, for this request instead of the collection's
    /// quantization setting (more is slower and more accurate; the graph walk explores at
    /// least that many). Ignored without codes and by exact search.
    pub oversampling: Option<f32>,
}

impl<'a> SearchRequest<'a> {
    /// A request for the `k` closest points, with payloads and without vectors.
    pub fn new(vector: &'a [f32], k: usize) -> Self {
        SearchRequest {
            vector,
            k,
            filter: None,
            score_threshold: None,
            offset: 0,
            with_payload: true,
            with_vector: false,
            ef: None,
            exact: false,
            oversampling: None,
        }
    }

    /// The same request restricted by `filter`.
    pub fn with_filter(mut self, filter: &'a Filter) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// One page of a scroll.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrollPage {
    /// The points of this page, in id order.
    pub records: Vec<Record>,
    /// The id to pass as `offset` for the next page; `None` on the last page.
    pub next_offset: Option<PointId>,
}

/// The read operations of every collection type, each answered by this module, so the types
/// cannot drift apart. `$layers` is an expression (using `$this`) for the type's layers.
macro_rules! read_methods {
    ($this:ident => $layers:expr) => {
        /// The points with these ids, in the order asked; ids that do not exist are skipped.
        pub fn get(
            &$this,
            ids: &[$crate::PointId],
            with_payload: bool,
            with_vector: bool,
        ) -> $crate::Result<Vec<$crate::Record>> {
            $crate::read::get(&$layers, ids, with_payload, with_vector)
        }

        /// Up to `limit` points in id order, starting at `offset` (inclusive), optionally
        /// filtered.
        pub fn scroll(
            &$this,
            filter: Option<&$crate::Filter>,
            limit: usize,
            offset: Option<$crate::PointId>,
            with_payload: bool,
            with_vector: bool,
        ) -> $crate::Result<$crate::ScrollPage> {
            $crate::read::scroll(&$layers, filter, limit, offset, with_payload, with_vector)
        }

        /// How many points pass `filter` (all points when `None`).
        pub fn count(&$this, filter: Option<&$crate::Filter>) -> $crate::Result<usize> {
            $crate::read::count(&$layers, filter)
        }

        /// The closest points to one query.
        pub fn search(&$this, request: &$crate::SearchRequest<'_>) -> $crate::Result<Vec<$crate::ScoredPoint>> {
            let mut results = $crate::read::search_batch(&$layers, std::slice::from_ref(request))?;
            Ok(results.pop().unwrap_or_default())
        }

        /// The `request.k` hits picked by maximal marginal relevance (cosine similarities) from
        /// the `fetch_k` closest: close to the query and unlike each other, `lambda` in [0, 1]
        /// weighing closeness against diversity (1: closeness alone). Hits keep their scores and
        /// come in the order picked; `offset` skips the first picks.
        pub fn search_mmr(
            &$this,
            request: &$crate::SearchRequest<'_>,
            fetch_k: usize,
            lambda: f32,
        ) -> $crate::Result<Vec<$crate::ScoredPoint>> {
            $crate::read::search_mmr(&$layers, request, fetch_k, lambda)
        }

        /// Several searches in one pass over the data; results in request order. Requests that
        /// share a filter share its evaluation and its scan.
        pub fn search_batch(
            &$this,
            requests: &[$crate::SearchRequest<'_>],
        ) -> $crate::Result<Vec<Vec<$crate::ScoredPoint>>> {
            $crate::read::search_batch(&$layers, requests)
        }
    };
}
pub(crate) use read_methods;

/// Rows that may pass `f` according to the source's payload indexes (and ids, for `has_id`),
/// or `None` when nothing indexed restricts it. `exact` when every row listed passes.
fn index_candidates(src: &dyn PointSource, f: &Filter) -> Option<Hits> {
    let mut acc: Option<Hits> = None;
    let mut exact = f.min_should.is_none();
    for c in &f.must {
        match condition_candidates(src, c) {
            Some(h) => meet(&mut acc, h),
            None => exact = false,
        }
    }
    for c in &f.must_not {
        // Only an exact answer can be negated: the complement of a superset is not one.
        match condition_candidates(src, c) {
            Some(Hits { rows, exact: true }) => meet(
                &mut acc,
                Hits {
                    rows: rows.complement(src.len()),
                    exact: true,
                },
            ),
            _ => exact = false,
        }
    }
    if !f.should.is_empty() {
        let parts: Option<Vec<Hits>> = f
            .should
            .iter()
            .map(|c| condition_candidates(src, c))
            .collect();
        match parts {
            Some(parts) => {
                let all_exact = parts.iter().all(|h| h.exact);
                let rows = RowSet::union(parts.into_iter().map(|h| h.rows).collect(), src.len());
                meet(
                    &mut acc,
                    Hits {
                        rows,
                        exact: all_exact,
                    },
                );
            }
            None => exact = false,
        }
    }
    acc.map(|mut h| {
        h.exact &= exact;
        h
    })
}

/// Narrows `acc` to the rows also in `h`.
fn meet(acc: &mut Option<Hits>, h: Hits) {
    *acc = Some(match acc.take() {
        None => h,
        Some(a) => Hits {
            rows: a.rows.intersect(h.rows),
            exact: a.exact && h.exact,
        },
    });
}

fn condition_candidates(src: &dyn PointSource, c: &Condition) -> Option<Hits> {
    match c {
        Condition::Field(fc) => {
            let mut acc = None;
            let mut exact = true;
            for check in &fc.checks {
                let answer = src
                    .payload_indexes()
                    .iter()
                    .filter(|i| i.key().as_str() == fc.key.as_str())
                    .find_map(|i| i.answer(check));
                match answer {
                    Some(h) => meet(&mut acc, h),
                    None => exact = false,
                }
            }
            acc.map(|mut h: Hits| {
                h.exact &= exact;
                h
            })
        }
        Condition::HasId(ids) => {
            let mut rows: Vec<u32> = ids
                .iter()
                .filter_map(|&id| src.find(id))
                .map(|r| r as u32)
                .collect();
            rows.sort_unstable();
            rows.dedup();
            Some(Hits {
                rows: RowSet::List(rows),
                exact: true,
            })
        }
        Condition::Filter(sub) => index_candidates(src, sub),
        _ => None,
    }
}

/// Live rows of a layer passing `filter`, ascending. Payload indexes narrow the rows to check
/// (often to exactly the answer); what they cannot decide is evaluated on the payloads, on all
/// cores for large sources.
pub(crate) fn matching_rows(layer: Layer<'_>, filter: &Filter) -> Result<Vec<u32>> {
    Ok(matching(layer, filter)?.into_list())
}

/// Row `row`'s payload as a filter reading the top-level `keys` (all when `None`) needs it.
fn filtered_payload<'a>(
    src: &'a dyn PointSource,
    row: usize,
    keys: Option<&[&str]>,
) -> Result<Cow<'a, Payload>> {
    match keys {
        Some(keys) => src.payload_with_keys(row, keys),
        None => src.payload(row),
    }
}

/// [`matching_rows`] as the set the payload indexes produced (a bitmap stays one).
fn matching(layer: Layer<'_>, filter: &Filter) -> Result<RowSet> {
    let src = layer.src;
    let candidates = index_candidates(src, filter);
    if let Some(Hits { rows, exact: true }) = candidates {
        return Ok(rows.without(layer.dead));
    }
    let keys = filter.payload_keys();
    let check = |row: usize| -> Option<Result<u32>> {
        if !layer.live(row) {
            return None;
        }
        match filtered_payload(src, row, keys.as_deref()) {
            Ok(p) => filter.matches(src.id(row), &p).then_some(Ok(row as u32)),
            Err(e) => Some(Err(e)),
        }
    };
    let rows: Vec<usize> = match candidates {
        Some(h) => h.rows.into_list().into_iter().map(|r| r as usize).collect(),
        None => (0..src.len()).collect(),
    };
    #[cfg(feature = "parallel")]
    if rows.len() >= PARALLEL_FILTER_MIN_ROWS {
        use rayon::prelude::*;
        return rows
            .into_par_iter()
            .filter_map(check)
            .collect::<Result<_>>()
            .map(RowSet::List);
    }
    rows.into_iter()
        .filter_map(check)
        .collect::<Result<_>>()
        .map(RowSet::List)
}

pub(crate) fn count(layers: &[Layer<'_>], filter: Option<&Filter>) -> Result<usize> {
    let mut total = 0;
    for &layer in layers {
        total += match filter {
            None => layer.live_count(),
            Some(f) => matching(layer, f)?.len(),
        };
    }
    Ok(total)
}

fn record(
    src: &dyn PointSource,
    row: usize,
    with_payload: bool,
    with_vector: bool,
) -> Result<Record> {
    Ok(Record {
        id: src.id(row),
        payload: if with_payload {
            Some(src.payload(row)?.into_owned())
        } else {
            None
        },
        vector: with_vector.then(|| src.rows().get(row, src.config().dim)),
    })
}

/// The layer and row where `id` is live, newest layer first.
pub(crate) fn locate(layers: &[Layer<'_>], id: PointId) -> Option<(usize, usize)> {
    layers
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, l)| l.src.find(id).filter(|&r| l.live(r)).map(|r| (i, r)))
}

pub(crate) fn get(
    layers: &[Layer<'_>],
    ids: &[PointId],
    with_payload: bool,
    with_vector: bool,
) -> Result<Vec<Record>> {
    ids.iter()
        .filter_map(|&id| locate(layers, id))
        .map(|(l, row)| record(layers[l].src, row, with_payload, with_vector))
        .collect()
}

/// Live rows of every layer in ascending id order from `start`, as (layer, row).
pub(crate) fn in_id_order<'a>(
    layers: &'a [Layer<'a>],
    start: Option<PointId>,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut heads: Vec<_> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.src
                .rows_in_id_order(start)
                .filter(move |&r| l.live(r))
                .map(move |r| (i, r))
                .peekable()
        })
        .collect();
    std::iter::from_fn(move || {
        // The head with the smallest id; ids are unique across layers among live rows.
        let (_, h) = heads
            .iter_mut()
            .enumerate()
            .filter_map(|(h, it)| it.peek().map(|&(l, r)| (layers[l].src.id(r), h)))
            .min()?;
        heads[h].next()
    })
}

pub(crate) fn scroll(
    layers: &[Layer<'_>],
    filter: Option<&Filter>,
    limit: usize,
    offset: Option<PointId>,
    with_payload: bool,
    with_vector: bool,
) -> Result<ScrollPage> {
    if limit == 0 {
        return Err(Error::InvalidArgument(
            "scroll limit must be at least 1".into(),
        ));
    }
    let mut records = Vec::new();
    let mut next_offset = None;
    let keys = filter.and_then(Filter::payload_keys);
    for (l, row) in in_id_order(layers, offset) {
        let src = layers[l].src;
        if let Some(f) = filter {
            if !f.matches(
                src.id(row),
                filtered_payload(src, row, keys.as_deref())?.as_ref(),
            ) {
                continue;
            }
        }
        if records.len() == limit {
            next_offset = Some(src.id(row));
            break;
        }
        records.push(record(src, row, with_payload, with_vector)?);
    }
    Ok(ScrollPage {
        records,
        next_offset,
    })
}

pub(crate) fn search_mmr(
    layers: &[Layer<'_>],
    request: &SearchRequest<'_>,
    fetch_k: usize,
    lambda: f32,
) -> Result<Vec<ScoredPoint>> {
    crate::mmr::check_lambda(lambda)?;
    let want = request.k.saturating_add(request.offset);
    let fetch = SearchRequest {
        k: fetch_k.max(want),
        offset: 0,
        with_vector: true,
        ..*request
    };
    let mut hits = search_batch(layers, std::slice::from_ref(&fetch))?
        .pop()
        .unwrap_or_default();
    let order = {
        let vectors: Vec<&[f32]> = hits
            .iter()
            .map(|h| h.vector.as_deref().unwrap_or_default())
            .collect();
        crate::mmr::select(request.vector, &vectors, want, lambda)
    };
    let mut slots: Vec<Option<ScoredPoint>> = hits.drain(..).map(Some).collect();
    Ok(order
        .into_iter()
        .skip(request.offset)
        .filter_map(|i| slots[i].take())
        .map(|mut h| {
            if !request.with_vector {
                h.vector = None;
            }
            h
        })
        .collect())
}

pub(crate) fn search_batch(
    layers: &[Layer<'_>],
    requests: &[SearchRequest<'_>],
) -> Result<Vec<Vec<ScoredPoint>>> {
    let Some(first) = layers.first() else {
        return Ok(vec![Vec::new(); requests.len()]);
    };
    let config = first.src.config();
    let metric = config.metric;
    let mut prepared = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        let context = || {
            if requests.len() == 1 {
                "query".to_owned()
            } else {
                format!("query {i} of the batch")
            }
        };
        if r.k == 0 {
            return Err(Error::InvalidArgument(format!(
                "k must be at least 1 ({})",
                context()
            )));
        }
        if r.score_threshold.is_some_and(f32::is_nan) {
            return Err(Error::InvalidArgument(format!(
                "score_threshold is NaN ({})",
                context()
            )));
        }
        if let Some(o) = r.oversampling {
            crate::quantization::check_oversampling(o).map_err(|e| match e {
                Error::InvalidArgument(why) => {
                    Error::InvalidArgument(format!("{why} ({})", context()))
                }
                other => other,
            })?;
        }
        vectors::validate(config, r.vector, &context)?;
        prepared.push(vectors::prepared(metric, r.vector));
    }

    // Group requests by filter so each distinct filter is evaluated once. An empty filter
    // (JSON `null` or `{}`) passes every point: it is no filter.
    let mut groups: Vec<(Option<&Filter>, Vec<usize>)> = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let filter = r.filter.filter(|f| **f != Filter::default());
        let same = |g: &(Option<&Filter>, Vec<usize>)| match (g.0, filter) {
            (None, None) => true,
            (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
            _ => false,
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.1.push(i),
            None => groups.push((filter, vec![i])),
        }
    }

    let kernels = Kernels::detected();
    let scan = ScanBatch {
        requests,
        prepared: &prepared,
        kernels,
    };
    // Row numbers across layers: layer i's rows start at bases[i].
    let mut bases = Vec::with_capacity(layers.len());
    let mut total = 0usize;
    for l in layers {
        bases.push(total);
        total += l.src.len();
    }
    let mut results: Vec<Vec<ScoredPoint>> = vec![Vec::new(); requests.len()];
    for (filter, members) in groups {
        let cap = |i: usize, n: usize| requests[i].k.saturating_add(requests[i].offset).min(n);
        let mut merged: Vec<TopK> = members.iter().map(|&i| TopK::new(cap(i, total))).collect();
        for (layer, &base) in layers.iter().zip(&bases) {
            let dead = layer.dead.filter(|d| d.count() > 0);
            let graph = layer.src.hnsw();
            let codes = layer.src.codes();
            let matching = match filter {
                Some(f) => Some(matching(*layer, f)?),
                None => None,
            };
            let allowed_count = matching
                .as_ref()
                .map_or_else(|| layer.live_count(), RowSet::len);
            // The planner: scanning the allowed rows costs one distance each; the graph costs
            // about `per_ef * ef` distances, divided by the allowed fraction because the walk
            // passes disallowed rows too. The cheaper wins; scanning is also exact.
            let ef_plan = members
                .iter()
                .map(|&i| {
                    let ef = requests[i].ef.unwrap_or(64).max(cap(i, allowed_count));
                    // A walk cannot collect more rows than the layer holds.
                    ef.min(layer.src.len().max(1))
                })
                .max()
                .unwrap_or(64);
            let graph_cost = (GRAPH_DISTANCES_PER_EF * ef_plan).saturating_mul(layer.src.len())
                / allowed_count.max(1);
            let mut walk = graph_cost < allowed_count;
            // The filter's rows as a bitmap: the walk's mask, and where clustering is read.
            let mut mask: Option<Cow<'_, Bitset>> = None;
            if let (Some(g), Some(rows), false) = (&graph, &matching, walk) {
                // A filter whose rows are spread through the graph costs a walk about the same
                // whatever its selectivity (stepping through disallowed rows to their
                // neighbours finds allowed ones everywhere), so it is walked once its rows
                // outnumber that cost; a clustered one (one topic's rows) is left to the model
                // above, because a walk from a query outside the region wanders among rows
                // all about as far from it.
                if SPREAD_WALK_ROWS_PER_EF * ef_plan < allowed_count {
                    let bits = mask.insert(rows.bits(layer.src.len()));
                    walk = g
                        .clustering(bits, allowed_count)
                        .is_some_and(|k| k <= SPREAD_MAX_CLUSTERING);
                }
            }
            // A value graph (the rows of a keyword value the filter requires, linked among
            // themselves) beats both when walking it, plus scanning the filter's rows it does
            // not hold, costs less than the chosen plan.
            let value_walk = match (filter, &matching) {
                (Some(f), Some(rows)) => layer.src.value_graph(f).and_then(|vg| {
                    let plan = ValueWalk::plan(vg, rows, layer.src.len())?;
                    let inside = allowed_count - plan.rest.len();
                    let cost = (GRAPH_DISTANCES_PER_EF * VALUE_WALK_EF_FACTOR * ef_plan)
                        .saturating_mul(vg.members.len())
                        / inside.max(1)
                        + plan.rest.len();
                    let chosen = if walk { graph_cost } else { allowed_count };
                    (cost < chosen).then_some(plan)
                }),
                _ => None,
            };
            let walk = walk && value_walk.is_none();
            let graph = graph.filter(|_| walk);
            // (slot in `merged`, request index) for each member, split by strategy.
            type Members<'m> = Vec<(usize, &'m usize)>;
            let (graph_members, exact_members): (Members<'_>, Members<'_>) =
                members.iter().enumerate().partition(|(_, &i)| {
                    (graph.is_some() || value_walk.is_some()) && !requests[i].exact
                });
            // The walk, if any: a value graph (nodes numbered by its members, the beam widened)
            // or the main graph (the filter's rows as its mask, or the tombstones).
            let mask = match (&value_walk, graph) {
                (None, Some(_)) => {
                    mask.or_else(|| matching.as_ref().map(|rows| rows.bits(layer.src.len())))
                }
                _ => None,
            };
            let walked = match (&value_walk, graph) {
                (Some(vw), _) => Some((
                    vw.graph.graph,
                    vw.allow.as_ref().map_or(Allow::All, Allow::Only),
                    Some(vw.graph.members),
                    VALUE_WALK_EF_FACTOR,
                )),
                (None, Some(g)) => {
                    let allow = match (&mask, dead) {
                        (Some(m), _) => Allow::Only(m),
                        (None, Some(d)) => Allow::Except(d),
                        (None, None) => Allow::All,
                    };
                    Some((g, allow, None, 1))
                }
                (None, None) => None,
            };
            if let Some((g, allow, subset, widen)) = walked.filter(|_| !graph_members.is_empty()) {
                #[cfg(test)]
                if subset.is_some() {
                    VALUE_WALKS.with(|w| w.set(w.get() + graph_members.len()));
                }
                // A value graph's nodes back to the layer's rows.
                let to_rows = |found: Vec<Candidate>| -> Vec<Candidate> {
                    match subset {
                        Some(members) => found
                            .into_iter()
                            .map(|c| Candidate {
                                score: c.score,
                                offset: members[c.offset as usize],
                            })
                            .collect(),
                        None => found,
                    }
                };
                for &(slot, &i) in &graph_members {
                    let r = &requests[i];
                    let want = cap(i, allowed_count);
                    let ef = widen * r.ef.unwrap_or(64).max(want);
                    let hits = match codes {
                        // Walk the graph over codes, then rescore the best few exactly.
                        Some(c) => {
                            let mut pool = c.quantization().candidates(want, r.oversampling);
                            // Inside one value's region, bits tell rows apart less well than
                            // across the collection: a value walk over binary codes rescores
                            // `widen` times the candidates (wordnet animal, ef 64: recall@10
                            // 0.92 -> 0.96). Int8 loses nothing there (0.967 either way).
                            if subset.is_some()
                                && matches!(c.quantization(), Quantization::Binary(_))
                            {
                                pool *= widen;
                            }
                            let found =
                                c.walk(&g, metric, &prepared[i], pool, ef.max(pool), allow, subset);
                            layer.src.rescore(&prepared[i], &to_rows(found), want)?
                        }
                        None => to_rows(g.search(
                            layer.src.rows(),
                            config.dim,
                            metric,
                            &prepared[i],
                            want,
                            ef,
                            allow,
                            subset,
                            layer.src.guard(),
                        )),
                    };
                    for c in hits {
                        merged[slot].push(c.score, (base + c.offset as usize) as u32);
                    }
                }
                // The filter's rows a value graph does not hold (they gained the value since it
                // was linked) are scanned for the same requests.
                if let Some(vw) = value_walk.as_ref().filter(|vw| !vw.rest.is_empty()) {
                    let cands = Candidates::List(&vw.rest);
                    scan_rows(*layer, base, cands, &graph_members, &scan, &mut merged)?;
                }
            }
            if exact_members.is_empty() {
                continue;
            }
            let matching = matching.map(RowSet::into_list);
            let live_rows: Option<Vec<u32>> = match (&matching, dead) {
                (None, Some(_)) => Some(
                    (0..layer.src.len())
                        .filter(|&r| layer.live(r))
                        .map(|r| r as u32)
                        .collect(),
                ),
                _ => None,
            };
            let cands = match (&matching, &live_rows) {
                (Some(rows), _) | (None, Some(rows)) => Candidates::List(rows),
                (None, None) => Candidates::All(layer.src.len()),
            };
            scan_rows(*layer, base, cands, &exact_members, &scan, &mut merged)?;
        }
        for (&i, top) in members.iter().zip(merged) {
            let r = &requests[i];
            let mut hits = Vec::new();
            for c in top.into_sorted().into_iter().skip(r.offset).take(r.k) {
                let score = exact::user_score(metric, c.score);
                let passes = match r.score_threshold {
                    None => true,
                    Some(t) if metric.higher_is_closer() => score >= t,
                    Some(t) => score <= t,
                };
                if !passes {
                    break;
                }
                let global = c.offset as usize;
                let l = bases.partition_point(|&b| b <= global) - 1;
                let (src, row) = (layers[l].src, global - bases[l]);
                hits.push(ScoredPoint {
                    id: src.id(row),
                    score,
                    payload: if r.with_payload {
                        Some(src.payload(row)?.into_owned())
                    } else {
                        None
                    },
                    vector: r.with_vector.then(|| src.rows().get(row, config.dim)),
                });
            }
            results[i] = hits;
        }
    }
    Ok(results)
}

#[cfg(test)]
thread_local! {
    /// Searches this thread answered by walking a value graph (tests check the planner's
    /// choice with it).
    pub(crate) static VALUE_WALKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The requests of a batch, as a scan of listed rows needs them.
struct ScanBatch<'b> {
    requests: &'b [SearchRequest<'b>],
    prepared: &'b [Cow<'b, [f32]>],
    kernels: &'static Kernels,
}

/// Scans `cands` of `layer` (whose rows start at `base` in `merged`'s numbering) for the
/// requests `members` names ((slot in `merged`, request index)): over codes, then rescored,
/// where the layer has codes and the request did not ask for exact search; over the stored
/// vectors otherwise.
fn scan_rows(
    layer: Layer<'_>,
    base: usize,
    cands: Candidates<'_>,
    members: &[(usize, &usize)],
    batch: &ScanBatch<'_>,
    merged: &mut [TopK],
) -> Result<()> {
    let (requests, prepared) = (batch.requests, batch.prepared);
    let config = layer.src.config();
    let codes = layer.src.codes();
    let cap = |i: usize| {
        requests[i]
            .k
            .saturating_add(requests[i].offset)
            .min(cands.len())
    };
    let (code_members, exact_members): (Vec<_>, Vec<_>) = members
        .iter()
        .partition(|(_, &i)| codes.is_some() && !requests[i].exact);
    if let Some(c) = codes {
        for &&(slot, &i) in &code_members {
            let want = cap(i);
            let pool = c.quantization().candidates(want, requests[i].oversampling);
            let found = c.scan(config.metric, &prepared[i], cands, pool);
            let hits = layer.src.rescore(&prepared[i], &found, want)?;
            for h in hits {
                merged[slot].push(h.score, (base + h.offset as usize) as u32);
            }
        }
    }
    if exact_members.is_empty() {
        return Ok(());
    }
    let queries: Vec<Query<'_>> = exact_members
        .iter()
        .map(|&&(_, &i)| Query {
            vector: &prepared[i],
            cap: cap(i),
        })
        .collect();
    let tops = exact::scan(
        layer.src.rows(),
        config.dim,
        config.metric,
        batch.kernels,
        cands,
        &queries,
    );
    for (&&(slot, _), top) in exact_members.iter().zip(tops) {
        for c in top.into_sorted() {
            merged[slot].push(c.score, (base + c.offset as usize) as u32);
        }
    }
    Ok(())
}

/// A walk of a value graph planned for one filter and layer.
struct ValueWalk<'g> {
    graph: ValueGraphRef<'g>,
    /// The graph's nodes the filter allows; `None` when it allows them all.
    allow: Option<Bitset>,
    /// The filter's rows the graph does not hold, ascending.
    rest: Vec<u32>,
}

impl<'g> ValueWalk<'g> {
    /// How to walk `graph` for the filter's rows `rows` (of a layer of `len` rows); `None`
    /// when the graph holds none of them.
    fn plan(graph: ValueGraphRef<'g>, rows: &RowSet, len: usize) -> Option<ValueWalk<'g>> {
        // Usually empty: word by word for a bitmap, never listing the rows.
        let rest = rows.clone().without(Some(graph.bits)).into_list();
        let inside = rows.len() - rest.len();
        if inside == 0 {
            return None;
        }
        let members = graph.members;
        let allow = (inside < members.len()).then(|| {
            let bits = rows.bits(len);
            let mut local = Bitset::new(members.len());
            for (i, &r) in members.iter().enumerate() {
                if bits.contains(r as usize) {
                    local.insert(i);
                }
            }
            local
        });
        Some(ValueWalk { graph, allow, rest })
    }
}
