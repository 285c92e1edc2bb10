#!/usr/bin/env python3
"""stratavec's HNSW beside hnswlib, usearch and FAISS on wordnet-minilm, measured in one run.

Every engine runs in its own process (so peak memory is its own) on the same data: it builds
with the same m / ef_construction on the same number of threads, alone, then answers the queries
on one thread over an ef sweep, each ef keeping the fastest of three passes (peers get the whole
query matrix in one call with one thread, so no Python overhead per query is charged to them).
The passes take turns: all engines stay open and sweep once each per round, so the machine's
drift over the minutes of a run falls on all of them alike (see `measure`). Recall@10 is against
the dataset's exact ground truth. Then each reopens its saved index as a server would and answers every query at
ef=64: the memory that adds is its serving RAM (stratavec: unquantized from a memory map, int8 and
binary in the disk tier, codes in memory and full vectors read from the file to rescore). Prints a
markdown report with ratios, and writes a recall/QPS plot.

Usage: hnsw_wordnet.py path/to/hnsw_bench [m] [ef_construction] [threads] [plot.png] [--data DIR]
       hnsw_wordnet.py --engine NAME m ef_construction threads     (one peer; JSON lines)

`--data DIR`: another set laid out like wordnet-minilm (base.f32.npy, queries.f32.npy,
gt_top100.npz), searched by Euclidean distance; `bench/synthetic.py` writes the seeded 1M x 128 one.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

WORDNET = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "wordnet-minilm"
# The data set and metric: wordnet (cosine) unless BENCH_DATA names another (Euclidean).
DATA = pathlib.Path(os.environ.get("BENCH_DATA", WORDNET))
EUCLID = DATA != WORDNET
EFS = [10, 16, 24, 32, 48, 64, 96, 128, 256]
# usearch-f16 and faiss-hnsw-fp16 store vectors as f16, as stratavec-f16 does: the like-for-like peers
# of that line (hnswlib stores f32 only).
PEERS = ["hnswlib", "usearch", "faiss-hnsw", "faiss-flat", "usearch-f16", "faiss-hnsw-fp16"]
TARGET = 0.95
# Each query sweep runs this many times for every engine and the fastest counts (as in
# ann-benchmarks): the pass least disturbed by the rest of the machine.
REPEATS = 3


def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def load():
    f32 = DATA / "base.f32.npy"
    base = np.load(f32 if f32.exists() else DATA / "base.f16.npy").astype(np.float32)
    queries = np.load(DATA / "queries.f32.npy").astype(np.float32)
    if not EUCLID:
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    gt = np.load(DATA / "gt_top100.npz")["none"][:, :10]
    return base, queries, gt


def recall(labels, gt):
    """Recall@10 against ground-truth rows padded with -1 where fewer points match."""
    found = sum(len(set(row.tolist()) & set(g.tolist()) - {-1}) for row, g in zip(labels, gt))
    return found / max(1, int((gt >= 0).sum()))


def matches(payload, condition):
    """Whether `payload` passes a filter of filters.json, in the Qdrant language: must / should /
    must_not of key conditions with `match` (value, any) or `range`. Anything else is refused, so a
    new filter in the data set stops the bench rather than being evaluated wrongly."""
    if condition is None:
        return True
    unknown = set(condition) - {"must", "should", "must_not", "key", "match", "range"}
    if unknown:
        raise SystemExit(f"bench filter evaluator: unsupported {sorted(unknown)}")
    if "key" in condition:
        value = payload.get(condition["key"])
        if "match" in condition:
            m = condition["match"]
            if "value" in m:
                return value == m["value"]
            if "any" in m:
                return value in m["any"]
            raise SystemExit(f"bench filter evaluator: unsupported match {m}")
        if "range" in condition:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            ops = {"gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
            return all(ops[op](bound) for op, bound in condition["range"].items())
        raise SystemExit(f"bench filter evaluator: a key condition without match or range: {condition}")
    return (
        all(matches(payload, c) for c in condition.get("must", []))
        and (not condition.get("should") or any(matches(payload, c) for c in condition["should"]))
        and not any(matches(payload, c) for c in condition.get("must_not", []))
    )


def filters():
    """[(name, selectivity, allowed-row mask)] for every filter of filters.json but `none`; each
    mask's size is checked against the count the data set states."""
    spec_file = DATA / "filters.json"
    if EUCLID or not spec_file.exists():
        return []
    specs = json.loads(spec_file.read_text())
    payloads = [json.loads(line) for line in open(DATA / "payload.jsonl")]
    out = []
    for name, spec in specs.items():
        if spec["filter"] is None:
            continue
        mask = np.fromiter((matches(p, spec["filter"]) for p in payloads), dtype=bool, count=len(payloads))
        if int(mask.sum()) != spec["matches"]:
            raise SystemExit(f"filter {name}: {int(mask.sum())} rows match, filters.json says {spec['matches']}")
        out.append((name, spec["selectivity"], mask))
    return out


