//! A collection kept in a folder on disk: every acknowledged write survives a process kill
//! (and, with the default fsync policy, a power failure).
//!
//! Key design decision: **a mapped checkpoint plus a log.** The collection is two layers: the
//! last checkpoint, an immutable segment opened by memory map (so opening reads ids and offsets,
//! never the vectors), with a bitmap of its rows deleted or superseded since; and an in-memory
//! layer holding every point written since. Every write is first appended to the write-ahead
//! log. When the log passes a size threshold (and on close) the live points of both layers are
//! written as the next segment, the manifest is replaced atomically to name it and a fresh log,
//! and the old files are removed: a checkpoint is also a compaction, so deletes give space back.
//! Opening maps the segment and replays the log into the in-memory layer.
//!
//! Concurrency: one writer per collection across processes (an exclusive lock on `LOCK`).
//! Within a process, writes and checkpoints take turns on a writer mutex; the state lock is held
//! only while a write is applied or a checkpoint's result is swapped in, so readers never wait
//! for a checkpoint to be written; the fsync happens after both are released, so concurrent
//! writers share fsyncs.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::json;

use crate::bitset::Bitset;
use crate::collection::Collection;
use crate::config::{CollectionConfig, StorageOptions, VectorType};
use crate::error::{Error, Result};
use crate::filter::{Filter, JsonPath};
use crate::index::hnsw::compact::{gathered_graph, DROPPED};
use crate::index::hnsw::HnswParams;
use crate::index::payload::section as payload_section;
use crate::index::payload::{parse_key, PayloadIndexType};
use crate::index::value_graphs;
use crate::indexed_segment::IndexedSegment;
use crate::point::{Payload, PointId};
use crate::quantization::{Codes, Quantization};
use crate::read::{self, Layer, PointSource};
use crate::snapshot::Snapshot;
use crate::storage::segment::{write_segment, PayloadOut, SegmentSource};
use crate::storage::wal::{self, SyncPolicy, WalOp, WalWriter};
use crate::storage::FileKind;

const MANIFEST: &str = "MANIFEST";
const MANIFEST_TMP: &str = "MANIFEST.tmp";
const LOCK: &str = "LOCK";

/// How a durable collection writes.
#[derive(Debug, Clone, Copy)]
pub struct DurableOptions {
    /// When the write-ahead log is fsynced.
    pub sync: SyncPolicy,
    /// Write a checkpoint when the log grows past this many bytes.
    pub checkpoint_bytes: u64,
}

impl Default for DurableOptions {
    fn default() -> Self {
        DurableOptions {
            sync: SyncPolicy::Always,
            checkpoint_bytes: 64 << 20,
        }
    }
}

/// What the manifest records.
#[derive(Debug, Clone, PartialEq)]
struct Manifest {
    generation: u64,
    config: CollectionConfig,
    segment: Option<String>,
    wal: String,
    checkpoint_lsn: u64,
    /// Payload indexes to build on open: key path and type.
    payload_indexes: Vec<(String, PayloadIndexType)>,
    /// How the checkpoint is served: tier and quantization.
    storage: StorageOptions,
}

impl Manifest {
    fn to_json(&self) -> Vec<u8> {
        let doc = |crc: u32| {
            json!({
                "format": 1,
                "generation": self.generation,
                "config": {
                    "dim": self.config.dim,
                    "metric": self.config.metric.name(),
                    "vector_type": self.config.vector_type.name(),
                },
                "segment": self.segment,
                "wal": self.wal,
                "checkpoint_lsn": self.checkpoint_lsn,
                "payload_indexes": self
                    .payload_indexes
                    .iter()
                    .map(|(key, kind)| json!({"key": key, "type": kind.name()}))
                    .collect::<Vec<_>>(),
                "storage": {
                    "tier": self.storage.tier.name(),
                    "quantization": self.storage.quantization.map(|q| q.to_json()),
                },
                "crc32c": crc,
            })
            .to_string()
        };
        let crc = crc32c::crc32c(doc(0).as_bytes());
        doc(crc).into_bytes()
    }

