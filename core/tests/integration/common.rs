//! Helpers shared by the integration tests: a seeded generator and a reader for the shared
//! wordnet-minilm dataset (`.npy` / `.npz`).

use std::io::Read;
use std::path::PathBuf;

/// xorshift64*: deterministic, seedable, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1).
    pub fn signed(&mut self) -> f32 {
        (self.unit() * 2.0 - 1.0) as f32
    }

    pub fn vectors(&mut self, n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim).map(|_| self.signed()).collect()
    }
}

/// `../shared/data/wordnet-minilm` relative to the workspace, if present.
pub fn wordnet_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/wordnet-minilm");
    dir.join("base.f16.npy").exists().then_some(dir)
}

/// A parsed `.npy` array: element type descriptor, shape and raw little-endian bytes.
pub struct Npy {
    pub descr: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Npy {
    pub fn parse(bytes: &[u8]) -> Npy {
        assert_eq!(&bytes[..6], b"\x93NUMPY", "not an .npy file");
        let major = bytes[6];
        let (hlen, start) = if major == 1 {
            (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
        } else {
            (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12)
        };
        let header = std::str::from_utf8(&bytes[start..start + hlen]).unwrap();
        let field = |name: &str| {
            let at = header.find(name).unwrap_or_else(|| panic!("npy header lacks {name}"));
            &header[at + name.len()..]
        };
        let descr = field("'descr':").trim_start().trim_start_matches('\'');
        let descr = descr[..descr.find('\'').unwrap()].to_owned();
        assert!(field("'fortran_order':").trim_start().starts_with("False"));
        let shape_text = field("'shape':");
        let shape_text = &shape_text[shape_text.find('(').unwrap() + 1..shape_text.find(')').unwrap()];
        let shape = shape_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        Npy { descr, shape, data: bytes[start + hlen..].to_vec() }
    }

    pub fn to_f32(&self) -> Vec<f32> {
        match self.descr.as_str() {
            "<f4" => self.data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
            "<f2" => self
                .data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f32())
                .collect(),
            other => panic!("unexpected dtype {other}"),
        }
    }

    pub fn to_i32(&self) -> Vec<i32> {
        assert_eq!(self.descr, "<i4");
        self.data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()
    }
}

pub fn read_npy(path: &std::path::Path) -> Npy {
    Npy::parse(&std::fs::read(path).unwrap())
}

/// Every array of an `.npz`, by name without the `.npy` suffix.
pub fn read_npz(path: &std::path::Path) -> Vec<(String, Npy)> {
    let file = std::fs::File::open(path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let name = entry.name().trim_end_matches(".npy").to_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (name, Npy::parse(&bytes))
        })
        .collect()
}
