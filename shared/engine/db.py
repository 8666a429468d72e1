"""PostgreSQL access: a per-process connection pool and transactions.

The pool is created lazily and re-created after a fork, so a Celery prefork child or a
gunicorn worker never shares a socket with its parent. Idle connections are kept (LIFO);
a caller waits for a free slot rather than failing when all are busy.

Named queries run through ``one``/``all`` are prepared once per connection (``PREPARE``,
then ``EXECUTE``): PostgreSQL then skips parsing and planning, which was a third of its
work on a job's claim and finish. A query PostgreSQL cannot prepare (a parameter whose type
it cannot deduce) runs as plain SQL instead.
"""

from __future__ import annotations

import logging
import os
import re
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from shared.engine.errors import BadRequest, DatabaseUnavailable
from shared.engine.queries import queries

psycopg2.extras.register_uuid()
log = logging.getLogger(__name__)
_PARAM = re.compile(r"%\((\w+)\)s")


def utc(value: datetime) -> datetime:
    """Aware datetimes in UTC: Python accepts offsets up to ±23:59, PostgreSQL only ±15:59.

    A time whose UTC form is outside years 1..9999 should have been refused at the edge
    (``shared.engine.validation``); if one gets here it is still the client's ``BadRequest``.
    """
    try:
        return value.astimezone(UTC) if value.tzinfo is not None else value
    except OverflowError:
        raise BadRequest(f"date-time {value.isoformat()} is out of range (years 1 to 9999 in UTC)") from None


_adapt_datetime = psycopg2.extensions.adapters[(datetime, psycopg2.extensions.ISQLQuote)]
psycopg2.extensions.register_adapter(datetime, lambda value: _adapt_datetime(utc(value)))

Cursor = psycopg2.extras.RealDictCursor
#: How long a caller waits for a free pooled connection before giving up (503 in the API).
POOL_WAIT_S = 30.0


