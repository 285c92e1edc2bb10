//! The write-ahead log (FORMAT.md, "Write-ahead log"): a 64-byte header, then checksummed
//! records `| len u32 | crc32c(len) u32 | crc32c u32 | lsn u64 | kind u8 | body |`.
//!
//! Key design decision: **a bad record is only forgiven at the tail.** A record whose (checksummed)
//! length runs past the end of the file, the last record failing its checksum, or less than a
//! page of garbage at the end, is a write torn by a crash: it was never acknowledged, so recovery
//! truncates it. Damage with more data after it is damage to acknowledged writes, and recovery
//! refuses with `Corrupt` rather than silently dropping everything after it. The length has its
//! own checksum so that a flipped length bit cannot pass for a torn write.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::point::{Payload, PointId};

const MAGIC: [u8; 8] = *b"\x89SVWAL\r\n";
const VERSION: u32 = 1;
const HEADER_LEN: u64 = 64;
/// `len` counts lsn + kind + body; a record larger than this is treated as damage.
const MAX_RECORD: u32 = 1 << 30;
/// `len`, CRC32C of `len`'s bytes, CRC32C of the rest.
const RECORD_HEADER: usize = 12;
/// The most unparseable bytes recovery forgives at the end of a log (a page a power failure
/// may leave behind).
const TORN_GARBAGE_MAX: usize = 4096;

/// When the log is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Before every write is acknowledged (concurrent writers share one fsync).
    Always,
    /// At most once per interval, and on checkpoint and close. An acknowledged write survives a
    /// process kill; a power failure may lose the last interval.
    Periodic(Duration),
}

/// One logged write. Filters are resolved to ids before logging, so replay is deterministic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WalOp {
    Upsert {
        ids: Vec<PointId>,
        vectors: Vec<f32>,
        payloads: Option<Vec<Payload>>,
    },
    Delete {
        ids: Vec<PointId>,
    },
    SetPayload {
        ids: Vec<PointId>,
        payload: Payload,
    },
    OverwritePayload {
        ids: Vec<PointId>,
        payload: Payload,
    },
    DeletePayloadKeys {
        ids: Vec<PointId>,
        keys: Vec<String>,
    },
}

mod kind {
    pub(super) const UPSERT: u8 = 1;
    pub(super) const DELETE: u8 = 2;
    pub(super) const SET_PAYLOAD: u8 = 3;
    pub(super) const OVERWRITE_PAYLOAD: u8 = 4;
    pub(super) const DELETE_PAYLOAD_KEYS: u8 = 5;
}

fn put_u32(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u32).to_le_bytes());
}

fn put_ids(out: &mut Vec<u8>, ids: &[PointId]) {
    put_u32(out, ids.len());
    for id in ids {
        match id {
            PointId::Num(n) => {
                out.push(0);
                out.extend_from_slice(&n.to_le_bytes());
            }
            PointId::Uuid(u) => {
                out.push(1);
                out.extend_from_slice(u.as_bytes());
            }
        }
    }
}

fn put_json(out: &mut Vec<u8>, p: &Payload) {
    let text = serde_json::to_vec(p).unwrap_or_else(|_| b"{}".to_vec());
    put_u32(out, text.len());
    out.extend_from_slice(&text);
}

impl WalOp {
    fn encode(&self) -> (u8, Vec<u8>) {
        let mut b = Vec::new();
        let k = match self {
            WalOp::Upsert {
                ids,
                vectors,
                payloads,
            } => {
                put_ids(&mut b, ids);
                put_u32(&mut b, vectors.len());
                b.extend_from_slice(bytemuck::cast_slice(vectors));
                match payloads {
                    None => b.push(0),
                    Some(ps) => {
                        b.push(1);
                        ps.iter().for_each(|p| put_json(&mut b, p));
                    }
                }
                kind::UPSERT
            }
            WalOp::Delete { ids } => {
                put_ids(&mut b, ids);
                kind::DELETE
            }
            WalOp::SetPayload { ids, payload } | WalOp::OverwritePayload { ids, payload } => {
                put_ids(&mut b, ids);
                put_json(&mut b, payload);
                if matches!(self, WalOp::SetPayload { .. }) {
                    kind::SET_PAYLOAD
                } else {
                    kind::OVERWRITE_PAYLOAD
                }
            }
            WalOp::DeletePayloadKeys { ids, keys } => {
                put_ids(&mut b, ids);
                put_u32(&mut b, keys.len());
                for k in keys {
                    put_u32(&mut b, k.len());
                    b.extend_from_slice(k.as_bytes());
                }
                kind::DELETE_PAYLOAD_KEYS
            }
        };
        (k, b)
    }

