//! The container of FORMAT.md: a 64-byte header, 64-aligned sections each with a CRC32C, and a
//! section table at the end. The writer streams in one forward pass (checksums are computed
//! first, so any `Write` works, even a socket); the parser trusts nothing it has not checked.

use std::io::Write;

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};

/// `\x89SVDB\r\n\x1a`: a non-ASCII first byte and line-ending / EOF traps, as PNG does.
pub(crate) const MAGIC: [u8; 8] = *b"\x89SVDB\r\n\x1a";
/// Reads as `0D 0C 0B 0A` in a little-endian file.
pub(crate) const ENDIAN_MARK: u32 = 0x0A0B_0C0D;
/// The format version this build writes, and the major version it reads.
pub(crate) const MAJOR: u16 = 1;
/// The minor version this build writes.
pub(crate) const MINOR: u16 = 4;
/// Most sections a file may have.
pub(crate) const MAX_SECTIONS: usize = 64;
/// Section alignment.
pub(crate) const ALIGN: u64 = 64;
/// Section table entry flag: a reader that does not know the section must refuse the file.
pub(crate) const FLAG_REQUIRED: u32 = 1;

/// What a container file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// An immutable segment of a collection.
    Segment,
    /// A whole collection at one moment.
    Snapshot,
}

impl FileKind {
    fn code(self) -> u32 {
        match self {
            FileKind::Segment => 1,
            FileKind::Snapshot => 2,
        }
    }

    fn from_code(code: u32) -> Option<FileKind> {
        match code {
            1 => Some(FileKind::Segment),
            2 => Some(FileKind::Snapshot),
            _ => None,
        }
    }

    /// `segment` or `snapshot`.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Segment => "segment",
            FileKind::Snapshot => "snapshot",
        }
    }
}

/// The 64-byte header, exactly as stored.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct Header {
    pub(crate) magic: [u8; 8],
    pub(crate) endian: u32,
    pub(crate) kind: u32,
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) section_count: u32,
    pub(crate) table_offset: u64,
    pub(crate) file_len: u64,
    pub(crate) table_crc: u32,
    pub(crate) flags: u32,
    pub(crate) reserved: [u8; 12],
    pub(crate) header_crc: u32,
}

/// One 32-byte section table entry, exactly as stored.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub(crate) struct SectionEntry {
    pub(crate) id: u32,
    pub(crate) flags: u32,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) crc: u32,
    pub(crate) reserved: u32,
}

const HEADER_LEN: usize = std::mem::size_of::<Header>();
const ENTRY_LEN: usize = std::mem::size_of::<SectionEntry>();
const _: () = assert!(HEADER_LEN == 64 && ENTRY_LEN == 32);

fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

/// A section to write: its id, whether readers must know it, and its bytes as a sequence of
/// chunks (so rows can be written in a new order without copying them together first).
pub(crate) struct SectionOut<'a> {
    pub(crate) id: u32,
    pub(crate) required: bool,
    pub(crate) chunks: Vec<&'a [u8]>,
}

impl SectionOut<'_> {
    fn len(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }

    fn crc(&self) -> u32 {
        self.chunks
            .iter()
            .fold(0, |crc, c| crc32c::crc32c_append(crc, c))
    }
}

/// Bytes of the header of a section laid out as counted entries (below).
pub(crate) const ENTRIES_HEADER: usize = 64;

/// The entry count of a section laid out as a 64-byte header holding a u32 count (the rest
/// zero), then that many `entry`-byte entries: the `VALUE_GRAPHS` and `PAYLOAD_INDEXES`
/// sections. `Err` says why the header is refused, naming the entries as `things`.
pub(crate) fn counted_entries(
    bytes: &[u8],
    entry: usize,
    things: &str,
) -> std::result::Result<usize, String> {
    if bytes.len() < ENTRIES_HEADER {
        return Err(format!(
            "{} bytes, shorter than its {ENTRIES_HEADER}-byte header",
            bytes.len()
        ));
    }
    if bytes[4..ENTRIES_HEADER].iter().any(|&b| b != 0) {
        return Err("reserved header bytes are not zero".to_owned());
    }
    let count = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
    if count > (bytes.len() - ENTRIES_HEADER) / entry {
        return Err(format!(
            "{count} {things} do not fit in {} bytes",
            bytes.len()
        ));
    }
    Ok(count)
}

