//! The shared wordnet-minilm dataset (`../shared/data/wordnet-minilm`): `.npy` / `.npz` arrays,
//! JSONL payloads and the named filters.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// A parsed `.npy` array: element type descriptor, shape and raw little-endian bytes.
#[derive(Debug)]
pub struct Npy {
    /// numpy dtype string, e.g. `<f2`.
    pub descr: String,
    /// Array shape.
    pub shape: Vec<usize>,
    /// Raw element bytes, C order.
    pub data: Vec<u8>,
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("npy: {what}"))
}

impl Npy {
    /// Parses `.npy` bytes (format versions 1 to 3, C order only).
    pub fn parse(bytes: &[u8]) -> std::io::Result<Npy> {
        if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
            return Err(bad("missing magic"));
        }
        let (hlen, start) = if bytes[6] == 1 {
            (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
        } else {
            let len = bytes.get(8..12).ok_or_else(|| bad("short header"))?;
            (
                u32::from_le_bytes(len.try_into().map_err(|_| bad("short header"))?) as usize,
                12,
            )
        };
        let header = bytes
            .get(start..start + hlen)
            .ok_or_else(|| bad("short header"))?;
        let header = std::str::from_utf8(header).map_err(|_| bad("header is not UTF-8"))?;
        let field = |name: &str| -> std::io::Result<&str> {
            let at = header
                .find(name)
                .ok_or_else(|| bad("header lacks a field"))?;
            Ok(header[at + name.len()..].trim_start())
        };
        let descr = field("'descr':")?.trim_start_matches('\'');
        let descr = descr[..descr.find('\'').ok_or_else(|| bad("bad descr"))?].to_owned();
        if !field("'fortran_order':")?.starts_with("False") {
            return Err(bad("Fortran order is not supported"));
        }
        let shape_text = field("'shape':")?;
        let open = shape_text.find('(').ok_or_else(|| bad("bad shape"))?;
        let close = shape_text.find(')').ok_or_else(|| bad("bad shape"))?;
        let shape = shape_text[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| bad("bad shape")))
            .collect::<std::io::Result<_>>()?;
        Ok(Npy {
            descr,
            shape,
            data: bytes[start + hlen..].to_vec(),
        })
    }

    /// The elements as f32 (from `<f4` or `<f2`).
    pub fn to_f32(&self) -> std::io::Result<Vec<f32>> {
        match self.descr.as_str() {
            "<f4" => Ok(self
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()),
            "<f2" => Ok(self
                .data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect()),
            other => Err(bad(&format!("expected float data, got {other}"))),
        }
    }

    /// The elements as i32 (from `<i4`).
    pub fn to_i32(&self) -> std::io::Result<Vec<i32>> {
        if self.descr != "<i4" {
            return Err(bad(&format!("expected <i4, got {}", self.descr)));
        }
        Ok(self
            .data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Reads one `.npy` file.
pub fn read_npy(path: &Path) -> std::io::Result<Npy> {
    Npy::parse(&std::fs::read(path)?)
}

/// Every array of an `.npz`, by name without the `.npy` suffix.
pub fn read_npz(path: &Path) -> std::io::Result<Vec<(String, Npy)>> {
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(path)?).map_err(std::io::Error::other)?;
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).map_err(std::io::Error::other)?;
            let name = entry.name().trim_end_matches(".npy").to_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            Ok((name, Npy::parse(&bytes)?))
        })
        .collect()
}

/// `shared/data/wordnet-minilm` beside the workspace, if present.
pub fn wordnet_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/wordnet-minilm");
    dir.join("base.f16.npy").exists().then_some(dir)
}

/// The wordnet-minilm dataset, loaded whole.
#[derive(Debug)]
pub struct Wordnet {
    /// Vector dimension (384).
    pub dim: usize,
    /// Base vectors, widened from f16, row-major; row number = point id.
    pub base: Vec<f32>,
    /// Query vectors, row-major.
    pub queries: Vec<f32>,
    /// One payload per base row.
    pub payloads: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The query texts, one per query row.
    pub query_texts: Vec<String>,
    /// `filters.json`: name → {filter, matches, selectivity}.
    pub filters: serde_json::Map<String, serde_json::Value>,
    /// Per filter name (and `none`): the exact top-100 base rows per query, -1 padded.
    pub ground_truth: Vec<(String, Vec<i32>)>,
}

impl Wordnet {
    /// Loads the dataset from [`wordnet_dir`]; `Ok(None)` when it is absent.
    pub fn load() -> std::io::Result<Option<Wordnet>> {
        match wordnet_dir() {
            Some(dir) => Wordnet::load_from(&dir).map(Some),
            None => Ok(None),
        }
    }

    /// Loads a dataset laid out like wordnet-minilm from `dir`: `base.f32.npy` or
    /// `base.f16.npy`, `queries.f32.npy`, `gt_top100.npz`; `payload.jsonl`, `queries.jsonl`
    /// and `filters.json` may be absent (a synthetic set has none).
    pub fn load_from(dir: &Path) -> std::io::Result<Wordnet> {
        let base = match read_npy(&dir.join("base.f32.npy")) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                read_npy(&dir.join("base.f16.npy"))?
            }
            Err(e) => return Err(e),
        };
        let dim = *base.shape.get(1).ok_or_else(|| bad("base is not 2-D"))?;
        let jsonl =
            |name: &str| -> std::io::Result<Vec<serde_json::Map<String, serde_json::Value>>> {
                let file = match std::fs::File::open(dir.join(name)) {
                    Ok(f) => std::io::BufReader::new(f),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(e),
                };
                file.lines()
                    .map(|l| serde_json::from_str(&l?).map_err(std::io::Error::other))
                    .collect()
            };
        let query_texts = jsonl("queries.jsonl")?
            .into_iter()
            .map(|q| {
                q.get("text")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        let filters: serde_json::Value = match std::fs::read(dir.join("filters.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
            Err(e) => return Err(e),
        };
        let ground_truth = read_npz(&dir.join("gt_top100.npz"))?
            .into_iter()
            .map(|(k, v)| Ok((k, v.to_i32()?)))
            .collect::<std::io::Result<_>>()?;
        Ok(Wordnet {
            dim,
            base: base.to_f32()?,
            queries: read_npy(&dir.join("queries.f32.npy"))?.to_f32()?,
            payloads: jsonl("payload.jsonl")?,
            query_texts,
            filters: filters.as_object().cloned().unwrap_or_default(),
            ground_truth,
        })
    }

    /// Number of base vectors.
    pub fn len(&self) -> usize {
        self.base.len() / self.dim
    }

    /// Whether there are no base vectors.
    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// The ground truth of a filter name, 100 rows per query.
    pub fn ground_truth(&self, name: &str) -> Option<&[i32]> {
        self.ground_truth
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }
}
