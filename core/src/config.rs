//! What a collection is configured with: dimension, metric and stored vector type.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The largest dimension a collection accepts. Bounds allocations made from user input.
pub const MAX_DIM: usize = 65_536;

/// How closeness between two vectors is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine similarity. Vectors are normalised when stored, so the score is their dot product.
    Cosine,
    /// Dot product (inner product); higher is closer.
    Dot,
    /// Euclidean (L2) distance; lower is closer.
    Euclid,
    /// Manhattan (L1) distance; lower is closer.
    Manhattan,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 4] = [
        Metric::Cosine,
        Metric::Dot,
        Metric::Euclid,
        Metric::Manhattan,
    ];

    /// Whether a higher score means closer (similarities) rather than lower (distances).
    pub fn higher_is_closer(self) -> bool {
        matches!(self, Metric::Cosine | Metric::Dot)
    }

    /// The metric's canonical name, as accepted by [`Metric::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::Euclid => "euclid",
            Metric::Manhattan => "manhattan",
        }
    }
}

impl FromStr for Metric {
    type Err = Error;

    /// Accepts the canonical names and the usual aliases, case-insensitively (Qdrant spells them
    /// `Cosine`, `Dot`, `Euclid`, `Manhattan`).
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" | "cos" => Ok(Metric::Cosine),
            "dot" | "ip" | "inner_product" => Ok(Metric::Dot),
            "euclid" | "euclidean" | "l2" => Ok(Metric::Euclid),
            "manhattan" | "l1" => Ok(Metric::Manhattan),
            _ => Err(Error::InvalidArgument(format!(
                "unknown metric {s:?}; expected one of cosine, dot, euclid, manhattan"
            ))),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The element type vectors are stored as. Queries are always f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorType {
    /// 32-bit floats: exact.
    F32,
    /// IEEE half precision: half the memory, about three significant decimal digits, values
    /// limited to ±65504.
    F16,
}

impl VectorType {
    /// The canonical name, as accepted by [`VectorType::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            VectorType::F32 => "f32",
            VectorType::F16 => "f16",
        }
    }

    /// Bytes per stored component.
    pub fn size(self) -> usize {
        match self {
            VectorType::F32 => 4,
            VectorType::F16 => 2,
        }
    }
}

impl FromStr for VectorType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" | "float" => Ok(VectorType::F32),
            "f16" | "float16" | "half" => Ok(VectorType::F16),
            _ => Err(Error::InvalidArgument(format!(
                "unknown vector type {s:?}; expected f32 or f16"
            ))),
        }
    }
}

impl fmt::Display for VectorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A collection's fixed configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionConfig {
    /// Number of components per vector, 1..=[`MAX_DIM`].
    pub dim: usize,
    /// The distance metric.
    pub metric: Metric,
    /// How vectors are stored.
    pub vector_type: VectorType,
}

impl CollectionConfig {
    /// A configuration with f32 storage.
    pub fn new(dim: usize, metric: Metric) -> Self {
        CollectionConfig {
            dim,
            metric,
            vector_type: VectorType::F32,
        }
    }

    /// The same configuration with another stored type.
    pub fn with_vector_type(mut self, vector_type: VectorType) -> Self {
        self.vector_type = vector_type;
        self
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if self.dim == 0 || self.dim > MAX_DIM {
            return Err(Error::InvalidArgument(format!(
                "dimension must be between 1 and {MAX_DIM}, got {}",
                self.dim
            )));
        }
        Ok(())
    }
}

/// Where a collection's data lives while it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StorageTier {
    /// Everything read into memory when opened: no disk access while searching.
    Memory,
    /// The file is memory-mapped (the default): the OS page cache holds what searches touch
    /// and gives it back under memory pressure.
    #[default]
    Mmap,
    /// Quantized codes in memory, full vectors left on disk: searches rank by the codes and
    /// read from the file only the few rows they rescore. Needs quantization.
    Disk,
}

impl StorageTier {
    /// Every tier.
    pub const ALL: [StorageTier; 3] = [StorageTier::Memory, StorageTier::Mmap, StorageTier::Disk];

    /// The canonical name, as accepted by [`StorageTier::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            StorageTier::Memory => "memory",
            StorageTier::Mmap => "mmap",
            StorageTier::Disk => "disk",
        }
    }
}

impl FromStr for StorageTier {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "memory" | "ram" => Ok(StorageTier::Memory),
            "mmap" => Ok(StorageTier::Mmap),
            "disk" | "on_disk" => Ok(StorageTier::Disk),
            _ => Err(Error::InvalidArgument(format!(
                "unknown storage tier {s:?}; expected memory, mmap or disk"
            ))),
        }
    }
}

impl fmt::Display for StorageTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a stored collection is served: its tier and the quantization searches use.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StorageOptions {
    /// Where the data lives while served.
    pub tier: StorageTier,
    /// Quantized codes searches rank by (required by the `disk` tier).
    pub quantization: Option<crate::quantization::Quantization>,
}

impl StorageOptions {
    /// Checks the settings: valid quantization, and some quantization for the `disk` tier.
    pub fn validate(&self) -> Result<()> {
        if let Some(q) = &self.quantization {
            q.validate()?;
        }
        if self.tier == StorageTier::Disk && self.quantization.is_none() {
            return Err(Error::InvalidArgument(
                "the disk tier keeps quantized vectors in memory and reads full vectors from \
                 disk only to rescore; choose a quantization (int8 or binary) with it"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Checks a collection name: 1 to 255 characters from `A-Z a-z 0-9 _ - .`, not starting with
/// `.`, so a name is always one plain folder name on every platform.
pub fn validate_collection_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "collection name {name:?} is not allowed: use 1 to 255 of the characters A-Z a-z 0-9 _ - . \
             and do not start with a dot"
        )))
    }
}
