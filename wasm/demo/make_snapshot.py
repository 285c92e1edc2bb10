"""Writes the demo page's snapshot, wasm/demo/demo.svdb: wordnet-minilm (texts and embeddings)
when ../shared/data/wordnet-minilm is present, else the demo's seeded synthetic set, with an
HNSW index, through the Python package (`make demo-browser` runs it, then serves the page).
"""

import importlib.util
import pathlib
import sys

import numpy as np

import stratavec as sv

HERE = pathlib.Path(__file__).resolve().parent
DEMO = HERE.parents[1] / "python" / "examples" / "demo.py"


def main(out: pathlib.Path) -> None:
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    name, base, payloads, _, _ = demo.load()
    col = sv.connect().create_collection(
        "demo", dim=base.shape[1], metric="cosine", index=sv.HNSW(m=16, ef_construction=200)
    )
    col.upsert(np.arange(len(base)), base, payloads, progress=True)
    col.snapshot(out)
    print(f"wrote {out} ({name}, {len(base):,} points, {out.stat().st_size / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "demo.svdb")