    fn parse(bytes: &[u8], what: &str) -> Result<Manifest> {
        let bad = |reason: String| Error::corrupt(what, reason);
        let mut v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let stored = v
            .get("crc32c")
            .and_then(|c| c.as_u64())
            .ok_or_else(|| bad("missing crc32c".into()))?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("crc32c".into(), json!(0));
        }
        let computed = crc32c::crc32c(v.to_string().as_bytes());
        if u64::from(computed) != stored {
            return Err(bad(format!(
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            )));
        }
        let format = v["format"].as_u64().unwrap_or(0);
        if format != 1 {
            return Err(Error::IncompatibleVersion {
                found: format.to_string(),
                supported: "1".into(),
            });
        }
        let int = |name: &str| {
            v[name]
                .as_u64()
                .ok_or_else(|| bad(format!("{name:?} missing")))
        };
        let c = &v["config"];
        let config = CollectionConfig {
            dim: c["dim"]
                .as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .ok_or_else(|| bad("config.dim missing".into()))?,
            metric: c["metric"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e: Error| bad(e.to_string()))?,
            vector_type: c["vector_type"]
                .as_str()
                .unwrap_or_default()
                .parse::<VectorType>()
                .map_err(|e| bad(e.to_string()))?,
        };
        config.validate().map_err(|e| bad(e.to_string()))?;
        let file_name = |x: &serde_json::Value| -> Result<String> {
            let s = x.as_str().ok_or_else(|| bad("file name missing".into()))?;
            if s.is_empty() || s.contains(['/', '\\']) || s.starts_with('.') {
                return Err(bad(format!("{s:?} is not a plain file name")));
            }
            Ok(s.to_owned())
        };
        let mut payload_indexes = Vec::new();
        for def in v["payload_indexes"].as_array().into_iter().flatten() {
            let key = def["key"]
                .as_str()
                .ok_or_else(|| bad("a payload index has no key".into()))?;
            JsonPath::parse(key).map_err(|e| bad(format!("payload index key {key:?}: {e}")))?;
            let kind = def["type"]
                .as_str()
                .unwrap_or_default()
                .parse::<PayloadIndexType>()
                .map_err(|e| bad(e.to_string()))?;
            payload_indexes.push((key.to_owned(), kind));
        }
        // Absent in manifests written before storage tiers: the defaults.
        let mut storage = StorageOptions::default();
        if let Some(st) = v.get("storage") {
            storage.tier = st["tier"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e: Error| bad(e.to_string()))?;
            if !st["quantization"].is_null() {
                storage.quantization = Some(
                    Quantization::from_json(&st["quantization"]).map_err(|e| bad(e.to_string()))?,
                );
            }
            storage.validate().map_err(|e| bad(e.to_string()))?;
        }
        Ok(Manifest {
            storage,
            payload_indexes,
            generation: int("generation")?,
            config,
            segment: if v["segment"].is_null() {
                None
            } else {
                Some(file_name(&v["segment"])?)
            },
            wal: file_name(&v["wal"])?,
            checkpoint_lsn: int("checkpoint_lsn")?,
        })
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |e| Error::io(what, e)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(format!("syncing directory {}", dir.display())))
}

/// Replaces the manifest atomically: temp file, fsync, rename, fsync of the directory.
fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    install_manifest(dir, m)?;
    sync_dir(dir)
}