class Connection(psycopg2.extensions.connection):
    """A connection that remembers which named queries it has prepared."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: set[str] = set()


def connect_raw(dsn: str) -> Connection:
    """A dedicated connection (migrations, LISTEN, the pool's own)."""
    try:
        return psycopg2.connect(dsn, connect_timeout=5, application_name="jobline", connection_factory=Connection)
    except psycopg2.OperationalError as exc:
        raise DatabaseUnavailable(detail=str(exc).strip()) from exc


class Database:
    """A lazily created, fork-safe connection pool with named-query helpers."""

    def __init__(self, dsn: str, max_connections: int = 10) -> None:
        self.dsn = dsn
        self.max_connections = max_connections
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._idle: list[psycopg2.extensions.connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_connections)

    def _acquire(self) -> psycopg2.extensions.connection:
        if self._pid != os.getpid():
            self._reset()  # never touch the parent's sockets after a fork
        if not self._slots.acquire(timeout=POOL_WAIT_S):
            raise DatabaseUnavailable(f"all {self.max_connections} database connections are busy")
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None and not conn.closed and select.select([conn], [], [], 0)[0]:
            # An idle connection has nothing to read unless the server said goodbye (a
            # restart's termination notice, or EOF): discard it instead of failing a request.
            conn.close()
        if conn is None or conn.closed:
            try:
                conn = connect_raw(self.dsn)
            except DatabaseUnavailable:
                self._slots.release()
                raise
        return conn

    def _release(self, conn: psycopg2.extensions.connection, broken: bool) -> None:
        if broken or conn.closed:
            conn.close()
        else:
            with self._lock:
                self._idle.append(conn)
        self._slots.release()

    @contextmanager
    def transaction(self, single_statement: bool = False) -> Iterator[Cursor]:
        """One transaction: commit on success, roll back on error, connection back to the pool.

        ``single_statement``: the block runs one statement, which PostgreSQL makes atomic on
        its own (a CTE's UPDATE and INSERT included), so skip the extra COMMIT round trip.
        """
        conn = self._acquire()
        broken = False
        conn.autocommit = single_statement
        try:
            with conn.cursor(cursor_factory=Cursor) as cur:
                yield cur
            if not single_statement:
                conn.commit()
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            broken = True
            raise DatabaseUnavailable(detail=str(exc).strip()) from exc
        except BaseException:
            if not conn.closed and not conn.autocommit:
                conn.rollback()
            raise
        finally:
            self._release(conn, broken)

    def one(self, name: str, /, **params: Any) -> dict[str, Any] | None:
        with self.transaction(single_statement=True) as cur:
            self._execute(cur, name, params)
            return cur.fetchone() if cur.description else None

    def all(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        with self.transaction(single_statement=True) as cur:
            self._execute(cur, name, params)
            return cur.fetchall()

    def _execute(self, cur: Cursor, name: str, params: dict[str, Any]) -> None:
        """Run a named query on its own (autocommit), as a prepared statement where possible."""
        try:
            self._run(cur, name, params)
        except ValueError as exc:  # psycopg2 refuses, before sending, text PostgreSQL cannot hold
            if "NUL (0x00)" not in str(exc):
                raise
            raise BadRequest("text cannot contain NUL (0x00) characters") from None

    def _run(self, cur: Cursor, name: str, params: dict[str, Any]) -> None:
        order = _order(name)
        if name in _unpreparable or order is None:
            cur.execute(queries[name], params)
            return
        conn = cur.connection
        try:
            if name not in conn.prepared:
                cur.execute(f"PREPARE jl_{name} AS {_numbered(name)}")
                conn.prepared.add(name)
            cur.execute(f"EXECUTE jl_{name}({', '.join(['%s'] * len(order))})", [_value(params[n]) for n in order])
        except psycopg2.errors.FeatureNotSupported:
            # "cached plan must not change result type": a migration changed a table since.
            cur.execute(f"DEALLOCATE jl_{name}")
            conn.prepared.discard(name)
            cur.execute(queries[name], params)
        except (psycopg2.ProgrammingError, psycopg2.DataError) as exc:
            if not _is_type_error(exc):
                raise
            log.debug("query %s runs unprepared: %s", name, exc)
            _unpreparable.add(name)
            cur.execute(queries[name], params)

    def close(self) -> None:
        """Close idle connections (and forget a parent's after a fork)."""
        if self._pid == os.getpid():
            with self._lock:
                idle, self._idle = self._idle, []
            for conn in idle:
                conn.close()
        else:
            self._reset()


#: Named queries PostgreSQL could not prepare (ambiguous parameter types); run as plain SQL.
_unpreparable: set[str] = set()
_orders: dict[str, list[str] | None] = {}


def _order(name: str) -> list[str] | None:
    """The query's parameter names in ``$n`` order; ``None`` for a query without any."""
    if name not in _orders:
        names: list[str] = []
        for param in _PARAM.findall(queries[name]):
            if param not in names:
                names.append(param)
        _orders[name] = names or None
    return _orders[name]


def _numbered(name: str) -> str:
    names = _order(name) or []
    return _PARAM.sub(lambda m: f"${names.index(m.group(1)) + 1}", queries[name]).replace("%%", "%")


def _is_type_error(exc: psycopg2.Error) -> bool:
    return isinstance(exc, psycopg2.errors.AmbiguousParameter | psycopg2.errors.IndeterminateDatatype
                      | psycopg2.errors.DatatypeMismatch | psycopg2.errors.CannotCoerce)


def _value(value: Any) -> Any:
    """A list becomes an array literal, which PostgreSQL coerces to the parameter's array type
    (psycopg2's ``ARRAY[...]`` is typed ``text[]`` and would not become ``job_status[]``)."""
    if isinstance(value, list | tuple):
        return "{" + ",".join(_element(v) for v in value) + "}"
    return value


def _element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
