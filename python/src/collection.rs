//! One collection, whatever keeps it: in memory (`sv.connect()`), durable in a database folder
//! (`sv.connect(path)`), or a read-only snapshot (`sv.open_snapshot(path)`).
//!
//! The three core types answer reads with the same methods; writes differ only in that an
//! in-memory collection needs exclusive access (it is behind a lock here) while a durable one
//! synchronises itself. A closed collection (its database closed, or it was dropped) refuses
//! every call with `ClosedError`.

use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use stratavec_core::{
    Collection as MemoryCollection, CollectionConfig, DurableCollection, Error, Filter, Payload,
    PayloadIndexType, PointId, Quantization, ScoredPoint, SearchRequest, Snapshot, StorageOptions,
    StorageTier,
};

use crate::convert::{self, id_to_py, point_id, point_ids, quoted, row_count, rows};
use crate::errors::{self, error, Kind, OrRaise};
use crate::options;
use crate::progress::{Progress, Watch};
use crate::results::{Hits, Record};

/// Rows per upsert call into the core: between calls the GIL is taken back to update the
/// progress bar and to let Ctrl-C through.
const UPSERT_CHUNK: usize = 16_384;

/// What keeps the points. One per collection, never moved after creation: the size
/// difference between variants costs nothing.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inner {
    Memory(MemoryCollection),
    Durable(DurableCollection),
    Snapshot(Snapshot),
}

/// Why work done without the GIL failed; made a Python exception once the GIL is back.
#[derive(Debug)]
pub(crate) enum Failure {
    Core(Error),
    Closed(String),
    ReadOnly(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Core(e)
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        match f {
            Failure::Core(e) => errors::map(e),
            Failure::Closed(name) => error(
                Kind::Closed,
                format!("collection {name:?} is closed (its database was closed, or it was dropped)"),
            ),
            Failure::ReadOnly(name) => error(
                Kind::ReadOnly,
                format!(
                    "collection {name:?} is a read-only snapshot; restore it into a database (Database.restore_collection) to change it"
                ),
            ),
        }
    }
}

