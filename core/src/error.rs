//! The one error type of the core.
//!
//! Variants are categories, not call sites: a binding maps each category once (Python exception
//! class, JS `code`, HTTP status) and the message carries the specifics. Every message says what
//! was wrong and, where it helps, what to do instead.

use std::fmt;

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A vector had the wrong number of components. Caller error; maps to `ValueError` / HTTP 400.
    #[error("vector dimension mismatch: the collection expects {expected} components, got {got}{}", Context(.context))]
    DimensionMismatch {
        /// The collection's dimension.
        expected: usize,
        /// The dimension that was supplied.
        got: usize,
        /// Where in the input, e.g. `vector 3 of the batch`; empty when there is only one vector.
        context: String,
    },

    /// A vector component was NaN or infinite, or cannot be stored in the collection's type.
    /// Caller error; maps to `ValueError` / HTTP 400.
    #[error("invalid vector{}: {reason}", Context(.context))]
    InvalidVector {
        /// Where in the input.
        context: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A filter could not be parsed. `path` points at the offending part, e.g. `must[1].range.gt`.
    /// Caller error; maps to `ValueError` / HTTP 400.
    #[error("malformed filter at `{path}`: {reason}")]
    InvalidFilter {
        /// JSON path of the bad part inside the filter.
        path: String,
        /// What is wrong there.
        reason: String,
    },

    /// Any other argument that is out of range or inconsistent (k = 0, duplicate ids in a batch,
    /// a zero vector under cosine, ...). Caller error; maps to `ValueError` / HTTP 400.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// Something named does not exist (a collection, a point id used where it must exist).
    /// Maps to `KeyError` / HTTP 404.
    #[error("not found: {0}")]
    NotFound(String),

    /// The operation conflicts with the state of the store: another writer holds the
    /// collection, or a collection with that name already exists. Maps to `RuntimeError` /
    /// HTTP 409.
    #[error("conflict: {0}")]
    Conflict(String),

    /// Stored bytes are damaged or not a stratavec file: a bad magic number, checksum, length
    /// or structure. `what` names the file part. Maps to `OSError` / HTTP 500 (or 400 for
    /// uploads).
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// The file or section, e.g. `snapshot header` or `segment section VECTORS`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A file written by a format version this build cannot read. Maps to `OSError` / HTTP 400.
    #[error(
        "incompatible format version {found}: this build reads {supported}; \
         open it with a stratavec release that supports {found}, or re-create it from the source data"
    )]
    IncompatibleVersion {
        /// The version found in the file, e.g. `2.0`.
        found: String,
        /// The versions this build reads, e.g. `1.x`.
        supported: String,
    },

    /// An operating-system I/O error. Maps to `OSError` / HTTP 500.
    #[error("I/O error{}: {source}", Context(.context))]
    Io {
        /// What was being done, e.g. `reading snapshot ./docs.svdb`.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Formats an optional "where" suffix: ` (vector 3 of the batch)` or nothing.
struct Context<'a>(&'a str);

impl fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " ({})", self.0)
        }
    }
}