/// Writes a container stamped with minor version `minor` (the lowest that defines every
/// section written, so a file without newer sections stays byte-identical to older writers');
/// returns the number of bytes written.
pub(crate) fn write<W: Write>(
    w: &mut W,
    kind: FileKind,
    minor: u16,
    sections: &[SectionOut<'_>],
) -> std::io::Result<u64> {
    debug_assert!(minor <= MINOR);
    assert!(sections.len() <= MAX_SECTIONS, "too many sections");
    let mut table = Vec::with_capacity(sections.len());
    let mut cursor = HEADER_LEN as u64;
    for s in sections {
        let offset = align_up(cursor);
        let len = s.len();
        table.push(SectionEntry {
            id: s.id,
            flags: if s.required { FLAG_REQUIRED } else { 0 },
            offset,
            len,
            crc: s.crc(),
            reserved: 0,
        });
        cursor = offset + len;
    }
    let table_offset = align_up(cursor);
    let table_bytes: &[u8] = bytemuck::cast_slice(&table);
    let file_len = table_offset + table_bytes.len() as u64;
    let mut header = Header {
        magic: MAGIC,
        endian: ENDIAN_MARK,
        kind: kind.code(),
        major: MAJOR,
        minor,
        section_count: sections.len() as u32,
        table_offset,
        file_len,
        table_crc: crc32c::crc32c(table_bytes),
        flags: 0,
        reserved: [0; 12],
        header_crc: 0,
    };
    header.header_crc = crc32c::crc32c(&bytemuck::bytes_of(&header)[..HEADER_LEN - 4]);

    const ZEROS: [u8; ALIGN as usize] = [0; ALIGN as usize];
    let mut at = HEADER_LEN as u64;
    w.write_all(bytemuck::bytes_of(&header))?;
    for (s, entry) in sections.iter().zip(&table) {
        w.write_all(&ZEROS[..(entry.offset - at) as usize])?;
        for c in &s.chunks {
            w.write_all(c)?;
        }
        at = entry.offset + entry.len;
    }
    w.write_all(&ZEROS[..(table_offset - at) as usize])?;
    w.write_all(table_bytes)?;
    Ok(file_len)
}

/// A parsed, structurally valid container over borrowed bytes.
#[derive(Debug)]
pub(crate) struct Container<'a> {
    bytes: &'a [u8],
    pub(crate) kind: FileKind,
    sections: Vec<SectionEntry>,
}

