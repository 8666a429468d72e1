"""Datasets: bulk load (in process and through gunicorn) vs a plain COPY, time until read-write
after a reset, scheduled-start lateness.

    python tests/bench/bench_datasets.py [--triples 1000000] [--jobs 1000] [--spread 4] [--concurrency 4]

Runs here, on loopback (``tests/support/benchstack.py``): a fresh database on the local
PostgreSQL, a key prefix on the local Redis, real `celery worker` and `celery beat` processes.
Loads go through `DatasetService.load` in this process, and again as one
`POST /v1/datasets/{code}/triples` to a real gunicorn (gevent + psycogreen, as deployed). Bounded: every wait has a deadline; processes are stopped
and the database dropped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import datetime
import io
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from shared.datasets import rdf  # noqa: E402
from shared.datasets.service import DatasetService  # noqa: E402
from shared.engine.runtime import Runtime  # noqa: E402
from shared.engine.settings import Settings  # noqa: E402
from tests.support.benchstack import BenchStack, machine  # noqa: E402

DEADLINE_S = 600


def start_engine(stack: BenchStack, concurrency: int, beat_interval_s: float | None = None) -> None:
    """(Re)start a worker on the queues datasets use, and beat (with its tick changed, if asked)."""
    stack.stop("worker")
    stack.stop("beat")
    if beat_interval_s:
        stack.settings = replace(stack.settings, beat_interval_s=beat_interval_s)
    stack.worker("maintenance,default", concurrency)
    stack.beat()


def until(predicate, what: str, interval: float = 0.005):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(what)


def ntriples(n: int) -> bytes:
    """Like a real dataset: ~10 properties per subject, IRIs and literals (some language-tagged)."""
    out = io.StringIO()
    for i in range(n):
        s, k = i // 10, i % 10
        if k < 3:
            o = f"<http://data.example.org/thing/{(s * 7 + k) % max(n // 10, 1)}>"
        elif k < 6:
            o = f'"Label number {i} for thing {s}"@en'
        else:
            o = f'"{i}"^^<http://www.w3.org/2001/XMLSchema#integer>'
        out.write(f"<http://data.example.org/thing/{s}> <http://data.example.org/vocab/p{k}> {o} .\n")
    return out.getvalue().encode()


def bench_load(rt: Runtime, account, n: int) -> dict[str, float]:
    data = ntriples(n)
    service = DatasetService(rt.db)
    service.create(account, "bench")
    t = time.perf_counter()
    triples = list(rdf.read(io.BytesIO(data), "nt"))
    parse_s = time.perf_counter() - t
    # The baseline: the same canonical rows, pre-serialised, COPYed into a bare table.
    tsv = "".join(f"{s}\t{p}\t{o}\n".replace("\\", "\\\\") for s, p, o in triples).encode()
    conn = psycopg2.connect(rt.settings.database_url)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE bench_plain (s text, p text, o text)")
    t = time.perf_counter()
    with conn, conn.cursor() as cur:
        cur.copy_expert("COPY bench_plain FROM STDIN", io.BytesIO(tsv))
    copy_s = time.perf_counter() - t
    del triples, tsv
    t = time.perf_counter()
    result = service.load(account, "bench", rdf.read(io.BytesIO(data), "nt"))
    load_s = time.perf_counter() - t
    assert result["added"] == n, result
    t = time.perf_counter()
    assert service.count(service.find(account, "bench")["id"], 1) == n
    count_s = time.perf_counter() - t
    t = time.perf_counter()
    with conn, conn.cursor() as cur:  # the naive reset: one DELETE, the table locked meanwhile
        cur.execute("DELETE FROM bench_plain")
    delete_s = time.perf_counter() - t
    conn.close()
    return {"parse_s": parse_s, "copy_s": copy_s, "load_s": load_s, "count_s": count_s, "delete_s": delete_s,
            "api_s": bench_api_load(account, data, n)}


def bench_api_load(account, data: bytes, n: int) -> float:
    """The same body as one request to gunicorn (gevent + psycogreen: staged, not COPYed)."""
    url, key = STACK.web(workers=1), STACK.key("bench-api")
    auth = {"Authorization": f"Bearer {key}"}
    requests.post(f"{url}/v1/datasets", json={"code": "bench-api"}, headers=auth, timeout=60).raise_for_status()
    t = time.perf_counter()
    r = requests.post(f"{url}/v1/datasets/bench-api/triples", data=data, timeout=DEADLINE_S,
                      headers={**auth, "Content-Type": "application/n-triples"})
    api_s = time.perf_counter() - t
    assert r.status_code == 200 and r.json()["added"] == n, r.text[:500]
    STACK.stop("web")
    return api_s


def bench_reset(rt: Runtime, account) -> dict[str, float]:
    service = DatasetService(rt.db)
    service.create(account, "warm-up")  # first jobs import handler modules: not measured
    warm = rt.jobs.create(account, [rt.jobs.spec("dataset.reset", {"dataset": "warm-up"})] * args_concurrency())
    until(lambda: all(r["status"] == "succeeded" for r in rt.store.get_many([w["id"] for w in warm])), "warm-up", 0.1)
    ds = service.find(account, "bench")
    spec = rt.jobs.spec("dataset.reset", {"dataset": "bench"})
    t = time.perf_counter()
    job = rt.jobs.create(account, [spec])[0]

    def read_write_and_empty():
        row = service.find(account, "bench")
        return row["generation"] > ds["generation"] and row["reset_job"] is None

    until(read_write_and_empty, "reset")
    rw_s = time.perf_counter() - t
    done = until(lambda: (j := rt.store.get_by_id(job["id"]))["status"] == "succeeded" and j, "reset job")
    reclaim_id = done["result"]["reclaim_job"]
    reclaimed = until(lambda: (j := rt.jobs.get(account, reclaim_id))["status"] == "succeeded" and j, "reclaim", 0.1)
    return {"rw_s": rw_s, "job_s": (done["finished_at"] - done["started_at"]).total_seconds(),
            "reclaim_s": (reclaimed["finished_at"] - reclaimed["started_at"]).total_seconds(),
            "reclaimed": reclaimed["result"]["reclaimed"]}


def args_concurrency() -> int:
    return ARGS.concurrency


def bench_lateness(rt: Runtime, account, n: int, spread: float, tag: str) -> dict[str, float]:
    """Lateness of ``n`` jobs due over ``spread`` seconds: ``hello`` measures the scheduling
    itself; ``dataset.reset`` (30 ms of work each) also the pool's throughput."""
    service = DatasetService(rt.db)
    base = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=3)
    specs = []
    for i in range(n):
        at = base + datetime.timedelta(seconds=spread * i / n)
        if ARGS.lateness_job == "reset":
            service.create(account, f"late-{tag}-{i}")
            specs.append(rt.jobs.spec("dataset.reset", {"dataset": f"late-{tag}-{i}"}, start_at=at))
        else:
            specs.append(rt.jobs.spec("hello", {"name": "late"}, start_at=at))
    rows = rt.jobs.create(account, specs)
    ids = [r["id"] for r in rows]
    until(lambda: all(r["status"] == "succeeded" for r in rt.store.get_many(ids)), "scheduled jobs", 0.5)
    late = sorted((r["started_at"] - r["start_at"]).total_seconds() * 1000 for r in rt.store.get_many(ids))
    return {"p50": statistics.median(late), "p99": late[int(len(late) * 0.99) - 1], "max": late[-1],
            "early": sum(1 for x in late if x < 0)}


