//! Checks one level's kernels against an f64 reference at every dimension up to a maximum, on
//! well-scaled and on badly scaled data.
//!
//! The bound is the classic one for floating-point summation (Higham, *Accuracy and Stability
//! of Numerical Algorithms*, §3.1): any summation order of n terms, each carrying r roundings of
//! its own, is within γ(n + r) · Σ|term| of the exact sum, with γ(m) = m·u / (1 − m·u) and
//! u = 2⁻²⁴. Terms: a·b (r = 1), (a − b)² (r = 3), |a − b| (r = 1). f16 operands widen to f32
//! exactly, so the same bound applies to them against their widened values.

use half::f16;
use stratavec_core::distance::binary::BinaryKernels;
use stratavec_core::distance::int8::Int8Kernels;
use stratavec_core::distance::Kernels;
use stratavec_core::MAX_DIM;

use crate::Rng;

const U: f64 = 1.0 / (1u64 << 24) as f64;

fn gamma(m: usize) -> f64 {
    let mu = m as f64 * U;
    mu / (1.0 - mu)
}

/// One kernel result to check: name, value, the stored operand as f64, the term, its roundings.
type Case<'a> = (&'static str, f32, &'a [f64], fn(f64, f64) -> f64, usize);

/// Exact sum and sum of magnitudes of the terms, in f64.
fn reference(a: &[f32], b: &[f64], term: fn(f64, f64) -> f64) -> (f64, f64) {
    a.iter().zip(b).fold((0.0, 0.0), |(s, m), (&x, &y)| {
        let t = term(f64::from(x), y);
        (s + t, m + t.abs())
    })
}

fn inputs(rng: &mut Rng, dim: usize, wild: bool) -> (Vec<f32>, Vec<f32>) {
    let pick = |rng: &mut Rng| {
        let x = rng.signed();
        if wild {
            // Magnitudes spread over six decades: cancellation and mixed exponents.
            x * 10f32.powf(rng.signed() * 3.0)
        } else {
            x
        }
    };
    let a = (0..dim).map(|_| pick(rng)).collect();
    let b = (0..dim).map(|_| pick(rng)).collect();
    (a, b)
}

/// Runs every kernel of `k` at dimensions `1..=max_dim`; returns one line per violation.
pub fn check_kernels(k: &Kernels, max_dim: usize) -> Vec<String> {
    let mut failures = Vec::new();
    let mut rng = Rng::new(0xD15 + k.level as u64);
    let dot = |x: f64, y: f64| x * y;
    let l2 = |x: f64, y: f64| (x - y) * (x - y);
    let l1 = |x: f64, y: f64| (x - y).abs();
    for dim in 1..=max_dim {
        for wild in [false, true] {
            let (a, b) = inputs(&mut rng, dim, wild);
            let bh: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
            let b64: Vec<f64> = b.iter().map(|&x| f64::from(x)).collect();
            let bh64: Vec<f64> = bh.iter().map(|x| f64::from(x.to_f32())).collect();
            let cases: [Case<'_>; 6] = [
                ("dot_f32", (k.dot_f32)(&a, &b), &b64, dot, 1),
                ("l2sq_f32", (k.l2sq_f32)(&a, &b), &b64, l2, 3),
                ("l1_f32", (k.l1_f32)(&a, &b), &b64, l1, 1),
                ("dot_f16", (k.dot_f16)(&a, &bh), &bh64, dot, 1),
                ("l2sq_f16", (k.l2sq_f16)(&a, &bh), &bh64, l2, 3),
                ("l1_f16", (k.l1_f16)(&a, &bh), &bh64, l1, 1),
            ];
            for (name, got, b_ref, term, r) in cases {
                let (exact, magnitude) = reference(&a, b_ref, term);
                let bound = gamma(dim + r) * magnitude;
                let err = (f64::from(got) - exact).abs();
                if err.is_nan() || err > bound {
                    failures.push(format!(
                        "{} {name} dim {dim} wild {wild}: got {got}, exact {exact}, error {err:e} > bound {bound:e}",
                        k.level
                    ));
                }
            }
        }
    }
    failures
}

