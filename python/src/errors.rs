//! The exception hierarchy, and the one place core errors become Python exceptions.
//!
//! Every exception derives from `stratavec.StratavecError` and also from the builtin whose
//! meaning fits, so `except ValueError` catches a wrong dimension and `except KeyError` an
//! unknown collection, as callers of any Python library expect. Python cannot express a class
//! with two bases through PyO3's `create_exception!`, so the subclasses are made at import time
//! by calling `type(name, (StratavecError, builtin), ...)` and kept for the life of the process.

use pyo3::exceptions::{PyException, PyKeyError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use stratavec_core::Error;

pyo3::create_exception!(
    stratavec,
    StratavecError,
    PyException,
    "Root of every error stratavec raises."
);

/// The exception classes below the root.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    DimensionMismatch,
    InvalidVector,
    InvalidFilter,
    InvalidArgument,
    NotFound,
    Conflict,
    Corrupt,
    IncompatibleVersion,
    Storage,
    Closed,
    ReadOnly,
}

/// The builtin base a class also derives from.
#[derive(Debug, Clone, Copy)]
enum Builtin {
    Value,
    Key,
    Os,
    Runtime,
}

/// Name, builtin base and docstring of each class, in `Kind` order.
const CLASSES: [(&str, Builtin, &str); 11] = [
    (
        "DimensionMismatchError",
        Builtin::Value,
        "A vector has the wrong number of components for the collection.",
    ),
    (
        "InvalidVectorError",
        Builtin::Value,
        "A vector holds NaN or infinity, is zero under cosine, or does not fit the stored type.",
    ),
    (
        "InvalidFilterError",
        Builtin::Value,
        "A filter is malformed; the message names the part that is wrong.",
    ),
    (
        "InvalidArgumentError",
        Builtin::Value,
        "An argument is out of range or inconsistent with the others.",
    ),
    (
        "NotFoundError",
        Builtin::Key,
        "Something named does not exist, such as a collection.",
    ),
    (
        "ConflictError",
        Builtin::Runtime,
        "The operation conflicts with the store's state: the collection exists already, or another process writes it.",
    ),
    (
        "CorruptFileError",
        Builtin::Os,
        "A file is damaged or not a stratavec file.",
    ),
    (
        "IncompatibleVersionError",
        Builtin::Os,
        "A file was written by a format version this build cannot read.",
    ),
    (
        "StorageError",
        Builtin::Os,
        "The operating system refused a read or write.",
    ),
    (
        "ClosedError",
        Builtin::Runtime,
        "The database or collection was closed.",
    ),
    (
        "ReadOnlyError",
        Builtin::Runtime,
        "A write was asked of a read-only collection (an opened snapshot).",
    ),
];

static TYPES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&Vec<Py<PyType>>> {
    TYPES.get_or_try_init(py, || {
        let root = py.get_type::<StratavecError>();
        let make = py.import("builtins")?.getattr("type")?;
        CLASSES
            .iter()
            .map(|&(name, builtin, doc)| {
                let base = match builtin {
                    Builtin::Value => py.get_type::<PyValueError>(),
                    Builtin::Key => py.get_type::<PyKeyError>(),
                    Builtin::Os => py.get_type::<PyOSError>(),
                    Builtin::Runtime => py.get_type::<PyRuntimeError>(),
                };
                let namespace = PyDict::new(py);
                namespace.set_item("__doc__", doc)?;
                namespace.set_item("__module__", "stratavec")?;
                let bases = PyTuple::new(py, [root.clone(), base])?;
                Ok(make
                    .call1((name, bases, namespace))?
                    .cast_into::<PyType>()?
                    .unbind())
            })
            .collect()
    })
}

/// Adds the root and every subclass to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("StratavecError", py.get_type::<StratavecError>())?;
    for (&(name, _, _), t) in CLASSES.iter().zip(types(py)?) {
        m.add(name, t.bind(py))?;
    }
    Ok(())
}

/// An exception of class `kind` with `message`.
pub(crate) fn error(kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| match types(py) {
        Ok(t) => PyErr::from_type(t[kind as usize].bind(py).clone(), message),
        Err(e) => e,
    })
}

/// The Python exception for a core error: the class by category, the core's message.
pub(crate) fn map(e: Error) -> PyErr {
    let kind = match &e {
        Error::DimensionMismatch { .. } => Kind::DimensionMismatch,
        Error::InvalidVector { .. } => Kind::InvalidVector,
        Error::InvalidFilter { .. } => Kind::InvalidFilter,
        Error::InvalidArgument(_) => Kind::InvalidArgument,
        Error::NotFound(_) => Kind::NotFound,
        Error::Conflict(_) => Kind::Conflict,
        Error::Corrupt { .. } => Kind::Corrupt,
        Error::IncompatibleVersion { .. } => Kind::IncompatibleVersion,
        Error::Io { .. } => Kind::Storage,
        // The core's enum is non-exhaustive: a category added there lands on the root class
        // until it is given its own here.
        _ => return StratavecError::new_err(e.to_string()),
    };
    error(kind, e.to_string())
}

/// `map` for results.
pub(crate) trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for stratavec_core::Result<T> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(map)
    }
}