def emit(**record):
    print(json.dumps(record), flush=True)


def take_turns(sweep):
    """Runs an engine's query sweep as hnsw_bench's `sweeps` does: under the coordinator
    (BENCH_TURNS set) one pass each time `go` arrives on stdin, until `done`; alone, REPEATS."""
    if "BENCH_TURNS" not in os.environ:
        sweep(REPEATS)
        return
    emit(event="ready")
    for line in sys.stdin:
        if line.strip() == "go":
            sweep(1)
            emit(event="turn")
        elif line.strip() == "done":
            return
        else:
            raise SystemExit(f"unknown bench command {line.strip()!r}")
    raise SystemExit('stdin closed before "done"')


def measure(runs, threads):
    """Runs every engine process with turns taken: each builds alone (the others wait, built
    or not started), then the query sweeps alternate between engines for REPEATS rounds, one
    pass of each sweep per turn and the starting engine rotating, and each engine's ef keeps its
    fastest pass; then each finishes (filtered searches, reopening) alone. The machine's slow
    drift (10-20% over minutes on shared virtual machines) so falls on every engine alike
    instead of on whichever ran in a slow stretch."""
    records, waiting = [], []
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), BENCH_TURNS="1")

    def until(proc, name, events):
        # Reads the engine's records up to one of `events`; None when it exits instead.
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("event") in events:
                return r["event"]
            records.append(r)
        if proc.wait() != 0:
            raise SystemExit(f"{name} failed (exit status {proc.returncode})")
        return None

    for name, cmd in runs:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        if until(proc, name, {"ready"}) is None:
            raise SystemExit(f"{name} exited before its query sweep")
        waiting.append((name, proc))
        print(f"built {name}", file=sys.stderr)
    for r in range(REPEATS):
        for name, proc in waiting[r % len(waiting) :] + waiting[: r % len(waiting)]:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            if until(proc, name, {"turn"}) is None:
                raise SystemExit(f"{name} exited during its query sweep")
        print(f"round {r + 1} of {REPEATS} swept", file=sys.stderr)
    for name, proc in waiting:
        proc.stdin.write("done\n")
        proc.stdin.close()
        until(proc, name, set())
        print(f"measured {name}", file=sys.stderr)
    # Each (engine, ef) keeps its fastest pass; recall is the same in every pass.
    best = {}
    for r in records:
        if r["event"] == "search":
            key = (r["engine"], r["ef"])
            if key not in best or r["qps"] > best[key]["qps"]:
                best[key] = r
    return [r for r in records if r["event"] != "search"] + list(best.values())


