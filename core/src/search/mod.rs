//! Search strategies over a collection's rows. Exact search is the baseline every index is
//! measured against; HNSW joins it here.

pub(crate) mod exact;
pub(crate) mod quantized;