/// The first steps of [`write_manifest`]: once this returns `Ok`, the new manifest is the one
/// a reopen will read (though not yet durable until the directory is synced).
fn install_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let tmp = dir.join(MANIFEST_TMP);
    let mut f = File::create(&tmp).map_err(io_err(format!("creating {}", tmp.display())))?;
    f.write_all(&m.to_json())
        .and_then(|()| f.sync_all())
        .map_err(io_err(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(io_err(format!(
        "replacing the manifest in {}",
        dir.display()
    )))
}

/// Rows written since the last checkpoint before an indexed collection builds a graph over
/// them; below this they are scanned exactly beside the checkpoint's graph.
const MEM_GRAPH_MIN_ROWS: usize = 8192;

/// Extra attempts, 10 ms apart, to take a collection's lock before reporting `Conflict`.
const LOCK_RETRIES: usize = 20;

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    // A lock just released can stay held for an instant: a child process forked by another
    // thread shares the open file until it execs. So contention is retried briefly before it
    // is reported.
    let mut result = file.try_lock();
    for _ in 0..LOCK_RETRIES {
        if !matches!(result, Err(std::fs::TryLockError::WouldBlock)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        result = file.try_lock();
    }
    match result {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Conflict(format!(
            "the collection at {} is open for writing by another process or handle (lock held on {}); \
             close it there first, or open a snapshot read-only",
            dir.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(format!("locking {}", path.display()), e)),
    }
}

/// Opens a checkpoint segment as the manifest says to serve it, checking it matches the
/// manifest's settings.
fn open_checkpoint(dir: &Path, name: &str, manifest: &Manifest) -> Result<IndexedSegment> {
    IndexedSegment::open(&dir.join(name), &manifest.storage, |seg| {
        if seg.kind() != FileKind::Segment || *seg.config() != manifest.config {
            return Err(Error::corrupt(
                name.to_owned(),
                "its kind or settings differ from the manifest's",
            ));
        }
        Ok(())
    })
}

/// An empty in-memory layer with these payload indexes.
fn indexed_collection(
    config: CollectionConfig,
    defs: &[(String, PayloadIndexType)],
) -> Result<Collection> {
    let mut c = Collection::new(config)?;
    for (key, kind) in defs {
        c.create_payload_index(key, *kind)?;
    }
    Ok(c)
}

/// The collection's contents: the checkpoint segment and what was written since.
#[derive(Debug)]
struct Layers {
    /// The checkpoint with its payload indexes, built in memory when it is opened.
    base: Option<Arc<IndexedSegment>>,
    /// Rows of `base` deleted or superseded by `mem`.
    dead: Bitset,
    mem: Collection,
    /// The HNSW parameters every checkpoint builds a graph with, if the collection is indexed.
    index: Option<HnswParams>,
}

impl Layers {
    fn empty(config: CollectionConfig, defs: &[(String, PayloadIndexType)]) -> Result<Layers> {
        Ok(Layers {
            base: None,
            dead: Bitset::new(0),
            mem: indexed_collection(config, defs)?,
            index: None,
        })
    }

    fn on(mut base: IndexedSegment, defs: &[(String, PayloadIndexType)]) -> Result<Layers> {
        let n = base.len();
        base.keep_payload_indexes(defs)?;
        Ok(Layers {
            mem: indexed_collection(*base.config(), defs)?,
            index: base.hnsw().map(|g| g.params()),
            base: Some(Arc::new(base)),
            dead: Bitset::new(n),
        })
    }

    fn layers(&self) -> Vec<Layer<'_>> {
        let mut v = Vec::with_capacity(2);
        if let Some(b) = &self.base {
            v.push(Layer {
                src: b.as_ref(),
                dead: Some(&self.dead),
            });
        }
        v.push(self.mem.layer());
        v
    }

    fn len(&self) -> usize {
        self.base
            .as_ref()
            .map_or(0, |b| b.len() - self.dead.count())
            + self.mem.len()
    }

    /// The live base row of `id`, if the point lives in the base layer.
    fn base_row(&self, id: PointId) -> Option<usize> {
        let b = self.base.as_ref()?;
        b.find(id).filter(|&r| !self.dead.contains(r))
    }

    /// Moves points that live in the base layer into the in-memory layer, unchanged, so they can
    /// be modified there. Not logged: it changes where a point lives, not what it is.
    fn promote(&mut self, ids: &[PointId]) -> Result<()> {
        let Some(base) = self.base.clone() else {
            return Ok(());
        };
        for &id in ids {
            if let Some(row) = self.base_row(id) {
                let payload = base.payload(row)?;
                self.mem
                    .insert_stored(id, base.rows(), row, payload.into_owned());
                self.dead.insert(row);
            }
        }
        Ok(())
    }

    /// Applies a logged write. Upserts are validated again, so a replayed log can never apply
    /// what a live write would have refused.
    fn apply(&mut self, op: WalOp) -> Result<()> {
        match op {
            WalOp::Upsert {
                ids,
                vectors,
                payloads,
            } => {
                self.mem.check_upsert(&ids, &vectors, payloads.as_deref())?;
                for &id in &ids {
                    if let Some(row) = self.base_row(id) {
                        self.dead.insert(row);
                    }
                }
                self.mem.apply_upsert(&ids, &vectors, payloads);
                // An indexed collection's recent writes get their own graph once there are
                // enough of them that scanning them would cost more than walking one; the
                // graph then grows with each write until the next checkpoint links them in.
                if let Some(params) = self.index {
                    if !self.mem.has_index() && self.mem.len() >= MEM_GRAPH_MIN_ROWS {
                        self.mem.build_index(params)?;
                    }
                }
            }
            WalOp::Delete { ids } => {
                for &id in &ids {
                    if let Some(row) = self.base_row(id) {
                        self.dead.insert(row);
                    }
                }
                self.mem.delete(&ids);
            }
            WalOp::SetPayload { ids, payload } => {
                self.promote(&ids)?;
                self.mem.set_payload(&ids, &payload);
            }
            WalOp::OverwritePayload { ids, payload } => {
                self.promote(&ids)?;
                self.mem.overwrite_payload(&ids, &payload);
            }
            WalOp::DeletePayloadKeys { ids, keys } => {
                self.promote(&ids)?;
                self.mem.delete_payload_keys(&ids, &keys);
            }
        }
        Ok(())
    }

    /// Writes the live points of both layers, in id order, as one file of `kind`, with the
    /// codes of `quantization` learnt from them (so opening the file with it reads them
    /// instead of every vector). `progress` hears how many rows the graph has linked so far;
    /// when it returns `false` nothing is written and `Ok(None)` returned.
    fn write<W: Write>(
        &self,
        w: &mut W,
        kind: FileKind,
        quantization: Option<Quantization>,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Option<u64>> {
        let layers = self.layers();
        let config = *self.mem.config();
        let dim = config.dim;
        let from_base = |l: usize| self.base.is_some() && l == 0;
        let (mut ids, mut rows, mut payloads) = (Vec::new(), Vec::new(), Vec::new());
        let mut origin: Vec<(u32, u32)> = Vec::new();
        for (l, row) in read::in_id_order(&layers, None) {
            let src = layers[l].src;
            origin.push((l as u32, row as u32));
            ids.push(src.id(row));
            rows.push(src.rows().bytes(row, dim));
            payloads.push(match &self.base {
                Some(b) if from_base(l) => PayloadOut::Json(b.payload_json(row)),
                _ => PayloadOut::Parsed(self.mem.payload_at(row)),
            });
        }
        // The graph is carried over from a layer that has one with the same parameters (the
        // checkpoint, the recent writes once they have their own, or a restored collection)
        // and the other rows are linked into it: the layer whose graph covers the most rows,
        // so the fewest are linked again (a bulk load into a new collection would otherwise
        // link every row twice: into the recent writes' graph, then into the checkpoint's
        // empty one).
        let graph = self.index.map(|params| {
            let carried = layers
                .iter()
                .enumerate()
                .filter_map(|(l, layer)| layer.src.hnsw().map(|g| (l, g)))
                .filter(|(_, g)| g.params() == params)
                .max_by_key(|(l, g)| (g.len(), std::cmp::Reverse(*l)));
            let parts: Vec<_> = layers.iter().map(|l| l.src.rows()).collect();
            gathered_graph(
                params,
                carried,
                &parts,
                &origin,
                dim,
                config.metric,
                progress,
            )
        });
        let graph = match graph {
            Some(None) => return Ok(None),
            Some(Some(g)) => Some(g),
            None => None,
        };
        // Each layer's rows as the file numbers them (`DROPPED`: not written).
        let mut file_row: Vec<Vec<u32>> =
            layers.iter().map(|l| vec![DROPPED; l.src.len()]).collect();
        for (i, &(l, row)) in origin.iter().enumerate() {
            file_row[l as usize][row as usize] = i as u32;
        }
        // The graphs of common keyword values, carried over from the layers as the graph is.
        let value_graphs = match (self.index, &graph) {
            (Some(params), Some(_)) => {
                let keys: Vec<String> = self
                    .mem
                    .payload_index_list()
                    .into_iter()
                    .filter(|(_, kind)| *kind == PayloadIndexType::Keyword)
                    .map(|(key, _)| key)
                    .collect();
                let graphs = value_graphs::gathered(
                    params,
                    &layers,
                    (&origin, &file_row),
                    &keys,
                    (dim, config.metric),
                );
                (!graphs.is_empty()).then(|| value_graphs::encode_section(&graphs))
            }
            _ => None,
        };
        // The payload indexes, gathered from the layers' and renumbered into the file's rows.
        let payload_indexes: Vec<payload_section::Parts<'_>> = self
            .mem
            .payload_index_list()
            .iter()
            .filter_map(|(key, kind)| {
                layers
                    .iter()
                    .zip(&file_row)
                    .map(|(layer, rows)| {
                        let index = layer
                            .src
                            .payload_indexes()
                            .iter()
                            .find(|i| i.key().as_str() == key && i.kind() == *kind)?;
                        Some((index, rows.as_slice()))
                    })
                    .collect()
            })
            .collect();
        let codes = match quantization {
            Some(q) => Some(Codes::train(origin.len(), dim, q, &|i| {
                let (l, row) = origin[i];
                Ok(Cow::Owned(
                    layers[l as usize].src.rows().get(row as usize, dim),
                ))
            })?),
            None => None,
        };
        write_segment(
            w,
            kind,
            &SegmentSource {
                config,
                ids,
                rows,
                payloads,
                graph: graph.as_ref(),
                codes: codes.as_ref().map(|c| c.section(0..origin.len())),
                value_graphs,
                payload_indexes: (!payload_indexes.is_empty())
                    .then(|| payload_section::encode_section(&payload_indexes)),
            },
        )
        .map(Some)
    }
}

/// What opening a collection found and repaired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Log records applied on top of the checkpoint.
    pub replayed_records: usize,
    /// Bytes of a torn last record (a write cut short by a crash, never acknowledged) removed
    /// from the end of the log.
    pub torn_bytes: u64,
}

/// A collection stored in a folder, durable as [`DurableOptions`] says.
#[derive(Debug)]
pub struct DurableCollection {
    dir: PathBuf,
    recovery: RecoveryReport,
    options: DurableOptions,
    state: RwLock<Layers>,
    /// Taken by every write and checkpoint, so they take turns; readers never take it.
    writer: Mutex<()>,
    wal: RwLock<Arc<WalWriter>>,
    manifest: Mutex<Manifest>,
    _lock: File,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Guarded state is only changed after the work that could fail has succeeded.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DurableCollection {
    /// Creates a new, empty collection in `dir` (created if missing; must not hold one).
    pub fn create(
        dir: &Path,
        config: CollectionConfig,
        options: DurableOptions,
    ) -> Result<DurableCollection> {
        config.validate()?;
        std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let lock_file = lock_dir(dir)?;
        if dir.join(MANIFEST).exists() {
            return Err(Error::Conflict(format!(
                "a collection already exists in {}",
                dir.display()
            )));
        }
        let manifest = Manifest {
            generation: 0,
            config,
            segment: None,
            wal: "wal-000000.log".into(),
            checkpoint_lsn: 0,
            payload_indexes: Vec::new(),
            storage: StorageOptions::default(),
        };
        let wal_path = dir.join(&manifest.wal);
        if wal_path.exists() {
            std::fs::remove_file(&wal_path)
                .map_err(io_err(format!("removing {}", wal_path.display())))?;
        }
        let wal = WalWriter::create(&wal_path, 0, options.sync)?;
        write_manifest(dir, &manifest)?;
        Ok(DurableCollection {
            dir: dir.to_owned(),
            recovery: RecoveryReport::default(),
            options,
            state: RwLock::new(Layers::empty(config, &[])?),
            writer: Mutex::new(()),
            wal: RwLock::new(Arc::new(wal)),
            manifest: Mutex::new(manifest),
            _lock: lock_file,
        })
    }

    /// Creates a collection in `dir` holding exactly the points of `snapshot`, with its
    /// payload indexes, checkpointed.
    pub fn restore(
        dir: &Path,
        snapshot: &Snapshot,
        options: DurableOptions,
    ) -> Result<DurableCollection> {
        let restored = snapshot.to_collection()?;
        let d = DurableCollection::create(dir, *snapshot.config(), options)?;
        // The snapshot's payload indexes become the collection's (the checkpoint stores them).
        lock(&d.manifest).payload_indexes = restored.payload_index_list();
        {
            let mut st = d.write_state();
            st.index = restored.hnsw().map(|g| g.params());
            st.mem = restored;
        }
        d.checkpoint_now(true, &mut |_| true)?;
        Ok(d)
    }

    /// Opens the collection in `dir`: maps its checkpoint and replays its log.
    pub fn open(dir: &Path, options: DurableOptions) -> Result<DurableCollection> {
        let lock_file = lock_dir(dir)?;
        let path = dir.join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound(format!(
                    "no collection in {} (no {MANIFEST} file)",
                    dir.display()
                ))
            } else {
                Error::io(format!("reading {}", path.display()), e)
            }
        })?;
        let manifest = Manifest::parse(&bytes, &format!("manifest {}", path.display()))?;
        let mut state = match &manifest.segment {
            None => Layers::empty(manifest.config, &manifest.payload_indexes)?,
            Some(name) => Layers::on(
                open_checkpoint(dir, name, &manifest)?,
                &manifest.payload_indexes,
            )?,
        };
        let wal_path = dir.join(&manifest.wal);
        let replayed = wal::recover(&wal_path)?;
        let mut last_lsn = manifest.checkpoint_lsn;
        let mut recovery = RecoveryReport {
            replayed_records: 0,
            torn_bytes: replayed.torn_bytes,
        };
        for (lsn, op) in replayed.records {
            if lsn > manifest.checkpoint_lsn {
                recovery.replayed_records += 1;
                state.apply(op).map_err(|e| {
                    Error::corrupt(
                        format!("write-ahead log {}", wal_path.display()),
                        format!("record {lsn} cannot be applied: {e}"),
                    )
                })?;
            }
            last_lsn = last_lsn.max(lsn);
        }
        let wal = WalWriter::open(&wal_path, replayed.valid_len, last_lsn, options.sync)?;
        remove_unreferenced(dir, &manifest)?;
        Ok(DurableCollection {
            dir: dir.to_owned(),
            recovery,
            options,
            state: RwLock::new(state),
            writer: Mutex::new(()),
            wal: RwLock::new(Arc::new(wal)),
            manifest: Mutex::new(manifest),
            _lock: lock_file,
        })
    }

    /// What opening found: records replayed and torn bytes removed.
    pub fn recovery_report(&self) -> RecoveryReport {
        self.recovery
    }

    fn read_state(&self) -> RwLockReadGuard<'_, Layers> {
        // Writes validate before they change anything, so a panic elsewhere cannot leave the
        // state half-updated.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, Layers> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn wal(&self) -> Arc<WalWriter> {
        self.wal.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Logs `op` (already validated; the caller holds the writer mutex), applies it, then makes
    /// it durable once the locks are released.
    fn logged(&self, writer: MutexGuard<'_, ()>, op: WalOp) -> Result<()> {
        let wal = self.wal();
        let lsn = wal.append(&op)?;
        self.write_state().apply(op)?;
        drop(writer);
        wal.commit(lsn)?;
        if wal.len() > self.options.checkpoint_bytes {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Inserts or replaces points (see [`Collection::upsert`]); durable when it returns.
    pub fn upsert(
        &self,
        ids: &[PointId],
        vectors: &[f32],
        payloads: Option<Vec<Payload>>,
    ) -> Result<()> {
        let writer = lock(&self.writer);
        self.read_state()
            .mem
            .check_upsert(ids, vectors, payloads.as_deref())?;
        self.logged_upsert(writer, ids, vectors, payloads)
    }

    /// [`Collection::upsert_chunked`] for a durable collection: the batch is checked whole,
    /// then logged and applied one chunk at a time (each chunk durable when `progress` hears
    /// of it; the chunks written stay written when it returns `false`).
    pub fn upsert_chunked(
        &self,
        ids: &[PointId],
        vectors: &[f32],
        payloads: Option<Vec<Payload>>,
        chunk: usize,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<usize> {
        let (config, check) = {
            let st = self.read_state();
            (
                *st.mem.config(),
                st.mem.check_upsert(ids, vectors, payloads.as_deref()),
            )
        };
        check?;
        crate::collection::in_chunks(
            ids,
            vectors,
            config.dim,
            payloads,
            chunk,
            progress,
            |i, v, p| self.logged_upsert(lock(&self.writer), i, v, p),
        )
    }

    /// Logs and applies an upsert already checked (applying checks it again, as replay does).
    fn logged_upsert(
        &self,
        writer: MutexGuard<'_, ()>,
        ids: &[PointId],
        vectors: &[f32],
        payloads: Option<Vec<Payload>>,
    ) -> Result<()> {
        let op = WalOp::Upsert {
            ids: ids.to_vec(),
            vectors: vectors.to_vec(),
            payloads,
        };
        self.logged(writer, op)
    }

    /// Deletes points by id; returns how many existed.
    pub fn delete(&self, ids: &[PointId]) -> Result<usize> {
        let writer = lock(&self.writer);
        let mut seen = std::collections::HashSet::new();
        let existing: Vec<PointId> = self
            .get(ids, false, false)?
            .into_iter()
            .map(|r| r.id)
            .filter(|id| seen.insert(*id))
            .collect();
        let n = existing.len();
        if n > 0 {
            self.logged(writer, WalOp::Delete { ids: existing })?;
        }
        Ok(n)
    }

    /// Deletes every point passing `filter`; returns how many.
    pub fn delete_by_filter(&self, filter: &Filter) -> Result<usize> {
        let writer = lock(&self.writer);
        let ids: Vec<PointId> = {
            let st = self.read_state();
            let layers = st.layers();
            let mut ids = Vec::new();
            for layer in &layers {
                ids.extend(
                    read::matching_rows(*layer, filter)?
                        .into_iter()
                        .map(|r| layer.src.id(r as usize)),
                );
            }
            ids
        };
        let n = ids.len();
        if n > 0 {
            self.logged(writer, WalOp::Delete { ids })?;
        }
        Ok(n)
    }

    /// Runs a payload update: points living in the checkpoint are first moved into memory
    /// (which can fail on a damaged payload, before anything is logged).
    fn payload_op(&self, ids: &[PointId], op: WalOp) -> Result<()> {
        let writer = lock(&self.writer);
        self.write_state().promote(ids)?;
        self.logged(writer, op)
    }

    /// Sets payload keys on these points (see [`Collection::set_payload`]).
    pub fn set_payload(&self, ids: &[PointId], payload: Payload) -> Result<()> {
        self.payload_op(
            ids,
            WalOp::SetPayload {
                ids: ids.to_vec(),
                payload,
            },
        )
    }

    /// Replaces the payload of these points.
    pub fn overwrite_payload(&self, ids: &[PointId], payload: Payload) -> Result<()> {
        self.payload_op(
            ids,
            WalOp::OverwritePayload {
                ids: ids.to_vec(),
                payload,
            },
        )
    }

    /// Removes top-level payload keys from these points.
    pub fn delete_payload_keys(&self, ids: &[PointId], keys: Vec<String>) -> Result<()> {
        self.payload_op(
            ids,
            WalOp::DeletePayloadKeys {
                ids: ids.to_vec(),
                keys,
            },
        )
    }

    /// The settings.
    pub fn config(&self) -> CollectionConfig {
        *self.read_state().mem.config()
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.read_state().len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    crate::read::read_methods!(self => self.read_state().layers());

    /// Writes a consistent snapshot of the collection to `w`; returns its length. The state is
    /// captured under a brief read lock (the mapped checkpoint is shared, the in-memory layer
    /// copied), so readers and writers both continue while the file is written.
    pub fn write_snapshot<W: Write>(&self, w: &mut W) -> Result<u64> {
        let view = {
            let st = self.read_state();
            Layers {
                base: st.base.clone(),
                dead: st.dead.clone(),
                mem: st.mem.clone(),
                index: st.index,
            }
        };
        let quantization = lock(&self.manifest).storage.quantization;
        view.write(w, FileKind::Snapshot, quantization, &mut |_| true)
            .map(|written| written.unwrap_or_default())
    }

    /// Checks every checksum of the mapped checkpoint (reads all of it); the log's checksums
    /// were checked when it was replayed.
    pub fn verify(&self) -> Result<()> {
        let base = self.read_state().base.clone();
        base.map_or(Ok(()), |b| b.verify())
    }

    /// Indexes the collection with HNSW: a checkpoint is written now with the graph in it, and
    /// every later checkpoint carries the graph over, linking in the points written since.
    /// Until then those points are searched exactly, beside the graph. Building again with
    /// other parameters builds a new graph.
    pub fn build_index(&self, params: HnswParams) -> Result<()> {
        self.build_index_with_progress(params, &mut |_| true)
            .map(|_| ())
    }

    /// [`DurableCollection::build_index`], calling `progress(points linked so far)` as the
    /// graph is built; when it returns `false` the checkpoint is abandoned (nothing written)
    /// and the collection keeps the index it had: `Ok(false)`.
    pub fn build_index_with_progress(
        &self,
        params: HnswParams,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<bool> {
        params.validate()?;
        let before = self.write_state().index.replace(params);
        let done = self.checkpoint_now(true, progress);
        if !matches!(done, Ok(true)) {
            self.write_state().index = before;
        }
        done
    }

    /// Drops the graph: a checkpoint is written now without one, and searches scan every
    /// point from then on (until [`DurableCollection::build_index`]). Nothing changes when the
    /// collection has no graph.
    pub fn drop_index(&self) -> Result<()> {
        let before = self.write_state().index.take();
        if before.is_none() {
            return Ok(());
        }
        let done = self.checkpoint_now(true, &mut |_| true);
        if done.is_err() {
            self.write_state().index = before;
        }
        done.map(|_| ())
    }

    /// Indexes the payload values at `key` as `kind` (see
    /// [`Collection::create_payload_index`]). The definition is kept in the manifest; the index
    /// itself is rebuilt in memory when the collection is opened (by reading every payload of
    /// the checkpoint once) and kept current by every write.
    ///
    /// On a collection with a graph, a keyword index whose values include common ones (each
    /// held by 4,096 points up to half of them) also writes a checkpoint now, which links a
    /// graph over each such value's points (see `Collection::create_payload_index`), so
    /// filters on them are served by those graphs from now on rather than from the next
    /// checkpoint. If that checkpoint fails its error is returned; the index exists all the
    /// same (its definition is in the manifest) and the graphs come with a later checkpoint.
    pub fn create_payload_index(&self, key: &str, kind: PayloadIndexType) -> Result<()> {
        self.define_payload_index(key, kind)?;
        let link_now = kind == PayloadIndexType::Keyword && {
            let st = self.read_state();
            st.index.is_some() && st.base.as_ref().is_some_and(|b| b.lacks_value_graphs(key))
        };
        if link_now {
            self.checkpoint_now(true, &mut |_| true)?;
        }
        Ok(())
    }

    /// The manifest and in-memory part of [`DurableCollection::create_payload_index`].
    fn define_payload_index(&self, key: &str, kind: PayloadIndexType) -> Result<()> {
        parse_key(key)?;
        let _writer = lock(&self.writer);
        let mut manifest = lock(&self.manifest);
        let mut next = manifest.clone();
        next.payload_indexes.retain(|(k, _)| k != key);
        next.payload_indexes.push((key.to_owned(), kind));
        // The new index is built beside the current ones, which readers keep using meanwhile.
        let base = match self.read_state().base.as_deref().cloned() {
            Some(mut b) => {
                b.create_payload_indexes(&[(key.to_owned(), kind)])?;
                Some(Arc::new(b))
            }
            None => None,
        };
        install_manifest(&self.dir, &next)?;
        let mut st = self.write_state();
        st.mem.create_payload_index(key, kind)?;
        st.base = base;
        *manifest = next;
        Ok(())
    }

    /// Drops the payload index on `key` (removed from the manifest; filters on the key then
    /// read the payloads). Returns `false` when there was none.
    pub fn drop_payload_index(&self, key: &str) -> Result<bool> {
        let _writer = lock(&self.writer);
        let mut manifest = lock(&self.manifest);
        if !manifest.payload_indexes.iter().any(|(k, _)| k == key) {
            return Ok(false);
        }
        let mut next = manifest.clone();
        next.payload_indexes.retain(|(k, _)| k != key);
        let base = self.read_state().base.as_deref().cloned().map(|mut b| {
            b.drop_payload_index(key);
            Arc::new(b)
        });
        install_manifest(&self.dir, &next)?;
        let mut st = self.write_state();
        st.mem.drop_payload_index(key);
        st.base = base;
        *manifest = next;
        Ok(true)
    }

    /// Changes how the checkpoint is served (see [`StorageOptions`]): its tier, and the
    /// quantization its searches rank by. Kept in the manifest; the checkpoint is reopened
    /// now, and points written since the checkpoint stay in memory at full precision until
    /// the next one.
    pub fn set_storage(&self, storage: StorageOptions) -> Result<()> {
        storage.validate()?;
        let _writer = lock(&self.writer);
        let mut manifest = lock(&self.manifest);
        let next = Manifest {
            storage,
            ..manifest.clone()
        };
        // Reopened beside the current one, which readers keep using meanwhile.
        let base = match &next.segment {
            Some(name) => {
                let mut b = open_checkpoint(&self.dir, name, &next)?;
                b.keep_payload_indexes(&next.payload_indexes)?;
                Some(Arc::new(b))
            }
            None => None,
        };
        install_manifest(&self.dir, &next)?;
        self.write_state().base = base;
        *manifest = next;
        Ok(())
    }

    /// How the checkpoint is served (see [`DurableCollection::set_storage`]).
    pub fn storage(&self) -> StorageOptions {
        lock(&self.manifest).storage
    }

    /// The payload indexes: key path and type.
    pub fn payload_index_list(&self) -> Vec<(String, PayloadIndexType)> {
        lock(&self.manifest).payload_indexes.clone()
    }

    /// How many live points are searched without a graph: all of them when the collection is
    /// not indexed; otherwise those written since the last checkpoint, until they are numerous
    /// enough to get a graph of their own (8192).
    pub fn unindexed_points(&self) -> usize {
        let st = self.read_state();
        match st.index {
            None => st.len(),
            Some(_) if st.mem.has_index() => 0,
            Some(_) => st.mem.len(),
        }
    }

    /// Whether the collection is indexed (see [`DurableCollection::build_index`]).
    pub fn has_index(&self) -> bool {
        self.read_state().index.is_some()
    }

    /// Writes the live points as the next segment, switches to a fresh log, replaces the
    /// manifest, then serves the new segment by memory map and removes the old files. Readers
    /// continue meanwhile; writers wait.
    pub fn checkpoint(&self) -> Result<()> {
        self.checkpoint_now(false, &mut |_| true).map(|_| ())
    }

    /// [`DurableCollection::checkpoint`], calling `progress(points linked so far)` while the
    /// points written since the last checkpoint are linked into the graph; when it returns
    /// `false` the checkpoint is abandoned (nothing changes): `Ok(false)`.
    pub fn checkpoint_with_progress(
        &self,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<bool> {
        self.checkpoint_now(false, progress)
    }

    /// A checkpoint; unless `force`, skipped when nothing was logged since the last one.
    fn checkpoint_now(&self, force: bool, progress: &mut dyn FnMut(usize) -> bool) -> Result<bool> {
        let _writer = lock(&self.writer);
        let wal = self.wal();
        let mut manifest = lock(&self.manifest);
        if !force && wal.last_lsn() == manifest.checkpoint_lsn {
            return Ok(true);
        }
        let generation = manifest.generation + 1;
        let seg_name = format!("seg-{generation:06}.svs");
        let wal_name = format!("wal-{generation:06}.log");
        let seg_path = self.dir.join(&seg_name);
        {
            let st = self.read_state();
            if let Some(base) = &st.base {
                // The checkpoint rewrites every checksum: check the old ones first, so damage
                // in the mapped segment is reported instead of carried over under new ones.
                base.verify()?;
            }
            let file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&seg_path)
                .map_err(io_err(format!("creating {}", seg_path.display())))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let quantization = manifest.storage.quantization;
            if st
                .write(&mut out, FileKind::Segment, quantization, progress)?
                .is_none()
            {
                drop(out);
                std::fs::remove_file(&seg_path)
                    .map_err(io_err(format!("removing {}", seg_path.display())))?;
                return Ok(false);
            }
            let file = out.into_inner().map_err(|e| {
                Error::io(format!("writing {}", seg_path.display()), e.into_error())
            })?;
            file.sync_all()
                .map_err(io_err(format!("syncing {}", seg_path.display())))?;
        }

        let lsn = wal.last_lsn();
        let wal_path = self.dir.join(&wal_name);
        if wal_path.exists() {
            std::fs::remove_file(&wal_path)
                .map_err(io_err(format!("removing {}", wal_path.display())))?;
        }
        let new_wal = WalWriter::create(&wal_path, lsn, self.options.sync)?;
        let next = Manifest {
            generation,
            config: manifest.config,
            segment: Some(seg_name.clone()),
            wal: wal_name,
            checkpoint_lsn: lsn,
            payload_indexes: manifest.payload_indexes.clone(),
            storage: manifest.storage,
        };
        let state = Layers::on(
            open_checkpoint(&self.dir, &seg_name, &next)?,
            &next.payload_indexes,
        )?;
        install_manifest(&self.dir, &next)?;
        // From here the manifest on disk names the new files: switch to them before anything
        // else can fail, so no write goes to a log the manifest no longer names.
        *self.wal.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new_wal);
        *self.write_state() = state;
        let old = std::mem::replace(&mut *manifest, next);
        sync_dir(&self.dir)?;
        for name in old.segment.iter().chain(std::iter::once(&old.wal)) {
            // The old segment may still be mapped by a reader's snapshot of the state; on Unix
            // the file lives on until unmapped.
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        Ok(true)
    }

    /// Makes every acknowledged write durable now (matters under the periodic policy).
    pub fn sync(&self) -> Result<()> {
        self.wal().sync()
    }

    /// Checkpoints and releases the writer lock.
    pub fn close(self) -> Result<()> {
        self.checkpoint()?;
        self.sync()
    }
}

impl Drop for DurableCollection {
    fn drop(&mut self) {
        // Under the periodic policy, make acknowledged writes durable before the lock goes.
        let _ = self.wal().sync();
    }
}

/// Removes segment and log files an interrupted checkpoint left behind.
fn remove_unreferenced(dir: &Path, m: &Manifest) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(io_err(format!("listing {}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = (name.starts_with("seg-") && name.ends_with(".svs"))
            || (name.starts_with("wal-") && name.ends_with(".log"));
        let referenced = Some(&name) == m.segment.as_ref() || name == m.wal;
        if (ours && !referenced) || name == MANIFEST_TMP {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}
