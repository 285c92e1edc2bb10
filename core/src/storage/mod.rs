//! The on-disk format (FORMAT.md): the container shared by segment and snapshot files, the
//! segment layout, and the byte buffers they are read from.
//!
//! Key design decision: **files are read in place.** Sections are 64-byte aligned and
//! little-endian, so vectors and ids are used straight from a memory map or a byte buffer,
//! without a decoding pass; opening a file validates its structure (cheap) and `verify` checks
//! every checksum (reads everything). Big-endian targets would need a decoding pass, so they are
//! refused at compile time rather than served wrong numbers.

#[cfg(target_endian = "big")]
compile_error!(
    "stratavec's storage reads little-endian data in place; big-endian targets are not supported"
);

mod bytes;
pub(crate) mod container;
#[cfg(feature = "fs")]
pub(crate) mod disk_vectors;
pub mod segment;
#[cfg(feature = "fs")]
pub mod wal;

pub use bytes::FileBytes;
pub use container::FileKind;
pub use segment::Segment;
