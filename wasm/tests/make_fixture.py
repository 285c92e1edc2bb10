"""Writes what the browser tests compare against: a snapshot made by the Python package and the
answers Python gives for a fixed set of searches on it. Python answers from the file mapped,
where walks have no guard codes; the page reads it into memory, where they do (f32 rows of 256
components and more), so the test also holds that guards change no answer in wasm32.

    python wasm/tests/make_fixture.py OUT_DIR   ->  OUT_DIR/py.svdb, OUT_DIR/expected.json
"""

import json
import pathlib
import sys

import numpy as np

import stratavec as sv

WORDS = ["river", "stone", "cloud", "maple", "harbor", "lantern", "meadow", "violet", "copper", "falcon"]


def main(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    n, dim = 3000, 256
    centres = rng.standard_normal((20, dim)).astype(np.float32)
    labels = rng.integers(0, 20, n)
    base = centres[labels] + 0.35 * rng.standard_normal((n, dim), dtype=np.float32)
    payloads = [
        {"text": f"{WORDS[i % 10]} {WORDS[(i // 10) % 10]} #{i}", "group": int(labels[i]) % 4, "n": i} for i in range(n)
    ]
    col = sv.connect().create_collection("fixture", dim=dim, metric="cosine", index=sv.HNSW(m=16, ef_construction=100))
    col.upsert(np.arange(n), base, payloads)
    col.snapshot(out / "py.svdb")

    snap = sv.open_snapshot(out / "py.svdb", storage="mmap")
    queries = centres[rng.integers(0, 20, 20)] + 0.35 * rng.standard_normal((20, dim), dtype=np.float32)
    cases = []
    for i, q in enumerate(queries):
        for name, flt in [("none", None), ("group 2", {"must": [{"key": "group", "match": {"value": 2}}]})]:
            # k = 50 compares nearly the whole beam of 64, where a walk that skipped a row it
            # should have read would differ first.
            for exact, k in ((False, 10), (True, 10), (False, 50)):
                hits = snap.search(q, k=k, filter=flt, ef=64, exact=exact)
                cases.append(
                    {
                        "query": i,
                        "filter": flt,
                        "filterName": name,
                        "exact": exact,
                        "k": k,
                        "ids": hits.ids,
                        "scores": [float(s) for s in hits.scores],
                    }
                )
    (out / "expected.json").write_text(
        json.dumps({"dim": dim, "count": n, "queries": queries.tolist(), "cases": cases})
    )


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
