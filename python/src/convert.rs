//! Python values to core types and back: point ids, vectors, payloads (JSON), filters.
//!
//! Vectors go through numpy once: `numpy.ascontiguousarray(x, dtype=float32)` returns a
//! C-contiguous float32 array as is (no copy) and converts anything else — float16, float64,
//! integers, lists, other buffers, strided views — into one. The core then reads that buffer
//! in place, with the GIL released.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value};
use stratavec_core::{Filter, Payload, PointId};

use crate::errors::{error, Kind, OrRaise};
use crate::options::type_name;

/// Nesting deeper than this in a payload is refused (it also guards against self-containing
/// lists and dicts).
const MAX_DEPTH: usize = 64;

fn invalid(message: impl Into<String>) -> PyErr {
    error(Kind::InvalidArgument, message)
}

/// The `numpy` module, imported once.
fn numpy(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static NUMPY: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    NUMPY
        .get_or_try_init(py, || Ok(py.import("numpy")?.unbind()))
        .map(|m| m.bind(py))
}

/// One point id: a non-negative int below 2^64, a UUID string, or a `uuid.UUID`.
pub(crate) fn point_id(v: &Bound<'_, PyAny>) -> PyResult<PointId> {
    if v.is_instance_of::<PyBool>() {
        return Err(invalid(format!(
            "point ids are unsigned 64-bit integers or UUID strings, got the bool {v}"
        )));
    }
    if v.is_instance_of::<PyInt>() || v.hasattr("__index__")? && !v.is_instance_of::<PyString>() {
        let n: i128 = v
            .call_method0("__index__")?
            .extract()
            .map_err(|_| invalid(format!("point id {v} is outside the unsigned 64-bit range")))?;
        return u64::try_from(n).map(PointId::Num).map_err(|_| {
            invalid(format!(
                "point id {n} is outside the unsigned 64-bit range 0..=18446744073709551615"
            ))
        });
    }
    let text = if v.is_instance_of::<PyString>() {
        v.extract::<String>()?
    } else if type_name(v) == "UUID" {
        v.str()?.to_string()
    } else {
        return Err(invalid(format!(
            "point ids are unsigned 64-bit integers or UUID strings, got {}",
            type_name(v)
        )));
    };
    text.parse::<PointId>().or_raise()
}

/// A sequence of point ids: a list or tuple of ids, or an integer numpy array (read in bulk).
pub(crate) fn point_ids(v: &Bound<'_, PyAny>) -> PyResult<Vec<PointId>> {
    if v.is_instance_of::<PyString>() || v.is_instance_of::<PyInt>() {
        return Err(invalid(format!(
            "ids must be a sequence (a list, tuple or array), got the single {} {v}; wrap it in a list",
            type_name(v)
        )));
    }
    if v.hasattr("dtype")? && v.hasattr("ndim")? {
        let kind: String = v.getattr("dtype")?.getattr("kind")?.extract()?;
        if kind == "i" || kind == "u" {
            let ndim: usize = v.getattr("ndim")?.extract()?;
            if ndim != 1 {
                return Err(invalid(format!(
                    "an array of ids must be 1-D, got {ndim} dimensions"
                )));
            }
            if kind == "i" && v.len()? > 0 {
                let min: i64 = v.call_method0("min")?.extract()?;
                if min < 0 {
                    return Err(invalid(format!(
                        "point id {min} is negative; ids are unsigned 64-bit integers"
                    )));
                }
            }
            let np = numpy(v.py())?;
            let ids = np
                .call_method1("ascontiguousarray", (v, np.getattr("uint64")?))?
                .cast_into::<PyArray1<u64>>()?;
            let ids = ids.readonly();
            return Ok(ids.as_array().iter().map(|&n| PointId::Num(n)).collect());
        }
    }
    let mut out = Vec::with_capacity(v.len().unwrap_or(0));
    for item in v.try_iter().map_err(|_| {
        invalid(format!(
            "ids must be a sequence (a list, tuple or array), got {}",
            type_name(v)
        ))
    })? {
        out.push(point_id(&item?)?);
    }
    Ok(out)
}

/// Vectors as a C-contiguous float32 array of shape (n, dim) and whether the input was one
/// vector (1-D). Refuses non-numeric input with a message naming it.
pub(crate) fn vectors<'py>(v: &Bound<'py, PyAny>) -> PyResult<(PyReadonlyArray2<'py, f32>, bool)> {
    let py = v.py();
    let np = numpy(py)?;
    let arr = np.call_method1("asarray", (v,)).map_err(|e| {
        invalid(format!(
            "vectors must be numbers in a numpy array, list or buffer: {e}"
        ))
    })?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "f" | "i" | "u") {
        let dtype = arr.getattr("dtype")?.str()?.to_string();
        return Err(invalid(format!(
            "vectors must be numbers (float32, float16 or float64), got dtype {dtype}"
        )));
    }
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    let single = match ndim {
        1 => true,
        2 => false,
        _ => {
            return Err(invalid(format!(
                "vectors must be 1-D (one vector) or 2-D (one per row), got {ndim} dimensions"
            )))
        }
    };
    let arr = np.call_method1("ascontiguousarray", (arr, np.getattr("float32")?))?;
    let arr = if single {
        arr.call_method1("reshape", ((1, -1),))?
    } else {
        arr
    };
    let arr = arr.cast_into::<PyArray2<f32>>()?;
    Ok((arr.readonly(), single))
}

