//! wasm32 kernels. simd128 is a compile-time choice (`-C target-feature=+simd128`): a module
//! either validates with SIMD instructions or it does not, so there is nothing to detect.

pub(super) mod codes;
pub(super) mod simd128;
