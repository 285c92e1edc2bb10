//! HNSW on the shared wordnet-minilm set, one JSON object per line for `bench/hnsw_wordnet.py`,
//! which sets it beside hnswlib, usearch and FAISS measured in the same run:
//! - build: ingest plus graph build on all rayon threads (`RAYON_NUM_THREADS` to choose), and the
//!   memory the process gained doing it (peak RSS after minus RSS before, from /proc);
//! - search: single-thread queries/s (the best of three passes) and recall@10 against the
//!   dataset's exact ground truth over an ef sweep;
//! - open: the time to memory-map the snapshot (graph included) and answer a first query;
//! - serve: the snapshot reopened as a server would, in the mmap tier (unquantized) or the
//!   disk tier (quantized), with the memory the process gained loading it and answering every
//!   query at one ef (RSS after minus RSS before), and its own ef sweep;
//! - filtered: recall@10 and queries/s for every filter in `filters.json` at one ef.
//!
//! Usage: hnsw_bench [m] [ef_construction] [f32|f16] [int8|binary] [--data DIR]
//!        hnsw_bench --sweep-snapshot PATH [int8|binary] [--oversampling=X] [--disk] [--filters | --filter NAME] (only the search
//!        sweep, and with `--filters` the filtered runs, on a snapshot in memory; `--filter NAME`:
//!        that filtered run alone)
//! (`--data`: another set laid out like wordnet-minilm, searched by Euclidean distance: the
//! seeded synthetic set `bench/synthetic.py` writes)
//! (`int8`/`binary`: searches rank by codes and rescore, reported as engine `stratavec-int8` or
//! `stratavec-binary`; their disk-tier runs as `stratavec-int8-disk`, `stratavec-binary-disk`,
//! and again with a half and two fifths of the oversampling per request as
//! `stratavec-int8-disk-os1.5` and `-os1.2`, ...)

use std::collections::HashSet;
use std::time::Instant;

use stratavec_core::{
    BinaryParams, Collection, CollectionConfig, Filter, HnswParams, Int8Params, Metric,
    PayloadIndexType, PointId, Quantization, ScoredPoint, SearchRequest, Snapshot, StorageOptions,
    StorageTier, VectorType,
};
use stratavec_testkit::dataset::Wordnet;

/// A `/proc/self/status` field in KiB (Linux; 0 elsewhere).
fn proc_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A search under test.
type Search<'a> = dyn Fn(&SearchRequest<'_>) -> Vec<ScoredPoint> + Sync + 'a;

/// A pool of one rayon worker: searches are timed on one thread, as the peers' are, so the
/// scans that would split their rows across the global pool's workers run on one.
fn one_thread() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a rayon pool of one thread")
    })
}

/// Times of a query sweep taken; the best counts (ann-benchmarks does the same): it is the
/// one least disturbed by the rest of the machine.
const REPEATS: usize = 3;

