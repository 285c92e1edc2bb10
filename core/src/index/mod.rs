//! Approximate nearest-neighbour indexes over a collection's rows.

pub mod hnsw;
