//! Helpers shared by stratavec's tests, benchmarks and demo. Not published.
//!
//! Key design decision: the kernel accuracy harness lives here, not in a test file, so the very
//! same checks run natively (every x86_64 / aarch64 level) and inside WebAssembly (simd128),
//! where the native test harness cannot run.

pub mod fuzz;
pub mod golden;
pub mod kernel_check;
pub mod rng;

#[cfg(feature = "files")]
pub mod dataset;

pub use rng::Rng;
