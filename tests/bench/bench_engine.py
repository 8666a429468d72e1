"""End-to-end throughput against bare Celery, API latency, and idle cost.

    python tests/bench/bench_engine.py [--n 20000] [--n-single 4000] [--concurrency 2]

Everything runs here, on loopback: a fresh database on the local PostgreSQL, a key prefix
on the local Redis, a real gunicorn (gevent) API, real `celery worker` processes (the same
number of pool processes for both), and beat. Prints a table and appends it to
BENCHMARKS.md with the date and machine. Bounded: every loop has a deadline.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.migrate import upgrade  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.support.machine import cpu_model  # noqa: E402
from tests.support.net import free_port  # noqa: E402

ADMIN = os.environ.get("JOBLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("JOBLINE_BENCH_REDIS", "redis://127.0.0.1:6379/12")
DEADLINE_S = 600


class Env:
    """A fresh database and broker prefix, and the processes running against them."""

    def __init__(self, concurrency: int) -> None:
        self.name = f"jobline_bench_{uuid.uuid4().hex[:8]}"
        conn = psycopg2.connect(ADMIN)
        conn.autocommit = True
        conn.cursor().execute(f'CREATE DATABASE "{self.name}"')
        conn.close()
        self.dsn = ADMIN.rsplit("/", 1)[0] + "/" + self.name
        upgrade(self.dsn)
        self.prefix = f"bench-{uuid.uuid4().hex[:6]}:"
        self.settings = Settings(database_url=self.dsn, redis_url=REDIS, redis_prefix=self.prefix,
                                 log_level="WARNING", storage_url="file:///tmp/jobline-bench-objects")
        self.env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT)}
        self.concurrency = concurrency
        self.procs: list[subprocess.Popen] = []
        self.port = free_port()

    def spawn(self, argv: list[str], extra: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **(extra or {})},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def worker(self, app: str, queues: str, extra: dict | None = None) -> subprocess.Popen:
        return self.spawn([sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queues, "-c",
                           str(self.concurrency), "--without-mingle", "--without-gossip", "-l", "warning"], extra)

    def jobline(self) -> str:
        self.spawn([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "-b",
                    f"127.0.0.1:{self.port}", "api.wsgi:app"], {"JOBLINE_LOG_LEVEL": "WARNING"})
        self.worker("workers.app", "default")
        self.spawn([sys.executable, "-m", "celery", "-A", "workers.app", "beat", "-S",
                    "workers.beat:JoblineScheduler", "--pidfile=", "-l", "warning"])
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return url
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError("API did not come up")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, 9)
            except ProcessLookupError:
                pass
        self.procs.clear()

    def drop(self) -> None:
        r = redis.Redis.from_url(REDIS)
        for key in r.scan_iter(match=f"{self.prefix}*"):
            r.delete(key)
        conn = psycopg2.connect(ADMIN)
        conn.autocommit = True
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        conn.close()


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


def bare_celery(env: Env, n: int) -> float:
    counter = f"{env.prefix}bare-done"
    r = redis.Redis.from_url(REDIS)
    r.delete(counter)
    env.worker("tests.bench.bare_celery", "default", {"BARE_COUNTER": counter})
    os.environ.update(env.settings.to_env())
    os.environ["BARE_COUNTER"] = counter
    from tests.bench import bare_celery as bare

    time.sleep(3)  # worker boot, outside the measurement
    start = time.perf_counter()
    with bare.app.producer_or_acquire() as producer:
        for i in range(n):
            bare.noop.apply_async((i,), queue="default", producer=producer)
    deadline = time.monotonic() + DEADLINE_S
    while int(r.get(counter) or 0) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    env.stop()
    return n / elapsed


def count_succeeded(dsn: str, since_id: int) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM jobs WHERE status = 'succeeded' AND id > %s", (since_id,))
        return cur.fetchone()[0]


def max_id(dsn: str) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM jobs")
        return cur.fetchone()[0]


def wait_all(dsn: str, since: int, n: int) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while count_succeeded(dsn, since) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def drain(dsn: str) -> None:
    """Wait until no job is waiting or running."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM jobs WHERE status IN ('scheduled', 'queued', 'running')")
            if cur.fetchone()[0] == 0:
                return
        time.sleep(0.2)


def check_events(dsn: str, since: int, n: int) -> bool:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.id > %s "
                    "AND j.status = 'succeeded'", (since,))
        return cur.fetchone()[0] == 3 * n  # created, claim, succeed