def peer(name, m, ef_c, threads):
    base, queries, gt = load()
    n, dim = base.shape
    tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"stratavec-bench-{name}-{os.getpid()}"
    before = kib("VmRSS:")
    t = time.perf_counter()
    if name == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="l2" if EUCLID else "ip", dim=dim)
        index.init_index(max_elements=n, M=m, ef_construction=ef_c, random_seed=1)
        index.add_items(base, np.arange(n), num_threads=threads)

        def search(ef):
            index.set_ef(ef)
            return index.knn_query(queries, k=10, num_threads=1)[0]

        def filtered(ef, mask, qs):
            # hnswlib's filter is a Python callable, called for each candidate the walk meets.
            index.set_ef(ef)
            allowed = mask.tolist()
            return index.knn_query(qs, k=10, num_threads=1, filter=allowed.__getitem__)[0]

        def reopen():
            index.save_index(str(tmp))
            t = time.perf_counter()
            again = hnswlib.Index(space="l2" if EUCLID else "ip", dim=dim)
            again.load_index(str(tmp))
            again.knn_query(queries[:1], k=10)
            opened = time.perf_counter() - t
            again.set_ef(64)
            again.knn_query(queries, k=10, num_threads=1)
            return opened, kib("VmRSS:")
    elif name in ("usearch", "usearch-f16"):
        from usearch.index import Index

        dtype = "f16" if name == "usearch-f16" else "f32"
        index = Index(ndim=dim, metric="l2sq" if EUCLID else "ip", dtype=dtype, connectivity=m, expansion_add=ef_c)
        index.add(np.arange(n), base, threads=threads)

        def search(ef):
            index.expansion_search = ef
            return index.search(queries, 10, threads=1).keys

        filtered = None  # usearch's Python API has no filtered search (its C++ predicate is not exposed)

        def reopen():
            index.save(str(tmp))
            t = time.perf_counter()
            again = Index.restore(str(tmp), view=True)
            again.search(queries[:1], 10)
            opened = time.perf_counter() - t
            again.expansion_search = 64
            again.search(queries, 10, threads=1)
            return opened, kib("VmRSS:")
    elif name in ("faiss-hnsw", "faiss-flat", "faiss-hnsw-fp16"):
        import faiss

        faiss.omp_set_num_threads(threads)
        metric = faiss.METRIC_L2 if EUCLID else faiss.METRIC_INNER_PRODUCT
        hnsw = name != "faiss-flat"
        if name == "faiss-hnsw":
            index = faiss.IndexHNSWFlat(dim, m, metric)
        elif name == "faiss-hnsw-fp16":
            # FAISS's HNSW over vectors stored as f16 (a scalar quantizer without training).
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, m, metric)
            index.train(base)
        else:
            index = faiss.IndexFlatL2(dim) if EUCLID else faiss.IndexFlatIP(dim)
        if hnsw:
            index.hnsw.efConstruction = ef_c
        index.add(base)

        def search(ef):
            faiss.omp_set_num_threads(1)
            if hnsw:
                index.hnsw.efSearch = ef
            return index.search(queries, 10)[1]

        def filtered(ef, mask, qs):
            # An IDSelectorBitmap over the allowed rows, checked inside FAISS's own loops.
            faiss.omp_set_num_threads(1)
            bits = np.packbits(mask, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            if hnsw:
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
            else:
                params = faiss.SearchParameters(sel=sel)
            return index.search(qs, 10, params=params)[1]

        def reopen():
            faiss.write_index(index, str(tmp))
            t = time.perf_counter()
            again = faiss.read_index(str(tmp), faiss.IO_FLAG_MMAP)
            again.search(queries[:1], 10)
            opened = time.perf_counter() - t
            if hnsw:
                again.hnsw.efSearch = 64
            again.search(queries, 10)
            return opened, kib("VmRSS:")
    else:
        raise SystemExit(f"unknown engine {name}")
    build = time.perf_counter() - t
    memory = (kib("VmHWM:") - before) / 1024
    emit(engine=name, event="build", seconds=build, memory_mib=memory, threads=threads)

    def sweep(passes):
        for ef in EFS if name != "faiss-flat" else [0]:
            secs = float("inf")
            for _ in range(passes):
                t = time.perf_counter()
                labels = search(ef)
                secs = min(secs, time.perf_counter() - t)
            emit(engine=name, event="search", ef=ef, qps=len(queries) / secs, recall=recall(labels, gt))

    take_turns(sweep)
    if filtered is not None:
        gts = np.load(DATA / "gt_top100.npz")
        for fname, selectivity, mask in filters():
            # hnswlib calls back into Python per candidate: one pass over a quarter of the queries.
            qs, repeats = (queries[: len(queries) // 4], 1) if name == "hnswlib" else (queries, REPEATS)
            ef = 64 if name != "faiss-flat" else 0
            secs = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                labels = filtered(ef, mask, qs)
                secs = min(secs, time.perf_counter() - t)
            emit(
                engine=name,
                event="filtered",
                filter=fname,
                selectivity=selectivity,
                ef=ef,
                qps=len(qs) / secs,
                recall=recall(labels, gts[fname][: len(qs), :10]),
            )
    # RSS is read inside reopen(), while the reopened index is alive.
    before = kib("VmRSS:")
    opened, after = reopen()
    emit(engine=name, event="open", seconds=opened)
    emit(engine=name, event="serve", tier="loaded", memory_mib=(after - before) / 1024)
    tmp.unlink(missing_ok=True)


def at_recall(points, target):
    """Queries/s at `target` recall, interpolated along the engine's curve; None if never reached."""
    pts = sorted((p["recall"], p["qps"]) for p in points)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1:
            return q0 if r1 == r0 else q0 + (q1 - q0) * (target - r0) / (r1 - r0)
    if pts and pts[0][0] >= target:
        return max(q for r, q in pts if r >= target)
    return None


def main():
    global DATA, EUCLID
    if sys.argv[1] == "--engine":
        peer(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    args = sys.argv[1:]
    data = []
    if "--data" in args:
        at = args.index("--data")
        data = ["--data", args[at + 1]]
        os.environ["BENCH_DATA"] = args[at + 1]
        DATA, EUCLID = pathlib.Path(args[at + 1]), True
        del args[at : at + 2]
    exe = args[0]
    m = int(args[1]) if len(args) > 1 else 16
    ef_c = int(args[2]) if len(args) > 2 else 200
    threads = int(args[3]) if len(args) > 3 else 2
    plot = args[4] if len(args) > 4 else None
    runs = [
        ("stratavec", [exe, str(m), str(ef_c)] + data),
        ("stratavec-int8", [exe, str(m), str(ef_c), "int8"] + data),
        ("stratavec-binary", [exe, str(m), str(ef_c), "binary"] + data),
        ("stratavec-f16", [exe, str(m), str(ef_c), "f16"] + data),
    ]
    runs += [(p, [sys.executable, __file__, "--engine", p, str(m), str(ef_c), str(threads)]) for p in PEERS]
    records = measure(runs, threads)
    ours = ["stratavec", "stratavec-int8", "stratavec-binary", "stratavec-f16"]
    # The tiers stratavec serves its snapshot from (mmap; disk with codes, at the default
    # oversampling, at half and at two fifths of it), in the order measured.
    served = [r["engine"] for r in records if r["event"] == "serve" and r["engine"].startswith("stratavec")]
    engines = ours + PEERS

    def get(e, ev):
        return [r for r in records if r["engine"] == e and r["event"] == ev]

    build = {e: get(e, "build")[0] for e in engines}
    opened = {e: get(e, "open")[0]["seconds"] for e in engines}
    at = {e: at_recall(get(e, "search"), TARGET) for e in engines}

    shape = np.load(
        DATA / ("base.f32.npy" if (DATA / "base.f32.npy").exists() else "base.f16.npy"), mmap_mode="r"
    ).shape
    print(
        f"# HNSW on {DATA.name} ({shape[0]:,} x {shape[1]}, {'euclid' if EUCLID else 'cosine'}), "
        f"m={m}, ef_construction={ef_c}\n"
    )
    print(
        f"Build on {threads} threads; queries on one thread; recall@10 against exact ground truth; "
        "all engines in one run on the same machine.\n"
    )
    print(
        "| engine | build s | build ratio | memory MiB | open s | QPS at recall 0.95 | "
        + " | ".join(f"{o} / engine" for o in ours)
        + " |"
    )
    print("|---|---:|---:|---:|---:|---:|" + "---:|" * len(ours))
    for e in engines:
        q = at[e]
        ratios = [f"{at[o] / q:.2f}x" if q and at[o] else "-" for o in ours]
        qps = f"{q:.0f}" if q else "not reached"
        b = build[e]
        print(
            f"| {e} | {b['seconds']:.1f} | {build['stratavec']['seconds'] / b['seconds']:.2f}x | "
            f"{b['memory_mib']:.0f} | {opened[e]:.3f} | {qps} | " + " | ".join(ratios) + " |"
        )
    print(
        "\nBuild ratio = stratavec time / engine time (below 1 is faster); QPS ratio = stratavec / engine "
        "(above 1 is faster). faiss-flat is exact search (recall 1.0).\n"
    )
    print("| ef | " + " | ".join(f"{e} QPS / recall" for e in engines if e != "faiss-flat") + " |")
    print("|---:|" + "---:|" * (len(engines) - 1))
    for ef in EFS:
        cells = []
        for e in engines:
            if e == "faiss-flat":
                continue
            r = [x for x in get(e, "search") if x["ef"] == ef][0]
            cells.append(f"{r['qps']:.0f} / {r['recall']:.4f}")
        print(f"| {ef} | " + " | ".join(cells) + " |")
    print(
        "\nServing: each engine reopens its saved index and answers every query at ef=64; RAM is what "
        "that adds to the process (RSS after minus before); open s is the time to open it and answer a first "
        "query. stratavec's QPS here is measured on the reopened snapshot in that tier; the peers' is their "
        "in-memory curve.\n"
    )
    print("| engine | tier | open s | serving RAM MiB | RAM / hnswlib | QPS at recall 0.95 | QPS / hnswlib |")
    print("|---|---|---:|---:|---:|---:|---:|")
    ram = {r["engine"]: r for r in records if r["event"] == "serve"}
    opened = {r["engine"]: r["seconds"] for r in records if r["event"] == "open"}
    for e in served:
        at[e] = at_recall(get(e, "search"), TARGET)
    for e in served + PEERS:
        q = at[e]
        base_ram, base_q = ram["hnswlib"]["memory_mib"], at["hnswlib"]
        open_s = ram[e].get("open_seconds", opened.get(e))
        print(
            f"| {e} | {ram[e]['tier']} | {f'{open_s:.3f}' if open_s is not None else '-'} | "
            f"{ram[e]['memory_mib']:.0f} | {ram[e]['memory_mib'] / base_ram:.2f} | "
            f"{f'{q:.0f}' if q else 'not reached'} | {f'{q / base_q:.2f}x' if q and base_q else '-'} |"
        )
    flat = get("faiss-flat", "search")[0]
    print(f"\nfaiss-flat (exact, one thread): {flat['qps']:.0f} QPS, recall {flat['recall']:.4f}\n")
    for o in ours:
        filtered = get(o, "filtered")
        if not filtered:
            continue
        swept = [x for x in get(o, "search") if x["ef"] == 64][0]["qps"]
        # The unfiltered search measured in the same phase (filter `none`), on the same
        # collection at the same time, is the fair reference: the sweep ran minutes earlier,
        # before payloads and indexes were added, and single runs drift by 10-20% here.
        beside = [r["qps"] for r in filtered if r["filter"] == "none"]
        unfiltered = beside[0] if beside else swept
        made = get(o, "payload_indexes")
        made = f" (made in {made[0]['seconds']:.1f} s, value graphs included)" if made else ""
        print(
            f"Filtered search, {o}, ef=64, payload indexes on the filtered keys{made} (recall against "
            "the filter's exact ground truth; QPS / unfiltered compares with the unfiltered search "
            f"at ef=64 measured in the same phase, row `none`; the sweep's ef=64 gave {swept:.0f} QPS):\n"
        )
        print("| filter | selectivity | recall@10 | QPS | QPS / unfiltered |")
        print("|---|---:|---:|---:|---:|")
        for r in filtered:
            print(
                f"| {r['filter']} | {r['selectivity']} | {r['recall']:.4f} | {r['qps']:.0f} | "
                f"{r['qps'] / unfiltered:.2f} |"
            )
        print()
    peers_filtered = [p for p in PEERS if get(p, "filtered")]
    if get("stratavec", "filtered") and peers_filtered:
        names = ["stratavec", "stratavec-int8", "stratavec-f16"] + peers_filtered
        print(
            "Filtered search beside the peers, ef=64 (faiss-flat: exact), QPS / recall@10; the ratio "
            "columns are stratavec f32 QPS / engine QPS. hnswlib filters through a Python callable "
            "(its only filtered API from Python), timed once over a quarter of the queries; FAISS "
            "through an IDSelectorBitmap; usearch's Python API has no filtered search.\n"
        )
        print(
            "| filter | selectivity | "
            + " | ".join(names)
            + " | "
            + " | ".join(f"/ {p}" for p in peers_filtered)
            + " |"
        )
        print("|---|---:|" + "---:|" * (len(names) + len(peers_filtered)))
        cell = {(r["engine"], r["filter"]): r for r in records if r["event"] == "filtered"}
        for r in get("stratavec", "filtered"):
            f = r["filter"]
            row = [
                f"{cell[(e, f)]['qps']:.0f} / {cell[(e, f)]['recall']:.3f}" if (e, f) in cell else "-" for e in names
            ]
            ratios = [f"{r['qps'] / cell[(p, f)]['qps']:.2f}x" if (p, f) in cell else "-" for p in peers_filtered]
            print(f"| {f} | {r['selectivity']} | " + " | ".join(row) + " | " + " | ".join(ratios) + " |")
        print()
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 5))
        # More lines than the default ten colours: twenty, so none repeats.
        ax.set_prop_cycle(color=plt.cm.tab20.colors)
        for e in engines + served:
            pts = sorted((x["recall"], x["qps"]) for x in get(e, "search"))
            style = "--" if e in served else "-"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=e)
        ax.set_xlabel("recall@10")
        ax.set_ylabel("queries/s, one thread")
        ax.set_yscale("log")
        ax.set_title(f"{DATA.name}, m={m}, ef_construction={ef_c}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        print(f"\nPlot: {plot}")


if __name__ == "__main__":
    main()