/// A collection that accepts writes, as [`Store::write_with`] hands it over.
pub(crate) enum Writer<'a> {
    Memory(&'a mut MemoryCollection),
    Durable(&'a DurableCollection),
}

/// A collection shared by every Python object that refers to it.
#[derive(Debug)]
pub(crate) struct Store {
    name: String,
    inner: RwLock<Option<Inner>>,
}

/// Runs `$body` with `$c` bound to whichever core collection `$inner` holds (the read
/// methods every kind shares).
macro_rules! each_kind {
    ($inner:expr, |$c:ident| $body:expr) => {
        match $inner {
            Inner::Memory($c) => $body,
            Inner::Durable($c) => $body,
            Inner::Snapshot($c) => $body,
        }
    };
}

impl Store {
    pub(crate) fn new(name: &str, inner: Inner) -> Arc<Store> {
        Arc::new(Store {
            name: name.to_owned(),
            inner: RwLock::new(Some(inner)),
        })
    }

    fn shared(&self) -> Result<RwLockReadGuard<'_, Option<Inner>>, Failure> {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(Failure::Closed(self.name.clone()));
        }
        Ok(guard)
    }

    fn exclusive(&self) -> Result<RwLockWriteGuard<'_, Option<Inner>>, Failure> {
        let guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(Failure::Closed(self.name.clone()));
        }
        Ok(guard)
    }

    /// Runs a read.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Inner) -> Result<R, Error>) -> Result<R, Failure> {
        let guard = self.shared()?;
        match guard.as_ref() {
            Some(inner) => Ok(f(inner)?),
            None => Err(Failure::Closed(self.name.clone())),
        }
    }

    /// Runs a write: `memory` with exclusive access to an in-memory collection, `durable`
    /// beside readers on a durable one; refused on a snapshot.
    pub(crate) fn write<R>(
        &self,
        memory: impl FnOnce(&mut MemoryCollection) -> Result<R, Error>,
        durable: impl FnOnce(&DurableCollection) -> Result<R, Error>,
    ) -> Result<R, Failure> {
        self.write_with(|w| match w {
            Writer::Memory(c) => memory(c),
            Writer::Durable(d) => durable(d),
        })
    }

    /// [`Store::write`] with one function that receives either kind of writable collection.
    pub(crate) fn write_with<R>(
        &self,
        f: impl FnOnce(Writer<'_>) -> Result<R, Error>,
    ) -> Result<R, Failure> {
        {
            let guard = self.shared()?;
            match guard.as_ref() {
                Some(Inner::Durable(d)) => return Ok(f(Writer::Durable(d))?),
                Some(Inner::Snapshot(_)) => return Err(Failure::ReadOnly(self.name.clone())),
                _ => {}
            }
        }
        let mut guard = self.exclusive()?;
        match guard.as_mut() {
            Some(Inner::Memory(c)) => Ok(f(Writer::Memory(c))?),
            _ => Err(Failure::Closed(self.name.clone())),
        }
    }

    /// Closes the collection: later calls through any reference get `ClosedError`. A durable
    /// collection checkpoints, syncs and releases its folder's lock.
    pub(crate) fn close(&self) -> Result<(), Failure> {
        let taken = self.inner.write().unwrap_or_else(|e| e.into_inner()).take();
        match taken {
            Some(Inner::Durable(d)) => Ok(d.close()?),
            _ => Ok(()),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}

/// A collection of points: ids, vectors and JSON payloads, searched by similarity.
#[pyclass(module = "stratavec", frozen)]
#[derive(Debug)]
pub(crate) struct Collection {
    store: Arc<Store>,
}

impl Collection {
    pub(crate) fn new(store: Arc<Store>) -> Collection {
        Collection { store }
    }
}

/// Facts about a collection for `repr`.
struct Facts {
    points: usize,
    dim: usize,
    metric: String,
    kind: &'static str,
    index: bool,
    storage: String,
    quantization: Option<String>,
}

impl Collection {
    /// A payload write (set or overwrite) through the method of either kind of collection.
    fn write_payload(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        payload: &Bound<'_, PyAny>,
        memory: fn(&mut MemoryCollection, &[PointId], &Payload) -> usize,
        durable: fn(&DurableCollection, &[PointId], Payload) -> Result<(), Error>,
    ) -> PyResult<()> {
        let ids = point_ids(ids)?;
        let payload: Payload = convert::payload(payload)?;
        Ok(py.detach(|| {
            self.store.write(
                |c| {
                    memory(c, &ids, &payload);
                    Ok(())
                },
                |d| durable(d, &ids, payload.clone()),
            )
        })?)
    }

    fn facts(&self) -> Result<Facts, Failure> {
        self.store.read(|inner| {
            let config: CollectionConfig = match inner {
                Inner::Memory(c) => *c.config(),
                Inner::Durable(d) => d.config(),
                Inner::Snapshot(s) => *s.config(),
            };
            let points = each_kind!(inner, |c| c.count(None))?;
            let (kind, index, storage, quantization) = match inner {
                Inner::Memory(c) => (
                    "memory",
                    c.has_index(),
                    StorageTier::Memory,
                    c.quantization(),
                ),
                Inner::Durable(d) => {
                    let s = d.storage();
                    ("durable", d.has_index(), s.tier, s.quantization)
                }
                Inner::Snapshot(s) => ("snapshot", s.has_index(), s.tier(), s.quantization()),
            };
            Ok(Facts {
                points,
                dim: config.dim,
                metric: config.metric.to_string(),
                kind,
                index,
                storage: storage.to_string(),
                quantization: quantization.map(|q| q.name().to_owned()),
            })
        })
    }
}

/// Requests for each query row sharing everything else.
#[allow(clippy::too_many_arguments)]
fn requests<'a>(
    data: &'a [f32],
    n: usize,
    k: usize,
    filter: Option<&'a Filter>,
    ef: Option<usize>,
    score_threshold: Option<f32>,
    offset: usize,
    with_payload: bool,
    with_vector: bool,
    exact: bool,
    oversampling: Option<f32>,
) -> Vec<SearchRequest<'a>> {
    let dim = data.len().checked_div(n).unwrap_or(0);
    (0..n)
        .map(|i| SearchRequest {
            vector: &data[i * dim..(i + 1) * dim],
            k,
            filter,
            score_threshold,
            offset,
            with_payload,
            with_vector,
            ef,
            exact,
            oversampling,
        })
        .collect()
}

