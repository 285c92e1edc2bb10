//! `Collection`: one collection in the page's memory, new or read from snapshot bytes.

use js_sys::{Array, Float32Array, Function, Object, Uint8Array};
use stratavec_core::{
    Collection as CoreCollection, CollectionConfig, Metric, PayloadIndexType, Quantization,
    SearchRequest, Snapshot, VectorType,
};
use wasm_bindgen::prelude::*;

use crate::convert::{self, set};
use crate::error::{invalid, OrThrow};

/// What a collection holds: points written here, or a snapshot read as it is (searched in
/// place; turned into a writable collection by the first write).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per collection, never in a collection of them
enum Inner {
    Memory(CoreCollection),
    Snapshot(Snapshot),
}

/// Runs `$body` with `$c` bound to whichever core collection `$inner` holds (the read
/// methods have the same names on both).
macro_rules! each {
    ($inner:expr, |$c:ident| $body:expr) => {
        match $inner {
            Inner::Memory($c) => $body,
            Inner::Snapshot($c) => $body,
        }
    };
}

/// A collection of points (id, vector, JSON payload) held in the page's memory.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Collection {
    inner: Inner,
}

const SEARCH_OPTIONS: &[&str] = &[
    "k",
    "filter",
    "ef",
    "scoreThreshold",
    "offset",
    "withPayload",
    "withVector",
    "exact",
    "oversampling",
];

/// The settings of one search.
struct SearchOptions {
    k: usize,
    filter: Option<stratavec_core::Filter>,
    ef: Option<usize>,
    score_threshold: Option<f32>,
    offset: usize,
    with_payload: bool,
    with_vector: bool,
    exact: bool,
    oversampling: Option<f32>,
}

impl SearchOptions {
    fn parse(v: &JsValue) -> Result<SearchOptions, JsValue> {
        let mut o = SearchOptions {
            k: 10,
            filter: None,
            ef: None,
            score_threshold: None,
            offset: 0,
            with_payload: true,
            with_vector: false,
            exact: false,
            oversampling: None,
        };
        for (key, x) in convert::options(v, "search", SEARCH_OPTIONS)? {
            match key.as_str() {
                "k" => o.k = convert::count_option(&x, "k")?,
                "filter" => o.filter = convert::filter(&x)?,
                "ef" => o.ef = Some(convert::count_option(&x, "ef")?),
                "scoreThreshold" => {
                    o.score_threshold = Some(convert::number_option(&x, "scoreThreshold")? as f32)
                }
                "offset" => o.offset = convert::count_option(&x, "offset")?,
                "withPayload" => o.with_payload = convert::bool_option(&x, "withPayload")?,
                "withVector" => o.with_vector = convert::bool_option(&x, "withVector")?,
                "oversampling" => {
                    o.oversampling = Some(convert::number_option(&x, "oversampling")? as f32)
                }
                _ => o.exact = convert::bool_option(&x, "exact")?,
            }
        }
        Ok(o)
    }

    fn request<'a>(&'a self, query: &'a [f32]) -> SearchRequest<'a> {
        SearchRequest {
            vector: query,
            k: self.k,
            filter: self.filter.as_ref(),
            score_threshold: self.score_threshold,
            offset: self.offset,
            with_payload: self.with_payload,
            with_vector: self.with_vector,
            ef: self.ef,
            exact: self.exact,
            oversampling: self.oversampling,
        }
    }
}

