//! Exact-search throughput on 100k x 384 f32 (the wordnet-minilm shape, synthetic data so it
//! runs anywhere), single queries and a 64-query batch, beside a plain sequential read of a
//! buffer larger than any cache: the machine's memory bandwidth that a scan is bounded by.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use stratavec_core::{Collection, CollectionConfig, Metric, PointId, SearchRequest};

const N: usize = 100_000;
const DIM: usize = 384;

fn data(n: usize, seed: u64) -> Vec<f32> {
    stratavec_testkit::Rng::new(seed).vectors(n, 1)
}

fn memory_bandwidth(c: &mut Criterion) {
    let words: usize = (256 << 20) / 8; // 256 MiB of u64
    let buf: Vec<u64> = (0..words as u64).collect();
    let mut group = c.benchmark_group("memory");
    group.throughput(Throughput::Bytes((words * 8) as u64));
    group.sample_size(10);
    let sum = |words: &[u64]| {
        // Eight independent sums so the adds are not the bottleneck.
        let mut acc = [0u64; 8];
        for chunk in words.chunks_exact(8) {
            for i in 0..8 {
                acc[i] = acc[i].wrapping_add(chunk[i]);
            }
        }
        acc.iter().fold(0u64, |a, &x| a.wrapping_add(x))
    };
    group.bench_function("sequential_read_256MiB_one_thread", |b| {
        b.iter(|| sum(black_box(&buf)))
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    group.bench_function(format!("sequential_read_256MiB_{threads}_threads"), |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                let handles: Vec<_> = black_box(&buf)
                    .chunks(words.div_ceil(threads))
                    .map(|part| s.spawn(move || sum(part)))
                    .collect();
                handles
                    .into_iter()
                    .fold(0u64, |a, h| a.wrapping_add(h.join().unwrap_or(0)))
            })
        })
    });
    group.finish();
}

fn exact_search(c: &mut Criterion) {
    let vectors = data(N * DIM, 7);
    let ids: Vec<PointId> = (0..N as u64).map(PointId::Num).collect();
    let mut col = Collection::new(CollectionConfig::new(DIM, Metric::Dot)).expect("valid config");
    col.upsert(&ids, &vectors, None).expect("valid batch");
    let queries = data(64 * DIM, 11);

    let mut group = c.benchmark_group("exact_search_100k_x_384");
    group.sample_size(10);
    group.throughput(Throughput::Bytes((N * DIM * 4) as u64));
    group.bench_function("single_query_k10", |b| {
        let q = &queries[..DIM];
        b.iter(|| {
            col.search(&SearchRequest {
                with_payload: false,
                ..SearchRequest::new(q, 10)
            })
        })
    });
    group.throughput(Throughput::Bytes((64 * N * DIM * 4) as u64));
    group.bench_function("batch_64_queries_k10", |b| {
        let reqs: Vec<SearchRequest<'_>> = queries
            .chunks_exact(DIM)
            .map(|q| SearchRequest {
                with_payload: false,
                ..SearchRequest::new(q, 10)
            })
            .collect();
        b.iter(|| col.search_batch(&reqs))
    });
    group.finish();
}

criterion_group!(benches, memory_bandwidth, exact_search);
criterion_main!(benches);
