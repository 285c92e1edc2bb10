#!/usr/bin/env python3
"""Writes the seeded synthetic benchmark set: 1,000,000 x 128 float32 vectors for Euclidean search,
laid out like wordnet-minilm so `hnsw_wordnet.py --data DIR` and `hnsw_bench --data DIR` read it.

The points are not uniform noise (on which every index degenerates to a scan): 1,000 cluster
centres, and around each centre the points spread over a 16-dimensional subspace of its own, plus
a little isotropic noise, so neighbourhoods have the low intrinsic dimension real embeddings have.
Queries are drawn the same way. Ground truth (the exact 100 nearest, by squared L2) is computed
with FAISS's exact index. The same seed always gives the same files.

Usage: synthetic.py DIR [n] [queries]
"""

import pathlib
import sys

import numpy as np

DIM, CLUSTERS, LATENT, SEED = 128, 1000, 16, 20261123


def points(rng, centres, bases, n):
    cluster = rng.integers(0, CLUSTERS, n)
    z = rng.standard_normal((n, LATENT), dtype=np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for c in range(CLUSTERS):
        rows = np.nonzero(cluster == c)[0]
        out[rows] = centres[c] + z[rows] @ bases[c]
    out += 0.05 * rng.standard_normal((n, DIM), dtype=np.float32)
    return out


def main():
    out = pathlib.Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    nq = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000
    if (out / "gt_top100.npz").exists():
        print(f"{out} is already written", file=sys.stderr)
        return
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    centres = 4.0 * rng.standard_normal((CLUSTERS, DIM), dtype=np.float32)
    bases = (rng.standard_normal((CLUSTERS, LATENT, DIM), dtype=np.float32) / np.sqrt(LATENT)).astype(np.float32)
    base = points(rng, centres, bases, n)
    queries = points(rng, centres, bases, nq)
    import faiss

    index = faiss.IndexFlatL2(DIM)
    index.add(base)
    _, gt = index.search(queries, 100)
    np.save(out / "base.f32.npy", base)
    np.save(out / "queries.f32.npy", queries)
    np.savez(out / "gt_top100.npz", none=gt.astype(np.int32))
    print(f"wrote {n:,} x {DIM} base vectors and {nq:,} queries to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