#[wasm_bindgen]
impl Collection {
    /// A new empty collection: `{dim, metric: "cosine" | "dot" | "euclid" | "manhattan",
    /// index: "hnsw" | "flat" | {type, m, efConstruction}, vectorType: "f32" | "f16",
    /// quantization: null | "int8" | "binary" | {...}}`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Collection, JsValue> {
        let mut dim = None;
        let mut metric = Metric::Cosine;
        let mut vector_type = VectorType::F32;
        let mut index = JsValue::UNDEFINED;
        let mut quantization = None;
        let allowed = ["dim", "metric", "index", "vectorType", "quantization"];
        for (key, x) in convert::options(&options, "collection", &allowed)? {
            match key.as_str() {
                "dim" => dim = Some(convert::count_option(&x, "dim")?),
                "metric" => metric = convert::string_option(&x, "metric")?.parse().or_throw()?,
                "vectorType" => {
                    vector_type = convert::string_option(&x, "vectorType")?
                        .parse()
                        .or_throw()?
                }
                "index" => index = x,
                _ => quantization = convert::quantization(&x)?,
            }
        }
        let dim = dim.ok_or_else(|| invalid("a collection needs its dimension: {dim: ...}"))?;
        let index = convert::index(&index)?;
        let mut config = CollectionConfig::new(dim, metric);
        config.vector_type = vector_type;
        let mut c = CoreCollection::new(config).or_throw()?;
        c.set_quantization(quantization).or_throw()?;
        if let Some(params) = index {
            c.build_index(params).or_throw()?;
        }
        Ok(Collection {
            inner: Inner::Memory(c),
        })
    }

    /// A collection read from snapshot bytes (written by `toSnapshot` here or by any other
    /// host: Python, Node, the server). The bytes are copied and every checksum checked;
    /// searches read them in place, and the first write turns them into an ordinary collection.
    /// `options.quantization` ranks searches by int8 or binary codes: the snapshot's own when it
    /// carries them (written by a quantized collection), computed on load otherwise.
    #[wasm_bindgen(js_name = fromSnapshot)]
    pub fn from_snapshot(bytes: &Uint8Array, options: JsValue) -> Result<Collection, JsValue> {
        let mut quantization = None;
        for (_, x) in convert::options(&options, "fromSnapshot", &["quantization"])? {
            quantization = convert::quantization(&x)?;
        }
        // Copied once, straight into the snapshot's aligned buffer: wasm memory never shrinks,
        // so an intermediate copy would cost the snapshot's size for good.
        let mut s =
            Snapshot::from_fill(bytes.length() as usize, |buf| bytes.copy_to(buf)).or_throw()?;
        // Bytes from the network or browser storage: check every checksum now (a pass over
        // memory), so damage is an error here rather than a wrong answer later.
        s.verify().or_throw()?;
        if quantization.is_some() {
            s.set_quantization(quantization).or_throw()?;
        }
        Ok(Collection {
            inner: Inner::Snapshot(s),
        })
    }

    /// The collection as snapshot bytes: one file that opens in every host.
    #[wasm_bindgen(js_name = toSnapshot)]
    pub fn to_snapshot(&self) -> Result<Uint8Array, JsValue> {
        match &self.inner {
            Inner::Memory(c) => Ok(Uint8Array::from(c.snapshot_bytes().or_throw()?.as_slice())),
            // Not written to since it was read: the bytes it was read from.
            Inner::Snapshot(s) => Ok(Uint8Array::from(s.file_bytes())),
        }
    }

    /// The number of components per vector.
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.config().dim
    }

    /// The metric's name.
    #[wasm_bindgen(getter)]
    pub fn metric(&self) -> String {
        self.config().metric.to_string()
    }

    /// How many points the collection holds.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        each!(&self.inner, |c| c.len())
    }

    /// Whether searches walk an HNSW graph (else they scan every point).
    #[wasm_bindgen(getter, js_name = hasIndex)]
    pub fn has_index(&self) -> bool {
        each!(&self.inner, |c| c.has_index())
    }

    /// The quantization searches rank by (`null` when none), as its settings.
    #[wasm_bindgen(getter)]
    pub fn quantization(&self) -> JsValue {
        each!(&self.inner, |c| c.quantization())
            .map_or(JsValue::NULL, |q| convert::from_json(&q.to_json()))
    }

    /// Inserts or replaces points: `ids` (numbers, BigInts or UUID strings), `vectors` one
    /// flat `Float32Array` of `ids.length * dim` numbers, `payloads` an optional array of
    /// objects. The batch is checked whole first: a rejected batch writes nothing.
    pub fn upsert(
        &mut self,
        ids: JsValue,
        vectors: JsValue,
        payloads: JsValue,
    ) -> Result<(), JsValue> {
        let ids = convert::point_ids(&ids)?;
        let vectors = convert::vectors(&vectors, "vectors")?;
        let payloads = convert::payloads(&payloads, ids.len())?;
        self.writable()?.upsert(&ids, &vectors, payloads).or_throw()
    }

    /// The closest points to `query` (a `Float32Array` of `dim` numbers), as
    /// `{ids, scores, payloads?, vectors?}`. Options: `k` (10), `filter` (a Qdrant-style
    /// filter object), `ef` (HNSW breadth), `scoreThreshold`, `offset`, `withPayload` (true),
    /// `withVector` (false), `exact` (false).
    pub fn search(&self, query: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let query = convert::vectors(&query, "query")?;
        let o = SearchOptions::parse(&options)?;
        let found = each!(&self.inner, |c| c.search(&o.request(&query))).or_throw()?;
        Ok(convert::hits(&found, o.with_payload, o.with_vector))
    }

    /// Several queries at once (`queries`: a flat `Float32Array` of `n * dim` numbers), with
    /// the same options; an array of results in query order.
    #[wasm_bindgen(js_name = searchBatch)]
    pub fn search_batch(&self, queries: JsValue, options: JsValue) -> Result<Array, JsValue> {
        let queries = convert::vectors(&queries, "queries")?;
        let o = SearchOptions::parse(&options)?;
        let dim = self.dim();
        if queries.len() % dim != 0 {
            return Err(crate::error::js_error(
                crate::error::Code::DimensionMismatch,
                format!(
                    "queries hold {} numbers, not a whole number of {dim}-component vectors",
                    queries.len()
                ),
            ));
        }
        let requests: Vec<_> = queries.chunks_exact(dim).map(|q| o.request(q)).collect();
        let found = each!(&self.inner, |c| c.search_batch(&requests)).or_throw()?;
        Ok(found
            .iter()
            .map(|hits| convert::hits(hits, o.with_payload, o.with_vector))
            .collect())
    }

    /// `k` points picked by maximal marginal relevance from the `fetchK` closest to `query`:
    /// similar to it and unlike each other, `lambda` (0.5) weighing the two (1: similarity
    /// alone). Options as `search` plus `fetchK` (default max(20, 4k)) and `lambda`.
    #[wasm_bindgen(js_name = searchMmr)]
    pub fn search_mmr(&self, query: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let query = convert::vectors(&query, "query")?;
        let mut fetch_k = None;
        let mut lambda = 0.5f32;
        // The MMR settings are taken out; the rest are a search's options.
        let rest = Object::new();
        let mut allowed = SEARCH_OPTIONS.to_vec();
        allowed.extend(["fetchK", "lambda"]);
        for (key, x) in convert::options(&options, "searchMmr", &allowed)? {
            match key.as_str() {
                "fetchK" => fetch_k = Some(convert::count_option(&x, "fetchK")?),
                "lambda" => lambda = convert::number_option(&x, "lambda")? as f32,
                _ => set(&rest, &key, &x),
            }
        }
        let o = SearchOptions::parse(&rest)?;
        let fetch_k = fetch_k.unwrap_or_else(|| o.k.saturating_mul(4).max(20));
        let found = each!(&self.inner, |c| c.search_mmr(
            &o.request(&query),
            fetch_k,
            lambda
        ))
        .or_throw()?;
        Ok(convert::hits(&found, o.with_payload, o.with_vector))
    }

    /// The points with these ids, in the order asked (ids not stored are skipped), as
    /// `{id, payload?, vector?}`. Options: `withPayload` (true), `withVector` (false).
    pub fn get(&self, ids: JsValue, options: JsValue) -> Result<Array, JsValue> {
        let ids = convert::point_ids(&ids)?;
        let (mut with_payload, mut with_vector) = (true, false);
        for (key, x) in convert::options(&options, "get", &["withPayload", "withVector"])? {
            match key.as_str() {
                "withPayload" => with_payload = convert::bool_option(&x, "withPayload")?,
                _ => with_vector = convert::bool_option(&x, "withVector")?,
            }
        }
        let records = each!(&self.inner, |c| c.get(&ids, with_payload, with_vector)).or_throw()?;
        Ok(records.iter().map(convert::record).collect())
    }

    /// Deletes points by id (ids not stored are skipped); returns how many were deleted.
    #[wasm_bindgen(js_name = delete)]
    pub fn delete(&mut self, ids: JsValue) -> Result<usize, JsValue> {
        let ids = convert::point_ids(&ids)?;
        Ok(self.writable()?.delete(&ids))
    }

    /// Deletes every point passing `filter`; returns how many were deleted.
    #[wasm_bindgen(js_name = deleteByFilter)]
    pub fn delete_by_filter(&mut self, filter: JsValue) -> Result<usize, JsValue> {
        let filter = convert::filter(&filter)?
            .ok_or_else(|| invalid("deleteByFilter needs a filter ({} deletes every point)"))?;
        self.writable()?.delete_by_filter(&filter).or_throw()
    }

    /// How many points pass `filter` (all of them without one).
    pub fn count(&self, filter: JsValue) -> Result<usize, JsValue> {
        let filter = convert::filter(&filter)?;
        each!(&self.inner, |c| c.count(filter.as_ref())).or_throw()
    }

    /// A page of points in id order: `{points, nextOffset}` (`nextOffset` is `null` on the
    /// last page). Options: `filter`, `limit` (100), `offset` (an id to start at),
    /// `withPayload` (true), `withVector` (false).
    pub fn scroll(&self, options: JsValue) -> Result<Object, JsValue> {
        let (mut filter, mut limit, mut offset) = (None, 100, None);
        let (mut with_payload, mut with_vector) = (true, false);
        let allowed = ["filter", "limit", "offset", "withPayload", "withVector"];
        for (key, x) in convert::options(&options, "scroll", &allowed)? {
            match key.as_str() {
                "filter" => filter = convert::filter(&x)?,
                "limit" => limit = convert::count_option(&x, "limit")?,
                "offset" => {
                    offset = if x.is_null() {
                        None
                    } else {
                        Some(convert::point_id(&x)?)
                    }
                }
                "withPayload" => with_payload = convert::bool_option(&x, "withPayload")?,
                _ => with_vector = convert::bool_option(&x, "withVector")?,
            }
        }
        let page = each!(&self.inner, |c| c.scroll(
            filter.as_ref(),
            limit,
            offset,
            with_payload,
            with_vector
        ))
        .or_throw()?;
        let o = Object::new();
        let points: Array = page.records.iter().map(convert::record).collect();
        set(&o, "points", &points);
        set(
            &o,
            "nextOffset",
            &page
                .next_offset
                .as_ref()
                .map_or(JsValue::NULL, convert::id_to_js),
        );
        Ok(o)
    }

    /// Sets these keys of the payloads of these points (other keys stay).
    #[wasm_bindgen(js_name = setPayload)]
    pub fn set_payload(&mut self, ids: JsValue, payload: JsValue) -> Result<usize, JsValue> {
        let ids = convert::point_ids(&ids)?;
        let payload = convert::payload(&payload, "payload")?;
        Ok(self.writable()?.set_payload(&ids, &payload))
    }

    /// Replaces the payloads of these points.
    #[wasm_bindgen(js_name = overwritePayload)]
    pub fn overwrite_payload(&mut self, ids: JsValue, payload: JsValue) -> Result<usize, JsValue> {
        let ids = convert::point_ids(&ids)?;
        let payload = convert::payload(&payload, "payload")?;
        Ok(self.writable()?.overwrite_payload(&ids, &payload))
    }

    /// Removes these top-level keys from the payloads of these points.
    #[wasm_bindgen(js_name = deletePayload)]
    pub fn delete_payload(&mut self, ids: JsValue, keys: Vec<String>) -> Result<usize, JsValue> {
        let ids = convert::point_ids(&ids)?;
        Ok(self.writable()?.delete_payload_keys(&ids, &keys))
    }

    /// Indexes the payload values at `field` (a key path such as `"meta.lang"`) as `type`:
    /// keyword, integer, float, bool, datetime or uuid.
    #[wasm_bindgen(js_name = createPayloadIndex)]
    pub fn create_payload_index(&mut self, field: &str, kind: &str) -> Result<(), JsValue> {
        let kind: PayloadIndexType = kind.parse().or_throw()?;
        match &mut self.inner {
            Inner::Memory(c) => c.create_payload_index(field, kind),
            Inner::Snapshot(s) => s.create_payload_index(field, kind),
        }
        .or_throw()
    }

    /// Drops the payload index on `field`; whether there was one.
    #[wasm_bindgen(js_name = dropPayloadIndex)]
    pub fn drop_payload_index(&mut self, field: &str) -> bool {
        match &mut self.inner {
            Inner::Memory(c) => c.drop_payload_index(field),
            Inner::Snapshot(s) => s.drop_payload_index(field),
        }
    }

    /// The payload indexes, as `{field: type}`.
    #[wasm_bindgen(js_name = payloadIndexes)]
    pub fn payload_indexes(&self) -> Object {
        let o = Object::new();
        for (field, kind) in each!(&self.inner, |c| c.payload_index_list()) {
            set(&o, &field, &JsValue::from_str(&kind.to_string()));
        }
        o
    }

    /// Builds an HNSW graph over every point (`{m, efConstruction}`); `onProgress(done)` is
    /// called as points are linked and may return `false` to stop (the old index is kept).
    /// Returns whether the build finished.
    #[wasm_bindgen(js_name = buildIndex)]
    pub fn build_index(
        &mut self,
        options: JsValue,
        on_progress: Option<Function>,
    ) -> Result<bool, JsValue> {
        let params = convert::index(&if options.is_undefined() || options.is_null() {
            JsValue::from_str("hnsw")
        } else {
            options
        })?
        .ok_or_else(|| invalid("buildIndex builds HNSW; use dropIndex() for a flat index"))?;
        let c = self.writable()?;
        let mut thrown = None;
        let done = c
            .build_index_with_progress(params, &mut |n| match &on_progress {
                None => true,
                Some(f) => match f.call1(&JsValue::NULL, &JsValue::from_f64(n as f64)) {
                    Ok(r) => r.as_bool() != Some(false),
                    Err(e) => {
                        thrown = Some(e);
                        false
                    }
                },
            })
            .or_throw()?;
        match thrown {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Drops the graph: searches then scan every point (exact).
    #[wasm_bindgen(js_name = dropIndex)]
    pub fn drop_index(&mut self) -> Result<(), JsValue> {
        self.writable()?.drop_index();
        Ok(())
    }

    /// Ranks searches by codes (`"int8"`, `"binary"`, settings) rescored at full precision,
    /// or at full precision only (`null`).
    #[wasm_bindgen(js_name = setQuantization)]
    pub fn set_quantization(&mut self, quantization: JsValue) -> Result<(), JsValue> {
        let q: Option<Quantization> = convert::quantization(&quantization)?;
        match &mut self.inner {
            Inner::Memory(c) => c.set_quantization(q),
            Inner::Snapshot(s) => s.set_quantization(q),
        }
        .or_throw()
    }

    /// Drops deleted points now and repairs the graph around them (this also happens by
    /// itself once they are a quarter of the points).
    pub fn optimize(&mut self) {
        if let Inner::Memory(c) = &mut self.inner {
            c.optimize();
        }
    }

    /// The stored vector of a point as a `Float32Array`, or `undefined`.
    #[wasm_bindgen(js_name = getVector)]
    pub fn get_vector(&self, id: JsValue) -> Result<Option<Float32Array>, JsValue> {
        let id = convert::point_id(&id)?;
        let records = each!(&self.inner, |c| c.get(&[id], false, true)).or_throw()?;
        Ok(records
            .first()
            .and_then(|r| r.vector.as_deref())
            .map(Float32Array::from))
    }
}

impl Collection {
    fn config(&self) -> CollectionConfig {
        *each!(&self.inner, |c| c.config())
    }

    /// The collection to write to: a snapshot becomes an ordinary collection first (its
    /// graph, payload indexes and quantization carried over).
    fn writable(&mut self) -> Result<&mut CoreCollection, JsValue> {
        if let Inner::Snapshot(s) = &self.inner {
            self.inner = Inner::Memory(s.to_quantized_collection().or_throw()?);
        }
        match &mut self.inner {
            Inner::Memory(c) => Ok(c),
            Inner::Snapshot(_) => Err(crate::error::js_error(
                crate::error::Code::Internal,
                "the snapshot could not be made writable",
            )),
        }
    }
}
