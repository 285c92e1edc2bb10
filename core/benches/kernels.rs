//! Per-kernel timings at the dimensions that matter (MiniLM 384, OpenAI 1536), every available
//! SIMD level in one group so the scalar baseline sits beside each hand-written path.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use half::f16;
use std::hint::black_box;
use stratavec_core::distance::{Kernels, SimdLevel};

fn data(n: usize, seed: u64) -> Vec<f32> {
    stratavec_testkit::Rng::new(seed).vectors(n, 1)
}

fn kernels(c: &mut Criterion) {
    for dim in [384usize, 1536] {
        let a = data(dim, 1);
        let b = data(dim, 2);
        let bh: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
        for (name, pick) in [
            ("dot_f32", 0usize),
            ("l2sq_f32", 1),
            ("l1_f32", 2),
            ("dot_f16", 3),
            ("l2sq_f16", 4),
            ("l1_f16", 5),
        ] {
            let mut group = c.benchmark_group(format!("{name}/{dim}"));
            group.throughput(Throughput::Elements(1));
            for level in SimdLevel::available() {
                let k = Kernels::for_level(level).expect("available level has kernels");
                group.bench_function(BenchmarkId::from_parameter(level), |bench| match pick {
                    0 => bench.iter(|| (k.dot_f32)(black_box(&a), black_box(&b))),
                    1 => bench.iter(|| (k.l2sq_f32)(black_box(&a), black_box(&b))),
                    2 => bench.iter(|| (k.l1_f32)(black_box(&a), black_box(&b))),
                    3 => bench.iter(|| (k.dot_f16)(black_box(&a), black_box(&bh))),
                    4 => bench.iter(|| (k.l2sq_f16)(black_box(&a), black_box(&bh))),
                    _ => bench.iter(|| (k.l1_f16)(black_box(&a), black_box(&bh))),
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
