//! stratavec-core: the vector engine every stratavec host wraps.
//!
//! Key design decision: **the core knows nothing about hosts.** No Python, no JavaScript, no
//! HTTP, and, behind cargo features, no threads: the same crate compiles for native targets and
//! for `wasm32-unknown-unknown`. Bindings convert types and map [`Error`] categories; all
//! behaviour (validation, search, the filter language) lives here, so every host gives the same
//! answer for the same data.
//!
//! Features:
//! - `parallel` (default): multi-threaded exact search with rayon. Off for wasm32.
//! - `fs` (default): read and write files. Off for wasm32, which works on byte buffers.
//! - `mmap` (default): open segment and snapshot files by memory map. Off for wasm32.

#![cfg_attr(not(test), warn(missing_docs))]

mod bitset;
pub mod collection;
pub mod config;
#[cfg(feature = "fs")]
mod database;
pub mod distance;
#[cfg(feature = "fs")]
mod durable;
pub mod error;
pub mod filter;
mod guard;
mod huge_pages;
pub mod index;
mod indexed_segment;
mod line_vec;
mod mmr;
pub mod point;
pub mod quantization;
mod read;
mod search;
mod snapshot;
pub mod storage;
mod topk;
mod vectors;

pub use collection::Collection;
pub use config::{
    validate_collection_name, CollectionConfig, Metric, StorageOptions, StorageTier, VectorType,
    MAX_DIM,
};
#[cfg(feature = "fs")]
pub use database::Database;
#[cfg(feature = "fs")]
pub use durable::{DurableCollection, DurableOptions, RecoveryReport};
pub use error::{Error, Result};
pub use filter::Filter;
pub use index::hnsw::HnswParams;
pub use index::payload::PayloadIndexType;
pub use point::{Payload, PointId, Record, ScoredPoint};
pub use quantization::{BinaryParams, Int8Params, Quantization};
pub use read::{ScrollPage, SearchRequest};
pub use snapshot::Snapshot;
#[cfg(feature = "fs")]
pub use storage::wal::SyncPolicy;

/// The README's code blocks, compiled and run as doctests so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
