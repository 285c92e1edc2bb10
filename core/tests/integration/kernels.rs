//! Every kernel of every SIMD level this machine has, checked against an f64 reference at every
//! dimension 1..=2048 (every tail length of every unroll). The harness and its error bound live
//! in `stratavec_testkit::kernel_check`, shared with the wasm self-test.

use stratavec_core::distance::{Kernels, SimdLevel};
use stratavec_testkit::kernel_check::check_kernels;

fn check_level(level: SimdLevel) {
    let Some(k) = Kernels::for_level(level) else {
        eprintln!("skipped: SIMD level {level} is not available on this machine");
        return;
    };
    let failures = check_kernels(&k, 2048);
    assert!(
        failures.is_empty(),
        "{} violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

macro_rules! kernel_suite {
    ($($test:ident => $level:expr),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_level($level);
            }
        )*
    };
}

kernel_suite! {
    scalar_matches_f64_reference => SimdLevel::Scalar,
    avx2_matches_f64_reference => SimdLevel::Avx2,
    avx512_matches_f64_reference => SimdLevel::Avx512,
    neon_matches_f64_reference => SimdLevel::Neon,
}

#[test]
fn detected_level_is_available_and_honours_env() {
    let level = Kernels::detected().level;
    assert!(level.is_available());
    if let Ok(forced) = std::env::var("STRATAVEC_SIMD") {
        let forced: SimdLevel = forced.parse().expect("STRATAVEC_SIMD names a level");
        if forced.is_available() {
            assert_eq!(level, forced, "STRATAVEC_SIMD={forced} was not honoured");
        }
    } else {
        let best = *SimdLevel::available().last().unwrap();
        assert_eq!(
            level, best,
            "detection should pick the best available level"
        );
    }
}

#[test]
fn unavailable_levels_have_no_kernels() {
    for level in SimdLevel::ALL {
        assert_eq!(
            Kernels::for_level(level).is_some(),
            level.is_available(),
            "{level}"
        );
    }
}

#[test]
fn a_broken_kernel_is_caught() {
    // The harness must be able to fail: an off-by-one kernel that drops the last term.
    let mut k = Kernels::for_level(SimdLevel::Scalar).unwrap();
    k.dot_f32 = |a, b| a[..a.len() - 1].iter().zip(b).map(|(x, y)| x * y).sum();
    let failures = check_kernels(&k, 64);
    assert!(
        failures.iter().any(|f| f.contains("dot_f32")),
        "a wrong kernel passed the harness"
    );
}