    fn decode(kind: u8, body: &[u8]) -> std::result::Result<WalOp, String> {
        let mut r = Reader { b: body, at: 0 };
        let op = match kind {
            kind::UPSERT => {
                let ids = r.ids()?;
                let nv = r.u32()? as usize;
                let raw = r.take(nv.checked_mul(4).ok_or("vector length overflows")?)?;
                let vectors = raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let payloads = match r.take(1)?[0] {
                    0 => None,
                    1 => Some(
                        (0..ids.len())
                            .map(|_| r.json())
                            .collect::<std::result::Result<_, _>>()?,
                    ),
                    other => return Err(format!("bad payload marker {other}")),
                };
                WalOp::Upsert {
                    ids,
                    vectors,
                    payloads,
                }
            }
            kind::DELETE => WalOp::Delete { ids: r.ids()? },
            kind::SET_PAYLOAD => WalOp::SetPayload {
                ids: r.ids()?,
                payload: r.json()?,
            },
            kind::OVERWRITE_PAYLOAD => WalOp::OverwritePayload {
                ids: r.ids()?,
                payload: r.json()?,
            },
            kind::DELETE_PAYLOAD_KEYS => {
                let ids = r.ids()?;
                let n = r.u32()? as usize;
                let keys = (0..n)
                    .map(|_| {
                        let len = r.u32()? as usize;
                        String::from_utf8(r.take(len)?.to_vec())
                            .map_err(|_| "key is not UTF-8".to_owned())
                    })
                    .collect::<std::result::Result<_, _>>()?;
                WalOp::DeletePayloadKeys { ids, keys }
            }
            other => return Err(format!("unknown record kind {other}")),
        };
        if r.at != body.len() {
            return Err(format!(
                "{} unread bytes after the record",
                body.len() - r.at
            ));
        }
        Ok(op)
    }
}

/// Bounds-checked little-endian reader over a record body.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or("record body ends early")?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn ids(&mut self) -> std::result::Result<Vec<PointId>, String> {
        let n = self.u32()? as usize;
        // Each id takes at least 9 bytes: refuse counts the body cannot hold before allocating.
        if n > (self.b.len() - self.at) / 9 {
            return Err(format!("{n} ids cannot fit in the record"));
        }
        (0..n)
            .map(|_| match self.take(1)?[0] {
                0 => {
                    let s = self.take(8)?;
                    Ok(PointId::Num(u64::from_le_bytes(
                        s.try_into().map_err(|_| "short id")?,
                    )))
                }
                1 => {
                    let s = self.take(16)?;
                    Ok(PointId::Uuid(uuid::Uuid::from_bytes(
                        s.try_into().map_err(|_| "short id")?,
                    )))
                }
                t => Err(format!("bad id tag {t}")),
            })
            .collect()
    }

    fn json(&mut self) -> std::result::Result<Payload, String> {
        let len = self.u32()? as usize;
        serde_json::from_slice(self.take(len)?)
            .map_err(|e| format!("payload is not a JSON object: {e}"))
    }
}

fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&0x0A0B_0C0Du32.to_le_bytes());
    h[12..16].copy_from_slice(&VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&h[..60]);
    h[60..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What recovery found in a log.
#[derive(Debug)]
pub(crate) struct Replayed {
    pub(crate) records: Vec<(u64, WalOp)>,
    /// Bytes of the log that hold whole, valid records (where appending resumes).
    pub(crate) valid_len: u64,
    /// Bytes dropped as a torn tail.
    pub(crate) torn_bytes: u64,
}

/// Reads a whole log, truncating a torn tail in place.
pub(crate) fn recover(path: &Path) -> Result<Replayed> {
    let what = || format!("write-ahead log {}", path.display());
    let io = |e| Error::io(format!("reading {}", path.display()), e);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() < HEADER_LEN as usize || bytes[..HEADER_LEN as usize] != header() {
        return Err(Error::corrupt(what(), "missing or damaged header"));
    }
    let mut records = Vec::new();
    let mut at = HEADER_LEN as usize;
    let mut last_lsn = 0u64;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let refuse = |reason: &str| {
            Error::corrupt(
                what(),
                format!(
                    "record at byte {at} {reason}, and more data follows it; \
                     refusing to drop acknowledged writes"
                ),
            )
        };
        if rest.len() < RECORD_HEADER {
            break; // a torn record header
        }
        let word = |i: usize| u32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
        let (len, len_crc, crc) = (word(0), word(4), word(8));
        if crc32c::crc32c(&rest[..4]) != len_crc || !(9..=MAX_RECORD).contains(&len) {
            // Garbage where a length should be. A crash leaves at most the record being
            // written, or a page of garbage after a power failure; more than that is damage.
            if rest.len() > TORN_GARBAGE_MAX {
                return Err(refuse("has an impossible length"));
            }
            break;
        }
        let end = RECORD_HEADER + len as usize;
        if rest.len() < end {
            // The length is intact (its own checksum passed), so this is the record that was
            // being written when the process died.
            break;
        }
        let body = &rest[RECORD_HEADER..end];
        if crc32c::crc32c(body) != crc {
            if rest.len() > end {
                return Err(refuse("fails its checksum"));
            }
            break; // the last record, torn
        }
        let lsn = u64::from_le_bytes(
            body[..8]
                .try_into()
                .map_err(|_| Error::corrupt(what(), "short record"))?,
        );
        if lsn <= last_lsn {
            return Err(Error::corrupt(
                what(),
                format!("record at byte {at} has lsn {lsn} after lsn {last_lsn}"),
            ));
        }
        let op = WalOp::decode(body[8], &body[9..])
            .map_err(|e| Error::corrupt(what(), format!("record at byte {at}: {e}")))?;
        records.push((lsn, op));
        last_lsn = lsn;
        at += end;
    }
    let torn_bytes = (bytes.len() - at) as u64;
    if torn_bytes > 0 {
        file.set_len(at as u64).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok(Replayed {
        records,
        valid_len: at as u64,
        torn_bytes,
    })
}

/// Appends records; shared by concurrent writers, who share fsyncs (group commit).
#[derive(Debug)]
pub(crate) struct WalWriter {
    path: PathBuf,
    policy: SyncPolicy,
    /// The file and the last lsn written to it.
    tail: Mutex<Tail>,
    /// Serialises fsyncs; holds the last lsn known durable and when it was synced.
    synced: Mutex<(u64, Instant)>,
    /// A second handle for fsync, so syncing does not hold `tail`.
    sync_handle: File,
}

#[derive(Debug)]
struct Tail {
    file: File,
    lsn: u64,
    len: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the file half-described: every field is
    // updated after the write it describes succeeded.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WalWriter {
    /// Creates a new, empty log (header only, fsynced) whose next record gets `last_lsn + 1`.
    pub(crate) fn create(path: &Path, last_lsn: u64, policy: SyncPolicy) -> Result<WalWriter> {
        let io = |e| Error::io(format!("creating {}", path.display()), e);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .read(true)
            .open(path)
            .map_err(io)?;
        file.write_all(&header()).map_err(io)?;
        file.sync_all().map_err(io)?;
        WalWriter::resume(path, file, HEADER_LEN, last_lsn, policy)
    }

    /// Appends to an existing log whose valid part is `valid_len` bytes ending at `last_lsn`.
    pub(crate) fn open(
        path: &Path,
        valid_len: u64,
        last_lsn: u64,
        policy: SyncPolicy,
    ) -> Result<WalWriter> {
        let io = |e| Error::io(format!("opening {}", path.display()), e);
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .open(path)
            .map_err(io)?;
        WalWriter::resume(path, file, valid_len, last_lsn, policy)
    }

    fn resume(
        path: &Path,
        mut file: File,
        len: u64,
        lsn: u64,
        policy: SyncPolicy,
    ) -> Result<WalWriter> {
        let io = |e| Error::io(format!("opening {}", path.display()), e);
        file.seek(SeekFrom::Start(len)).map_err(io)?;
        let sync_handle = file.try_clone().map_err(io)?;
        Ok(WalWriter {
            path: path.to_owned(),
            policy,
            tail: Mutex::new(Tail { file, lsn, len }),
            synced: Mutex::new((lsn, Instant::now())),
            sync_handle,
        })
    }

    /// The lsn of the last record written.
    pub(crate) fn last_lsn(&self) -> u64 {
        lock(&self.tail).lsn
    }

    /// Bytes in the log.
    pub(crate) fn len(&self) -> u64 {
        lock(&self.tail).len
    }

    /// Writes one record (not yet durable: see [`WalWriter::commit`]); returns its lsn.
    pub(crate) fn append(&self, op: &WalOp) -> Result<u64> {
        let (k, body) = op.encode();
        let mut tail = lock(&self.tail);
        let lsn = tail.lsn + 1;
        let mut rec = Vec::with_capacity(RECORD_HEADER + 9 + body.len());
        let len = 9 + body.len();
        if len > MAX_RECORD as usize {
            return Err(Error::InvalidArgument(format!(
                "one write of {len} bytes exceeds the log's record limit of {MAX_RECORD}; split the batch"
            )));
        }
        let len_bytes = (len as u32).to_le_bytes();
        rec.extend_from_slice(&len_bytes);
        rec.extend_from_slice(&crc32c::crc32c(&len_bytes).to_le_bytes());
        rec.extend_from_slice(&[0; 4]);
        rec.extend_from_slice(&lsn.to_le_bytes());
        rec.push(k);
        rec.extend_from_slice(&body);
        let crc = crc32c::crc32c(&rec[RECORD_HEADER..]);
        rec[8..12].copy_from_slice(&crc.to_le_bytes());
        if let Err(e) = tail.file.write_all(&rec) {
            // Cut off whatever part of the record reached the file, so the next record does
            // not follow garbage; if even that fails, recovery treats it as a torn tail.
            let len = tail.len;
            let _ = tail
                .file
                .set_len(len)
                .and_then(|()| tail.file.seek(SeekFrom::Start(len)).map(|_| ()));
            return Err(Error::io(
                format!("appending to {}", self.path.display()),
                e,
            ));
        }
        tail.lsn = lsn;
        tail.len += rec.len() as u64;
        Ok(lsn)
    }

    /// Makes every record up to `lsn` durable as the policy requires. Concurrent callers
    /// share one fsync: whoever syncs covers every record written before it started.
    pub(crate) fn commit(&self, lsn: u64) -> Result<()> {
        let mut synced = lock(&self.synced);
        if synced.0 >= lsn {
            return Ok(());
        }
        if let SyncPolicy::Periodic(every) = self.policy {
            if synced.1.elapsed() < every {
                return Ok(());
            }
        }
        self.sync_locked(&mut synced)
    }

    /// fsyncs now, whatever the policy.
    pub(crate) fn sync(&self) -> Result<()> {
        let mut synced = lock(&self.synced);
        self.sync_locked(&mut synced)
    }

    fn sync_locked(&self, synced: &mut (u64, Instant)) -> Result<()> {
        let target = self.last_lsn();
        self.sync_handle
            .sync_data()
            .map_err(|e| Error::io(format!("syncing {}", self.path.display()), e))?;
        *synced = (target, Instant::now());
        Ok(())
    }
}