ARGS: argparse.Namespace
STACK: BenchStack


def env_default_tick() -> float:
    return Settings().beat_interval_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--triples", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--spread", type=float, default=4.0, help="seconds over which the scheduled jobs fall due")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--lateness-job", choices=["hello", "reset"], default="hello")
    ap.add_argument("--fast-beat", type=float, default=0.25, help="second lateness run with this beat tick (s)")
    args = ap.parse_args()
    global ARGS
    ARGS = args
    with BenchStack(heartbeat_s=1) as stack:
        global STACK
        STACK = stack
        rt = Runtime.build(replace(stack.settings))
        try:
            account = rt.accounts.create(f"bench-{uuid.uuid4().hex[:6]}")
            load = bench_load(rt, account, args.triples)
            start_engine(stack, args.concurrency)
            time.sleep(3)  # worker boot, outside the measurements
            reset = bench_reset(rt, account)
            late = bench_lateness(rt, account, args.jobs, args.spread, "default")
            start_engine(stack, args.concurrency, args.fast_beat)
            time.sleep(3)
            fast = bench_lateness(rt, account, args.jobs, args.spread, "fast")
        finally:
            rt.db.close()
    n = args.triples
    rows = [
        ("load N-Triples (parse + stage + dedupe + index)", f"{load['load_s']:.2f} s", f"{n / load['load_s']:,.0f} triples/s"),
        ("  the same as one POST to gunicorn (gevent)", f"{load['api_s']:.2f} s", f"{n / load['api_s']:,.0f} triples/s"),
        ("  of which parsing (fast path + rdflib)", f"{load['parse_s']:.2f} s", f"{n / load['parse_s']:,.0f} triples/s"),
        ("baseline: plain COPY of the same rows", f"{load['copy_s']:.2f} s", f"{n / load['copy_s']:,.0f} rows/s"),
        ("load / plain COPY", f"{load['load_s'] / load['copy_s']:.1f}x", ""),
        ("count", f"{load['count_s'] * 1000:.1f} ms", ""),
        ("reset: created -> read-write, empty", f"{reset['rw_s'] * 1000:.0f} ms", "dataset.reset job"),
        ("  reset job, claim -> finished", f"{reset['job_s'] * 1000:.0f} ms", ""),
        ("  reclaim afterwards (read-write)", f"{reset['reclaim_s']:.2f} s", f"{reset['reclaimed']:,} rows"),
        ("baseline: one DELETE of the same rows", f"{load['delete_s']:.2f} s", "read-only meanwhile"),
    ]
    for label, tick, res in ((f"beat tick {env_default_tick():g} s (default)", env_default_tick(), late),
                             (f"beat tick {args.fast_beat:g} s", args.fast_beat, fast)):
        rows += [(f"lateness p50, {args.jobs} {args.lateness_job} jobs due in {args.spread:g} s, {label}", f"{res['p50']:.0f} ms", ""),
                 ("  lateness p99", f"{res['p99']:.0f} ms", "aim: < 250 ms"),
                 ("  lateness max", f"{res['max']:.0f} ms", f"{res['early']} started early; tick {tick:g} s")]
    print(f"\nbench_datasets: {n:,} triples; worker -c {args.concurrency}; {machine()}\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | {'value':>10} | note |")
    print(f"| {'-' * width} | {'-' * 10}:| --- |")
    for name, value, note in rows:
        print(f"| {name.ljust(width)} | {value:>10} | {note} |")


if __name__ == "__main__":
    main()
