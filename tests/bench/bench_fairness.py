"""Fairness across accounts: one account's backlog must not hold up another's new jobs.

    python tests/bench/bench_fairness.py [--backlog 20000] [--late 10] [--concurrency 2]

Account A creates ``--backlog`` hello jobs (batches of 500), then account B creates
``--late`` jobs, one per request, while A's backlog drains. B's wait is each job's
``started_at - created_at``. The same run also gives what first-come-first-served order (the
engine before issue 16: one Redis list per priority, popped in order) would have made B
wait: for each of B's jobs, until the last of A's jobs created before it had started. Same
stack as ``bench_engine.py`` (``tests/support/benchstack.py``). Prints a table and appends
it to BENCHMARKS.md with the date and machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_engine import Http, until  # noqa: E402
from tests.support.benchstack import BenchStack, machine, percentile  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backlog", type=int, default=20000)
    ap.add_argument("--late", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=2)
    args = ap.parse_args()
    with BenchStack() as stack:
        url = stack.web()
        stack.worker("default", args.concurrency)
        stack.beat()
        a, b = Http(url, stack.key("account-a")), Http(url, stack.key("account-b"))
        started = time.perf_counter()
        for i in range(0, args.backlog, 500):
            a.call("POST", "/v1/jobs", {"jobs": [{"type": "hello", "params": {"name": f"a{j}"}}
                                                 for j in range(i, min(args.backlog, i + 500))]})
        posted_a = time.perf_counter() - started
        queued_when_b = stack.query("SELECT count(*) FROM jobs WHERE status = 'queued'")[0][0]
        for i in range(args.late):
            b.call("POST", "/v1/jobs", {"type": "hello", "params": {"name": f"b{i}"}})
            time.sleep(0.1)
        until(lambda: stack.query("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")[0][0] == 0,
              "the backlog to drain", 0.5)
        drained = time.perf_counter() - started
        rows = stack.query(
            "SELECT extract(epoch FROM b.started_at - b.created_at),"
            " extract(epoch FROM (SELECT max(a.started_at) FROM jobs a WHERE a.account_id <> b.account_id"
            "                     AND a.id < b.id) - b.created_at)"
            " FROM jobs b JOIN accounts acc ON acc.id = b.account_id WHERE acc.name = 'account-b'")
    fair = [float(r[0]) for r in rows]
    fifo = [max(0.0, float(r[1])) for r in rows]
    table = ["| measurement | result |", "| --- | --- |",
             f"| A's backlog: {args.backlog} hello jobs, posted in | {posted_a:.1f} s ({queued_when_b} still queued when B started) |",
             f"| B: {args.late} jobs, one per request, wait to start (fair claim) | p50 {percentile(fair, 50):.2f} s,"
             f" p99 {percentile(fair, 99):.2f} s, max {max(fair):.2f} s |",
             f"| B's wait had jobs been claimed first come, first served (same run) | p50 {percentile(fifo, 50):.1f} s,"
             f" p99 {percentile(fifo, 99):.1f} s |",
             f"| whole backlog drained after | {drained:.1f} s (-c {args.concurrency}) |"]
    text = (f"\n### Fairness across accounts ({machine()})\n\n"
            f"`python tests/bench/bench_fairness.py --backlog {args.backlog} --late {args.late}`\n\n" + "\n".join(table) + "\n")
    print(text)
    with open(ROOT / "BENCHMARKS.md", "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