impl<'a> Container<'a> {
    /// Parses and checks header, table and section bounds. `what` names the file in errors.
    /// Section ids above `known_max` flagged required make the file unreadable by this build.
    pub(crate) fn parse(bytes: &'a [u8], what: &str, known_max: u32) -> Result<Container<'a>> {
        let bad = |reason: String| Error::corrupt(what, reason);
        if bytes.len() < HEADER_LEN {
            return Err(bad(format!(
                "{} bytes is too short for a stratavec file (the header alone is 64)",
                bytes.len()
            )));
        }
        let header: Header = bytemuck::pod_read_unaligned(&bytes[..HEADER_LEN]);
        if header.magic != MAGIC {
            return Err(bad("not a stratavec file (wrong magic number)".into()));
        }
        if header.endian != ENDIAN_MARK {
            return Err(bad(format!("bad endianness mark {:#010x}", header.endian)));
        }
        let crc = crc32c::crc32c(&bytes[..HEADER_LEN - 4]);
        if crc != header.header_crc {
            return Err(bad(format!(
                "header checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                header.header_crc
            )));
        }
        if header.major != MAJOR {
            return Err(Error::IncompatibleVersion {
                found: format!("{}.{}", header.major, header.minor),
                supported: format!("{MAJOR}.x"),
            });
        }
        let kind = FileKind::from_code(header.kind)
            .ok_or_else(|| bad(format!("unknown file kind {}", header.kind)))?;
        if header.file_len != bytes.len() as u64 {
            return Err(bad(format!(
                "the header records {} bytes but there are {}: the file is truncated or has trailing data",
                header.file_len,
                bytes.len()
            )));
        }
        let count = header.section_count as usize;
        if count > MAX_SECTIONS {
            return Err(bad(format!("{count} sections (at most {MAX_SECTIONS})")));
        }
        let table_len = (count * ENTRY_LEN) as u64;
        if !header.table_offset.is_multiple_of(ALIGN)
            || header.table_offset < HEADER_LEN as u64
            || header
                .table_offset
                .checked_add(table_len)
                .is_none_or(|end| end > header.file_len)
        {
            return Err(bad(format!(
                "section table at {} is out of bounds or misaligned",
                header.table_offset
            )));
        }
        let table_bytes =
            &bytes[header.table_offset as usize..(header.table_offset + table_len) as usize];
        let crc = crc32c::crc32c(table_bytes);
        if crc != header.table_crc {
            return Err(bad(format!(
                "section table checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                header.table_crc
            )));
        }
        let mut sections: Vec<SectionEntry> = table_bytes
            .chunks_exact(ENTRY_LEN)
            .map(bytemuck::pod_read_unaligned)
            .collect();
        for s in &sections {
            let end = s.offset.checked_add(s.len);
            if s.offset % ALIGN != 0
                || s.offset < HEADER_LEN as u64
                || end.is_none_or(|e| e > header.table_offset)
            {
                return Err(bad(format!(
                    "section {} ({} bytes at {}) is out of bounds or misaligned",
                    s.id, s.len, s.offset
                )));
            }
            if s.id > known_max && s.flags & FLAG_REQUIRED != 0 {
                return Err(Error::IncompatibleVersion {
                    found: format!(
                        "{}.{} (required section {} unknown to this build)",
                        header.major, header.minor, s.id
                    ),
                    supported: format!("{MAJOR}.{MINOR}"),
                });
            }
        }
        let mut by_offset = sections.clone();
        by_offset.sort_by_key(|s| s.offset);
        for pair in by_offset.windows(2) {
            if pair[0].offset + pair[0].len > pair[1].offset {
                return Err(bad(format!(
                    "sections {} and {} overlap",
                    pair[0].id, pair[1].id
                )));
            }
        }
        sections.sort_by_key(|s| s.id);
        if let Some(pair) = sections.windows(2).find(|p| p[0].id == p[1].id) {
            return Err(bad(format!("section {} appears twice", pair[0].id)));
        }
        sections.retain(|s| s.id <= known_max);
        Ok(Container {
            bytes,
            kind,
            sections,
        })
    }

    /// The entry of section `id`, if present.
    pub(crate) fn entry(&self, id: u32) -> Option<&SectionEntry> {
        self.sections.iter().find(|s| s.id == id)
    }

    /// The bytes of section `id`, if present (bounds were checked by `parse`).
    pub(crate) fn section(&self, id: u32) -> Option<&'a [u8]> {
        self.entry(id)
            .map(|s| &self.bytes[s.offset as usize..(s.offset + s.len) as usize])
    }

