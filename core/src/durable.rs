//! A collection kept in a folder on disk: every acknowledged write survives a process kill
//! (and, with the default fsync policy, a power failure).
//!
//! Key design decision: **checkpoint + log.** The points live in memory (a [`Collection`]);
//! every write is first appended to the write-ahead log, and when the log passes a size
//! threshold (and on close) the whole collection is written as one immutable segment, the
//! manifest is replaced atomically to name that segment and a fresh log, and the old files are
//! removed. A checkpoint is therefore also a full compaction. Opening loads the segment and
//! replays the log. Serving segments from a memory map without loading them, and several
//! segments per collection, build on this layout (FORMAT.md, "Database folder").
//!
//! Concurrency: one writer per collection across processes (an exclusive lock on `LOCK`);
//! within a process, writers serialise on the state lock while readers share it, and the
//! fsync happens after the state lock is released, so concurrent writers share fsyncs.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::json;

use crate::collection::Collection;
use crate::config::{CollectionConfig, VectorType};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::point::{Payload, PointId, Record, ScoredPoint};
use crate::read::{ScrollPage, SearchRequest};
use crate::snapshot::Snapshot;
use crate::storage::wal::{self, SyncPolicy, WalOp, WalWriter};
use crate::storage::{FileKind, Segment};

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
        Ok(Manifest {
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
    let tmp = dir.join(MANIFEST_TMP);
    let mut f = File::create(&tmp).map_err(io_err(format!("creating {}", tmp.display())))?;
    f.write_all(&m.to_json())
        .and_then(|()| f.sync_all())
        .map_err(io_err(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(io_err(format!(
        "replacing the manifest in {}",
        dir.display()
    )))?;
    sync_dir(dir)
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    match file.try_lock() {
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
    state: RwLock<Collection>,
    wal: RwLock<Arc<WalWriter>>,
    manifest: Mutex<Manifest>,
    _lock: File,
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
        let lock = lock_dir(dir)?;
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
            state: RwLock::new(Collection::new(config)?),
            wal: RwLock::new(Arc::new(wal)),
            manifest: Mutex::new(manifest),
            _lock: lock,
        })
    }

    /// Creates a collection in `dir` holding exactly the points of `snapshot`, checkpointed.
    pub fn restore(
        dir: &Path,
        snapshot: &Snapshot,
        options: DurableOptions,
    ) -> Result<DurableCollection> {
        let restored = snapshot.to_collection()?;
        let d = DurableCollection::create(dir, *snapshot.config(), options)?;
        *d.write() = restored;
        d.checkpoint_now(true)?;
        Ok(d)
    }

    /// Opens the collection in `dir`: loads its checkpoint and replays its log.
    pub fn open(dir: &Path, options: DurableOptions) -> Result<DurableCollection> {
        let lock = lock_dir(dir)?;
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
        let mut col = match &manifest.segment {
            None => Collection::new(manifest.config)?,
            Some(name) => {
                let seg = Segment::read(&dir.join(name))?;
                if *seg.config() != manifest.config {
                    return Err(Error::corrupt(
                        name.clone(),
                        "its settings differ from the manifest's",
                    ));
                }
                Collection::from_segment(&seg)?
            }
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
                apply(&mut col, op).map_err(|e| {
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
            state: RwLock::new(col),
            wal: RwLock::new(Arc::new(wal)),
            manifest: Mutex::new(manifest),
            _lock: lock,
        })
    }

    /// What opening found: records replayed and torn bytes removed.
    pub fn recovery_report(&self) -> RecoveryReport {
        self.recovery
    }

    fn read(&self) -> RwLockReadGuard<'_, Collection> {
        // A panic while holding the lock cannot leave the collection half-updated: writes are
        // validated before they touch it.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Collection> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn wal(&self) -> Arc<WalWriter> {
        self.wal.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Logs `op` (already validated against `col`), applies it, then makes it durable.
    fn logged(&self, mut col: RwLockWriteGuard<'_, Collection>, op: WalOp) -> Result<()> {
        let wal = self.wal();
        let lsn = wal.append(&op)?;
        apply(&mut col, op)?;
        drop(col);
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
        let col = self.write();
        col.check_upsert(ids, vectors, payloads.as_deref())?;
        let op = WalOp::Upsert {
            ids: ids.to_vec(),
            vectors: vectors.to_vec(),
            payloads,
        };
        self.logged(col, op)
    }

    /// Deletes points by id; returns how many existed.
    pub fn delete(&self, ids: &[PointId]) -> Result<usize> {
        let col = self.write();
        let existing: Vec<PointId> = col
            .get(ids, false, false)?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let n = existing.len();
        if n > 0 {
            self.logged(col, WalOp::Delete { ids: existing })?;
        }
        Ok(n)
    }

    /// Deletes every point passing `filter`; returns how many.
    pub fn delete_by_filter(&self, filter: &Filter) -> Result<usize> {
        let col = self.write();
        let ids = col.ids_matching(filter)?;
        let n = ids.len();
        if n > 0 {
            self.logged(col, WalOp::Delete { ids })?;
        }
        Ok(n)
    }

    /// Sets payload keys on these points (see [`Collection::set_payload`]).
    pub fn set_payload(&self, ids: &[PointId], payload: Payload) -> Result<()> {
        self.logged(
            self.write(),
            WalOp::SetPayload {
                ids: ids.to_vec(),
                payload,
            },
        )
    }

    /// Replaces the payload of these points.
    pub fn overwrite_payload(&self, ids: &[PointId], payload: Payload) -> Result<()> {
        self.logged(
            self.write(),
            WalOp::OverwritePayload {
                ids: ids.to_vec(),
                payload,
            },
        )
    }

    /// Removes top-level payload keys from these points.
    pub fn delete_payload_keys(&self, ids: &[PointId], keys: Vec<String>) -> Result<()> {
        self.logged(
            self.write(),
            WalOp::DeletePayloadKeys {
                ids: ids.to_vec(),
                keys,
            },
        )
    }

    /// The settings.
    pub fn config(&self) -> CollectionConfig {
        *self.read().config()
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// See [`Collection::get`].
    pub fn get(
        &self,
        ids: &[PointId],
        with_payload: bool,
        with_vector: bool,
    ) -> Result<Vec<Record>> {
        self.read().get(ids, with_payload, with_vector)
    }

    /// See [`Collection::scroll`].
    pub fn scroll(
        &self,
        filter: Option<&Filter>,
        limit: usize,
        offset: Option<PointId>,
        with_payload: bool,
        with_vector: bool,
    ) -> Result<ScrollPage> {
        self.read()
            .scroll(filter, limit, offset, with_payload, with_vector)
    }

    /// See [`Collection::count`].
    pub fn count(&self, filter: Option<&Filter>) -> Result<usize> {
        self.read().count(filter)
    }

    /// See [`Collection::search`].
    pub fn search(&self, request: &SearchRequest<'_>) -> Result<Vec<ScoredPoint>> {
        self.read().search(request)
    }

    /// See [`Collection::search_batch`].
    pub fn search_batch(&self, requests: &[SearchRequest<'_>]) -> Result<Vec<Vec<ScoredPoint>>> {
        self.read().search_batch(requests)
    }

    /// Writes a consistent snapshot of the collection to `w` while other writes wait; readers
    /// continue. Returns its length.
    pub fn write_snapshot<W: Write>(&self, w: &mut W) -> Result<u64> {
        self.read().write_snapshot(w)
    }

    /// Writes the collection as a new segment, switches to a fresh log and replaces the
    /// manifest; then removes the old segment and log. Readers continue meanwhile; writers wait.
    pub fn checkpoint(&self) -> Result<()> {
        self.checkpoint_now(false)
    }

    /// A checkpoint; unless `force`, skipped when nothing was logged since the last one.
    fn checkpoint_now(&self, force: bool) -> Result<()> {
        let col = self.read();
        let wal = self.wal();
        let mut manifest = self.manifest.lock().unwrap_or_else(|e| e.into_inner());
        if !force && wal.last_lsn() == manifest.checkpoint_lsn {
            return Ok(());
        }
        let generation = manifest.generation + 1;
        let seg_name = format!("seg-{generation:06}.svs");
        let wal_name = format!("wal-{generation:06}.log");
        let seg_path = self.dir.join(&seg_name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&seg_path)
            .map_err(io_err(format!("creating {}", seg_path.display())))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        col.write_segment(&mut out, FileKind::Segment)?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io(format!("writing {}", seg_path.display()), e.into_error()))?;
        file.sync_all()
            .map_err(io_err(format!("syncing {}", seg_path.display())))?;

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
            segment: Some(seg_name),
            wal: wal_name,
            checkpoint_lsn: lsn,
        };
        write_manifest(&self.dir, &next)?;
        *self.wal.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new_wal);
        let old = std::mem::replace(&mut *manifest, next);
        drop(col);
        for name in old.segment.iter().chain(std::iter::once(&old.wal)) {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        Ok(())
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

/// Applies a logged write to the in-memory collection.
fn apply(col: &mut Collection, op: WalOp) -> Result<()> {
    match op {
        WalOp::Upsert {
            ids,
            vectors,
            payloads,
        } => {
            col.check_upsert(&ids, &vectors, payloads.as_deref())?;
            col.apply_upsert(&ids, &vectors, payloads);
        }
        WalOp::Delete { ids } => {
            col.delete(&ids);
        }
        WalOp::SetPayload { ids, payload } => {
            col.set_payload(&ids, &payload);
        }
        WalOp::OverwritePayload { ids, payload } => {
            col.overwrite_payload(&ids, &payload);
        }
        WalOp::DeletePayloadKeys { ids, keys } => {
            col.delete_payload_keys(&ids, &keys);
        }
    }
    Ok(())
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
