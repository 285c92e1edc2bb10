//! Collection settings from Python: the index (`HNSW`, `Flat`), the storage tier and the
//! quantization, each turned into the core's types (the core validates them).

use pyo3::prelude::*;
use pyo3::types::PyDict;
use stratavec_core::{HnswParams, Quantization, StorageTier};

use crate::convert::to_json;
use crate::errors::{error, Kind, OrRaise};

/// An HNSW graph index: `m` neighbours per node (twice that on the base layer) and
/// `ef_construction` candidates considered while linking.
#[pyclass(name = "HNSW", module = "stratavec", frozen, eq, get_all)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hnsw {
    m: usize,
    ef_construction: usize,
}

#[pymethods]
impl Hnsw {
    #[new]
    #[pyo3(signature = (m = 16, ef_construction = 200))]
    fn new(m: usize, ef_construction: usize) -> PyResult<Hnsw> {
        let h = Hnsw { m, ef_construction };
        h.params().validate().or_raise()?;
        Ok(h)
    }

    fn __repr__(&self) -> String {
        format!(
            "HNSW(m={}, ef_construction={})",
            self.m, self.ef_construction
        )
    }
}

impl Hnsw {
    pub(crate) fn params(&self) -> HnswParams {
        HnswParams {
            m: self.m,
            ef_construction: self.ef_construction,
            ..HnswParams::default()
        }
    }
}

/// No index: every search scans all points (exact).
#[pyclass(name = "Flat", module = "stratavec", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Flat {}

#[pymethods]
impl Flat {
    #[new]
    fn new() -> Flat {
        Flat {}
    }

    fn __repr__(&self) -> &'static str {
        "Flat()"
    }
}

/// The index a collection is created with: `None` means HNSW with its defaults.
pub(crate) fn index(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<HnswParams>> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(Some(HnswParams::default()));
    };
    if let Ok(h) = v.cast::<Hnsw>() {
        return Ok(Some(h.get().params()));
    }
    if v.cast::<Flat>().is_ok() {
        return Ok(None);
    }
    Err(error(
        Kind::InvalidArgument,
        format!(
            "index must be stratavec.HNSW(...) or stratavec.Flat(), got {}",
            type_name(v)
        ),
    ))
}

/// A storage tier by name (`memory`, `mmap`, `disk`); `None` keeps `default`.
pub(crate) fn tier(value: Option<&str>, default: StorageTier) -> PyResult<StorageTier> {
    value.map_or(Ok(default), |s| s.parse().or_raise())
}

/// Quantization from `None`, a name (`"int8"`, `"binary"`) or a dict of settings
/// (`{"type": "int8", "quantile": 0.99, "oversampling": 4}`).
pub(crate) fn quantization(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Quantization>> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(name) = v.extract::<String>() {
        return match name.to_ascii_lowercase().as_str() {
            "int8" => Ok(Some(Quantization::int8())),
            "binary" => Ok(Some(Quantization::binary())),
            _ => Err(error(
                Kind::InvalidArgument,
                format!("unknown quantization {name:?}; expected \"int8\", \"binary\" or None"),
            )),
        };
    }
    if v.cast::<PyDict>().is_ok() {
        return Quantization::from_json(&to_json(v)?).map(Some).or_raise();
    }
    Err(error(
        Kind::InvalidArgument,
        format!(
            "quantization must be None, \"int8\", \"binary\" or a dict of settings, got {}",
            type_name(v)
        ),
    ))
}

/// The Python type name of `v`, for messages.
pub(crate) fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map_or_else(|_| "an object".to_owned(), |n| n.to_string())
}