    /// Checks every known section's CRC32C; `name` maps ids to names for the message.
    pub(crate) fn verify(&self, what: &str, name: impl Fn(u32) -> &'static str) -> Result<()> {
        for s in &self.sections {
            let data = &self.bytes[s.offset as usize..(s.offset + s.len) as usize];
            let crc = crc32c::crc32c(data);
            if crc != s.crc {
                return Err(Error::corrupt(
                    format!("{what} section {}", name(s.id)),
                    format!(
                        "checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                        s.crc
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sections: &[SectionOut<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, FileKind::Segment, 0, sections).unwrap();
        out
    }

    /// Re-seals the header checksum after a test edits header fields.
    fn reseal(bytes: &mut [u8]) {
        let crc = crc32c::crc32c(&bytes[..60]);
        bytes[60..64].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn header_is_byte_exact() {
        let bytes = file(&[SectionOut {
            id: 1,
            required: true,
            chunks: vec![b"abc"],
        }]);
        assert_eq!(&bytes[0..8], b"\x89SVDB\r\n\x1a");
        assert_eq!(&bytes[8..12], &[0x0D, 0x0C, 0x0B, 0x0A]);
        assert_eq!(&bytes[12..16], &1u32.to_le_bytes(), "kind: segment");
        assert_eq!(&bytes[16..20], &[1, 0, 0, 0], "version 1.0");
        assert_eq!(&bytes[20..24], &1u32.to_le_bytes(), "one section");
        assert_eq!(
            &bytes[24..32],
            &128u64.to_le_bytes(),
            "table after the 64-aligned section"
        );
        assert_eq!(&bytes[32..40], &160u64.to_le_bytes(), "file length");
        assert_eq!(&bytes[64..67], b"abc");
        assert!(bytes[67..128].iter().all(|&b| b == 0), "zero padding");
        let entry = &bytes[128..160];
        assert_eq!(&entry[0..4], &1u32.to_le_bytes());
        assert_eq!(&entry[4..8], &FLAG_REQUIRED.to_le_bytes());
        assert_eq!(&entry[8..16], &64u64.to_le_bytes());
        assert_eq!(&entry[16..24], &3u64.to_le_bytes());
        assert_eq!(&entry[24..28], &crc32c::crc32c(b"abc").to_le_bytes());
        let c = Container::parse(&bytes, "test", 1).unwrap();
        assert_eq!(c.section(1), Some(&b"abc"[..]));
        c.verify("test", |_| "S").unwrap();
    }

    #[test]
    fn the_writer_stamps_the_minor_version_it_is_given() {
        let mut out = Vec::new();
        write(&mut out, FileKind::Segment, MINOR, &[]).unwrap();
        assert_eq!(&out[16..20], &[1, 0, MINOR as u8, 0], "version 1.MINOR");
        assert!(Container::parse(&out, "test", 6).is_ok());
    }

    #[test]
    fn another_major_version_is_incompatible() {
        let mut bytes = file(&[]);
        bytes[16..18].copy_from_slice(&2u16.to_le_bytes());
        reseal(&mut bytes);
        let e = Container::parse(&bytes, "test", 6).unwrap_err();
        assert!(
            matches!(e, Error::IncompatibleVersion { .. }) && e.to_string().contains("2.0"),
            "{e}"
        );
    }

    #[test]
    fn a_newer_minor_version_is_read() {
        let mut bytes = file(&[SectionOut {
            id: 1,
            required: true,
            chunks: vec![b"x"],
        }]);
        bytes[18..20].copy_from_slice(&7u16.to_le_bytes());
        reseal(&mut bytes);
        assert!(Container::parse(&bytes, "test", 6).is_ok());
    }

    #[test]
    fn unknown_sections_required_or_optional() {
        let optional = file(&[
            SectionOut {
                id: 1,
                required: true,
                chunks: vec![b"x"],
            },
            SectionOut {
                id: 9,
                required: false,
                chunks: vec![b"future"],
            },
        ]);
        let c = Container::parse(&optional, "test", 6).unwrap();
        assert_eq!(c.section(9), None, "unknown optional sections are ignored");
        let required = file(&[SectionOut {
            id: 9,
            required: true,
            chunks: vec![b"future"],
        }]);
        let e = Container::parse(&required, "test", 6).unwrap_err();
        assert!(
            matches!(e, Error::IncompatibleVersion { .. }) && e.to_string().contains("section 9"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_and_overlapping_sections_are_corrupt() {
        let dup = file(&[
            SectionOut {
                id: 1,
                required: true,
                chunks: vec![b"a"],
            },
            SectionOut {
                id: 1,
                required: true,
                chunks: vec![b"b"],
            },
        ]);
        let e = Container::parse(&dup, "test", 6).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");

        let mut overlap = file(&[
            SectionOut {
                id: 1,
                required: true,
                chunks: vec![&[1u8; 100]],
            },
            SectionOut {
                id: 2,
                required: true,
                chunks: vec![b"b"],
            },
        ]);
        // Stretch section 1 over section 2, then re-seal the table and header checksums.
        let table = u64::from_le_bytes(overlap[24..32].try_into().unwrap()) as usize;
        overlap[table + 16..table + 24].copy_from_slice(&150u64.to_le_bytes());
        let crc = crc32c::crc32c(&overlap[table..table + 64]);
        overlap[40..44].copy_from_slice(&crc.to_le_bytes());
        reseal(&mut overlap);
        let e = Container::parse(&overlap, "test", 6).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
    }
}
