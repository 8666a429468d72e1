"""Benchmark callback delivery: deliveries per second to a local receiver, and the delivery lag
(receipt at the receiver minus the job's ``finished_at``) at p50 / p99.

Run: ``python tests/bench/bench_callbacks.py [--jobs 500] [--concurrency 2]``. Needs PostgreSQL
and Redis (``JOBLINE_TEST_PG``, ``JOBLINE_TEST_REDIS``, as the tests); it starts a database,
worker and beat of its own. Baselines in the same run: the same jobs without callbacks (what
the engine does anyway), and signed POSTs from one process straight to the receiver (no
queue, no database: the ceiling of one sender).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.apps.callbacks import send_webhook, signed_headers  # noqa: E402
from shared.engine.fetch import Policy  # noqa: E402
from tests.support.callbacks import Receiver, Stack, wait_for  # noqa: E402
from tests.support.machine import cpu_model  # noqa: E402

PG = os.environ.get("JOBLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("JOBLINE_TEST_REDIS", "redis://127.0.0.1:6379/13")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_jobs(stack: Stack, account, n: int, callback: str | None) -> tuple[list[dict], float, float]:
    """Create ``n`` hello jobs in one batch; (rows when finished, start, end of the last job)."""
    rt = stack.runtime
    specs = [rt.jobs.spec("hello", {"name": f"n{i}"}, callback_url=callback) for i in range(n)]
    start = time.time()
    rows = rt.jobs.create(account, specs)
    ids = [r["id"] for r in rows]
    done = wait_for(lambda: (lambda rs: rs if all(r["status"] == "succeeded" for r in rs) else None)(
        rt.store.get_many(ids)), timeout=600, interval=0.2)
    return done, start, max(r["finished_at"].timestamp() for r in done)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=2, help="worker processes (all queues)")
    args = p.parse_args()
    receiver = Receiver()
    stack = Stack(PG, REDIS, Path(tempfile.mkdtemp(prefix="bench-callbacks-")), log_level="WARNING")
    results = []
    try:
        stack.start(args.concurrency)
        account, _key = stack.account()
        run_jobs(stack, account, 20, None)  # warm the worker processes up

        rows, start, last = run_jobs(stack, account, args.jobs, None)
        results.append(("jobs, no callback (baseline)", args.jobs, args.jobs / (last - start), None, None))

        url = receiver.plan("/bench")
        rows, start, _last = run_jobs(stack, account, args.jobs, url)
        arrived = {json.loads(r.body)["job_id"]: r.at for r in receiver.wait_for("/bench", args.jobs, timeout=600)}
        finished = {str(r["public_id"]): r["finished_at"].timestamp() for r in rows}
        lags = [(arrived[j] - finished[j]) * 1000 for j in finished]
        first_done = min(finished.values())
        rate = args.jobs / (max(arrived.values()) - first_done)
        results.append(("callbacks through the engine", args.jobs, rate, pct(lags, 50), pct(lags, 99)))
        results.append(("  (jobs + callbacks, end to end)", args.jobs, args.jobs / (max(arrived.values()) - start),
                        None, None))

        policy = Policy(allow=("127.0.0.0/8",), max_redirects=0)
        body = json.dumps({"job_id": "x", "status": "completed", "output": "Hello", "job": {}})
        secret = stack.runtime.db.one("get_webhook", account_id=account.id)["secret"]
        direct_url = receiver.plan("/direct")
        t0, times = time.time(), []
        for i in range(args.jobs):
            s = time.perf_counter()
            now = datetime.datetime.now(datetime.UTC)
            assert send_webhook(direct_url, body, signed_headers(secret, f"m{i}", body, now), policy).ok
            times.append((time.perf_counter() - s) * 1000)
        results.append(("signed POSTs, one process, no queue (ceiling)", args.jobs,
                        args.jobs / (time.time() - t0), pct(times, 50), pct(times, 99)))
    finally:
        stack.stop()
        receiver.close()

    print(f"\nCallback delivery benchmark — {datetime.date.today()} — {os.cpu_count()} CPUs "
          f"({cpu_model()}), Python {platform.python_version()}, worker -c {args.concurrency} on all queues\n")
    print(f"| {'scenario':48} | {'n':>5} | {'per second':>10} | {'p50 ms':>8} | {'p99 ms':>8} |")
    print(f"| {'-' * 48} | {'-' * 5}:| {'-' * 10}:| {'-' * 8}:| {'-' * 8}:|")
    for name, n, rate, p50, p99 in results:
        cells = [f"{v:8.1f}" if v is not None else " " * 8 for v in (p50, p99)]
        print(f"| {name:48} | {n:5d} | {rate:10.1f} | {cells[0]} | {cells[1]} |")
    print("\nCallbacks: per second = deliveries / (last receipt − first job finished); "
          "p50/p99 = delivery lag after the job finished.\nCeiling: time per POST.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
