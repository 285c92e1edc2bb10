"""The main job end to end, from Python (`make demo`).

Ingests the shared wordnet-minilm set (115,659 sentence embeddings with payloads) when it is
present, or else a seeded synthetic set (said plainly); builds the HNSW index; runs unfiltered and
filtered searches showing the texts found; measures recall@10 against exact search and latency;
writes a snapshot, reopens it and shows it answers the same.

`--synthetic N` uses N synthetic points even when the shared set is present (the tests run it so).
"""

import argparse
import json
import pathlib
import sys
import tempfile
import time

import numpy as np

import stratavec as sv

WORDNET = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "wordnet-minilm"


def load(synthetic=None):
    """(name, base, payloads, queries, query texts)."""
    if synthetic is None and (WORDNET / "base.f16.npy").exists():
        base = np.load(WORDNET / "base.f16.npy")
        payloads = [json.loads(line) for line in open(WORDNET / "payload.jsonl")]
        for p in payloads:
            del p["id"]
        queries = np.load(WORDNET / "queries.f32.npy")
        texts = [json.loads(line)["text"] for line in open(WORDNET / "queries.jsonl")]
        return "wordnet-minilm", base, payloads, queries, texts
    why = "as asked" if synthetic is not None else f"{WORDNET} is not present"
    print(
        f"{why}: using a seeded SYNTHETIC set (random vectors around 200 centres, "
        "made-up payloads; the texts below mean nothing)"
    )
    rng = np.random.default_rng(2026)
    n, dim = synthetic or 50_000, 384
    centres = rng.standard_normal((200, dim)).astype(np.float32)
    labels = rng.integers(0, 200, n)
    base = centres[labels] + 0.3 * rng.standard_normal((n, dim), dtype=np.float32)
    pos = ["noun", "verb", "adj", "adv"]
    payloads = [
        {
            "text": f"synthetic point {i} of cluster {c}",
            "pos": pos[c % 4],
            "lexname": f"cluster.{c}",
            "n_lemmas": int(c % 6) + 1,
        }
        for i, c in enumerate(labels.tolist())
    ]
    qlabels = rng.integers(0, 200, 200)
    queries = centres[qlabels] + 0.3 * rng.standard_normal((200, dim), dtype=np.float32)
    texts = [f"synthetic query near cluster {c}" for c in qlabels.tolist()]
    return "synthetic", base, payloads, queries, texts


def show(hits):
    for h in hits:
        print(f"    {h.id:>7}  {h.score:.3f}  {h.payload['text'][:90]}")


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, metavar="N", help="use N synthetic points instead of wordnet-minilm")
    args = parser.parse_args()
    name, base, payloads, queries, texts = load(args.synthetic)
    n, dim = base.shape
    print(f"stratavec {sv.__version__}: {name}, {n:,} vectors of dimension {dim}, cosine\n")
    with tempfile.TemporaryDirectory() as tmp:
        db = sv.connect(pathlib.Path(tmp) / "demo.db")
        col = db.create_collection("docs", dim=dim, metric="cosine", index=sv.HNSW(m=16, ef_construction=200))
        t = time.perf_counter()
        col.upsert(np.arange(n), base, payloads, progress=True)
        col.optimize()
        print(f"ingested and indexed in {time.perf_counter() - t:.1f} s (durable folder, HNSW m=16)")
        for key, kind in [("pos", "keyword"), ("lexname", "keyword"), ("n_lemmas", "integer")]:
            col.create_payload_index(key, kind)
        print(col, "\n")

        # A query with an everyday topic (the first whose text names one), else the first.
        pick = next((i for i, t in enumerate(texts) if any(w in t for w in ("music", "river", "bird", "dog"))), 0)
        q = queries[pick]
        print(f"query: {texts[pick]!r}")
        show(col.search(q, k=5))
        adverbs = sv.Field("pos") == "adv"
        print(f"\nthe same query, filter pos == 'adv' ({col.count(adverbs):,} points pass):")
        show(col.search(q, k=5, filter=adverbs))
        rich = (sv.Field("n_lemmas") >= 4) & ~(sv.Field("pos") == "noun")
        print(f"\nfilter n_lemmas >= 4 and not a noun ({col.count(rich):,} points pass):")
        show(col.search(q, k=5, filter=rich))

        nq = min(len(queries), 1000)
        exact, _ = col.search(queries[:nq], k=10, exact=True)
        print(f"\nrecall@10 against exact search over {nq} queries, one thread:")
        for ef in [16, 32, 64, 128]:
            t = time.perf_counter()
            for row in queries[:nq]:
                col.search(row, k=10, ef=ef, with_payload=False)
            single = (time.perf_counter() - t) / nq
            t = time.perf_counter()
            ids, _ = col.search(queries[:nq], k=10, ef=ef)
            batch = (time.perf_counter() - t) / nq
            print(
                f"  ef={ef:<4} recall {recall(ids, exact):.4f}   latency {single * 1e6:7.1f} us per query "
                f"(one at a time), {batch * 1e6:7.1f} us per query in a batch"
            )

        path = pathlib.Path(tmp) / "docs.svdb"
        col.snapshot(path)
        print(f"\nsnapshot written: {path.name}, {path.stat().st_size / 2**20:.1f} MiB")
        before = col.search(queries[:50], k=10)
        db.close()
        snap = sv.open_snapshot(path)
        after = snap.search(queries[:50], k=10)
        same = np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
        print(f"reopened read-only from the file: {snap}")
        print(f"same ids and scores for 50 queries as before the snapshot: {'yes' if same else 'NO'}")
        show(snap.search(q, k=3))
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
