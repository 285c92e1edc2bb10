//! The bytes a file is read from: an aligned heap buffer, or a memory map.

#[cfg(feature = "fs")]
use crate::error::{Error, Result};
use crate::line_vec::LineVec;

/// A whole file's bytes, aligned to at least 64 bytes so that u64, f32 and f16 sections (at
/// 64-byte offsets) can be viewed in place, their rows starting on cache lines.
#[derive(Debug)]
pub struct FileBytes(Inner);

#[derive(Debug)]
enum Inner {
    /// Heap copy starting on a cache line, as a map starts on a page: sections (64-byte
    /// aligned in the file) and the rows in them start on lines (see `crate::line_vec`).
    Heap(LineVec<u8>),
    /// A read-only memory map: page-aligned.
    #[cfg(feature = "mmap")]
    Mapped(memmap2::Mmap),
}

impl FileBytes {
    /// Copies `bytes` into an aligned buffer.
    pub fn copy_from(bytes: &[u8]) -> FileBytes {
        FileBytes::filled_by(bytes.len(), |buf| buf.copy_from_slice(bytes))
    }

    /// An aligned buffer of `len` bytes written by `fill` (which receives it zeroed): for
    /// hosts that copy bytes in from elsewhere (a JS `Uint8Array`) without a second copy.
    pub fn filled_by(len: usize, fill: impl FnOnce(&mut [u8])) -> FileBytes {
        let mut bytes = LineVec::zeroed(len);
        fill(&mut bytes);
        FileBytes(Inner::Heap(bytes))
    }

    /// Reads a whole file into an aligned buffer.
    #[cfg(feature = "fs")]
    pub fn read(path: &std::path::Path) -> Result<FileBytes> {
        use std::io::Read;
        let context = || format!("reading {}", path.display());
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(context(), e))?;
        let len = file.metadata().map_err(|e| Error::io(context(), e))?.len();
        let len = usize::try_from(len).map_err(|_| {
            Error::corrupt(
                path.display().to_string(),
                "file too large for this platform",
            )
        })?;
        let mut bytes = LineVec::zeroed(len);
        file.read_exact(&mut bytes)
            .map_err(|e| Error::io(context(), e))?;
        Ok(FileBytes(Inner::Heap(bytes)))
    }

    /// Memory-maps a file read-only. The OS page cache decides what is resident; nothing is
    /// read until used.
    ///
    /// The map assumes the file is not modified while mapped: stratavec never rewrites a segment
    /// or snapshot in place (they are immutable and replaced by rename), and other writers are
    /// not supported.
    #[cfg(feature = "mmap")]
    pub fn map(path: &std::path::Path) -> Result<FileBytes> {
        let context = || format!("mapping {}", path.display());
        let file = std::fs::File::open(path).map_err(|e| Error::io(context(), e))?;
        // SAFETY: the mapping is read-only and stratavec files are immutable once written (see
        // above); a concurrent external modification is outside the supported contract.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(context(), e))?;
        Ok(FileBytes(Inner::Mapped(map)))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Inner::Heap(bytes) => bytes,
            #[cfg(feature = "mmap")]
            Inner::Mapped(map) => map,
        }
    }

    /// Whether the bytes are a memory map rather than a heap copy.
    pub fn is_mapped(&self) -> bool {
        match &self.0 {
            Inner::Heap(_) => false,
            #[cfg(feature = "mmap")]
            Inner::Mapped(_) => true,
        }
    }
}
