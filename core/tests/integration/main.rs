//! Integration tests of stratavec-core, one binary with a module per area (qdrant's segment
//! crate does the same), so the crate is linked once.

mod collection;
mod durable;
mod filter_fixtures;
mod fuzz_regressions;
mod hnsw;
mod kernels;
mod payload_index;
mod quantization;
mod storage;
mod tiers;
mod wordnet;
