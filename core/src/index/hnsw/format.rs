//! The HNSW section of a segment (FORMAT.md, "HNSW section"): a 64-byte header, then the
//! graph's three arrays as little-endian `u32`s, exactly as [`GraphRef`] reads them, so a mapped
//! file is searched in place.
//!
//! Decoding checks everything a search relies on (sizes, every list length within its layer's
//! capacity, every neighbour below the row count, levels consistent with the entry point), so a
//! hostile file gives `Corrupt`, never a panic or an endless walk.

use std::ops::Range;

use super::{GraphRef, HnswParams, MAX_LEVEL};
use crate::error::{Error, Result};

/// Bytes before the arrays.
const HEADER: usize = 64;

/// `entry` value meaning "no entry point" (an empty graph).
const NO_ENTRY: u32 = u32::MAX;

/// The section's bytes as chunks to write: the header, then the arrays in place.
pub(crate) fn encode_graph<'a>(g: &GraphRef<'a>) -> ([u8; HEADER], [&'a [u8]; 3]) {
    let mut h = [0u8; HEADER];
    let put32 =
        |h: &mut [u8; HEADER], at: usize, v: u32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 =
        |h: &mut [u8; HEADER], at: usize, v: u64| h[at..at + 8].copy_from_slice(&v.to_le_bytes());
    put32(&mut h, 0, g.params.m as u32);
    put32(&mut h, 4, g.params.ef_construction as u32);
    put64(&mut h, 8, g.params.seed);
    put32(&mut h, 16, g.entry.unwrap_or(NO_ENTRY));
    put32(&mut h, 20, g.top_level as u32);
    put64(&mut h, 24, g.len() as u64);
    put64(&mut h, 32, (g.upper.len() / (g.params.m + 1)) as u64);
    (
        h,
        [
            bytemuck::cast_slice(g.layer0),
            bytemuck::cast_slice(g.upper_start),
            bytemuck::cast_slice(g.upper),
        ],
    )
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt("HNSW section", reason.into())
}

/// Where a checked graph lies in its section: what [`decode_graph`] found, kept by an open
/// segment so each search rebuilds the view for free.
#[derive(Debug, Clone)]
pub(crate) struct GraphLayout {
    params: HnswParams,
    entry: Option<u32>,
    top_level: usize,
    /// Word ranges of the three arrays within the section after its header.
    layer0: Range<usize>,
    upper_start: Range<usize>,
    upper: Range<usize>,
}

impl GraphLayout {
    /// The graph over the same section bytes [`decode_graph`] checked.
    pub(crate) fn view<'a>(&self, section: &'a [u8]) -> GraphRef<'a> {
        // Cannot fail: decode_graph checked the alignment and length of these very bytes,
        // which an open segment never moves.
        let words: &[u32] = bytemuck::cast_slice(&section[HEADER..]);
        GraphRef::from_parts(
            self.params,
            self.entry,
            self.top_level,
            &words[self.layer0.clone()],
            &words[self.upper_start.clone()],
            &words[self.upper.clone()],
        )
    }
}