def jobline_batched(url: str, key: str, dsn: str, n: int, batch: int = 500) -> tuple[float, bool]:
    since = max_id(dsn)
    client = Http(url, key)
    start = time.perf_counter()
    for i in range(0, n, batch):
        client.call("POST", "/v1/jobs", {"jobs": [{"type": "hello", "params": {"name": f"n{j}"}}
                                                  for j in range(i, min(n, i + batch))]})
    wait_all(dsn, since, n)
    elapsed = time.perf_counter() - start
    return n / elapsed, check_events(dsn, since, n)


def jobline_single(url: str, key: str, dsn: str, n: int, clients: int = 16) -> tuple[float, bool]:
    since = max_id(dsn)
    local = threading.local()

    def post(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = Http(url, key)
        local.client.call("POST", "/v1/jobs", {"type": "hello", "params": {"name": f"s{i}"}})

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, range(n)))
    wait_all(dsn, since, n)
    elapsed = time.perf_counter() - start
    return n / elapsed, check_events(dsn, since, n)


def latency(url: str, key: str, method: str, path_of, clients: int = 32, rate: float = 500, seconds: float = 10):
    """Open-loop-ish load: `clients` threads sharing a global rate; returns (req/s, p50 ms, p99 ms)."""
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


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        for p in [pid, *children(pid)]:
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except OSError:
                pass
    return total


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out] + [g for c in out for g in children(int(c))]


def machine() -> str:
    return f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--n-single", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--idle-s", type=float, default=60)
    args = ap.parse_args()
    rows = []

    env = Env(args.concurrency)
    try:
        bare = bare_celery(env, args.n)
        rows.append((f"bare Celery no-op, N={args.n}, -c {args.concurrency}", f"{bare:,.0f} tasks/s", "1.00"))
        url = env.jobline()
        from shared.runtime import Runtime

        rt = Runtime.build(env.settings)
        key = rt.accounts.create_key(rt.accounts.create("bench"))
        batched, ok1 = jobline_batched(url, key, env.dsn, args.n)
        rows.append((f"Jobline hello, N={args.n}, batches of 500 via HTTP", f"{batched:,.0f} jobs/s{'' if ok1 else ' (events MISSING)'}",
                     f"{batched / bare:.2f}"))
        single, ok2 = jobline_single(url, key, env.dsn, args.n_single)
        rows.append((f"Jobline hello, N={args.n_single}, one per request, 16 clients", f"{single:,.0f} jobs/s{'' if ok2 else ' (events MISSING)'}",
                     f"{single / bare:.2f}"))
        ids = [requests.post(f"{url}/v1/jobs", json={"type": "hello", "params": {"name": "g"}},
                             headers={"Authorization": f"Bearer {key}"}).json()["id"] for _ in range(32)]
        rps, p50, p99 = latency(url, key, "GET", lambda c, i: f"/v1/jobs/{ids[c]}")
        rows.append(("GET /v1/jobs/{id}, 32 clients, offered 500 req/s", f"{rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms", ""))
        rps, p50, p99 = latency(url, key, "POST", None)
        rows.append(("POST /v1/jobs, 32 clients, offered 500 req/s, workers running them", f"{rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms", ""))
        drain(env.dsn)
        worker = env.procs[1].pid  # its own session: the group is the worker and its pool
        os.killpg(worker, signal.SIGSTOP)
        try:
            rps, p50, p99 = latency(url, key, "POST", None)
        finally:
            os.killpg(worker, signal.SIGCONT)
        rows.append(("POST /v1/jobs, 32 clients, offered 500 req/s, workers paused (API alone)",
                     f"{rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms", ""))
        drain(env.dsn)  # idle means idle: every job finished first
        time.sleep(3)
        pids = [p.pid for p in env.procs]
        before = cpu_seconds(pids)
        time.sleep(args.idle_s)
        used = cpu_seconds(pids) - before
        rows.append((f"idle: API + worker + beat over {args.idle_s:g} s", f"{used:.2f} CPU-s ({100 * used / args.idle_s:.1f}% of a core)", ""))
        rt.db.close()
    finally:
        env.stop()
        env.drop()

    stamp = f"{datetime.date.today().isoformat()}, {machine()}"
    table = ["| measurement | result | ratio to bare Celery |", "| --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = f"\n### Engine throughput and latency ({stamp})\n\n`python tests/bench/bench_engine.py --n {args.n} --n-single {args.n_single}`\n\n" + "\n".join(table) + "\n"
    print(text)
    with open(ROOT / "BENCHMARKS.md", "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