/// Batch results as `(ids, scores)` arrays of shape (queries, k): ids as uint64 when every
/// slot holds a numeric id, otherwise an object array (UUID strings, and None where a query
/// found fewer than k points; its scores are NaN there).
fn batch_arrays<'py>(
    py: Python<'py>,
    results: &[Vec<ScoredPoint>],
    k: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let q = results.len();
    let mut scores = vec![f32::NAN; q * k];
    let mut numeric = Vec::with_capacity(q * k);
    let all_numeric = results
        .iter()
        .all(|hits| hits.len() == k && hits.iter().all(|h| matches!(h.id, PointId::Num(_))));
    for (i, hits) in results.iter().enumerate() {
        for (j, h) in hits.iter().enumerate().take(k) {
            scores[i * k + j] = h.score;
            if let PointId::Num(n) = h.id {
                numeric.push(n);
            }
        }
    }
    let scores = PyArray1::from_vec(py, scores).reshape([q, k])?;
    let ids = if all_numeric {
        PyArray1::from_vec(py, numeric).reshape([q, k])?.into_any()
    } else {
        let rows = PyList::empty(py);
        for hits in results {
            let row = PyList::empty(py);
            for j in 0..k {
                match hits.get(j) {
                    Some(h) => row.append(id_to_py(py, &h.id)?)?,
                    None => row.append(py.None())?,
                }
            }
            rows.append(row)?;
        }
        let np = py.import("numpy")?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("dtype", np.getattr("object_")?)?;
        let arr = np.call_method("empty", ((q, k),), Some(&kwargs))?;
        for (i, row) in rows.iter().enumerate() {
            for (j, item) in row.try_iter()?.enumerate() {
                arr.set_item((i, j), item?)?;
            }
        }
        arr
    };
    PyTuple::new(py, [ids, scores.into_any()])
}

fn records_to_py(py: Python<'_>, records: &[stratavec_core::Record]) -> PyResult<Vec<Record>> {
    records.iter().map(|r| Record::new(py, r)).collect()
}

#[pymethods]
impl Collection {
    /// The collection's name.
    #[getter]
    fn name(&self) -> &str {
        &self.store.name
    }

    /// Number of components per vector.
    #[getter]
    fn dim(&self) -> PyResult<usize> {
        Ok(self.facts()?.dim)
    }

    /// The similarity measure: cosine, dot, euclid or manhattan.
    #[getter]
    fn metric(&self) -> PyResult<String> {
        Ok(self.facts()?.metric)
    }

    /// The storage tier: memory, mmap or disk.
    #[getter]
    fn storage(&self) -> PyResult<String> {
        Ok(self.facts()?.storage)
    }

    /// The quantization searches rank by (`{"type": "int8", ...}`), or None.
    #[getter]
    fn quantization(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let q: Option<Quantization> = self.store.read(|inner| {
            Ok(match inner {
                Inner::Memory(c) => c.quantization(),
                Inner::Durable(d) => d.storage().quantization,
                Inner::Snapshot(s) => s.quantization(),
            })
        })?;
        match q {
            Some(q) => Ok(convert::from_json(py, &q.to_json())?.unbind()),
            None => Ok(py.None()),
        }
    }

