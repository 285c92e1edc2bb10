//! Durable collections: reopen after every kind of write, checkpoints, torn tails, damaged
//! logs, the writer lock, and a crash test that SIGKILLs a writing child process 100 times.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use stratavec_core::{
    Collection, CollectionConfig, DurableCollection, DurableOptions, Error, Filter, Metric,
    Payload, PointId, SyncPolicy,
};
use stratavec_testkit::Rng;

/// A fresh, unique path under the system's temporary folder (nothing there yet).
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "stratavec-{name}-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn payload(v: serde_json::Value) -> Payload {
    v.as_object().unwrap().clone()
}

fn everything(d: &DurableCollection) -> Vec<stratavec_core::Record> {
    d.scroll(None, 1_000_000, None, true, true).unwrap().records
}

fn everything_mem(c: &Collection) -> Vec<stratavec_core::Record> {
    c.scroll(None, 1_000_000, None, true, true).unwrap().records
}

/// Searches, filtered searches, counts and pages agree with the in-memory mirror.
fn assert_reads_agree(d: &DurableCollection, mirror: &Collection) {
    assert_eq!(everything(d), everything_mem(mirror));
    assert_eq!(d.len(), mirror.len());
    let f = Filter::from_json(&json!({"must": [{"key": "i", "range": {"lt": 5}}]})).unwrap();
    assert_eq!(d.count(Some(&f)).unwrap(), mirror.count(Some(&f)).unwrap());
    let mut rng = Rng::new(77);
    for q in rng.vectors(6, DIM).chunks_exact(DIM) {
        for filter in [None, Some(&f)] {
            let req = stratavec_core::SearchRequest {
                filter,
                offset: 2,
                with_vector: true,
                ..stratavec_core::SearchRequest::new(q, 9)
            };
            assert_eq!(d.search(&req).unwrap(), mirror.search(&req).unwrap());
        }
    }
    let page = |offset| d.scroll(Some(&f), 7, offset, true, false).unwrap();
    let page_m = |offset| mirror.scroll(Some(&f), 7, offset, true, false).unwrap();
    let first = page(None);
    assert_eq!(first, page_m(None));
    assert_eq!(page(first.next_offset), page_m(first.next_offset));
}

const DIM: usize = 8;

fn config() -> CollectionConfig {
    CollectionConfig::new(DIM, Metric::Cosine)
}

/// A mixed workload applied to both a durable collection and an in-memory mirror.
fn workload(d: &DurableCollection, mirror: &mut Collection, rounds: u64) {
    let mut rng = Rng::new(rounds);
    for r in 0..rounds {
        let ids: Vec<PointId> = (r * 10..r * 10 + 10).map(PointId::Num).collect();
        let vectors = rng.vectors(10, DIM);
        let payloads: Vec<Payload> = (0..10)
            .map(|i| payload(json!({"round": r, "i": i})))
            .collect();
        d.upsert(&ids, &vectors, Some(payloads.clone())).unwrap();
        mirror.upsert(&ids, &vectors, Some(payloads)).unwrap();
        if r % 3 == 1 {
            let gone = [
                PointId::Num(r * 10 - 5),
                PointId::Num(r * 10 + 1),
                PointId::Num(r * 10 + 1),
            ];
            assert_eq!(d.delete(&gone).unwrap(), mirror.delete(&gone));
        }
        if r % 4 == 2 {
            let p = payload(json!({"tagged": true}));
            d.set_payload(&[PointId::Num(r * 10 + 2)], p.clone())
                .unwrap();
            mirror.set_payload(&[PointId::Num(r * 10 + 2)], &p);
            d.delete_payload_keys(&[PointId::Num(r * 10 + 3)], vec!["i".into()])
                .unwrap();
            mirror.delete_payload_keys(&[PointId::Num(r * 10 + 3)], &["i".into()]);
        }
        if r % 5 == 4 {
            let f =
                Filter::from_json(&json!({"must": [{"key": "i", "match": {"value": 9}}]})).unwrap();
            assert_eq!(
                d.delete_by_filter(&f).unwrap(),
                mirror.delete_by_filter(&f).unwrap()
            );
            let p = payload(json!({"replaced": r}));
            d.overwrite_payload(&[PointId::Num(r * 10)], p.clone())
                .unwrap();
            mirror.overwrite_payload(&[PointId::Num(r * 10)], &p);
        }
    }
}

