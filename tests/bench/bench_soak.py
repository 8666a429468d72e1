"""Soak: minutes of mixed traffic from several accounts; every job exactly once, memory flat.

    python tests/bench/bench_soak.py [--seconds 300] [--accounts 4] [--clients 3]

A fresh Jobline on loopback (``tests/support/benchstack.py``: gunicorn with 2 gevent workers,
one ``celery worker -c 2``, beat). Each account's clients loop over a weighted mix of what
users do: create one job, create a batch of 10, create and wait (``?wait=5``), read one of
their jobs, list, delete a finished one, and ask for another account's job (which must be
404). Every answer is checked against the status it must have. Then the queue drains and
PostgreSQL is asked whether every job that exists succeeded with exactly one claim and one
succeed event. The baseline is the run itself: latency and resident memory in the first
window against the last one (a leak or a slowdown shows as drift). Prints a table and
appends it to BENCHMARKS.md. Bounded: the traffic stops at ``--seconds``, the drain has a deadline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.benchstack import BenchStack, machine, percentile  # noqa: E402
from tests.support.machine import process_tree  # noqa: E402

DRAIN_DEADLINE_S = 600
WINDOW_S = 60
WARM_S = 30
#: (action, weight): what a client does next.
MIX = [("create", 30), ("batch", 5), ("wait", 5), ("get", 30), ("list", 15), ("delete", 5), ("foreign", 10)]


class Client:
    """One keep-alive connection of one account; records (time, action, latency, status)."""

    def __init__(self, url: str, key: str, log: list, lock: threading.Lock) -> None:
        u = urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.log, self.lock = log, lock

    def call(self, action: str, method: str, path: str, body: object = None) -> tuple[int, object]:
        started = time.monotonic()
        self.conn.request(method, path, json.dumps(body).encode() if body is not None else None, self.headers)
        response = self.conn.getresponse()
        data = response.read()
        with self.lock:
            self.log.append((started, action, time.monotonic() - started, response.status))
        return response.status, (json.loads(data) if data and response.headers.get_content_type() == "application/json"
                                 else data)


class Account:
    def __init__(self, name: str, key: str) -> None:
        self.name, self.key = name, key
        self.ids: list[str] = []  # jobs created and not deleted
        self.deleted = 0
        self.lock = threading.Lock()


def client_loop(url: str, me: Account, others: list[Account], stop: float, log: list, lock: threading.Lock,
                wrong: Counter, seed: int) -> None:
    rng = random.Random(seed)
    c = Client(url, me.key, log, lock)
    actions, weights = zip(*MIX, strict=True)

    def expect(action: str, status: int, wanted: tuple[int, ...], what: object = "") -> None:
        if status not in wanted:
            with lock:
                wrong[f"{action}: {status}"] += 1
                if wrong[f"{action}: {status}"] == 1:
                    print(f"  unexpected {status} on {action}: {str(what)[:200]}", file=sys.stderr)

    while time.monotonic() < stop:
        action = rng.choices(actions, weights)[0]
        with me.lock:
            mine = rng.choice(me.ids) if me.ids else None
        if action == "create" or (mine is None and action in ("get", "delete")):
            status, body = c.call("create", "POST", "/v1/jobs", {"type": "hello", "params": {"name": me.name}})
            expect("create", status, (201,), body)
            if status == 201:
                with me.lock:
                    me.ids.append(body["id"])
        elif action == "batch":
            status, body = c.call(action, "POST", "/v1/jobs",
                                  {"jobs": [{"type": "hello", "params": {"name": f"{me.name}{i}"}} for i in range(10)]})
            expect(action, status, (201,), body)
            if status == 201:
                with me.lock:
                    me.ids.extend(j["id"] for j in body["jobs"])
        elif action == "wait":
            status, body = c.call(action, "POST", "/v1/jobs?wait=5", {"type": "hello", "params": {"name": me.name}})
            expect(action, status, (201,), body)
            if status == 201:
                expect("wait (finished)", 200 if body["status"] == "succeeded" else 0, (200,), body)
                with me.lock:
                    me.ids.append(body["id"])
        elif action == "get":
            status, body = c.call(action, "GET", f"/v1/jobs/{mine}")
            expect(action, status, (200,), body)
        elif action == "list":
            status, body = c.call(action, "GET", "/v1/jobs?limit=20")
            expect(action, status, (200,), body)
        elif action == "delete":
            status, body = c.call("get", "GET", f"/v1/jobs/{mine}")
            if status == 200 and body["status"] == "succeeded":
                status, body = c.call(action, "DELETE", f"/v1/jobs/{mine}")
                expect(action, status, (204,), body)
                if status == 204:
                    with me.lock:
                        me.ids.remove(mine)
                        me.deleted += 1
        elif action == "foreign":
            other = rng.choice(others)
            with other.lock:
                theirs = rng.choice(other.ids) if other.ids else None
            if theirs:
                status, body = c.call(action, "GET", f"/v1/jobs/{theirs}")
                expect(action, status, (404,), body)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--accounts", type=int, default=4)
    ap.add_argument("--clients", type=int, default=3, help="connections per account")
    args = ap.parse_args()

    with BenchStack() as stack:
        stack.web()
        stack.worker("default", 2)
        stack.beat()
        accounts = [Account(f"a{i}", stack.key(f"soak-{i}")) for i in range(args.accounts)]
        log: list = []
        lock = threading.Lock()
        wrong: Counter = Counter()
        memory: list[tuple[float, float, float]] = []  # (t, API MB, worker MB)
        start = time.monotonic()
        stop = start + args.seconds
        threads = [threading.Thread(target=client_loop, daemon=True,
                                    args=(stack.url, a, [b for b in accounts if b is not a], stop, log, lock, wrong,
                                          i * 100 + j))
                   for i, a in enumerate(accounts) for j in range(args.clients)]
        for t in threads:
            t.start()
        while time.monotonic() < stop:
            memory.append((time.monotonic() - start, rss_mb(process_tree(stack.procs["web"].pid)),
                           rss_mb(process_tree(stack.procs["worker"].pid))))
            time.sleep(10)
        for t in threads:
            t.join(90)
        memory.append((time.monotonic() - start, rss_mb(process_tree(stack.procs["web"].pid)),
                       rss_mb(process_tree(stack.procs["worker"].pid))))

        deadline = time.monotonic() + DRAIN_DEADLINE_S
        while stack.query("SELECT count(*) FROM jobs WHERE status IN ('scheduled', 'queued', 'running')")[0][0]:
            if time.monotonic() > deadline:
                raise TimeoutError("the queue did not drain")
            time.sleep(0.5)
        [(jobs, succeeded, once)] = stack.query(
            "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE ("
            " SELECT count(*) FILTER (WHERE e.type = 'claim') = 1 AND count(*) FILTER (WHERE e.type = 'succeed') = 1"
            " FROM job_events e WHERE e.job_id = jobs.id)) FROM jobs")
        created = sum(len(a.ids) + a.deleted for a in accounts)
        deleted = sum(a.deleted for a in accounts)

    def window(lo: float, hi: float) -> str:
        lat = [d * 1000 for t, _a, d, _s in log if lo <= t - start < hi]
        return (f"{len(lat) / (hi - lo):.0f} req/s, p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms"
                if lat else "—")

    statuses = Counter(s for *_x, s in log)
    # memory after warm-up (pool processes started, caches filled), against the end
    first, last = next((m for m in memory if m[0] >= WARM_S), memory[0]), memory[-1]
    rows = [
        ("traffic", f"{len(log):,} requests in {args.seconds:.0f} s from {args.accounts} accounts × {args.clients} "
                    f"connections ({len(log) / args.seconds:.0f} req/s); statuses {dict(sorted(statuses.items()))}"),
        ("unexpected answers (5xx, wrong status)", f"**{sum(wrong.values())}** {dict(wrong) or ''}".strip()),
        ("jobs", f"{created:,} created, {deleted:,} deleted by their owner, {jobs:,} left; "
                 f"**{succeeded:,} succeeded, {once:,} with exactly one claim and one succeed event**"),
        (f"first {WINDOW_S} s", window(0, WINDOW_S)),
        (f"last {WINDOW_S} s", window(args.seconds - WINDOW_S, args.seconds)),
        ("API memory (gunicorn, all processes)", f"{first[1]:.0f} MB at {first[0]:.0f} s → {last[1]:.0f} MB at end"),
        ("worker memory (celery, all processes)", f"{first[2]:.0f} MB at {first[0]:.0f} s → {last[2]:.0f} MB at end"),
    ]
    for action, _w in MIX:  # ?wait=5 includes the job's time in the queue: read it apart
        lat = [d * 1000 for _t, a, d, _s in log if a == action]
        if lat:
            rows.append((f"`{action}` ({len(lat):,} calls)",
                         f"p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms"))
    table = "\n".join(["| measurement | result |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows)])
    text = f"\n**Soak ({machine()})** — `python tests/bench/bench_soak.py --seconds {args.seconds:.0f}`\n\n{table}\n"
    print(text)
    with (ROOT / "BENCHMARKS.md").open("a") as f:
        f.write(text)
    ok = not wrong and succeeded == jobs == once and jobs == created - deleted
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