    /// The payload indexes: `{field: type}`, in creation order.
    #[getter]
    fn payload_indexes(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let list = self.store.read(|inner| {
            Ok(match inner {
                Inner::Memory(c) => c.payload_index_list(),
                Inner::Durable(d) => d.payload_index_list(),
                Inner::Snapshot(s) => s.payload_index_list(),
            })
        })?;
        let dict = pyo3::types::PyDict::new(py);
        for (key, kind) in list {
            dict.set_item(key, kind.name())?;
        }
        Ok(dict.into_any().unbind())
    }

    /// Whether an HNSW graph serves searches.
    #[getter]
    fn has_index(&self) -> PyResult<bool> {
        Ok(self.facts()?.index)
    }

    /// Whether writes are refused (an opened snapshot).
    #[getter]
    fn read_only(&self) -> PyResult<bool> {
        Ok(self.facts()?.kind == "snapshot")
    }

    /// Whether the collection was closed.
    #[getter]
    fn closed(&self) -> bool {
        self.store.is_closed()
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(py.detach(|| {
            self.store
                .read(|inner| each_kind!(inner, |c| c.count(None)))
        })?)
    }

    /// Inserts or replaces points. `ids`: ints or UUID strings (a list, tuple or integer
    /// array); `vectors`: one row per id (numpy float32, float16 or float64, lists, or any
    /// buffer); `payloads`: one dict (or None) per id. The batch is checked as a whole before
    /// anything is written; it is then written in chunks, and Ctrl-C stops between chunks (the
    /// chunks written stay written).
    #[pyo3(signature = (ids, vectors, payloads = None, *, progress = None))]
    fn upsert(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        vectors: &Bound<'_, PyAny>,
        payloads: Option<&Bound<'_, PyAny>>,
        progress: Option<bool>,
    ) -> PyResult<()> {
        let ids = point_ids(ids)?;
        let (array, _) = convert::vectors(vectors)?;
        let data = rows(&array)?;
        let n = row_count(&array);
        if ids.len() != n {
            return Err(error(
                Kind::InvalidArgument,
                format!("{} ids but {n} vectors; give one vector per id", ids.len()),
            ));
        }
        let payloads = convert::payloads(payloads)?;
        if let Some(p) = &payloads {
            if p.len() != n {
                return Err(error(
                    Kind::InvalidArgument,
                    format!(
                        "{} payloads for {n} points; give one per id (or None)",
                        p.len()
                    ),
                ));
            }
        }
        let mut watch = Watch::new(Progress::new(
            py,
            progress,
            n,
            &format!("upsert {}", self.store.name),
        ));
        let written = py.detach(|| {
            self.store.write_with(|w| match w {
                Writer::Memory(c) => {
                    c.upsert_chunked(&ids, data, payloads, UPSERT_CHUNK, &mut |d| watch.step(d))
                }
                Writer::Durable(d) => {
                    d.upsert_chunked(&ids, data, payloads, UPSERT_CHUNK, &mut |d| watch.step(d))
                }
            })
        });
        watch.finish(py, written)
    }

