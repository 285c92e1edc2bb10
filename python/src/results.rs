//! Search hits and stored records as Python objects, with `repr` and an HTML table for
//! notebooks.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyList;
use stratavec_core::{Record as CoreRecord, ScoredPoint};

use crate::convert::{id_to_py, payload_to_py};

/// One search hit: `id`, `score` (similarity for cosine and dot, distance for euclid and
/// manhattan), `payload` (a dict, or None when not requested), `vector` (a float32 array, or
/// None when not requested).
#[pyclass(module = "stratavec", frozen, get_all)]
#[derive(Debug)]
pub(crate) struct Hit {
    id: Py<PyAny>,
    score: f32,
    payload: Py<PyAny>,
    vector: Py<PyAny>,
}

/// A stored point as `get` and `scroll` return it: `id`, `payload`, `vector`.
#[pyclass(module = "stratavec", frozen, get_all)]
#[derive(Debug)]
pub(crate) struct Record {
    id: Py<PyAny>,
    payload: Py<PyAny>,
    vector: Py<PyAny>,
}

/// The hits of one search, closest first: a sequence of `Hit`.
#[pyclass(module = "stratavec", frozen, sequence)]
#[derive(Debug)]
pub(crate) struct Hits {
    hits: Vec<Py<Hit>>,
}

fn optional_parts<'py>(
    py: Python<'py>,
    payload: Option<&stratavec_core::Payload>,
    vector: Option<&Vec<f32>>,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let payload = match payload {
        Some(p) => payload_to_py(py, p)?.into_any().unbind(),
        None => py.None(),
    };
    let vector = match vector {
        Some(v) => PyArray1::from_slice(py, v).into_any().unbind(),
        None => py.None(),
    };
    Ok((payload, vector))
}

impl Hit {
    pub(crate) fn new(py: Python<'_>, p: &ScoredPoint) -> PyResult<Hit> {
        let (payload, vector) = optional_parts(py, p.payload.as_ref(), p.vector.as_ref())?;
        Ok(Hit {
            id: id_to_py(py, &p.id)?.unbind(),
            score: p.score,
            payload,
            vector,
        })
    }
}

impl Record {
    pub(crate) fn new(py: Python<'_>, r: &CoreRecord) -> PyResult<Record> {
        let (payload, vector) = optional_parts(py, r.payload.as_ref(), r.vector.as_ref())?;
        Ok(Record {
            id: id_to_py(py, &r.id)?.unbind(),
            payload,
            vector,
        })
    }
}

impl Hits {
    pub(crate) fn new(py: Python<'_>, points: &[ScoredPoint]) -> PyResult<Hits> {
        let hits = points
            .iter()
            .map(|p| Py::new(py, Hit::new(py, p)?))
            .collect::<PyResult<_>>()?;
        Ok(Hits { hits })
    }
}

/// `repr` of an optional field: the object's own repr, shortened.
fn short_repr(py: Python<'_>, v: &Py<PyAny>, limit: usize) -> PyResult<String> {
    let text = v.bind(py).repr()?.to_string();
    Ok(if text.chars().count() > limit {
        let cut: String = text.chars().take(limit).collect();
        format!("{cut}…")
    } else {
        text
    })
}

/// `, payload=…, vector=<array>` for the parts present.
fn optional_reprs(py: Python<'_>, payload: &Py<PyAny>, vector: &Py<PyAny>) -> PyResult<String> {
    let mut s = String::new();
    if !payload.is_none(py) {
        s.push_str(&format!(", payload={}", short_repr(py, payload, 80)?));
    }
    if !vector.is_none(py) {
        s.push_str(", vector=<array>");
    }
    Ok(s)
}

/// Escapes text for HTML.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[pymethods]
impl Hit {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Hit(id={}, score={:.6}{})",
            self.id.bind(py).repr()?,
            self.score,
            optional_reprs(py, &self.payload, &self.vector)?
        ))
    }
}

#[pymethods]
impl Record {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Record(id={}{})",
            self.id.bind(py).repr()?,
            optional_reprs(py, &self.payload, &self.vector)?
        ))
    }
}

#[pymethods]
impl Hits {
    fn __len__(&self) -> usize {
        self.hits.len()
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Py<Hit>> {
        let n = self.hits.len() as isize;
        let i = if index < 0 { index + n } else { index };
        if !(0..n).contains(&i) {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "hit index {index} out of range for {n} hits"
            )));
        }
        Ok(self.hits[i as usize].clone_ref(py))
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let list = PyList::new(py, self.hits.iter().map(|h| h.clone_ref(py)))?;
        Ok(list.try_iter()?.into_any().unbind())
    }

    /// The ids of the hits, in order.
    #[getter]
    fn ids(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.hits.iter().map(|h| h.get().id.clone_ref(py)).collect()
    }

    /// The scores of the hits, in order.
    #[getter]
    fn scores(&self) -> Vec<f32> {
        self.hits.iter().map(|h| h.get().score).collect()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut lines = vec![format!("Hits({} hits)", self.hits.len())];
        for h in &self.hits {
            lines.push(format!("  {}", h.get().__repr__(py)?));
        }
        Ok(lines.join("\n"))
    }

    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        let mut s = String::from(
            "<table><thead><tr><th>#</th><th>id</th><th>score</th><th>payload</th></tr></thead><tbody>",
        );
        for (i, h) in self.hits.iter().enumerate() {
            let h = h.get();
            let payload = if h.payload.is_none(py) {
                String::new()
            } else {
                short_repr(py, &h.payload, 120)?
            };
            s.push_str(&format!(
                "<tr><td>{i}</td><td>{}</td><td>{:.6}</td><td><code>{}</code></td></tr>",
                html(&h.id.bind(py).str()?.to_string()),
                h.score,
                html(&payload)
            ));
        }
        s.push_str("</tbody></table>");
        Ok(s)
    }
}
