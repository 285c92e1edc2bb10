//! The stratavec engine for JavaScript: wasm-bindgen bindings over `stratavec-core`.
//!
//! Built for `wasm32-unknown-unknown` with simd128 and wrapped by the npm package in `wasm/js/`
//! (which adds loading, persistence in the browser and snapshots from URLs). Like every binding
//! it converts values and maps errors, nothing more: each error is a JS `Error` named
//! `StratavecError` with a stable `code` (see `error::Code`).

use wasm_bindgen::prelude::*;

mod collection;
mod convert;
mod error;

pub use collection::Collection;

/// The engine's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The SIMD level the distance kernels use (`"simd128"` in the npm build).
#[wasm_bindgen(js_name = simdLevel)]
pub fn simd_level() -> String {
    stratavec_core::distance::Kernels::detected()
        .level
        .name()
        .to_owned()
}

/// Checks a collection name (the rule every host shares); throws `INVALID_ARGUMENT` naming
/// what is wrong.
#[wasm_bindgen(js_name = validateCollectionName)]
pub fn validate_collection_name(name: &str) -> Result<(), JsValue> {
    use error::OrThrow;
    stratavec_core::validate_collection_name(name).or_throw()
}
