"""Fixtures: real PostgreSQL, real Redis, real ``celery worker`` and ``celery beat`` processes.

PostgreSQL and Redis are the machine's own when reachable (``JOBLINE_TEST_PG``,
``JOBLINE_TEST_REDIS``), else embedded servers started for the session. Each session gets a
fresh database and its own Redis database number, so runs never see each other's data.
Unit tests (``tests/unit``) use none of these fixtures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg2
import pytest
import redis

from shared.engine.settings import Settings
from tests.support.callbacks import Receiver
from tests.support.net import free_port, wait_until  # noqa: F401 - wait_until is re-exported to tests

ROOT = Path(__file__).resolve().parent.parent
QUEUES = "default,images,analysis,maintenance,callbacks"


def _pg_ok(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


def _redis_ok(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """(admin PostgreSQL URL, Redis URL): the machine's, or embedded ones."""
    pg = os.environ.get("JOBLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    rd = os.environ.get("JOBLINE_TEST_REDIS", "redis://127.0.0.1:6379/13")
    started = []
    if not _pg_ok(pg) or not _redis_ok(rd):
        from shared.admin import embedded

        # As root the servers run as an unprivileged user, who must be able to enter the folder.
        base = Path(tempfile.mkdtemp(prefix="jobline-embedded-"))
        base.chmod(0o755)
        if not _pg_ok(pg):
            started.append(embedded.start_postgres(base, port=free_port()))
            pg = started[-1].url
        if not _redis_ok(rd):
            started.append(embedded.start_redis(base, port=free_port()))
            rd = started[-1].url
    yield pg, rd
    for server in reversed(started):
        server.stop()


@pytest.fixture(scope="session")
def settings(servers, tmp_path_factory) -> Settings:
    admin, redis_url = servers
    name = f"jobline_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    dsn = admin.rsplit("/", 1)[0] + "/" + name
    from shared.engine.migrate import upgrade

    upgrade(dsn)
    # Sessions share the Redis server (helpers, parallel runs): a key prefix keeps them apart.
    prefix = f"jlt-{uuid.uuid4().hex[:8]}:"
    yield Settings(
        database_url=dsn, redis_url=redis_url, heartbeat_s=0.5, reap_after_s=4,
        redispatch_after_s=2, beat_interval_s=0.2, cancel_grace_s=2, retry_base_s=0.2,
        retry_max_s=1, prefetch=1, plugins="tests.support.jobtypes", log_level="INFO",
        redis_prefix=prefix, storage_url=f"file://{tmp_path_factory.mktemp('objects')}",
        fetch_allow="127.0.0.0/8,::1", fetch_timeout_s=2, max_load_bytes=16 * 1024 * 1024,
    )
    flush_broker(redis_url, prefix)
    flush_broker(redis_url, prefix)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def flush_broker(redis_url: str, prefix: str) -> None:
    """Delete every broker key of this session (what FLUSHDB would do to a Redis of its own)."""
    r = redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        r.delete(*keys)


@pytest.fixture(scope="session")
def runtime(settings):
    from shared.engine.runtime import Runtime

    rt = Runtime.build(settings)
    yield rt
    rt.db.close()


@pytest.fixture(scope="session")
def app(runtime):
    from api.app import create_app

    return create_app(runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


class Proc:
    """A celery worker or beat subprocess with the test settings in its environment."""

    def __init__(self, settings: Settings, args: list[str], log: Path) -> None:
        self.settings, self.args, self.log = settings, args, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT)}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", *self.args],
            cwd=ROOT, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        if self.popen:
            try:  # no pool child may outlive its master
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.popen.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]


def worker_proc(settings: Settings, tmp: Path, name: str = "w1", concurrency: int = 2) -> Proc:
    return Proc(settings, ["worker", "-Q", QUEUES, "-c", str(concurrency), "-n", f"{name}@%h",
                           "--without-mingle", "--without-gossip", "-l", "info"], tmp / f"{name}.log")


def beat_proc(settings: Settings, tmp: Path, name: str = "beat") -> Proc:
    return Proc(settings, ["beat", "-S", "workers.beat:JoblineScheduler", "-l", "info",
                           "--pidfile="], tmp / f"{name}.log")


@pytest.fixture(scope="session")
def engine(settings, tmp_path_factory):
    """A worker on every queue and a beat, running for the whole session."""
    tmp = tmp_path_factory.mktemp("procs")
    procs = {"worker": worker_proc(settings, tmp).start(), "beat": beat_proc(settings, tmp).start()}
    yield procs
    for p in procs.values():
        p.stop()


@pytest.fixture
def make_account(runtime):
    def make(**kw):
        account = runtime.accounts.create(f"acct-{uuid.uuid4().hex[:10]}", **kw)
        return account, runtime.accounts.create_key(account)

    return make


@pytest.fixture
def key(make_account) -> str:
    return make_account()[1]


@pytest.fixture
def auth(key) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def receiver():
    """A callback receiver on 127.0.0.1 (daemon threads), one per test module."""
    r = Receiver()
    yield r
    r.close()
