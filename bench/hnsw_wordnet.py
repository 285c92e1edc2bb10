#!/usr/bin/env python3
"""stratavec's HNSW beside hnswlib on wordnet-minilm, measured in one run.

Both build with the same m / ef_construction on one thread, then answer the 2,000 queries one
at a time on one thread over the same ef sweep; recall@10 is against the dataset's exact ground
truth. Prints a markdown table with the ratios. Usage:
  hnsw_wordnet.py path/to/hnsw_bench [m] [ef_construction]
"""
import json
import pathlib
import subprocess
import sys
import time

import hnswlib
import numpy as np

DATA = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "wordnet-minilm"
EFS = [10, 16, 32, 64, 128, 256]


def hnswlib_run(m, ef_c):
    base = np.load(DATA / "base.f16.npy").astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = np.load(DATA / "queries.f32.npy").astype(np.float32)
    gt = np.load(DATA / "gt_top100.npz")["none"][:, :10]
    index = hnswlib.Index(space="cosine", dim=base.shape[1])
    index.set_num_threads(1)
    t = time.perf_counter()
    index.init_index(max_elements=base.shape[0], M=m, ef_construction=ef_c, random_seed=1)
    index.add_items(base, np.arange(base.shape[0]), num_threads=1)
    out = [{"engine": "hnswlib", "event": "build", "seconds": time.perf_counter() - t}]
    for ef in EFS:
        index.set_ef(ef)
        t = time.perf_counter()
        labels = [index.knn_query(q, k=10, num_threads=1)[0][0] for q in queries]
        secs = time.perf_counter() - t
        found = sum(len(set(l.tolist()) & set(g.tolist())) for l, g in zip(labels, gt))
        out.append({"engine": "hnswlib", "event": "search", "ef": ef, "qps": len(queries) / secs,
                    "recall": found / (10 * len(queries))})
    return out


def main():
    exe = sys.argv[1]
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    ef_c = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    ours = [json.loads(l) for l in subprocess.run([exe, str(m), str(ef_c)], check=True, capture_output=True,
                                                   text=True).stdout.splitlines() if l.startswith("{")]
    theirs = hnswlib_run(m, ef_c)
    build = {r["engine"]: r["seconds"] for r in ours + theirs if r["event"] == "build"}
    print(f"wordnet-minilm, {m=}, ef_construction={ef_c}, one thread for build and queries\n")
    print(f"| build | stratavec {build['stratavec']:.1f} s | hnswlib {build['hnswlib']:.1f} s | "
          f"time ratio {build['stratavec'] / build['hnswlib']:.2f}x |\n")
    print("| ef | stratavec QPS | recall@10 | hnswlib QPS | recall@10 | QPS ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    s = {r["ef"]: r for r in ours if r["event"] == "search"}
    h = {r["ef"]: r for r in theirs if r["event"] == "search"}
    for ef in EFS:
        print(f"| {ef} | {s[ef]['qps']:.0f} | {s[ef]['recall']:.4f} | {h[ef]['qps']:.0f} | {h[ef]['recall']:.4f} | "
              f"{s[ef]['qps'] / h[ef]['qps']:.2f}x |")


if __name__ == "__main__":
    main()
