"""The notebooks run headless, top to bottom, without a cell error (their own asserts included)."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / "notebooks"


def run(name, tmp_path):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # A CellExecutionError fails the test, naming the cell.
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_quickstart_notebook_runs(tmp_path):
    outputs = run("quickstart.ipynb", tmp_path)
    assert any("text/html" in o.get("data", {}) for o in outputs)


def test_rag_notebook_runs_offline(tmp_path):
    pytest.importorskip("langchain_core")
    outputs = run("rag_langchain.ipynb", tmp_path)
    text = "".join(o.get("text", "") for o in outputs)
    assert "same results as the folder: True" in text
