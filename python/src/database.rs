//! A database: a folder of durable collections (`connect(path)`), or collections kept in
//! memory for the life of the object (`connect()`).
//!
//! A durable collection can have one writer at a time, so the database keeps each collection
//! it opened and hands the same one to every `get_collection`; closing the database closes
//! them all (checkpointed, synced, their folders' locks released).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use stratavec_core::{
    Collection as MemoryCollection, CollectionConfig, Database as Folder, DurableOptions, Snapshot,
    StorageOptions, StorageTier, SyncPolicy, VectorType,
};

use crate::collection::{Collection, Inner, Store};
use crate::convert::quoted;
use crate::errors::{error, Kind, OrRaise};
use crate::options;

/// A set of named collections. Use `stratavec.connect(path)` to open one.
#[pyclass(module = "stratavec", frozen)]
#[derive(Debug)]
pub(crate) struct Database {
    folder: Option<Folder>,
    /// Collections opened (a folder) or held (in memory), by name; `None` once closed.
    open: Mutex<Option<BTreeMap<String, Arc<Store>>>>,
}

/// Opens the database in folder `path` (created if missing), or an in-memory database when
/// `path` is None. `sync`: `"always"` (the default: every acknowledged write is on disk) or a
/// number of seconds (the log is synced at most that often: a process kill loses nothing, a
/// power failure may lose the last interval). `checkpoint_bytes`: the write-ahead log size
/// that triggers a checkpoint.
#[pyfunction]
#[pyo3(signature = (path = None, *, sync = None, checkpoint_bytes = None))]
pub(crate) fn connect(
    py: Python<'_>,
    path: Option<PathBuf>,
    sync: Option<&Bound<'_, PyAny>>,
    checkpoint_bytes: Option<u64>,
) -> PyResult<Database> {
    let mut options = DurableOptions::default();
    if let Some(s) = sync.filter(|s| !s.is_none()) {
        options.sync = if let Ok(name) = s.extract::<String>() {
            if name != "always" {
                return Err(error(
                    Kind::InvalidArgument,
                    format!("sync must be \"always\" or a number of seconds, got {name:?}"),
                ));
            }
            SyncPolicy::Always
        } else {
            let secs: f64 = s.extract().map_err(|_| {
                error(
                    Kind::InvalidArgument,
                    "sync must be \"always\" or a number of seconds",
                )
            })?;
            if !(secs.is_finite() && secs > 0.0) {
                return Err(error(
                    Kind::InvalidArgument,
                    format!("sync interval must be a positive number of seconds, got {secs}"),
                ));
            }
            SyncPolicy::Periodic(std::time::Duration::from_secs_f64(secs))
        };
    }
    if let Some(b) = checkpoint_bytes {
        options.checkpoint_bytes = b;
    }
    if path.is_none() && (sync.is_some_and(|s| !s.is_none()) || checkpoint_bytes.is_some()) {
        return Err(error(
            Kind::InvalidArgument,
            "sync and checkpoint_bytes apply to a database folder; an in-memory database writes no log",
        ));
    }
    let folder = match path {
        Some(p) => Some(py.detach(|| Folder::open(&p, options)).or_raise()?),
        None => None,
    };
    Ok(Database {
        folder,
        open: Mutex::new(Some(BTreeMap::new())),
    })
}

fn closed() -> PyErr {
    error(Kind::Closed, "the database is closed")
}

type Open<'a> = MutexGuard<'a, Option<BTreeMap<String, Arc<Store>>>>;

impl Database {
    /// The open-collection map, or `ClosedError`.
    fn open_map(&self) -> PyResult<Open<'_>> {
        let guard = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(closed());
        }
        Ok(guard)
    }

    fn describe(&self) -> String {
        match &self.folder {
            Some(f) => quoted(&f.root().display().to_string()),
            None => "in memory".to_owned(),
        }
    }
}