/// The rows of a readonly array as one slice.
pub(crate) fn rows<'a>(a: &'a PyReadonlyArray2<'_, f32>) -> PyResult<&'a [f32]> {
    a.as_slice()
        .map_err(|_| invalid("vectors are not contiguous after conversion"))
}

/// Number of rows of a readonly array.
pub(crate) fn row_count(a: &PyReadonlyArray2<'_, f32>) -> usize {
    a.shape()[0]
}

/// A Python value as JSON: dict (str keys), list, tuple, str, int, float (finite), bool,
/// None, and numpy scalars.
pub(crate) fn to_json(v: &Bound<'_, PyAny>) -> PyResult<Value> {
    json_at(v, 0, &mut String::from("payload"))
}

fn json_at(v: &Bound<'_, PyAny>, depth: usize, path: &mut String) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "{path}: nested more than {MAX_DEPTH} levels deep"
        )));
    }
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(invalid(format!(
            "{path}: the integer {v} does not fit in 64 bits"
        )));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        let x = f.value();
        return serde_json::Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| invalid(format!("{path}: {x} is not a finite number")));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, item) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                invalid(format!(
                    "{path}: keys must be strings, got {}",
                    type_name(&k)
                ))
            })?;
            let key = key.to_cow()?.into_owned();
            let len = path.len();
            path.push('.');
            path.push_str(&key);
            let value = json_at(&item, depth + 1, path)?;
            path.truncate(len);
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut items = Vec::with_capacity(v.len()?);
        for (i, item) in v.try_iter()?.enumerate() {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            items.push(json_at(&item?, depth + 1, path)?);
            path.truncate(len);
        }
        return Ok(Value::Array(items));
    }
    // numpy scalars (np.float32(1.5), np.int64(3), np.bool_(True)) and 0-d arrays.
    if v.hasattr("item")? && v.hasattr("dtype")? {
        let item = v.call_method0("item")?;
        if !item.is(v) {
            return json_at(&item, depth, path);
        }
    }
    Err(invalid(format!(
        "{path}: {} is not a JSON value (use dict, list, str, int, float, bool or None)",
        type_name(v)
    )))
}

/// A payload: a dict of JSON values.
pub(crate) fn payload(v: &Bound<'_, PyAny>) -> PyResult<Payload> {
    match to_json(v)? {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(format!(
            "a payload must be a dict, got {}",
            type_name(v)
        ))),
    }
}

/// One payload per point, or `None` for no payloads.
pub(crate) fn payloads(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<Payload>>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if v.is_instance_of::<PyDict>() || v.is_instance_of::<PyString>() {
        return Err(invalid(
            "payloads must be a sequence with one dict per point (or None)",
        ));
    }
    let mut out = Vec::with_capacity(v.len().unwrap_or(0));
    for item in v.try_iter()? {
        let item = item?;
        if item.is_none() {
            out.push(Payload::new());
        } else {
            out.push(payload(&item)?);
        }
    }
    Ok(Some(out))
}

/// A filter from a Qdrant-style dict, or from anything with a `to_dict()` method (the
/// `stratavec.Field` builder's conditions); `None` for no filter.
pub(crate) fn filter(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Filter>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let json = if v.hasattr("to_dict")? && !v.is_instance_of::<PyDict>() {
        to_json(&v.call_method0("to_dict")?)
    } else {
        to_json(v)
    };
    // Anything JSON goes to the core's parser, whose messages name the bad part.
    let json = json.map_err(|_| {
        error(
            Kind::InvalidFilter,
            format!(
                "a filter is a dict in the Qdrant filter language or a stratavec.Field condition, got {}",
                type_name(v)
            ),
        )
    })?;
    Filter::from_json(&json).map(Some).or_raise()
}

/// JSON as Python objects.
pub(crate) fn from_json<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(from_json(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => payload_to_py(py, map)?.into_any(),
    })
}

/// A payload as a dict.
pub(crate) fn payload_to_py<'py>(py: Python<'py>, p: &Payload) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, item) in p {
        dict.set_item(k, from_json(py, item)?)?;
    }
    Ok(dict)
}

/// A point id as a Python int or str.
pub(crate) fn id_to_py<'py>(py: Python<'py>, id: &PointId) -> PyResult<Bound<'py, PyAny>> {
    Ok(match id {
        PointId::Num(n) => n.into_pyobject(py)?.into_any(),
        PointId::Uuid(_) => PyString::new(py, &id.to_string()).into_any(),
    })
}

/// `s` as Python writes a string literal in a repr: single quotes, backslash escapes.
pub(crate) fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}
