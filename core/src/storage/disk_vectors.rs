//! The `disk` tier's access to full-precision vectors: positioned reads of single rows from
//! a segment or snapshot file, never a mapping, so rows read to rescore a search pass through
//! the OS page cache without becoming part of the process's memory.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::config::{CollectionConfig, VectorType};
use crate::error::{Error, Result};
use crate::storage::Segment;
use crate::vectors::RowsRef;

/// A file's vectors section, read row by row.
#[derive(Debug)]
pub(crate) struct DiskVectors {
    file: File,
    path: PathBuf,
    /// Byte offset of row 0 in the file.
    start: u64,
    config: CollectionConfig,
    len: usize,
}

/// Rows read from disk into one aligned buffer, in the order asked for.
pub(crate) struct ReadRows {
    words: Vec<u64>,
    bytes: usize,
    vector_type: VectorType,
}

impl ReadRows {
    /// The rows as a view like any other store's.
    pub(crate) fn rows(&self) -> RowsRef<'_> {
        let bytes = &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.bytes];
        match self.vector_type {
            VectorType::F32 => RowsRef::F32(bytemuck::cast_slice(bytes)),
            VectorType::F16 => RowsRef::F16(bytemuck::cast_slice(bytes)),
        }
    }
}

impl DiskVectors {
    /// Opens `path`, already validated as `segment`, for reading its vectors.
    pub(crate) fn open(path: &Path, segment: &Segment) -> Result<DiskVectors> {
        let file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        Ok(DiskVectors {
            file,
            path: path.to_owned(),
            start: segment.vectors_range().start as u64,
            config: *segment.config(),
            len: segment.len(),
        })
    }

    /// Reads `buf.len()` bytes of the file from byte `at` (another section than the vectors:
    /// the codes, read once at opening without touching the map).
    pub(crate) fn read_at(&self, at: u64, buf: &mut [u8]) -> Result<()> {
        read_exact_at(&self.file, buf, at).map_err(|e| {
            Error::io(
                format!(
                    "reading {} bytes at {at} of {}",
                    buf.len(),
                    self.path.display()
                ),
                e,
            )
        })
    }

    fn row_bytes(&self) -> usize {
        self.config.dim * self.config.vector_type.size()
    }

    /// Reads `rows` (each below the row count) into one buffer, in that order.
    pub(crate) fn read(&self, rows: impl ExactSizeIterator<Item = usize>) -> Result<ReadRows> {
        let width = self.row_bytes();
        let bytes = rows.len() * width;
        let mut words = vec![0u64; bytes.div_ceil(8)];
        let buf = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes];
        for (row, out) in rows.zip(buf.chunks_exact_mut(width.max(1))) {
            debug_assert!(row < self.len);
            let at = self.start + (row * width) as u64;
            read_exact_at(&self.file, out, at).map_err(|e| {
                Error::io(
                    format!("reading row {row}'s vector from {}", self.path.display()),
                    e,
                )
            })?;
        }
        Ok(ReadRows {
            words,
            bytes,
            vector_type: self.config.vector_type,
        })
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, at) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                at += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
