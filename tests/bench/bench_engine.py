"""End-to-end throughput against bare Celery, API latency, and idle cost.

    python tests/bench/bench_engine.py [--n 20000] [--n-single 4000] [--concurrency 2] [--post-rates 500,300]

Everything runs here, on loopback (``tests/support/benchstack.py``): a fresh database on the
local PostgreSQL, a key prefix on the local Redis, a real gunicorn (gevent) API, real
``celery worker`` processes (the same number of pool processes for both), and beat. Prints
a table and appends it to BENCHMARKS.md with the date and machine. Bounded: every loop has
a deadline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.benchstack import REDIS, BenchStack, machine  # noqa: E402
from tests.support.machine import cpu_seconds, process_tree  # noqa: E402

DEADLINE_S = 600


class Http:
    """A keep-alive HTTP/1.1 connection on ``http.client``: the load generator shares the two
    cores with the service, so it must cost little (``requests`` took ~2 ms of CPU a call)."""

    def __init__(self, url: str, key: str) -> None:
        u = urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None) -> bytes:
        self.conn.request(method, path, json.dumps(body).encode() if body is not None else None, self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return data


def until(predicate, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(interval)


def bare_celery(stack: BenchStack, n: int, concurrency: int) -> float:
    """Bare Celery's no-op tasks per second, published in a loop and consumed meanwhile."""
    counter = f"{stack.settings.redis_prefix}bare-done"
    r = redis.Redis.from_url(REDIS)
    stack.worker("default", concurrency, name="bare", app="tests.bench.bare_celery", BARE_COUNTER=counter)
    os.environ.update(stack.settings.to_env())
    os.environ["BARE_COUNTER"] = counter
    from tests.bench import bare_celery as bare

    time.sleep(3)  # worker boot, outside the measurement
    start = time.perf_counter()
    with bare.app.producer_or_acquire() as producer:
        for i in range(n):
            bare.noop.apply_async((i,), queue="default", producer=producer)
    until(lambda: int(r.get(counter) or 0) >= n, "bare Celery", 0.02)
    elapsed = time.perf_counter() - start
    stack.stop("bare")
    return n / elapsed


def max_id(stack: BenchStack) -> int:
    return stack.query("SELECT coalesce(max(id), 0) FROM jobs")[0][0]


def wait_all(stack: BenchStack, since: int, n: int) -> tuple[float, str]:
    """Wait until the ``n`` jobs after id ``since`` succeeded; check each has its events
    (created, claim, succeed: one each) and count messages published again (duplicates)."""
    until(lambda: stack.query("SELECT count(*) FROM jobs WHERE status = 'succeeded' AND id > %s", since)[0][0] >= n,
          "jobs to succeed")
    done = time.perf_counter()
    counts = dict(stack.query("SELECT e.type, count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id"
                              " WHERE j.id > %s GROUP BY 1", since))
    note = "" if all(counts.get(t) == n for t in ("created", "claim", "succeed")) else f" (events MISSING: {counts})"
    if counts.get("redispatch"):
        note += f" ({counts['redispatch']} re-published)"
    return done, note


def drain(stack: BenchStack) -> None:
    """Wait until no job is waiting or running."""
    until(lambda: stack.query("SELECT count(*) FROM jobs WHERE status IN ('scheduled', 'queued', 'running')")[0][0] == 0,
          "the queue to drain", 0.2)


def jobline_batched(stack: BenchStack, key: str, n: int, batch: int = 500) -> tuple[float, str]:
    since = max_id(stack)
    client = Http(stack.url, key)
    start = time.perf_counter()
    for i in range(0, n, batch):
        client.call("POST", "/v1/jobs", {"jobs": [{"type": "hello", "params": {"name": f"n{j}"}}
                                                  for j in range(i, min(n, i + batch))]})
    done, note = wait_all(stack, since, n)
    return n / (done - start), note


def jobline_single(stack: BenchStack, key: str, n: int, clients: int = 16) -> tuple[float, str]:
    since = max_id(stack)
    local = threading.local()

    def post(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = Http(stack.url, key)
        local.client.call("POST", "/v1/jobs", {"type": "hello", "params": {"name": f"s{i}"}})

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, range(n)))
    done, note = wait_all(stack, since, n)
    return n / (done - start), note


