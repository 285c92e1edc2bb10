//! Indexes over a collection's rows: the HNSW graph for vectors, and payload indexes for
//! filters.

pub mod hnsw;
pub mod payload;
pub(crate) mod value_graphs;