#[pymethods]
impl Database {
    /// The database folder, or None in memory.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.folder.as_ref().map(|f| f.root().to_owned())
    }

    /// Creates a collection of `dim`-component vectors compared by `metric` (cosine, dot,
    /// euclid, manhattan). `index`: `HNSW(...)` (the default) or `Flat()`. `storage`:
    /// `memory`, `mmap` (the default in a folder) or `disk` (needs `quantization`).
    /// `quantization`: None, `"int8"`, `"binary"` or a dict of settings. `vector_type`:
    /// `float32` or `float16` storage.
    #[pyo3(signature = (name, *, dim, metric = "cosine", index = None, storage = None, quantization = None, vector_type = "float32"))]
    #[allow(clippy::too_many_arguments)]
    fn create_collection(
        &self,
        py: Python<'_>,
        name: &str,
        dim: usize,
        metric: &str,
        index: Option<&Bound<'_, PyAny>>,
        storage: Option<&str>,
        quantization: Option<&Bound<'_, PyAny>>,
        vector_type: &str,
    ) -> PyResult<Collection> {
        stratavec_core::validate_collection_name(name).or_raise()?;
        let vector_type: VectorType = vector_type.parse().or_raise()?;
        let config =
            CollectionConfig::new(dim, metric.parse().or_raise()?).with_vector_type(vector_type);
        config.validate().or_raise()?;
        let index = options::index(index)?;
        let quantization = options::quantization(quantization)?;
        let mut open = self.open_map()?;
        let map = open.as_mut().ok_or_else(closed)?;
        let store = match &self.folder {
            None => {
                let tier = options::tier(storage, StorageTier::Memory)?;
                if tier != StorageTier::Memory {
                    return Err(error(
                        Kind::InvalidArgument,
                        format!(
                            "storage={:?} needs a database folder; an in-memory database (connect() without a path) keeps collections in memory",
                            tier.to_string()
                        ),
                    ));
                }
                if map.contains_key(name) {
                    return Err(error(
                        Kind::Conflict,
                        format!("collection {name:?} already exists"),
                    ));
                }
                let col = py
                    .detach(|| -> stratavec_core::Result<MemoryCollection> {
                        let mut c = MemoryCollection::new(config)?;
                        c.set_quantization(quantization)?;
                        if let Some(params) = index {
                            c.build_index(params)?;
                        }
                        Ok(c)
                    })
                    .or_raise()?;
                Store::new(name, Inner::Memory(col))
            }
            Some(folder) => {
                let storage = StorageOptions {
                    tier: options::tier(storage, StorageTier::Mmap)?,
                    quantization,
                };
                storage.validate().or_raise()?;
                let col = py
                    .detach(|| -> stratavec_core::Result<_> {
                        let c = folder.create_collection(name, config)?;
                        if storage != StorageOptions::default() {
                            c.set_storage(storage)?;
                        }
                        if let Some(params) = index {
                            c.build_index(params)?;
                        }
                        Ok(c)
                    })
                    .or_raise()?;
                Store::new(name, Inner::Durable(col))
            }
        };
        map.insert(name.to_owned(), store.clone());
        Ok(Collection::new(store))
    }

    /// Creates collection `name` from the snapshot file at `path`: its points, HNSW graph and
    /// payload indexes (in a folder, written as the collection's first checkpoint).
    /// `ConflictError` if `name` exists; a missing or damaged file raises as `open_snapshot`.
    fn restore_collection(
        &self,
        py: Python<'_>,
        name: &str,
        path: PathBuf,
    ) -> PyResult<Collection> {
        stratavec_core::validate_collection_name(name).or_raise()?;
        let mut open = self.open_map()?;
        let map = open.as_mut().ok_or_else(closed)?;
        let store = match &self.folder {
            None => {
                if map.contains_key(name) {
                    return Err(error(
                        Kind::Conflict,
                        format!("collection {name:?} already exists; drop it first or restore under another name"),
                    ));
                }
                let col = py
                    .detach(|| Snapshot::map(&path)?.to_collection())
                    .or_raise()?;
                Store::new(name, Inner::Memory(col))
            }
            Some(folder) => {
                let col = py
                    .detach(|| folder.restore_collection(name, &Snapshot::map(&path)?))
                    .or_raise()?;
                Store::new(name, Inner::Durable(col))
            }
        };
        map.insert(name.to_owned(), store.clone());
        Ok(Collection::new(store))
    }

    /// The collection called `name`; `NotFoundError` (a `KeyError`) if there is none.
    fn get_collection(&self, py: Python<'_>, name: &str) -> PyResult<Collection> {
        let mut open = self.open_map()?;
        let map = open.as_mut().ok_or_else(closed)?;
        if let Some(store) = map.get(name) {
            return Ok(Collection::new(store.clone()));
        }
        let Some(folder) = &self.folder else {
            return Err(error(
                Kind::NotFound,
                format!("collection {name:?} does not exist"),
            ));
        };
        let col = py.detach(|| folder.open_collection(name)).or_raise()?;
        let store = Store::new(name, Inner::Durable(col));
        map.insert(name.to_owned(), store.clone());
        Ok(Collection::new(store))
    }

    /// The names of the collections, sorted.
    fn list_collections(&self) -> PyResult<Vec<String>> {
        let open = self.open_map()?;
        match &self.folder {
            Some(f) => f.list_collections().or_raise(),
            None => Ok(open
                .as_ref()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()),
        }
    }

    /// Deletes the collection called `name` and its files; references to it are closed.
    fn drop_collection(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let mut open = self.open_map()?;
        let map = open.as_mut().ok_or_else(closed)?;
        let store = map.remove(name);
        if let Some(s) = &store {
            py.detach(|| s.close())?;
        }
        match &self.folder {
            Some(f) => py.detach(|| f.drop_collection(name)).or_raise(),
            None if store.is_some() => Ok(()),
            None => Err(error(
                Kind::NotFound,
                format!("collection {name:?} does not exist"),
            )),
        }
    }

    /// Closes every collection this database opened; later calls raise `ClosedError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.open.lock().unwrap_or_else(|e| e.into_inner()).take();
        for store in taken.into_iter().flat_map(|m| m.into_values()) {
            py.detach(|| store.close())?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __contains__(&self, name: &str) -> PyResult<bool> {
        Ok(self.list_collections()?.iter().any(|n| n == name))
    }

    fn __repr__(&self) -> String {
        match self.list_collections() {
            Ok(names) => {
                let names: Vec<String> = names.iter().map(|n| quoted(n)).collect();
                format!(
                    "Database({}, collections=[{}])",
                    self.describe(),
                    names.join(", ")
                )
            }
            Err(_) => format!("Database({}, closed)", self.describe()),
        }
    }

    fn _repr_html_(&self) -> String {
        let mut s = format!(
            "<b>stratavec database</b> {}<table><thead><tr><th>collection</th></tr></thead><tbody>",
            self.describe().replace('<', "&lt;")
        );
        match self.list_collections() {
            Ok(names) => {
                for n in names {
                    s.push_str(&format!("<tr><td><code>{n}</code></td></tr>"));
                }
            }
            Err(_) => s.push_str("<tr><td>(closed)</td></tr>"),
        }
        s.push_str("</tbody></table>");
        s
    }
}