/// Reads and checks a graph over `rows` rows from a section's bytes (4-byte aligned).
pub(crate) fn decode_graph(bytes: &[u8], rows: usize) -> Result<GraphLayout> {
    if bytes.len() < HEADER {
        return Err(corrupt(format!(
            "{} bytes, shorter than its {HEADER}-byte header",
            bytes.len()
        )));
    }
    let get32 =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let get64 = |at: usize| u64::from(get32(at)) | (u64::from(get32(at + 4)) << 32);
    let params = HnswParams {
        m: get32(0) as usize,
        ef_construction: get32(4) as usize,
        seed: get64(8),
    };
    params
        .validate()
        .map_err(|e| corrupt(format!("bad parameters: {e}")))?;
    let entry = match get32(16) {
        NO_ENTRY => None,
        e => Some(e),
    };
    let top_level = get32(20) as usize;
    let n = get64(24);
    let blocks = get64(32);
    if n != rows as u64 {
        return Err(corrupt(format!(
            "the graph covers {n} rows but the segment holds {rows}"
        )));
    }
    if bytes[40..HEADER].iter().any(|&b| b != 0) {
        return Err(corrupt("reserved header bytes are not zero"));
    }
    let (s0, su) = (params.m0() as u64 + 1, params.m as u64 + 1);
    let words = n
        .checked_mul(s0)
        .and_then(|w| w.checked_add(n + 1))
        .and_then(|w| blocks.checked_mul(su).and_then(|b| w.checked_add(b)));
    let expected = words
        .and_then(|w| w.checked_mul(4))
        .and_then(|b| b.checked_add(HEADER as u64));
    if expected != Some(bytes.len() as u64) {
        return Err(corrupt(format!(
            "{} bytes, but {n} rows and {blocks} upper blocks at m={} need {}",
            bytes.len(),
            params.m,
            expected.map_or("more than fits".to_owned(), |e| e.to_string())
        )));
    }
    let arrays: &[u32] = bytemuck::try_cast_slice(&bytes[HEADER..])
        .map_err(|_| corrupt("the arrays are not 4-byte aligned"))?;
    let (layer0, rest) = arrays.split_at((n * s0) as usize);
    let (upper_start, upper) = rest.split_at(n as usize + 1);
    let check_list = |block: &[u32], cap: usize, what: &dyn Fn() -> String| -> Result<()> {
        let len = block[0] as usize;
        if len > cap {
            return Err(corrupt(format!(
                "{} lists {len} neighbours, more than {cap}",
                what()
            )));
        }
        if let Some(&bad) = block[1..=len].iter().find(|&&x| u64::from(x) >= n) {
            return Err(corrupt(format!(
                "{} links to row {bad}, past the last row",
                what()
            )));
        }
        Ok(())
    };
    for (r, block) in layer0.chunks_exact(s0 as usize).enumerate() {
        check_list(block, params.m0(), &|| format!("row {r} on layer 0"))?;
    }
    if upper_start[0] != 0 || u64::from(upper_start[n as usize]) != blocks {
        return Err(corrupt("the upper-layer index does not span its blocks"));
    }
    // Levels first, all of them, so the block ranges below are known to be in bounds.
    if let Some(r) = upper_start
        .windows(2)
        .position(|w| w[1] < w[0] || (w[1] - w[0]) as usize > MAX_LEVEL)
    {
        return Err(corrupt(format!("row {r} has an impossible level")));
    }
    for (r, w) in upper_start.windows(2).enumerate() {
        for l in 0..(w[1] - w[0]) as usize {
            let b = w[0] as usize + l;
            let block = &upper[b * su as usize..(b + 1) * su as usize];
            check_list(block, params.m, &|| format!("row {r} on layer {}", l + 1))?;
            // A link on layer l must reach a row that is on layer l, or a walk there would
            // read another row's lists.
            for &x in &block[1..=block[0] as usize] {
                let lx = upper_start[x as usize + 1].saturating_sub(upper_start[x as usize]);
                if (lx as usize) < l + 1 {
                    return Err(corrupt(format!(
                        "row {r} links to row {x} on layer {}, which that row is not on",
                        l + 1
                    )));
                }
            }
        }
    }
    let layout = GraphLayout {
        params,
        entry,
        top_level,
        layer0: 0..layer0.len(),
        upper_start: layer0.len()..layer0.len() + upper_start.len(),
        upper: layer0.len() + upper_start.len()..arrays.len(),
    };
    let g = layout.view(bytes);
    match entry {
        None if n > 0 => return Err(corrupt("a non-empty graph has no entry point")),
        Some(e) if u64::from(e) >= n => {
            return Err(corrupt("the entry point is past the last row"))
        }
        Some(e) if g.level(e) != top_level => {
            return Err(corrupt("the entry point is not on the top layer"))
        }
        _ => {}
    }
    Ok(layout)
}