/// Checks every int8 kernel table in `levels` against an i64 reference at dimensions 0..=600,
/// 1023 and 4099 (codes over the whole i8 range, -128 included) and at the extremes of the
/// largest dimension (no lane overflows); returns one line per violation.
pub fn check_int8_kernels(levels: &[Int8Kernels]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut rng = Rng::new(4);
    let mut expect = |what: &str, level: &str, dim: usize, got: i64, want: i64| {
        if got != want {
            failures.push(format!(
                "int8 {what} ({level}) at dim {dim}: {got}, expected {want}"
            ));
        }
    };
    for dim in (0..=600).chain([1023, 4099]) {
        let mut codes = || -> Vec<i8> {
            (0..dim)
                .map(|_| (rng.next_u64() % 256) as u8 as i8)
                .collect()
        };
        let (a, b) = (codes(), codes());
        let sum = |term: fn(i64, i64) -> i64| -> i64 {
            a.iter()
                .zip(&b)
                .map(|(&x, &y)| term(i64::from(x), i64::from(y)))
                .sum()
        };
        let dot = sum(|x, y| x * y);
        let l2 = sum(|x, y| (x - y) * (x - y));
        let l1 = sum(|x, y| (x - y).abs());
        for k in levels {
            expect("dot", k.level, dim, (k.dot)(&a, &b), dot);
            expect("l2sq", k.level, dim, (k.l2sq)(&a, &b), l2);
            expect("l1", k.level, dim, (k.l1)(&a, &b), l1);
        }
    }
    let n = MAX_DIM as i64;
    for (x, y) in [(-128i8, 127i8), (-127, 127), (-128, -128)] {
        let (a, b) = (vec![x; MAX_DIM], vec![y; MAX_DIM]);
        let (x, y) = (i64::from(x), i64::from(y));
        for k in levels {
            expect("dot", k.level, MAX_DIM, (k.dot)(&a, &b), x * y * n);
            expect(
                "l2sq",
                k.level,
                MAX_DIM,
                (k.l2sq)(&a, &b),
                (x - y).pow(2) * n,
            );
            expect("l1", k.level, MAX_DIM, (k.l1)(&a, &b), (x - y).abs() * n);
        }
    }
    failures
}

/// Checks every binary kernel in `levels` against a bit-by-bit reference (independent of
/// `count_ones`) at 0..=70 and 257 code words, and at the largest dimension with every bit set
/// (no overflow) and none; returns one line per violation.
pub fn check_binary_kernels(levels: &[BinaryKernels]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut rng = Rng::new(5);
    let mut expect = |level: &str, words: usize, got: (u32, u32), want: (u32, u32)| {
        if got != want {
            failures.push(format!(
                "binary ({level}) at {words} words: {got:?}, expected {want:?}"
            ));
        }
    };
    for words in (0..=70).chain([257]) {
        let planes: Vec<u64> = (0..4 * words).map(|_| rng.next_u64()).collect();
        let code: Vec<u64> = (0..words).map(|_| rng.next_u64()).collect();
        // Each component's 4-bit level, added where the code's bit is set.
        let (mut weighted, mut bits) = (0u32, 0u32);
        for (i, &w) in code.iter().enumerate() {
            for bit in 0..64 {
                if (w >> bit) & 1 == 1 {
                    bits += 1;
                    for j in 0..4 {
                        weighted += (((planes[4 * i + j] >> bit) & 1) as u32) << j;
                    }
                }
            }
        }
        for k in levels {
            expect(k.level, words, (k.planes)(&planes, &code), (weighted, bits));
        }
    }
    let words = MAX_DIM / 64;
    let (planes, full, empty) = (
        vec![u64::MAX; 4 * words],
        vec![u64::MAX; words],
        vec![0; words],
    );
    let all = MAX_DIM as u32;
    for k in levels {
        expect(k.level, words, (k.planes)(&planes, &full), (15 * all, all));
        expect(k.level, words, (k.planes)(&planes, &empty), (0, 0));
    }
    failures
}