#[test]
fn every_write_survives_reopen_with_and_without_checkpoints() {
    for checkpoint_bytes in [u64::MAX, 4096] {
        let dir = temp_dir("reopen");
        let options = DurableOptions {
            checkpoint_bytes,
            ..DurableOptions::default()
        };
        let mut mirror = Collection::new(config()).unwrap();
        {
            let d = DurableCollection::create(&dir, config(), options).unwrap();
            workload(&d, &mut mirror, 40);
            assert_eq!(everything(&d), everything_mem(&mirror));
        } // dropped without close: the log carries whatever the checkpoints did not
        let d = DurableCollection::open(&dir, options).unwrap();
        assert_reads_agree(&d, &mirror);
        // More writes on top of the reopened (mapped) checkpoint, then reopen again.
        workload(&d, &mut mirror, 12);
        assert_reads_agree(&d, &mirror);
        drop(d);
        let d = DurableCollection::open(&dir, options).unwrap();
        assert_reads_agree(&d, &mirror);
        let report = d.recovery_report();
        assert_eq!(report.torn_bytes, 0);
        if checkpoint_bytes == u64::MAX {
            assert!(
                report.replayed_records > 40,
                "no checkpoint: the whole log is replayed"
            );
        }
        d.close().unwrap();
        let d = DurableCollection::open(&dir, options).unwrap();
        assert_eq!(d.recovery_report().replayed_records, 0, "close checkpoints");
        assert_reads_agree(&d, &mirror);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names.len(),
            4,
            "only LOCK, MANIFEST, one segment and one log remain: {names:?}"
        );
        drop(d);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

fn wal_path(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .unwrap()
}

#[test]
fn a_torn_tail_is_truncated_and_damage_before_it_is_refused() {
    let dir = temp_dir("torn");
    let options = DurableOptions::default();
    let mut mirror = Collection::new(config()).unwrap();
    {
        let d = DurableCollection::create(&dir, config(), options).unwrap();
        workload(&d, &mut mirror, 5);
    }
    let wal = wal_path(&dir);
    let intact = std::fs::read(&wal).unwrap();

    // A record cut short: its (intact) header promises more bytes than follow.
    let mut torn = intact.clone();
    torn.extend_from_slice(&200u32.to_le_bytes());
    torn.extend_from_slice(
        &stratavec_testkit::fuzz::crc32c_sw(&200u32.to_le_bytes()).to_le_bytes(),
    );
    torn.extend_from_slice(&[0xAB; 30]);
    std::fs::write(&wal, &torn).unwrap();
    let d = DurableCollection::open(&dir, options).unwrap();
    assert_eq!(d.recovery_report().torn_bytes, 38);
    assert_eq!(everything(&d), everything_mem(&mirror));
    drop(d);
    assert_eq!(
        std::fs::read(&wal).unwrap(),
        intact,
        "the torn tail was cut off in place"
    );

    // Damage inside the first record, with acknowledged records after it: refuse, don't drop.
    let mut damaged = intact.clone();
    damaged[64 + 20] ^= 0x40;
    std::fs::write(&wal, &damaged).unwrap();
    let e = DurableCollection::open(&dir, options).unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { .. }) && e.to_string().contains("refusing to drop"),
        "{e}"
    );

    // A damaged manifest is refused too.
    std::fs::write(&wal, &intact).unwrap();
    let manifest = dir.join("MANIFEST");
    let good = std::fs::read(&manifest).unwrap();
    let mut bad = good.clone();
    let at = bad.iter().position(|&b| b == b'9').unwrap_or(10);
    bad[at] = b'8';
    std::fs::write(&manifest, &bad).unwrap();
    let e = DurableCollection::open(&dir, options).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    std::fs::write(&manifest, &good).unwrap();
    assert_eq!(
        everything(&DurableCollection::open(&dir, options).unwrap()),
        everything_mem(&mirror)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_writer_at_a_time_and_clear_errors() {
    let dir = temp_dir("lock");
    let d = DurableCollection::create(&dir, config(), DurableOptions::default()).unwrap();
    let e = DurableCollection::open(&dir, DurableOptions::default()).unwrap_err();
    assert!(
        matches!(e, Error::Conflict(_)) && e.to_string().contains("LOCK"),
        "{e}"
    );
    let e = DurableCollection::create(&dir, config(), DurableOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    drop(d);
    let e = DurableCollection::create(&dir, config(), DurableOptions::default()).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let e = DurableCollection::open(&dir.join("missing"), DurableOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Io { .. } | Error::NotFound(_)), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rejected_writes_are_not_logged() {
    let dir = temp_dir("rejected");
    let policy = DurableOptions {
        sync: SyncPolicy::Periodic(Duration::from_millis(50)),
        ..DurableOptions::default()
    };
    {
        let d = DurableCollection::create(&dir, config(), policy).unwrap();
        d.upsert(&[PointId::Num(1)], &[1.0; DIM], None).unwrap();
        assert!(d
            .upsert(&[PointId::Num(2)], &[f32::NAN; DIM], None)
            .is_err());
        assert!(d.upsert(&[PointId::Num(3)], &[1.0; 3], None).is_err());
        assert_eq!(d.len(), 1);
    }
    let d = DurableCollection::open(&dir, policy).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d.recovery_report().replayed_records, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- crash test -------------------------------------------------------------------------------

const CRASH_DIR_ENV: &str = "STRATAVEC_CRASH_CHILD_DIR";
const CRASH_START_ENV: &str = "STRATAVEC_CRASH_CHILD_START";
const CRASH_OPTIONS: DurableOptions = DurableOptions {
    sync: SyncPolicy::Always,
    checkpoint_bytes: 48 * 1024,
};

/// Operation `b` of the crash workload: mostly 20-point upserts, every 5th a delete.
fn crash_op(b: u64, apply: &mut dyn FnMut(Op)) {
    if b % 5 == 4 {
        apply(Op::Delete(
            (0..4).map(|i| PointId::Num((b - 3) * 20 + i * 3)).collect(),
        ));
    } else {
        let mut rng = Rng::new(b);
        let ids = (b * 20..b * 20 + 20).map(PointId::Num).collect();
        let payloads = (0..20)
            .map(|i| payload(json!({"batch": b, "i": i, "text": "x".repeat(i as usize)})))
            .collect();
        apply(Op::Upsert(ids, rng.vectors(20, DIM), payloads));
    }
}

enum Op {
    Upsert(Vec<PointId>, Vec<f32>, Vec<Payload>),
    Delete(Vec<PointId>),
}

fn expected_after(ops: u64) -> Collection {
    let mut c = Collection::new(config()).unwrap();
    for b in 0..ops {
        crash_op(b, &mut |op| match op {
            Op::Upsert(ids, v, p) => c.upsert(&ids, &v, Some(p)).unwrap(),
            Op::Delete(ids) => {
                c.delete(&ids);
            }
        });
    }
    c
}

/// The child: opens (or creates) the collection and applies operations from START on,
/// printing `ACK b` after each returns Ok, until killed.
#[test]
#[ignore = "run by crash_test_sigkill_100_times as a child process"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let start: u64 = std::env::var(CRASH_START_ENV).unwrap().parse().unwrap();
    let d = if dir.join("MANIFEST").exists() {
        DurableCollection::open(&dir, CRASH_OPTIONS).unwrap()
    } else {
        DurableCollection::create(&dir, config(), CRASH_OPTIONS).unwrap()
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    for b in start.. {
        crash_op(b, &mut |op| match op {
            Op::Upsert(ids, v, p) => d.upsert(&ids, &v, Some(p)).unwrap(),
            Op::Delete(ids) => {
                d.delete(&ids).unwrap();
            }
        });
        writeln!(out, "ACK {b}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
#[cfg(unix)]
fn crash_test_sigkill_100_times() {
    let dir = temp_dir("crash");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng::new(2026);
    let mut done = 0u64; // operations known to be in the store
    let mut in_doubt_total = 0;
    for round in 0..100 {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "durable::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_DIR_ENV, &dir)
            .env(CRASH_START_ENV, done.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait until the child has opened the store, then let it write for a random while.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut acked: Option<u64> = None;
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("child never became ready");
            if line.ends_with("READY") {
                break;
            }
        }
        let kill_at = Instant::now() + Duration::from_micros(500 + rng.next_u64() % 40_000);
        while Instant::now() < kill_at {
            if let Ok(line) = rx.recv_timeout(Duration::from_micros(200)) {
                if let Some(b) = line.strip_prefix("ACK ") {
                    acked = Some(b.parse().unwrap());
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        while let Ok(line) = rx.try_recv() {
            if let Some(b) = line.strip_prefix("ACK ") {
                acked = Some(b.parse().unwrap());
            }
        }
        // Every acknowledged operation must be there; the one in flight may or may not be,
        // but never half of it.
        let must = acked.map_or(done, |b| b + 1);
        let d = DurableCollection::open(&dir, CRASH_OPTIONS)
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let got = everything(&d);
        drop(d);
        if got == everything_mem(&expected_after(must)) {
            done = must;
        } else if got == everything_mem(&expected_after(must + 1)) {
            done = must + 1;
            in_doubt_total += 1;
        } else {
            panic!("round {round}: the store after SIGKILL holds neither the {must} acknowledged operations nor those plus the one in flight");
        }
    }
    eprintln!("crash test: 100 SIGKILLs, {done} operations survived ({in_doubt_total} unacknowledged in-flight ones landed whole)");
    assert!(
        done > 100,
        "the child made too little progress to test anything ({done} operations)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn database_folder_of_named_collections() {
    use stratavec_core::{Database, Snapshot};
    let root = temp_dir("database");
    let db = Database::open(&root, DurableOptions::default()).unwrap();
    assert!(db.list_collections().unwrap().is_empty());
    let mut mirror = Collection::new(config()).unwrap();
    {
        let docs = db.create_collection("docs", config()).unwrap();
        workload(&docs, &mut mirror, 6);
        let e = db.create_collection("docs", config()).unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        let e = db.open_collection("docs").unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "a second writer: {e}");
        let e = db.drop_collection("docs").unwrap_err();
        assert!(
            matches!(e, Error::Conflict(_)),
            "dropping an open collection: {e}"
        );
        db.create_collection("other-1.v2", CollectionConfig::new(3, Metric::Dot))
            .unwrap();
    }
    for bad in ["", "../etc", "a/b", ".hidden", "x y", &"n".repeat(256)] {
        let e = db.create_collection(bad, config()).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("not allowed"),
            "{bad:?}: {e}"
        );
    }
    assert_eq!(
        db.list_collections().unwrap(),
        vec!["docs".to_owned(), "other-1.v2".to_owned()]
    );
    let e = db.open_collection("nope").unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");

    // Snapshot one collection, restore it under another name: same points, durable.
    let docs = db.open_collection("docs").unwrap();
    let mut bytes = Vec::new();
    docs.write_snapshot(&mut bytes).unwrap();
    drop(docs);
    let snap = Snapshot::from_bytes(&bytes).unwrap();
    drop(db.restore_collection("copy", &snap).unwrap());
    let e = db.restore_collection("copy", &snap).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    let copy = db.open_collection("copy").unwrap();
    assert_eq!(
        copy.recovery_report().replayed_records,
        0,
        "a restore is checkpointed"
    );
    assert_eq!(everything(&copy), everything_mem(&mirror));
    drop(copy);

    db.drop_collection("other-1.v2").unwrap();
    assert_eq!(
        db.list_collections().unwrap(),
        vec!["copy".to_owned(), "docs".to_owned()]
    );
    assert!(matches!(
        db.drop_collection("other-1.v2").unwrap_err(),
        Error::NotFound(_)
    ));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn snapshots_do_not_block_writers() {
    let dir = temp_dir("snapwrite");
    let options = DurableOptions {
        checkpoint_bytes: 8 * 1024,
        ..DurableOptions::default()
    };
    let d = std::sync::Arc::new(DurableCollection::create(&dir, config(), options).unwrap());
    let mut mirror = Collection::new(config()).unwrap();
    workload(&d, &mut mirror, 20);
    // A writer keeps upserting (and checkpointing) while snapshots are taken; every snapshot
    // must be a consistent prefix: the workload's points plus whole batches of the writer's.
    let writer = {
        let d = d.clone();
        std::thread::spawn(move || {
            for b in 0..60u64 {
                let ids: Vec<PointId> = (0..5)
                    .map(|i| PointId::Num(1_000_000 + b * 5 + i))
                    .collect();
                d.upsert(&ids, &[0.25; 5 * DIM], None).unwrap();
            }
        })
    };
    for _ in 0..20 {
        let mut bytes = Vec::new();
        d.write_snapshot(&mut bytes).unwrap();
        let snap = stratavec_core::Snapshot::from_bytes(&bytes).unwrap();
        snap.verify().unwrap();
        let extra = snap.len() - mirror.len();
        assert_eq!(extra % 5, 0, "a snapshot caught half a batch");
        let base: Vec<_> = snap
            .scroll(None, 1_000_000, None, true, true)
            .unwrap()
            .records;
        assert_eq!(&base[..mirror.len()], &everything_mem(&mirror)[..]);
    }
    writer.join().unwrap();
    d.verify().unwrap();
    drop(d);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corruption_sweep_over_a_small_store() {
    let dir = temp_dir("storesweep");
    let options = DurableOptions::default();
    let mut mirror = Collection::new(config()).unwrap();
    {
        let d = DurableCollection::create(&dir, config(), options).unwrap();
        workload(&d, &mut mirror, 8);
        d.checkpoint().unwrap();
        workload(&d, &mut mirror, 3);
    }
    let segment = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "svs"))
        .unwrap();
    let manifest = dir.join("MANIFEST");
    let open_and_verify =
        || DurableCollection::open(&dir, options).and_then(|d| d.verify().map(|()| d));
    let expect_error = |what: &str| match std::panic::catch_unwind(open_and_verify) {
        Err(_) => panic!("{what}: panicked"),
        Ok(Ok(_)) => panic!("{what}: damaged store opened and verified"),
        Ok(Err(Error::Corrupt { .. } | Error::IncompatibleVersion { .. })) => {}
        Ok(Err(e)) => panic!("{what}: wrong error kind: {e}"),
    };
    for (path, step) in [(&segment, 7usize), (&manifest, 1)] {
        let good = std::fs::read(path).unwrap();
        for len in (0..good.len()).step_by(step) {
            std::fs::write(path, &good[..len]).unwrap();
            expect_error(&format!("{} truncated to {len}", path.display()));
        }
        for i in (0..good.len()).step_by(step) {
            let mut bad = good.clone();
            bad[i] ^= 1 << (i % 8);
            std::fs::write(path, &bad).unwrap();
            match std::panic::catch_unwind(open_and_verify) {
                Err(_) => panic!("{}: byte {i} flipped: panicked", path.display()),
                Ok(Err(_)) => {}
                // Only padding between sections is not covered by a checksum: the store must
                // then read exactly as before.
                Ok(Ok(d)) => assert_eq!(
                    everything(&d),
                    everything_mem(&mirror),
                    "{}: byte {i} flipped",
                    path.display()
                ),
            }
        }
        std::fs::write(path, &good).unwrap();
    }
    assert_reads_agree(&open_and_verify().unwrap(), &mirror);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_writers_share_the_log_and_lose_nothing() {
    let dir = temp_dir("concurrent");
    let options = DurableOptions {
        checkpoint_bytes: 64 * 1024,
        ..DurableOptions::default()
    };
    let d = std::sync::Arc::new(DurableCollection::create(&dir, config(), options).unwrap());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let d = d.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(t);
                for b in 0..40u64 {
                    let ids: Vec<PointId> = (0..5)
                        .map(|i| PointId::Num(t * 1_000_000 + b * 5 + i))
                        .collect();
                    let payloads = (0..5)
                        .map(|i| payload(json!({"t": t, "b": b, "i": i})))
                        .collect();
                    d.upsert(&ids, &rng.vectors(5, DIM), Some(payloads))
                        .unwrap();
                    if b % 7 == 6 {
                        assert_eq!(d.delete(&[PointId::Num(t * 1_000_000 + b * 5)]).unwrap(), 1);
                    }
                }
            })
        })
        .collect();
    // Readers run alongside. Each thread writes its batches in order and each batch applies
    // atomically, so every view holds, per thread, whole batches 0..k (a batch may already have
    // lost the one point its thread deletes after every 7th).
    for _ in 0..50 {
        let view = d
            .scroll(None, 1_000_000, None, false, false)
            .unwrap()
            .records;
        let mut batches: std::collections::BTreeMap<(u64, u64), usize> =
            std::collections::BTreeMap::new();
        for r in view {
            let PointId::Num(n) = r.id else {
                panic!("numeric ids only")
            };
            *batches
                .entry((n / 1_000_000, (n % 1_000_000) / 5))
                .or_default() += 1;
        }
        for (&(t, b), &count) in &batches {
            assert!(
                count == 5 || (count == 4 && b % 7 == 6),
                "thread {t} batch {b}: {count} points visible"
            );
            assert!(
                b == 0 || batches.contains_key(&(t, b - 1)),
                "thread {t}: batch {b} visible before batch {}",
                b - 1
            );
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    let expected = 4 * (40 * 5 - 40 / 7);
    assert_eq!(d.len(), expected);
    let before = everything(&d);
    drop(d);
    let d = DurableCollection::open(&dir, options).unwrap();
    assert_eq!(everything(&d), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
