#!/usr/bin/env python3
"""Summarise criterion results (target/criterion/**/new/estimates.json) as markdown.

Kernel groups are named `<kernel>/<dim>` with one benchmark per SIMD level; each row shows the
median time per call and the speed-up over the scalar baseline measured in the same run.
Throughput groups (exact search, memory) show the median time and bytes/s when criterion
recorded a byte throughput. Usage: criterion_summary.py [target/criterion] > out.md
"""

import json
import pathlib
import platform
import sys


def median_ns(bench_dir):
    est = json.loads((bench_dir / "new" / "estimates.json").read_text())
    return est["median"]["point_estimate"]


def throughput_bytes(bench_dir):
    meta = json.loads((bench_dir / "new" / "benchmark.json").read_text())
    tp = meta.get("throughput") or {}
    return tp.get("Bytes")


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    groups = {}
    for est in sorted(root.glob("**/new/estimates.json")):
        bench_dir = est.parent.parent
        rel = bench_dir.relative_to(root).parts
        if len(rel) < 2 or rel[0] == "report":
            continue
        group, name = "/".join(rel[:-1]), rel[-1]
        groups.setdefault(group, {})[name] = bench_dir

    print(f"Machine: {cpu_name()}, {platform.machine()}\n")
    kernel_rows, other_rows = [], []
    for group, benches in sorted(groups.items()):
        if "scalar" in benches:
            base = median_ns(benches["scalar"])
            for level in ["scalar", "simd128", "neon", "avx2", "avx512"]:
                if level in benches:
                    t = median_ns(benches[level])
                    kernel_rows.append(f"| {group} | {level} | {t:.1f} | {base / t:.2f}x |")
        else:
            for name, d in sorted(benches.items()):
                t = median_ns(d)
                b = throughput_bytes(d)
                rate = f"{b / t:.2f} GB/s" if b else ""
                other_rows.append(f"| {group}/{name} | {t / 1e6:.3f} | {rate} |")
    if kernel_rows:
        print("| kernel/dim | level | ns per call (median) | vs scalar |")
        print("|---|---|---:|---:|")
        print("\n".join(kernel_rows))
        print()
    if other_rows:
        print("| benchmark | ms (median) | throughput (10^9 bytes/s) |")
        print("|---|---:|---:|")
        print("\n".join(other_rows))


if __name__ == "__main__":
    main()
