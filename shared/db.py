"""PostgreSQL access: a per-process connection pool and transactions.

The pool is created lazily and re-created after a fork, so a Celery prefork child or a
gunicorn worker never shares a socket with its parent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool

from shared.errors import DatabaseUnavailable
from shared.queries import queries

psycopg2.extensions.register_type(psycopg2.extensions.UNICODE)
psycopg2.extras.register_uuid()
# Decode json/jsonb ourselves with the stdlib (the default) but keep timestamps as datetimes.

Cursor = psycopg2.extras.RealDictCursor


class Database:
    """A lazily created, fork-safe connection pool with named-query helpers."""

    def __init__(self, dsn: str, max_connections: int = 10) -> None:
        self.dsn = dsn
        self.max_connections = max_connections
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = psycopg2.pool.ThreadedConnectionPool(
                        0, self.max_connections, self.dsn, connect_timeout=5,
                        application_name="jobline",
                    )
                    self._pid = os.getpid()
        return self._pool

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction: commit on success, roll back on error, connection back to the pool."""
        pool = self._get_pool()
        try:
            conn = pool.getconn()
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(str(exc).strip()) from exc
        broken = False
        try:
            with conn.cursor(cursor_factory=Cursor) as cur:
                yield cur
            conn.commit()
        except psycopg2.OperationalError as exc:
            broken = True
            raise DatabaseUnavailable(str(exc).strip()) from exc
        except psycopg2.InterfaceError as exc:
            broken = True
            raise DatabaseUnavailable(str(exc).strip()) from exc
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise
        finally:
            pool.putconn(conn, close=broken or bool(conn.closed))

    def one(self, name: str, /, **params: Any) -> dict[str, Any] | None:
        with self.transaction() as cur:
            cur.execute(queries[name], params)
            return cur.fetchone() if cur.description else None

    def all(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        with self.transaction() as cur:
            cur.execute(queries[name], params)
            return cur.fetchall()

    def close(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.closeall()
        self._pool = None


def connect_raw(dsn: str) -> psycopg2.extensions.connection:
    """A dedicated connection outside the pool (migrations, LISTEN)."""
    try:
        return psycopg2.connect(dsn, connect_timeout=5, application_name="jobline")
    except psycopg2.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip()) from exc
