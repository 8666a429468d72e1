"""Retention at scale: a million finished jobs pruned by beat while creates go on.

    python tests/bench/bench_prune.py [--jobs 1000000] [--rate 200] [--seconds 30] [--concurrency 2]

Loads ``--jobs`` finished ``hello`` jobs with their three events each (created, claim,
succeed) in a few SQL statements (generate_series), finished 30 days ago, so all are past
the default retention of 7 days. Then, with a real gunicorn API and a worker running the
jobs it creates, ``POST /v1/jobs`` latency is measured at an offered ``--rate`` three
times: with beat running but keeping everything (``JOBLINE_RETENTION_DAYS=0``), with beat
pruning as in production (``workers.maintenance``: bounded batches each tick), and with the
keeping beat again. Same stack as ``bench_engine.py``. Prints a table and appends it to
BENCHMARKS.md with the date and machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_engine import Http, latency  # noqa: E402
from tests.support.benchstack import BenchStack, machine  # noqa: E402

LOAD = [
    # Bulk load: no triggers (no NOTIFY per event, no transition check), no FK checks.
    "SET session_replication_role = replica",
    """INSERT INTO jobs (account_id, type, params, status, queue, progress, result, attempt, created_at,
                         queued_at, dispatched_at, started_at, heartbeat_at, finished_at, worker)
       SELECT %(account)s, 'hello', jsonb_build_object('name', 'old' || g), 'succeeded', 'default', 1,
              to_jsonb('Hello old' || g), 1, t, t, t, t, t, t + interval '5 ms', 'bench-old'
       FROM generate_series(1, %(n)s) g,
            LATERAL (SELECT now() - interval '30 days' + g * interval '1 ms' AS t) x""",
    """INSERT INTO job_events (job_id, at, type, status, run)
       SELECT j.id, j.finished_at, e.type, e.status::job_status, 1
       FROM jobs j CROSS JOIN (VALUES ('created', 'queued'), ('claim', 'running'), ('succeed', 'succeeded'))
            AS e (type, status)
       WHERE j.worker = 'bench-old'""",
    "SET session_replication_role = DEFAULT",
]


def load(stack: BenchStack, n: int) -> float:
    conn = psycopg2.connect(stack.settings.database_url)
    conn.autocommit = True
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM accounts WHERE name = 'old'")
        account = cur.fetchone()[0]
        for sql in LOAD:
            cur.execute(sql, {"account": account, "n": n})
        cur.execute("VACUUM ANALYZE jobs")
        cur.execute("VACUUM ANALYZE job_events")
    conn.close()
    return time.perf_counter() - t0


def old_left(stack: BenchStack) -> int:
    return stack.query("SELECT count(*) FROM jobs WHERE worker = 'bench-old'")[0][0]


def beat(stack: BenchStack, retention_days: float) -> None:
    stack.spawn("beat", [sys.executable, "-m", "celery", "-A", "workers.app", "beat", "-S",
                         "workers.beat:JoblineScheduler", "--pidfile=", "-l", "warning"],
                JOBLINE_RETENTION_DAYS=str(retention_days))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--rate", type=float, default=200, help="offered POST /v1/jobs per second")
    ap.add_argument("--seconds", type=float, default=30, help="each latency window")
    ap.add_argument("--concurrency", type=int, default=2)
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    with BenchStack() as stack:
        stack.key("old")
        loaded = load(stack, args.jobs)
        size = stack.query("SELECT pg_size_pretty(pg_database_size(current_database()))")[0][0]
        rows.append((f"load {args.jobs:,} finished jobs + {3 * args.jobs:,} events (generate_series)",
                     f"{loaded:.1f} s; database {size}"))
        url = stack.web()
        stack.worker("default", args.concurrency)
        key = stack.key()
        Http(url, key).call("POST", "/v1/jobs", {"type": "hello", "params": {"name": "warm"}})

        def window(label: str) -> None:
            before, t0 = old_left(stack), time.perf_counter()
            rps, p50, p99 = latency(url, key, "POST", None, rate=args.rate, seconds=args.seconds)
            pruned = before - old_left(stack)
            rows.append((f"POST /v1/jobs, offered {args.rate:g} req/s, {label}",
                         f"{rps:,.0f} req/s, p50 {p50:.1f} ms, **p99 {p99:.1f} ms**; "
                         f"pruned meanwhile {pruned:,} ({pruned / (time.perf_counter() - t0):,.0f} jobs/s)"))

        beat(stack, 0)
        latency(url, key, "POST", None, rate=args.rate, seconds=5)  # warm-up, not counted
        window("beat keeping everything")
        stack.stop("beat")
        beat(stack, 7)
        deadline = time.monotonic() + 60
        while old_left(stack) == args.jobs and time.monotonic() < deadline:
            time.sleep(0.2)  # pruning has begun
        window("beat pruning")
        stack.stop("beat")
        beat(stack, 0)
        time.sleep(3)
        window("beat keeping everything, again")
        stack.stop("beat")
        left = old_left(stack)
        beat(stack, 7)
        t0 = time.perf_counter()
        while old_left(stack) > 0 and time.perf_counter() - t0 < args.seconds:
            time.sleep(1)
        rate = (left - old_left(stack)) / (time.perf_counter() - t0)
        rows.append(("beat pruning alone (no load)", f"{rate:,.0f} jobs/s; {args.jobs:,} jobs would take "
                                                      f"{args.jobs / max(rate, 1) / 60:,.1f} min"))

    table = ["| measurement | result |", "| --- | --- |"] + [f"| {a} | {b} |" for a, b in rows]
    text = (f"\n### Retention: pruning {args.jobs:,} finished jobs under load ({machine()})\n\n"
            f"`python tests/bench/bench_prune.py --jobs {args.jobs} --rate {args.rate:g} --seconds {args.seconds:g}`\n\n"
            + "\n".join(table) + "\n")
    print(text)
    with open(ROOT / "BENCHMARKS.md", "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
