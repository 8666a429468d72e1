"""CPU per job by process group: the engine's cost, steadier than rates on a shared machine.

    python tests/bench/bench_engine_cpu.py [N]      # N batched hello jobs, then N/2 one per request

Same stack as ``bench_engine.py``; reads /proc for the API, the worker (with its pool) and the
PostgreSQL backends of the benchmark's database. Run it with another checkout as the working
directory to measure that version of the engine in the same sitting.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.getcwd()
sys.path.insert(0, ROOT)

from tests.bench.bench_engine import Http, until  # noqa: E402
from tests.support.benchstack import BenchStack  # noqa: E402
from tests.support.machine import cpu_seconds, process_tree  # noqa: E402


def postgres_cpu(stack: BenchStack) -> dict[int, float]:
    """CPU seconds of each backend connected to the benchmark's database (not this one)."""
    pids = [r[0] for r in stack.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                      " AND pid <> pg_backend_pid()")]
    return {p: cpu_seconds([p]) for p in pids}


def succeeded(stack: BenchStack) -> int:
    return stack.query("SELECT count(*) FROM jobs WHERE status = 'succeeded'")[0][0]


def measure(stack: BenchStack, key: str, mode: str, n: int) -> str:
    def cpu(name: str) -> float:
        return cpu_seconds(process_tree(stack.procs[name].pid))

    base, before, pg_before = succeeded(stack), {k: cpu(k) for k in ("web", "worker")}, postgres_cpu(stack)
    local = threading.local()

    def post(body: dict) -> None:
        if not hasattr(local, "client"):
            local.client = Http(stack.url, key)
        local.client.call("POST", "/v1/jobs", body)

    start = time.perf_counter()
    if mode == "batched":
        for _ in range(0, n, 500):
            post({"jobs": [{"type": "hello", "params": {"name": "x"}}] * 500})
    else:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda _i: post({"type": "hello", "params": {"name": "s"}}), range(n)))
    until(lambda: succeeded(stack) >= base + n, "jobs to succeed")
    rate = n / (time.perf_counter() - start)
    after, pg_after = {k: cpu(k) for k in ("web", "worker")}, postgres_cpu(stack)
    pg = sum(v - pg_before.get(p, 0.0) for p, v in pg_after.items())
    per_job = ", ".join(f"{k} {1000 * (after[k] - before[k]) / n:.2f}" for k in before)
    return f"{checkout()} {mode}, n={n}: {rate:.0f} jobs/s; CPU ms per job: {per_job}, postgres {1000 * pg / n:.2f}"


def checkout() -> str:
    """Which checkout was measured."""
    return os.path.basename(ROOT)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    with BenchStack() as stack:
        stack.web()
        stack.worker("default", 2)
        stack.beat()
        key = stack.key()
        time.sleep(3)  # boot, outside the measurement
        for mode, count in (("batched", n), ("one per request", n // 2)):
            print(measure(stack, key, mode, count))


if __name__ == "__main__":
    main()
