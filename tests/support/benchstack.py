"""A throwaway Jobline for benchmarks: its own database and broker prefix, a real gunicorn
bound to 127.0.0.1, and celery workers started and stopped on demand. Everything it starts
is stopped (process groups) and its database dropped on exit.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import psycopg2
import redis
import requests

from shared.engine.settings import Settings
from tests.support.machine import cpu_model
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PG = os.environ.get("JOBLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("JOBLINE_TEST_REDIS", "redis://127.0.0.1:6379/13")


def machine() -> str:
    return f"{datetime.now():%Y-%m-%d %H:%M}, nproc={os.cpu_count()}, {cpu_model()}, Python {platform.python_version()}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


class BenchStack:
    def __init__(self, **settings: object) -> None:
        self.db_name = f"jobline_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.tmp = Path(tempfile.mkdtemp(prefix="jobline-bench-"))
        self.settings = Settings(database_url=ADMIN_PG.rsplit("/", 1)[0] + "/" + self.db_name, redis_url=REDIS,
                                 redis_prefix=f"jlb-{uuid.uuid4().hex[:8]}:", storage_url=f"file://{self.tmp / 'objects'}",
                                 fetch_allow="127.0.0.0/8,::1", log_level="WARNING", **settings)  # type: ignore[arg-type]
        self.procs: dict[str, subprocess.Popen] = {}
        self.url = ""

    def __enter__(self) -> BenchStack:
        conn = psycopg2.connect(ADMIN_PG)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.db_name}"')
        conn.close()
        from shared.engine.migrate import upgrade

        upgrade(self.settings.database_url)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.procs):
            self.stop(name)
        conn = psycopg2.connect(ADMIN_PG)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        conn.close()
        r = redis.Redis.from_url(REDIS)
        keys = list(r.scan_iter(match=f"{self.settings.redis_prefix}*", count=1000))
        if keys:
            r.delete(*keys)

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT), **extra}

    def spawn(self, name: str, argv: list[str], **env: str) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env(**env), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def web(self, workers: int = 2, worker_class: str = "gevent", name: str = "web") -> str:
        port = free_port()
        self.spawn(name, [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "-b",
                          f"127.0.0.1:{port}", "-k", worker_class, "-w", str(workers), "api.wsgi:app"])
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=2).ok:
                    self.url = url
                    return url
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not come up; see {self.tmp / (name + '.log')}")

    def worker(self, queues: str, concurrency: int, name: str = "worker", app: str = "workers.app", **env: str) -> None:
        """A ``celery worker`` (of Jobline's app unless ``app`` names another, e.g. a baseline's)."""
        self.spawn(name, [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queues,
                          "-c", str(concurrency), "-n", f"{name}-{uuid.uuid4().hex[:4]}@%h", "--without-mingle",
                          "--without-gossip", "-l", "warning"], **env)

    def beat(self, name: str = "beat") -> None:
        self.spawn(name, [sys.executable, "-m", "celery", "-A", "workers.app", "beat", "-S",
                          "workers.beat:JoblineScheduler", "--pidfile=", "-l", "warning"])

    def stop(self, name: str, timeout: float = 20) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # no child may outlive its master
        except ProcessLookupError:
            pass
        proc.wait()

    def key(self, name: str = "bench") -> str:
        from shared.engine.runtime import Runtime

        rt = Runtime.build(self.settings)
        try:
            return rt.accounts.create_key(rt.accounts.create(name))
        finally:
            rt.db.close()

    def query(self, sql: str, *args: object) -> list[tuple]:
        conn = psycopg2.connect(self.settings.database_url)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()
