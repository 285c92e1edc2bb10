//! Progress bars for long work: tqdm when it is installed, nothing otherwise.
//!
//! `progress=None` (the default) shows a bar for work of at least `AUTO_MIN` items when tqdm
//! is importable; `True` shows one whenever tqdm is importable; `False` never does.

use pyo3::prelude::*;

/// Work below this many items gets no bar unless asked.
const AUTO_MIN: usize = 50_000;

/// A tqdm bar, or nothing.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<Py<PyAny>>,
}

impl Progress {
    /// A bar over `total` items labelled `desc`, as `choice` (the `progress=` argument) says.
    pub(crate) fn new(py: Python<'_>, choice: Option<bool>, total: usize, desc: &str) -> Progress {
        let wanted = choice.unwrap_or(total >= AUTO_MIN);
        let bar = wanted
            .then(|| -> PyResult<Py<PyAny>> {
                let tqdm = py.import("tqdm.auto")?.getattr("tqdm")?;
                let kwargs = pyo3::types::PyDict::new(py);
                // Zero: the amount of work is not known in advance (a bare counter).
                if total > 0 {
                    kwargs.set_item("total", total)?;
                }
                kwargs.set_item("desc", desc)?;
                kwargs.set_item("unit", "vec")?;
                kwargs.set_item("unit_scale", true)?;
                Ok(tqdm.call((), Some(&kwargs))?.unbind())
            })
            .and_then(Result::ok);
        Progress { bar }
    }

    /// Adds `n` finished items.
    pub(crate) fn advance(&self, py: Python<'_>, n: usize) -> PyResult<()> {
        if let Some(bar) = &self.bar {
            bar.bind(py).call_method1("update", (n,))?;
        }
        Ok(())
    }

    /// Closes the bar.
    pub(crate) fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(bar) = &self.bar {
            bar.bind(py).call_method0("close")?;
        }
        Ok(())
    }
}

/// What long work calls between its steps (without the GIL): takes the GIL back, moves the bar
/// to `done` and looks for Ctrl-C; after an interrupt it answers `false` so the work stops.
#[derive(Debug)]
pub(crate) struct Watch {
    bar: Progress,
    shown: usize,
    interrupt: Option<PyErr>,
}

impl Watch {
    pub(crate) fn new(bar: Progress) -> Watch {
        Watch {
            bar,
            shown: 0,
            interrupt: None,
        }
    }

    /// Called between steps with the amount of work done so far; `false` means stop.
    pub(crate) fn step(&mut self, done: usize) -> bool {
        Python::attach(|py| {
            let step = self
                .bar
                .advance(py, done.saturating_sub(self.shown))
                .and_then(|()| py.check_signals());
            self.shown = done;
            match step {
                Ok(()) => true,
                Err(e) => {
                    self.interrupt = Some(e);
                    false
                }
            }
        })
    }

    /// Closes the bar; then the work's own error, else the interrupt, else success.
    pub(crate) fn finish<T, E: Into<PyErr>>(
        self,
        py: Python<'_>,
        work: Result<T, E>,
    ) -> PyResult<()> {
        self.bar.close(py)?;
        work.map_err(Into::into)?;
        match self.interrupt {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
