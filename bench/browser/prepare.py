"""Data for the browser bench, in OUT_DIR: the wordnet-minilm snapshot built by the Python package
(HNSW m=16, ef_construction=200, cosine; kept between runs), and the raw arrays the peers index:
base.f32 and queries.f32 (unit-normalised float32, so every engine ranks by cosine) and gt.i32
(the exact top-10 of each query, from the dataset's ground truth).

    python bench/browser/prepare.py OUT_DIR
"""

import json
import pathlib
import sys
import time

import numpy as np

import stratavec as sv

WORDNET = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "wordnet-minilm"


def unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main(out: pathlib.Path) -> None:
    if not (WORDNET / "base.f16.npy").exists():
        sys.exit(f"{WORDNET} is not present: the browser bench runs on wordnet-minilm only")
    out.mkdir(parents=True, exist_ok=True)
    base = unit(np.load(WORDNET / "base.f16.npy"))
    queries = unit(np.load(WORDNET / "queries.f32.npy"))
    gt = np.load(WORDNET / "gt_top100.npz")
    key = "none" if "none" in gt.files else gt.files[0]
    top10 = np.ascontiguousarray(gt[key][:, :10].astype(np.int32))
    base.tofile(out / "base.f32")
    queries.tofile(out / "queries.f32")
    top10.tofile(out / "gt.i32")
    snapshot = out / "wordnet.svdb"
    if not snapshot.exists():
        t = time.perf_counter()
        col = sv.connect().create_collection(
            "wordnet", dim=base.shape[1], metric="cosine", index=sv.HNSW(m=16, ef_construction=200)
        )
        payloads = [json.loads(line) for line in open(WORDNET / "payload.jsonl")]
        for p in payloads:
            p.pop("id", None)
        col.upsert(np.arange(len(base)), base, payloads, progress=False)
        col.snapshot(snapshot.with_suffix(".tmp"))
        snapshot.with_suffix(".tmp").rename(snapshot)
        print(f"built {snapshot} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    meta = {"n": int(base.shape[0]), "dim": int(base.shape[1]), "queries": int(queries.shape[0])}
    (out / "meta.json").write_text(json.dumps(meta))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
