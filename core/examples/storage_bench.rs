//! Storage figures on a seeded 1M x 128 f32 collection, measured in one run: snapshot write and
//! read speed beside the disk's sequential speed (a plain file of the same size), the time to
//! open a snapshot by memory map (no vectors read), and the time to close and reopen a durable
//! collection. Run with `make bench` (or `cargo run --release --example storage_bench`).
//!
//! Page cache: after each write the file's pages are dropped when the OS allows it
//! (`/proc/sys/vm/drop_caches`, root only), so reads are cold; otherwise it says they are warm.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

use stratavec_core::{
    Collection, CollectionConfig, DurableCollection, DurableOptions, Metric, Payload, PointId,
    SearchRequest, Snapshot,
};
use stratavec_testkit::Rng;

const N: usize = 1_000_000;
const DIM: usize = 128;

fn drop_caches() -> bool {
    std::process::Command::new("sync").status().is_ok()
        && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// Bytes this process has read from storage so far (Linux `/proc/self/io`), if available.
fn disk_bytes_read() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("read_bytes: "))
        .and_then(|v| v.trim().parse().ok())
}

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("stratavec-storage-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let run = run(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    run
}

fn run(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "storage figures, {N} x {DIM} f32 vectors with small payloads, in {}",
        dir.display()
    );
    let mut rng = Rng::new(1);
    let vectors = rng.vectors(N, DIM);
    let ids: Vec<PointId> = (0..N as u64).map(PointId::Num).collect();
    let payloads: Vec<Payload> = (0..N)
        .map(|i| {
            serde_json::json!({"i": i})
                .as_object()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let mut col = Collection::new(CollectionConfig::new(DIM, Metric::Dot))?;
    col.upsert(&ids, &vectors, Some(payloads.clone()))?;

    // The disk: a plain file of the snapshot's size, written with fsync and read back.
    let size = col.snapshot_bytes()?.len();
    let raw = dir.join("raw.bin");
    let block = vec![0x5Au8; 1 << 20];
    let t = Instant::now();
    let mut f = std::fs::File::create(&raw)?;
    for _ in 0..size.div_ceil(block.len()) {
        f.write_all(&block)?;
    }
    f.sync_all()?;
    let disk_write = mb_s(size as u64, t.elapsed().as_secs_f64());
    let cold = drop_caches();
    let t = Instant::now();
    let mut buf = Vec::with_capacity(size + block.len());
    std::fs::File::open(&raw)?.read_to_end(&mut buf)?;
    let disk_read = mb_s(buf.len() as u64, t.elapsed().as_secs_f64());
    drop(buf);
    std::fs::remove_file(&raw)?;

    let path = dir.join("bench.svdb");
    let t = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let written = col.write_snapshot(&mut out)?;
    out.into_inner()?.sync_all()?;
    let snap_write = mb_s(written, t.elapsed().as_secs_f64());
    drop_caches();
    let t = Instant::now();
    let snap = Snapshot::read(&path)?;
    let snap_read = mb_s(written, t.elapsed().as_secs_f64());
    let t = Instant::now();
    snap.verify()?;
    let verify = mb_s(written, t.elapsed().as_secs_f64());
    drop(snap);
    drop_caches();
    let t = Instant::now();
    let mapped = Snapshot::map(&path)?;
    let map_open = t.elapsed().as_secs_f64();
    let q = rng.vectors(1, DIM);
    let t = Instant::now();
    mapped.search(&SearchRequest::new(&q, 10))?;
    let first_search = t.elapsed().as_secs_f64();

    println!("\n| what | figure |");
    println!("|---|---:|");
    println!(
        "| page cache for reads | {} |",
        if cold {
            "dropped (cold reads)"
        } else {
            "could not drop (warm reads)"
        }
    );
    println!("| file size | {:.1} MB |", written as f64 / 1e6);
    println!("| disk: sequential write + fsync | {disk_write:.0} MB/s |");
    println!("| disk: sequential read | {disk_read:.0} MB/s |");
    println!(
        "| snapshot write + fsync | {snap_write:.0} MB/s ({:.2}x disk) |",
        snap_write / disk_write
    );
    println!(
        "| snapshot read into memory + validate | {snap_read:.0} MB/s ({:.2}x disk) |",
        snap_read / disk_read
    );
    println!("| snapshot verify (CRC32C of every byte, in memory) | {verify:.0} MB/s |");
    println!(
        "| snapshot open by mmap (no vectors read) | {:.1} ms |",
        map_open * 1e3
    );
    println!(
        "| first exact search on the mapped snapshot (reads every vector) | {:.0} ms |",
        first_search * 1e3
    );

    // A durable collection: ingest through the log, close (checkpoint), reopen.
    let cdir = dir.join("col");
    let options = DurableOptions {
        checkpoint_bytes: u64::MAX,
        ..DurableOptions::default()
    };
    let d = DurableCollection::create(&cdir, CollectionConfig::new(DIM, Metric::Dot), options)?;
    let t = Instant::now();
    for (chunk, (cids, cpay)) in vectors
        .chunks(10_000 * DIM)
        .zip(ids.chunks(10_000).zip(payloads.chunks(10_000)))
    {
        d.upsert(cids, chunk, Some(cpay.to_vec()))?;
    }
    let ingest = t.elapsed().as_secs_f64();
    let t = Instant::now();
    d.close()?;
    let close = t.elapsed().as_secs_f64();
    drop_caches();
    let before = disk_bytes_read();
    let t = Instant::now();
    let d = DurableCollection::open(&cdir, options)?;
    let reopen = t.elapsed().as_secs_f64();
    let read = before
        .zip(disk_bytes_read())
        .map(|(a, b)| b.saturating_sub(a));
    assert_eq!(d.len(), N);
    println!(
        "| durable ingest, 100 logged + fsynced batches of 10k | {:.2} s ({:.0} points/s) |",
        ingest,
        N as f64 / ingest
    );
    println!("| durable close (checkpoint) | {close:.2} s |");
    println!(
        "| durable reopen (maps the checkpoint, replays an empty log) | {:.1} ms |",
        reopen * 1e3
    );
    if let Some(read) = read {
        println!(
            "| bytes read from disk during reopen | {:.1} MB of a {:.1} MB checkpoint ({}) |",
            read as f64 / 1e6,
            written as f64 / 1e6,
            if cold {
                "cold cache"
            } else {
                "warm cache: reads may be hidden"
            }
        );
    }
    Ok(())
}
