"""500 open Dragon status streams on a real gunicorn, with the API still answering.

Run: ``python tests/bench/bench_streams.py [--streams 500]``.

Starts its own Jobline (gunicorn with the gevent worker class of ``api/gunicorn_conf.py``,
2 workers, bound to 127.0.0.1; a fresh database), queues ``--streams`` hello tasks with no
worker running, and then:
1. measures ``GET /healthz`` and ``GET /dragon/v1/status`` latency with no stream open;
2. opens one ``/dragon/v1/status_stream`` per task, concurrently, and measures again while
   all of them stay open;
3. starts a celery worker: every stream must deliver its task's ``success`` line and close;
4. baseline, same run: the same app under gunicorn's ``sync`` workers, where each open
   stream pins a worker, so a few streams leave ``/healthz`` unanswered.
Every loop is bounded (deadlines, socket timeouts); the stack is torn down at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.benchstack import BenchStack, machine, percentile  # noqa: E402

SOCKET_TIMEOUT_S = 60.0


class Stream(threading.Thread):
    """One client holding one status stream open until it closes (or a deadline passes)."""

    def __init__(self, url: str, key: str, task: str, deadline: float) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.task, self.deadline = urlsplit(url), key, task, deadline
        self.opened = threading.Event()
        self.lines: list = []
        self.error = ""
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        try:
            self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=SOCKET_TIMEOUT_S)
            self.conn.request("GET", f"/dragon/v1/status_stream?tasks={self.task}",
                              headers={"Authorization": f"Secret {self.key}"})
            response = self.conn.getresponse()
            if response.status != 200:
                self.error = f"HTTP {response.status}"
                return
            while time.monotonic() < self.deadline:
                line = response.readline()
                if not line:
                    return
                self.lines.append(json.loads(line))
                self.opened.set()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.opened.set()
            if self.conn:
                self.conn.close()

    @property
    def succeeded(self) -> bool:
        return bool(self.lines) and isinstance(self.lines[-1], dict) and self.lines[-1].get("status") == "success"


def latency(url: str, key: str, task: str, count: int) -> dict[str, tuple[float, float, int]]:
    """p50 and p99 in ms, and the number of failures, of two cheap requests."""
    out = {}
    for name, path, headers in (("GET /healthz", "/healthz", {}),
                                ("GET /dragon/v1/status", f"/dragon/v1/status?tasks={task}",
                                 {"Authorization": f"Secret {key}"})):
        times, failures = [], 0
        with requests.Session() as session:
            for _ in range(count):
                start = time.perf_counter()
                try:
                    ok = session.get(url + path, headers=headers, timeout=5).status_code == 200
                except requests.RequestException:
                    ok = False
                times.append(time.perf_counter() - start)
                failures += not ok
        out[name] = (percentile(times, 50) * 1000, percentile(times, 99) * 1000, failures)
    return out


def open_streams(url: str, key: str, tasks: list[str], within_s: float) -> list[Stream]:
    deadline = time.monotonic() + 600
    streams = [Stream(url, key, t, deadline) for t in tasks]
    for s in streams:
        s.start()
    limit = time.monotonic() + within_s
    for s in streams:
        s.opened.wait(max(0.0, limit - time.monotonic()))
    return streams


def rss_mb(stack: BenchStack, name: str) -> float:
    pid = stack.procs[name].pid
    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return sum(int(x) for x in out.split()) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--requests", type=int, default=100, help="requests per latency figure")
    ap.add_argument("--sync-streams", type=int, default=4, help="streams opened against the sync baseline")
    args = ap.parse_args()
    threading.stack_size(256 * 1024)
    print(f"# stream bench — {machine()}")
    rows: list[tuple[str, str]] = []
    with BenchStack() as stack:
        url = stack.web(workers=2)
        key = stack.key()
        made = requests.post(f"{url}/dragon/v1/create", headers={"Authorization": f"Secret {key}"}, timeout=60,
                             json={"tasks": [{"task_name": "hello", "name": f"n{i}"} for i in range(args.streams + 1)]})
        tasks = [t["key"] for t in made.json()]
        probe, tasks = tasks[-1], tasks[:-1]
        idle = latency(url, key, probe, args.requests)

        start = time.monotonic()
        streams = open_streams(url, key, tasks, within_s=120)
        opened = sum(1 for s in streams if s.lines and not s.error)
        open_s = time.monotonic() - start
        busy = latency(url, key, probe, args.requests)
        still_open = sum(1 for s in streams if s.is_alive())
        memory = rss_mb(stack, "web")

        start = time.monotonic()
        stack.worker("default", 2)
        for s in streams:
            s.join(max(0.0, 300 - (time.monotonic() - start)))
        drained_s = time.monotonic() - start
        succeeded = sum(1 for s in streams if s.succeeded)
        errors = sorted({s.error for s in streams if s.error})
        stack.stop("worker")

        # Baseline: sync workers, one request at a time each; streams pin them.
        made = requests.post(f"{url}/dragon/v1/create", headers={"Authorization": f"Secret {key}"}, timeout=60,
                             json={"tasks": [{"task_name": "hello", "name": "s"}] * args.sync_streams})
        sync_url = stack.web(workers=2, worker_class="sync", name="sync")
        sync_idle = latency(sync_url, key, probe, 10)
        pinned = open_streams(sync_url, key, [t["key"] for t in made.json()], within_s=10)
        sync_busy = latency(sync_url, key, probe, 5)
        stack.stop("sync")
        for s in pinned:
            s.join(10)

    print(f"# gunicorn: 2 workers; {args.streams} streams opened in {open_s:.1f} s; "
          f"{args.requests} sequential requests per latency figure\n")
    print("| gevent workers (api/gunicorn_conf.py) | value |")
    print("| --- | ---: |")
    rows = [
        ("streams that received their first line", f"{opened} / {args.streams}"),
        ("streams still open while the API was measured", f"{still_open} / {args.streams}"),
        ("gunicorn workers' memory with the streams open", f"{memory:.0f} MB"),
        ("streams that ended with their task's success line, then closed", f"{succeeded} / {args.streams}"),
        ("time from starting a worker to the last stream closing", f"{drained_s:.1f} s"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    if errors:
        print(f"\nstream errors: {errors[:5]}")
    print("\n| latency (ms): p50 / p99 / failed | no stream open | with the streams open |")
    print("| --- | ---: | ---: |")
    for name in idle:
        a, b = idle[name], busy[name]
        print(f"| gevent: {name} | {a[0]:.1f} / {a[1]:.1f} / {a[2]} | {b[0]:.1f} / {b[1]:.1f} / {b[2]} |")
    for name in sync_idle:
        a, b = sync_idle[name], sync_busy[name]
        print(f"| baseline, sync workers ({args.sync_streams} streams): {name} | {a[0]:.1f} / {a[1]:.1f} / {a[2]} "
              f"| {b[0]:.1f} / {b[1]:.1f} / {b[2]} (5 s timeout) |")


if __name__ == "__main__":
    main()