def latency(url: str, key: str, method: str, path_of, clients: int = 32, rate: float = 500, seconds: float = 10):
    """Open-loop-ish load: ``clients`` threads sharing a global rate; returns (req/s, p50 ms, p99 ms)."""
    interval = clients / rate
    samples: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(c: int) -> None:
        http_ = Http(url, key)
        next_at = time.monotonic() + c * interval / clients
        i = 0
        while True:
            now = time.monotonic()
            if now >= stop_at:
                return
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
            t0 = time.perf_counter()
            if method == "POST":
                http_.call("POST", "/v1/jobs", {"type": "hello", "params": {"name": "lat"}})
            else:
                http_.call("GET", path_of(c, i))
            dt = time.perf_counter() - t0
            with lock:
                samples.append(dt)
            i += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - t0
    qs = statistics.quantiles(samples, n=100)
    return len(samples) / total, qs[49] * 1000, qs[98] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--n-single", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--idle-s", type=float, default=60)
    ap.add_argument("--post-rates", type=lambda v: [float(x) for x in v.split(",")], default=[500.0],
                    help="offered rates for POST with the workers running, e.g. 500,300,200")
    args = ap.parse_args()
    rows = []
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())

    def timing(label: str, rps: float, p50: float, p99: float) -> None:
        rows.append((label, f"{rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms", ""))

    with BenchStack() as stack:
        bare = bare_celery(stack, args.n, args.concurrency)
        rows.append((f"bare Celery no-op, N={args.n}, -c {args.concurrency}", f"{bare:,.0f} tasks/s", "1.00"))
        url = stack.web()
        stack.worker("default", args.concurrency)
        stack.beat()
        key = stack.key()
        for label, (rate, note) in (
                (f"Jobline hello, N={args.n}, batches of 500 via HTTP", jobline_batched(stack, key, args.n)),
                (f"Jobline hello, N={args.n_single}, one per request, 16 clients", jobline_single(stack, key, args.n_single))):
            rows.append((label, f"{rate:,.0f} jobs/s{note}", f"{rate / bare:.2f}"))
        client = Http(url, key)
        ids = [json.loads(client.call("POST", "/v1/jobs", {"type": "hello", "params": {"name": "g"}}))["id"]
               for _ in range(32)]
        timing("GET /v1/jobs/{id}, 32 clients, offered 500 req/s",
               *latency(url, key, "GET", lambda c, i: f"/v1/jobs/{ids[c]}"))
        for rate in args.post_rates:
            timing(f"POST /v1/jobs, 32 clients, offered {rate:g} req/s, workers running them",
                   *latency(url, key, "POST", None, rate=rate))
            drain(stack)  # each rate starts with an empty queue
        drain(stack)
        worker = stack.procs["worker"].pid  # its own session: the group is the worker and its pool
        os.killpg(worker, signal.SIGSTOP)
        try:
            timing("POST /v1/jobs, 32 clients, offered 500 req/s, workers paused (API alone)",
                   *latency(url, key, "POST", None))
        finally:
            os.killpg(worker, signal.SIGCONT)
        drain(stack)  # idle means idle: every job finished first
        time.sleep(3)
        pids = [pid for p in stack.procs.values() for pid in process_tree(p.pid)]
        before = cpu_seconds(pids)
        time.sleep(args.idle_s)
        used = cpu_seconds(pids) - before
        rows.append((f"idle: API + worker + beat over {args.idle_s:g} s",
                     f"{used:.2f} CPU-s ({100 * used / args.idle_s:.1f}% of a core)", ""))

    after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    table = ["| measurement | result | ratio to bare Celery |", "| --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = (f"\n### Engine throughput and latency ({machine()})\n\n"
            f"`python tests/bench/bench_engine.py --n {args.n} --n-single {args.n_single}"
            f" --post-rates {','.join(f'{r:g}' for r in args.post_rates)}`; load average before: {load}, after: {after}\n\n" + "\n".join(table) + "\n")
    print(text)
    with open(ROOT / "BENCHMARKS.md", "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
