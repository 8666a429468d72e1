"""Benchmark goeBURST (chunked) against a straightforward O(n^2)-memory numpy version.

Run: ``python tests/bench/bench_goeburst.py [--lvs 1 3 loci] [--sizes 1000 ... 50000]``
(``loci``: lvs = the number of loci, a full tree, where nearly every pair is a candidate).
Each case runs in a fresh child process that reports its own peak RSS (ru_maxrss),
so runs do not see each other's memory. n = 1k..15k are phyloDB's S. pneumoniae sets;
50k is synthetic (real profiles mutated at 1-3 loci, seeded). The naive version is
skipped where its n x n x loci temporaries would pass ~8 GB; both results are checked
to be identical where both run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.phylo.goeburst import goeburst  # noqa: E402
from shared.phylo.mlst import MISSING, ProfileSet, parse_profiles  # noqa: E402
from shared.phylo.radial import radial  # noqa: E402
from tests.support.data import MissingData, mlst  # noqa: E402
from tests.support.machine import cpu_model  # noqa: E402

REAL = {1000: "1000", 2000: "2000", 5000: "5000", 10000: "10000", 15000: "15000"}
NAIVE_LIMIT = 8 << 30


def naive(ps: ProfileSet, lvs: int) -> list[tuple[str, str, int]]:
    """Full distance matrix, one lexsort over all candidates, plain Kruskal."""
    m, n = ps.matrix, len(ps.ids)
    a, b = m[:, None, :], m[None, :, :]
    dist = ((a != b) | (a == MISSING) | (b == MISSING)).sum(axis=2)
    lv = np.stack([(dist == k).sum(axis=1) for k in range(1, lvs + 1)], axis=1)
    i, j = np.nonzero(np.triu((dist > 0) & (dist <= lvs), 1))
    d = dist[i, j]
    rank = np.empty(n, np.int64)
    rank[sorted(range(n), key=lambda k: (len(ps.ids[k]), ps.ids[k]))] = np.arange(n)
    keys = [np.maximum(rank[i], rank[j]), i]  # (no isolate data here: those keys tie)
    for k in reversed(range(lvs)):
        keys += [-np.minimum(lv[i, k], lv[j, k]), -np.maximum(lv[i, k], lv[j, k])]
    order = np.lexsort(keys + [d])
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        return x

    out = []
    for x, y, w in zip(i[order].tolist(), j[order].tolist(), d[order].tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[ry] = rx
            out.append((ps.ids[x], ps.ids[y], w))
            if len(out) == n - 1:
                break
    return out


def synthetic(n: int, seed: int = 7) -> str:
    """n profiles: the 15k real ones plus mutants of them (1-3 loci changed)."""
    base = parse_profiles(mlst("phylodb_profiles_15000.tsv").read_bytes())
    rng = np.random.default_rng(seed)
    rows = [base.matrix]
    extra = n - len(base.ids)
    parents = base.matrix[rng.integers(0, len(base.ids), extra)].copy()
    for row in parents:
        loci = rng.choice(row.size, rng.integers(1, 4), replace=False)
        row[loci] = rng.integers(1, 2000, loci.size)
    rows.append(parents)
    matrix = np.concatenate(rows)[:n]
    lines = ["ST\t" + "\t".join(base.loci)]
    lines += [f"{k + 1}\t" + "\t".join(map(str, r)) for k, r in enumerate(matrix.tolist())]
    return "\n".join(lines) + "\n"


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(path: str, lvs_arg: str, kind: str) -> None:
    t0 = time.perf_counter()
    ps = parse_profiles(Path(path).read_bytes())
    parse_s = time.perf_counter() - t0
    lvs = len(ps.loci) if lvs_arg == "loci" else int(lvs_arg)
    base = rss_now()
    result: dict = {"n": len(ps.ids), "lvs": lvs, "parse_s": parse_s, "base_rss": base}
    if kind == "fast":
        runs = 3 if len(ps.ids) <= 15000 else 1
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            forest = goeburst(ps, lvs)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        radial(forest)
        result |= {"time_s": min(times), "radial_s": time.perf_counter() - t0}
        result["edges"] = [list(e) for e in forest.edges]
        result["groups"] = len(forest.groups)
    else:
        t0 = time.perf_counter()
        edges = naive(ps, lvs)
        result |= {"time_s": time.perf_counter() - t0, "edges": [list(e) for e in edges]}
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


def run(path: str, lvs: str, kind: str) -> dict:
    cmd = [sys.executable, __file__, "--child", path, str(lvs), kind]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = cpu_model()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{datetime.datetime.now().isoformat(timespec='seconds')} | nproc {os.cpu_count()} | "
        f"{cpu} | {mem:.0f} GiB | Python {platform.python_version()} | numpy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lvs", nargs="+", default=["1", "3", "loci"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[*REAL, 50000])
    args = parser.parse_args()
    print(machine())
    mb = 2**20
    head = (
        "| n | lvs | links | trees | goeBURST s | peak RSS MB (Δ) | naive s | naive peak RSS MB (Δ)"
        " | same | radial s |"
    )
    print(head)
    print("|---" * 10 + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            try:
                if size in REAL:
                    path = str(mlst(f"phylodb_profiles_{REAL[size]}.tsv"))
                else:
                    path = str(Path(tmp) / f"synthetic_{size}.tsv")
                    Path(path).write_text(synthetic(size))
            except MissingData as exc:
                print(f"| {size} | skipped: {exc} |", flush=True)
                continue
            for lvs in args.lvs:
                fast = run(path, lvs, "fast")
                n = fast["n"]
                naive_bytes = n * n * (2 * 7 + 8 + 2)  # two n x n x 7 bools, int64 sums
                if lvs == "loci":  # and every pair a candidate, with its sort keys
                    naive_bytes += n * n // 2 * 8 * (2 * fast["lvs"] + 4)
                if naive_bytes > NAIVE_LIMIT:
                    slow_cols = f"skipped (~{naive_bytes / 2**30:.0f} GB)", "-", "-"
                else:
                    slow = run(path, lvs, "naive")
                    same = "yes" if slow["edges"] == fast["edges"] else "NO"
                    slow_cols = (
                        f"{slow['time_s']:.2f}",
                        f"{slow['peak_rss'] / mb:.0f} ({(slow['peak_rss'] - slow['base_rss']) / mb:.0f})",
                        same,
                    )
                print(
                    f"| {n} | {fast['lvs']}{' (loci)' if lvs == 'loci' else ''} | {len(fast['edges'])} | {fast['groups']} | "
                    f"{fast['time_s']:.2f} | {fast['peak_rss'] / mb:.0f} "
                    f"({(fast['peak_rss'] - fast['base_rss']) / mb:.0f}) | "
                    f"{slow_cols[0]} | {slow_cols[1]} | {slow_cols[2]} | {fast['radial_s']:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