    /// The `k` closest points to `query`. A 1-D query returns `Hits` (each with `.id`,
    /// `.score`, `.payload`, `.vector`); a 2-D matrix of queries returns `(ids, scores)`
    /// arrays of shape (queries, k). `filter`: a Qdrant-style dict or a `stratavec.Field`
    /// condition. `ef`: HNSW search breadth (larger is slower and more accurate).
    /// `oversampling`: where vectors are searched by quantized codes, the candidates rescored
    /// at full precision per hit (1 to 100), for this search instead of the collection's
    /// setting.
    #[pyo3(signature = (query, k = 10, filter = None, ef = None, *, score_threshold = None, offset = 0, with_payload = true, with_vector = false, exact = false, oversampling = None))]
    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        k: usize,
        filter: Option<&Bound<'_, PyAny>>,
        ef: Option<usize>,
        score_threshold: Option<f32>,
        offset: usize,
        with_payload: bool,
        with_vector: bool,
        exact: bool,
        oversampling: Option<f32>,
    ) -> PyResult<Py<PyAny>> {
        let (array, single) = convert::vectors(query)?;
        let filter = convert::filter(filter)?;
        let data = rows(&array)?;
        let n = row_count(&array);
        let reqs = requests(
            data,
            n,
            k,
            filter.as_ref(),
            ef,
            score_threshold,
            offset,
            with_payload && single,
            with_vector && single,
            exact,
            oversampling,
        );
        let results = py.detach(|| {
            self.store
                .read(|inner| each_kind!(inner, |c| c.search_batch(&reqs)))
        })?;
        if single {
            let hits = results.into_iter().next().unwrap_or_default();
            return Ok(Py::new(py, Hits::new(py, &hits)?)?.into_any());
        }
        Ok(batch_arrays(py, &results, k)?.into_any().unbind())
    }

    /// `k` points picked by maximal marginal relevance from the `fetch_k` closest to the
    /// 1-D `query` (default `max(20, 4 * k)`): each pick is the candidate most similar to the
    /// query and least similar to the picks before it, `lambda_mult` in [0, 1] weighing the
    /// two (1: similarity alone, 0: diversity alone; cosine similarities of the vectors).
    /// Returns `Hits` with their usual scores, in the order picked.
    /// `oversampling` as for `search`.
    #[pyo3(signature = (query, k = 10, fetch_k = None, lambda_mult = 0.5, filter = None, ef = None, *, score_threshold = None, with_payload = true, with_vector = false, oversampling = None))]
    #[allow(clippy::too_many_arguments)]
    fn search_mmr(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        k: usize,
        fetch_k: Option<usize>,
        lambda_mult: f32,
        filter: Option<&Bound<'_, PyAny>>,
        ef: Option<usize>,
        score_threshold: Option<f32>,
        with_payload: bool,
        with_vector: bool,
        oversampling: Option<f32>,
    ) -> PyResult<Hits> {
        let (array, single) = convert::vectors(query)?;
        if !single {
            return Err(error(
                Kind::InvalidArgument,
                "search_mmr takes one query (a 1-D vector)",
            ));
        }
        let filter = convert::filter(filter)?;
        let data = rows(&array)?;
        let reqs = requests(
            data,
            1,
            k,
            filter.as_ref(),
            ef,
            score_threshold,
            0,
            with_payload,
            with_vector,
            false,
            oversampling,
        );
        let fetch_k = fetch_k.unwrap_or_else(|| k.saturating_mul(4).max(20));
        let hits = py.detach(|| {
            self.store
                .read(|inner| each_kind!(inner, |c| c.search_mmr(&reqs[0], fetch_k, lambda_mult)))
        })?;
        Hits::new(py, &hits)
    }

    /// The points with these ids, in the order asked; ids that do not exist are skipped.
    #[pyo3(signature = (ids, *, with_payload = true, with_vector = false))]
    fn get(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        with_payload: bool,
        with_vector: bool,
    ) -> PyResult<Vec<Record>> {
        let ids = point_ids(ids)?;
        let records = py.detach(|| {
            self.store
                .read(|inner| each_kind!(inner, |c| c.get(&ids, with_payload, with_vector)))
        })?;
        records_to_py(py, &records)
    }

    /// Deletes points by id or by filter (exactly one of the two); returns how many were
    /// deleted.
    #[pyo3(signature = (ids = None, filter = None))]
    fn delete(
        &self,
        py: Python<'_>,
        ids: Option<&Bound<'_, PyAny>>,
        filter: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let ids = ids.filter(|v| !v.is_none()).map(point_ids).transpose()?;
        let filter = convert::filter(filter)?;
        match (ids, filter) {
            (Some(ids), None) => {
                Ok(py.detach(|| self.store.write(|c| Ok(c.delete(&ids)), |d| d.delete(&ids)))?)
            }
            (None, Some(f)) => Ok(py.detach(|| {
                self.store
                    .write(|c| c.delete_by_filter(&f), |d| d.delete_by_filter(&f))
            })?),
            (Some(_), Some(_)) => Err(error(
                Kind::InvalidArgument,
                "give ids or a filter to delete, not both",
            )),
            (None, None) => Err(error(
                Kind::InvalidArgument,
                "give ids or a filter to delete (nothing was deleted)",
            )),
        }
    }

    /// How many points pass `filter` (all points when None).
    #[pyo3(signature = (filter = None))]
    fn count(&self, py: Python<'_>, filter: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
        let filter = convert::filter(filter)?;
        Ok(py.detach(|| {
            self.store
                .read(|inner| each_kind!(inner, |c| c.count(filter.as_ref())))
        })?)
    }

    /// Up to `limit` points in id order from `offset` (an id, inclusive), optionally
    /// filtered. Returns `(records, next_offset)`; `next_offset` is None on the last page.
    #[pyo3(signature = (filter = None, limit = 100, offset = None, *, with_payload = true, with_vector = false))]
    fn scroll<'py>(
        &self,
        py: Python<'py>,
        filter: Option<&Bound<'py, PyAny>>,
        limit: usize,
        offset: Option<&Bound<'py, PyAny>>,
        with_payload: bool,
        with_vector: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let filter = convert::filter(filter)?;
        let offset = offset.filter(|v| !v.is_none()).map(point_id).transpose()?;
        let page = py.detach(|| {
            self.store.read(|inner| {
                each_kind!(inner, |c| c.scroll(
                    filter.as_ref(),
                    limit,
                    offset,
                    with_payload,
                    with_vector
                ))
            })
        })?;
        let records = PyList::new(py, records_to_py(py, &page.records)?)?;
        let next = match &page.next_offset {
            Some(id) => id_to_py(py, id)?,
            None => py.None().into_bound(py),
        };
        PyTuple::new(py, [records.into_any(), next])
    }

    /// Sets the keys of `payload` on the points with these ids, keeping their other keys.
    fn set_payload(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        payload: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.write_payload(
            py,
            ids,
            payload,
            MemoryCollection::set_payload,
            DurableCollection::set_payload,
        )
    }

    /// Replaces the whole payload of the points with these ids.
    fn overwrite_payload(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        payload: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.write_payload(
            py,
            ids,
            payload,
            MemoryCollection::overwrite_payload,
            DurableCollection::overwrite_payload,
        )
    }

    /// Removes these payload keys from the points with these ids.
    fn delete_payload(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        keys: Vec<String>,
    ) -> PyResult<()> {
        let ids = point_ids(ids)?;
        Ok(py.detach(|| {
            self.store.write(
                |c| {
                    c.delete_payload_keys(&ids, &keys);
                    Ok(())
                },
                |d| d.delete_payload_keys(&ids, keys.clone()),
            )
        })?)
    }

    /// Indexes the payload values at `field` (a key path such as `"meta.lang"`) as `type`:
    /// keyword, integer, float, bool, datetime or uuid. Filters on it then read the index.
    /// With an HNSW index, a keyword index also links a graph over the points of each common
    /// value (held by 4,096 points up to half of them) for filters that require that value;
    /// in a database on disk that writes a checkpoint (as `set_index` does).
    #[pyo3(signature = (field, r#type))]
    fn create_payload_index(&self, py: Python<'_>, field: &str, r#type: &str) -> PyResult<()> {
        let kind: PayloadIndexType = r#type.parse().or_raise()?;
        let done = py.detach(|| {
            self.store.read(|inner| match inner {
                Inner::Durable(d) => d.create_payload_index(field, kind).map(|()| true),
                _ => Ok(false),
            })
        })?;
        if done {
            return Ok(());
        }
        let mut guard = self.store.exclusive()?;
        match guard.as_mut() {
            Some(Inner::Memory(c)) => py.detach(|| c.create_payload_index(field, kind)).or_raise(),
            Some(Inner::Snapshot(s)) => {
                py.detach(|| s.create_payload_index(field, kind)).or_raise()
            }
            _ => Err(Failure::Closed(self.store.name.clone()).into()),
        }
    }

    /// Drops the payload index on `field`; filters on it then read the payloads. Returns
    /// whether there was one.
    fn drop_payload_index(&self, py: Python<'_>, field: &str) -> PyResult<bool> {
        let done = py.detach(|| {
            self.store.read(|inner| match inner {
                Inner::Durable(d) => d.drop_payload_index(field).map(Some),
                _ => Ok(None),
            })
        })?;
        if let Some(dropped) = done {
            return Ok(dropped);
        }
        let mut guard = self.store.exclusive()?;
        match guard.as_mut() {
            Some(Inner::Memory(c)) => Ok(c.drop_payload_index(field)),
            Some(Inner::Snapshot(s)) => Ok(s.drop_payload_index(field)),
            _ => Err(Failure::Closed(self.store.name.clone()).into()),
        }
    }

    /// Replaces the index: `HNSW(...)` builds a graph over every point (with a progress bar as
    /// `progress` says, and Ctrl-C stopping it: the collection then keeps the index it had),
    /// `Flat()` drops the graph so searches scan every point. In a database folder either is
    /// written as a checkpoint.
    #[pyo3(signature = (index, *, progress = None))]
    fn set_index(
        &self,
        py: Python<'_>,
        index: &Bound<'_, PyAny>,
        progress: Option<bool>,
    ) -> PyResult<()> {
        if index.is_none() {
            return Err(error(
                Kind::InvalidArgument,
                "index must be stratavec.HNSW(...) or stratavec.Flat(), got None",
            ));
        }
        let params = options::index(Some(index))?;
        let n = self.__len__(py)?;
        let bar = Progress::new(py, progress, n, &format!("index {}", self.store.name));
        let mut watch = Watch::new(bar);
        let done = py.detach(|| {
            self.store.write_with(|w| match (w, params) {
                (Writer::Memory(c), Some(p)) => c
                    .build_index_with_progress(p, &mut |d| watch.step(d))
                    .map(|_| ()),
                (Writer::Memory(c), None) => {
                    c.drop_index();
                    Ok(())
                }
                (Writer::Durable(d), Some(p)) => d
                    .build_index_with_progress(p, &mut |d| watch.step(d))
                    .map(|_| ()),
                (Writer::Durable(d), None) => d.drop_index(),
            })
        });
        watch.finish(py, done)
    }

    /// Finishes pending index work: in a database folder, writes a checkpoint that links the
    /// points written since the last one into the graph (with a progress bar when `progress`
    /// is True; Ctrl-C abandons the checkpoint and changes nothing); everywhere, drops deleted
    /// points now.
    #[pyo3(signature = (*, progress = None))]
    fn optimize(&self, py: Python<'_>, progress: Option<bool>) -> PyResult<()> {
        let bar = Progress::new(
            py,
            Some(progress.unwrap_or(false)),
            0,
            &format!("optimize {}", self.store.name),
        );
        let mut watch = Watch::new(bar);
        let done = py.detach(|| {
            self.store.write(
                |c| {
                    c.optimize();
                    Ok(())
                },
                |d| {
                    d.checkpoint_with_progress(&mut |d| watch.step(d))
                        .map(|_| ())
                },
            )
        });
        watch.finish(py, done)
    }

    /// Reclaims the space of deleted and overwritten points now (this also happens by itself
    /// as they accumulate): in a database folder by writing a checkpoint of the live points
    /// (which also links recent writes into the graph, as `optimize` does), in memory by
    /// dropping them and repairing the graph around them.
    #[pyo3(signature = (*, progress = None))]
    fn compact(&self, py: Python<'_>, progress: Option<bool>) -> PyResult<()> {
        self.optimize(py, progress)
    }

    /// Writes the collection to one snapshot file at `path` (replaced atomically if it
    /// exists): the file `stratavec.open_snapshot` opens, here or in any other host.
    fn snapshot(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let done: Result<(), Failure> = py.detach(|| {
            let tmp = path.with_extension("svdb.tmp");
            let context = |what: &str| format!("{what} snapshot {}", path.display());
            let file =
                std::fs::File::create(&tmp).map_err(|e| Error::io(context("creating"), e))?;
            let mut w = std::io::BufWriter::new(file);
            self.store.read(|inner| {
                match inner {
                    Inner::Memory(c) => c.write_snapshot(&mut w)?,
                    Inner::Durable(d) => d.write_snapshot(&mut w)?,
                    Inner::Snapshot(s) => s.to_quantized_collection()?.write_snapshot(&mut w)?,
                };
                Ok(())
            })?;
            let file = w
                .into_inner()
                .map_err(|e| Error::io(context("writing"), e.into_error()))?;
            file.sync_all()
                .map_err(|e| Error::io(context("syncing"), e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(context("renaming"), e))?;
            Ok(())
        });
        Ok(done?)
    }

    /// Closes this collection for every reference to it (a durable one checkpoints and
    /// releases its folder).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.detach(|| self.store.close())?)
    }

    fn __repr__(&self) -> String {
        match self.facts() {
            Ok(f) => format!(
                "Collection({}, dim={}, metric={}, points={}, index={}, storage={}{}{})",
                quoted(&self.store.name),
                f.dim,
                quoted(&f.metric),
                f.points,
                if f.index { "HNSW" } else { "Flat" },
                quoted(&f.storage),
                f.quantization
                    .map(|q| format!(", quantization={}", quoted(&q)))
                    .unwrap_or_default(),
                if f.kind == "snapshot" {
                    ", read-only"
                } else {
                    ""
                },
            ),
            Err(_) => format!("Collection({}, closed)", quoted(&self.store.name)),
        }
    }

    fn _repr_html_(&self) -> String {
        match self.facts() {
            Ok(f) => format!(
                "<b>stratavec collection</b> <code>{}</code><table>\
                 <tr><th>points</th><td>{}</td></tr><tr><th>dim</th><td>{}</td></tr>\
                 <tr><th>metric</th><td>{}</td></tr><tr><th>index</th><td>{}</td></tr>\
                 <tr><th>storage</th><td>{}</td></tr><tr><th>quantization</th><td>{}</td></tr>\
                 <tr><th>kind</th><td>{}</td></tr></table>",
                self.store.name.replace('<', "&lt;"),
                f.points,
                f.dim,
                f.metric,
                if f.index { "HNSW" } else { "Flat (exact)" },
                f.storage,
                f.quantization.unwrap_or_else(|| "none".to_owned()),
                f.kind
            ),
            Err(_) => format!(
                "<b>stratavec collection</b> <code>{}</code> (closed)",
                self.store.name.replace('<', "&lt;")
            ),
        }
    }
}

/// Opens a snapshot file as a read-only collection. `storage`: `mmap` (default: the file is
/// mapped, nothing is read until used), `memory` (read whole) or `disk` (needs
/// `quantization`: codes in memory, full vectors read from the file to rescore).
#[pyfunction]
#[pyo3(signature = (path, *, storage = None, quantization = None))]
pub(crate) fn open_snapshot(
    py: Python<'_>,
    path: PathBuf,
    storage: Option<&str>,
    quantization: Option<&Bound<'_, PyAny>>,
) -> PyResult<Collection> {
    let options = StorageOptions {
        tier: options::tier(storage, StorageTier::Mmap)?,
        quantization: options::quantization(quantization)?,
    };
    let snapshot = py.detach(|| Snapshot::open(&path, &options)).or_raise()?;
    let name = path.file_stem().map_or_else(
        || "snapshot".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    Ok(Collection::new(Store::new(
        &name,
        Inner::Snapshot(snapshot),
    )))
}
