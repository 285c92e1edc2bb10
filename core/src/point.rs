//! Points: ids, payloads, and the records that reads return.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A point's JSON payload: always an object at the top level.
pub type Payload = serde_json::Map<String, serde_json::Value>;

/// A point id: an unsigned 64-bit integer or a UUID.
///
/// The derived order puts every numeric id before every UUID, numbers ascending and UUIDs by
/// their bytes; `scroll` pages in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointId {
    /// An unsigned integer id.
    Num(u64),
    /// A UUID id.
    Uuid(uuid::Uuid),
}

impl PointId {
    /// Reads an id from JSON: a non-negative integer or a UUID string.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        match value {
            serde_json::Value::Number(n) => n.as_u64().map(PointId::Num).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "point id {n} is not an unsigned 64-bit integer; use 0..=18446744073709551615 or a UUID string"
                ))
            }),
            serde_json::Value::String(s) => s.parse(),
            other => Err(Error::InvalidArgument(format!(
                "point id must be an unsigned integer or a UUID string, got {other}"
            ))),
        }
    }

    /// The id as JSON: a number or a hyphenated UUID string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            PointId::Num(n) => serde_json::Value::from(*n),
            PointId::Uuid(u) => serde_json::Value::String(u.hyphenated().to_string()),
        }
    }
}

impl From<u64> for PointId {
    fn from(n: u64) -> Self {
        PointId::Num(n)
    }
}

impl From<uuid::Uuid> for PointId {
    fn from(u: uuid::Uuid) -> Self {
        PointId::Uuid(u)
    }
}

impl FromStr for PointId {
    type Err = Error;

    /// Parses a UUID string (any form the `uuid` crate accepts) or a decimal integer.
    fn from_str(s: &str) -> Result<Self> {
        if let Ok(n) = s.parse::<u64>() {
            return Ok(PointId::Num(n));
        }
        uuid::Uuid::parse_str(s).map(PointId::Uuid).map_err(|e| {
            Error::InvalidArgument(format!(
                "point id {s:?} is neither an unsigned integer nor a UUID ({e})"
            ))
        })
    }
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Uuid(u) => write!(f, "{}", u.hyphenated()),
        }
    }
}

/// A stored point as returned by `get` and `scroll`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The point's id.
    pub id: PointId,
    /// The payload, when requested.
    pub payload: Option<Payload>,
    /// The stored vector as f32, when requested. Under cosine this is the normalised vector.
    pub vector: Option<Vec<f32>>,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPoint {
    /// The point's id.
    pub id: PointId,
    /// The score in the metric's own terms: similarity for cosine and dot (higher is closer),
    /// distance for euclid and manhattan (lower is closer).
    pub score: f32,
    /// The payload, when requested.
    pub payload: Option<Payload>,
    /// The stored vector as f32, when requested.
    pub vector: Option<Vec<f32>>,
}