/// Runs every query at `ef`, `passes` times; returns (queries/s of the fastest pass,
/// recall@10 against `gt`). Only the searches are timed.
fn run(
    search: &Search<'_>,
    w: &Wordnet,
    gt: &[i32],
    ef: usize,
    filter: Option<&Filter>,
    passes: usize,
) -> (f64, f64) {
    let nq = w.queries.len() / w.dim;
    let mut best = f64::INFINITY;
    let mut results = Vec::with_capacity(nq);
    for _ in 0..passes {
        results.clear();
        let t = Instant::now();
        one_thread().install(|| {
            for q in w.queries.chunks_exact(w.dim) {
                results.push(search(&SearchRequest {
                    ef: Some(ef),
                    filter,
                    with_payload: false,
                    ..SearchRequest::new(q, 10)
                }));
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    let mut found = 0usize;
    let mut wanted = 0usize;
    for (qi, hits) in results.iter().enumerate() {
        // Ground truth rows are padded with -1 where fewer than 100 points match.
        let truth: HashSet<u64> = gt[qi * 100..qi * 100 + 10]
            .iter()
            .filter(|&&r| r >= 0)
            .map(|&r| r as u64)
            .collect();
        wanted += truth.len();
        found += hits
            .iter()
            .filter(|h| matches!(h.id, PointId::Num(i) if truth.contains(&i)))
            .count();
    }
    (nq as f64 / best, found as f64 / wanted.max(1) as f64)
}

/// The ef sweep of one engine, the fastest of `passes` at each ef: a JSON line per ef.
fn sweep(engine: &str, search: &Search<'_>, w: &Wordnet, gt: &[i32], passes: usize) {
    // `SWEEP_EFS=16,24`: only those (for quick comparisons).
    let efs: Vec<usize> = std::env::var("SWEEP_EFS").map_or_else(
        |_| vec![10, 16, 24, 32, 48, 64, 96, 128, 256],
        |s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
    );
    for ef in efs {
        let (qps, recall) = run(search, w, gt, ef, None, passes);
        println!(
            r#"{{"engine": "{engine}", "event": "search", "ef": {ef}, "qps": {qps:.1}, "recall": {recall:.4}}}"#
        );
    }
}

/// The sweeps of this process. Alone, each runs `REPEATS` passes at every ef. Under the bench
/// script (`BENCH_TURNS` set), the script takes turns between engine processes so that slow
/// drift of the machine falls on all of them alike: this prints `{"event": "ready"}` and runs
/// one pass of every sweep each time a line `go` arrives on stdin, answering
/// `{"event": "turn"}`, until `done`; the script keeps each ef's fastest pass.
fn sweeps(list: &[(&str, &Search<'_>)], w: &Wordnet, gt: &[i32]) -> std::io::Result<()> {
    if std::env::var_os("BENCH_TURNS").is_none() {
        for (name, search) in list {
            sweep(name, search, w, gt, REPEATS);
        }
        return Ok(());
    }
    println!(r#"{{"event": "ready"}}"#);
    for line in std::io::stdin().lines() {
        match line?.trim() {
            "go" => {
                for (name, search) in list {
                    sweep(name, search, w, gt, 1);
                }
                println!(r#"{{"event": "turn"}}"#);
            }
            "done" => return Ok(()),
            other => {
                return Err(std::io::Error::other(format!(
                    "unknown bench command {other:?}"
                )))
            }
        }
    }
    Err(std::io::Error::other("stdin closed before \"done\""))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let vector_type = if std::env::args().any(|a| a == "f16") {
        VectorType::F16
    } else {
        VectorType::F32
    };
    let oversampling: Option<f32> = std::env::args()
        .find_map(|a| a.strip_prefix("--oversampling=").map(str::to_owned))
        .and_then(|a| a.parse().ok());
    let quantization = if std::env::args().any(|a| a == "int8") {
        Some(Quantization::Int8(Int8Params {
            oversampling: oversampling.unwrap_or(Int8Params::default().oversampling),
            ..Int8Params::default()
        }))
    } else if std::env::args().any(|a| a == "binary") {
        Some(Quantization::Binary(BinaryParams {
            oversampling: oversampling.unwrap_or(BinaryParams::default().oversampling),
        }))
    } else {
        None
    };
    let engine = match (&quantization, vector_type) {
        (Some(q), _) => format!("stratavec-{}", q.name()),
        (None, VectorType::F16) => "stratavec-f16".to_owned(),
        (None, _) => "stratavec".to_owned(),
    };
    let m = args.first().copied().unwrap_or(16);
    let ef_construction = args.get(1).copied().unwrap_or(200);
    let data_dir = std::env::args()
        .skip_while(|a| a != "--data")
        .nth(1)
        .map(std::path::PathBuf::from);
    let (w, metric) = match &data_dir {
        Some(dir) => (Wordnet::load_from(dir)?, Metric::Euclid),
        None => match Wordnet::load()? {
            Some(w) => (w, Metric::Cosine),
            None => {
                eprintln!("../shared/data/wordnet-minilm is not present");
                std::process::exit(2);
            }
        },
    };
    // `--sweep-snapshot PATH`: only the ef sweep, on a snapshot read into memory (the browser
    // bench's native reference: the same file, graph and queries as the page searches).
    if let Some(path) = std::env::args()
        .skip_while(|a| a != "--sweep-snapshot")
        .nth(1)
    {
        let path = std::path::Path::new(&path);
        let mut snap = if std::env::args().any(|a| a == "--disk") {
            let tier = StorageTier::Disk;
            Snapshot::open(path, &StorageOptions { tier, quantization })?
        } else {
            Snapshot::read(path)?
        };
        snap.set_quantization(quantization)?;
        let gt = w.ground_truth("none").ok_or("no ground truth")?;
        let name = engine.replacen("stratavec", "stratavec-native", 1);
        let only: Option<String> = std::env::args().skip_while(|a| a != "--filter").nth(1);
        if only.is_none() {
            sweep(
                &name,
                &|r| snap.search(r).unwrap_or_default(),
                &w,
                gt,
                REPEATS,
            );
        }
        if std::env::args().any(|a| a == "--filters") || only.is_some() {
            for key in FILTER_KEYS {
                snap.create_payload_index(key.0, key.1)?;
            }
            filtered(
                &name,
                &|r| snap.search(r).unwrap_or_default(),
                &w,
                only.as_deref(),
            );
        }
        return Ok(());
    }
    let n = w.len();
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rss_before = proc_kib("VmRSS:");
    let t = Instant::now();
    let mut col =
        Collection::new(CollectionConfig::new(w.dim, metric).with_vector_type(vector_type))?;
    let ids: Vec<PointId> = (0..n as u64).map(PointId::Num).collect();
    // Vectors only, like the peers: payloads are attached after the memory is measured.
    col.upsert(&ids, &w.base, None)?;
    let ingest = t.elapsed().as_secs_f64();
    let t = Instant::now();
    col.build_index(HnswParams {
        m,
        ef_construction,
        ..HnswParams::default()
    })?;
    col.set_quantization(quantization)?;
    let build = t.elapsed().as_secs_f64();
    let memory_mib = proc_kib("VmHWM:").saturating_sub(rss_before) as f64 / 1024.0;
    println!(
        r#"{{"engine": "{engine}", "event": "build", "m": {m}, "ef_construction": {ef_construction}, "threads": {threads}, "type": "{vector_type}", "seconds": {build:.3}, "ingest_seconds": {ingest:.3}, "memory_mib": {memory_mib:.1}}}"#
    );
    for (id, p) in ids.iter().zip(&w.payloads) {
        col.overwrite_payload(std::slice::from_ref(id), p);
    }
    let gt = w.ground_truth("none").ok_or("no ground truth")?;

    let path = std::env::temp_dir().join(format!("stratavec-bench-{}.svdb", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    col.write_snapshot(&mut file)?;
    drop(file);
    let t = Instant::now();
    let snap = Snapshot::map(&path)?;
    snap.search(&SearchRequest::new(&w.queries[..w.dim], 10))?;
    let open = t.elapsed().as_secs_f64();
    println!(
        r#"{{"engine": "{engine}", "event": "open", "seconds": {open:.4}, "indexed": {}}}"#,
        snap.has_index()
    );
    drop(snap);

    // Served from the file as a server would: mmap when unquantized, disk when quantized.
    let tier = match quantization {
        Some(_) => StorageTier::Disk,
        None => StorageTier::Mmap,
    };
    let served = match tier {
        StorageTier::Disk => format!("{engine}-disk"),
        _ => format!("{engine}-mmap"),
    };
    let rss_before = proc_kib("VmRSS:");
    // Open to first answer; a quantized collection's snapshot carries its codes, so the disk
    // tier does not read every vector to learn them.
    let t = Instant::now();
    let snap = Snapshot::open(&path, &StorageOptions { tier, quantization })?;
    snap.search(&SearchRequest::new(&w.queries[..w.dim], 10))?;
    let open = t.elapsed().as_secs_f64();
    run(
        &|r| snap.search(r).unwrap_or_default(),
        &w,
        gt,
        64,
        None,
        REPEATS,
    );
    let memory_mib = proc_kib("VmRSS:").saturating_sub(rss_before) as f64 / 1024.0;
    println!(
        r#"{{"engine": "{served}", "event": "serve", "tier": "{tier}", "memory_mib": {memory_mib:.1}, "open_seconds": {open:.4}}}"#
    );
    // The same file, each search rescoring a half and two fifths of the default candidates
    // (fewer reads from disk; int8: oversampling 1.5 and 1.2).
    let mut fewer: Vec<f32> = quantization
        .map(|q| [2.0, 2.5].map(|d| (q.oversampling() / d).max(1.0)).to_vec())
        .unwrap_or_default();
    fewer.dedup();
    let fewer_names: Vec<String> = fewer.iter().map(|f| format!("{served}-os{f}")).collect();
    for name in &fewer_names {
        println!(
            r#"{{"engine": "{name}", "event": "serve", "tier": "{tier}", "memory_mib": {memory_mib:.1}, "open_seconds": {open:.4}}}"#
        );
    }
    let in_memory = |r: &SearchRequest<'_>| col.search(r).unwrap_or_default();
    let from_file = |r: &SearchRequest<'_>| snap.search(r).unwrap_or_default();
    let fewer_reads: Vec<_> = fewer
        .iter()
        .map(|&f| {
            let snap = &snap;
            move |r: &SearchRequest<'_>| {
                snap.search(&SearchRequest {
                    oversampling: Some(f),
                    ..*r
                })
                .unwrap_or_default()
            }
        })
        .collect();
    let mut list: Vec<(&str, &Search<'_>)> = vec![(&engine, &in_memory), (&served, &from_file)];
    for (name, search) in fewer_names.iter().zip(&fewer_reads) {
        list.push((name, search));
    }
    sweeps(&list, &w, gt)?;
    drop(snap);
    std::fs::remove_file(&path)?;

    if w.filters.is_empty() {
        return Ok(());
    }
    let t = Instant::now();
    for key in FILTER_KEYS {
        col.create_payload_index(key.0, key.1)?;
    }
    println!(
        r#"{{"engine": "{engine}", "event": "payload_indexes", "seconds": {:.3}}}"#,
        t.elapsed().as_secs_f64()
    );
    filtered(&engine, &|r| col.search(r).unwrap_or_default(), &w, None);
    Ok(())
}

/// The payload indexes the filtered runs use: every key `filters.json` filters on.
const FILTER_KEYS: [(&str, PayloadIndexType); 4] = [
    ("lexname", PayloadIndexType::Keyword),
    ("pos", PayloadIndexType::Keyword),
    ("n_lemmas", PayloadIndexType::Integer),
    ("gloss_len", PayloadIndexType::Integer),
];

/// Recall@10 and queries/s at ef 64 for every filter in `filters.json` (payload indexes made).
fn filtered(engine: &str, search: &Search<'_>, w: &Wordnet, only: Option<&str>) {
    for (name, spec) in w
        .filters
        .iter()
        .filter(|(n, _)| only.is_none_or(|o| o == n.as_str()))
    {
        let Some(gt) = w.ground_truth(name) else {
            continue;
        };
        let Ok(filter) = Filter::from_json(&spec["filter"]) else {
            eprintln!("filter {name} does not parse");
            continue;
        };
        let (qps, recall) = run(search, w, gt, 64, Some(&filter), REPEATS);
        println!(
            r#"{{"engine": "{engine}", "event": "filtered", "filter": "{name}", "selectivity": {}, "ef": 64, "qps": {qps:.1}, "recall": {recall:.4}}}"#,
            spec["selectivity"]
        );
    }
}
