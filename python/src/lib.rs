//! `stratavec._core`: the compiled half of the `stratavec` Python package.
//!
//! Key design decision: **this crate converts and maps, nothing more.** Every behaviour
//! (validation, search, filters, durability) is the core's; a method here has three phases —
//! extract the arguments into core types, release the GIL (`Python::detach`) for the work,
//! convert the results — so threads searching at once use every core and Python sees the same
//! answers as every other host. The pieces a user imports (`stratavec.connect`, the filter
//! builder) live in the Python package, which re-exports this module's classes.
//!
//! Files mirror the core: `database` (folders and in-memory databases), `collection` (one
//! collection of any kind: in memory, durable in a folder, or a read-only snapshot), `convert`
//! (ids, vectors, payloads and filters to and from Python), `results` (hits and records),
//! `errors` (the exception hierarchy, the one place core errors are mapped), `options` (index,
//! storage and quantization settings).

#![forbid(unsafe_code)]

mod collection;
mod convert;
mod database;
mod errors;
mod options;
mod progress;
mod results;

use pyo3::prelude::*;

/// The compiled module. Its classes are re-exported by the `stratavec` package.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<options::Hnsw>()?;
    m.add_class::<options::Flat>()?;
    m.add_class::<database::Database>()?;
    m.add_class::<collection::Collection>()?;
    m.add_class::<results::Hit>()?;
    m.add_class::<results::Hits>()?;
    m.add_class::<results::Record>()?;
    m.add_function(wrap_pyfunction!(database::connect, m)?)?;
    m.add_function(wrap_pyfunction!(collection::open_snapshot, m)?)?;
    Ok(())
}
