"""Loopback receivers for callback tests and the benchmark: an HTTP server, an SMTP server,
and a self-contained stack (its own database, broker prefix, worker and beat).

The callback tests need settings of their own (an SMTP server on a free port, retries in
fractions of a second), and deliveries are picked up by whichever beat watches the database:
so they run against a database of their own, which the session's engine never sees.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2

from shared.engine.settings import Settings
from tests.support.net import free_port, wait_until


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request.

    ``plan(path, *steps)``: the answers to successive requests of ``path``: an HTTP status,
    ``("sleep", s)`` (answer 200 after ``s`` seconds), ``("redirect", to)``; then 200 forever.
    ``serve(path, body)``: answer GETs of ``path`` with ``body`` (for ``inputs_file``).
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._plans: dict[str, list] = {}
        self._files: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                body, ctype = receiver._files.get(self.path, (b"not found", "text/plain"))
                self._answer(200 if self.path in receiver._files else 404, body, ctype)

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    steps = receiver._plans.get(self.path) or []
                    step = steps.pop(0) if steps else 200
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = 200
                if isinstance(step, tuple) and step[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", step[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._answer(step, b'{"ok": true}' if step < 300 else b"nope", "application/json")
                with receiver._arrived:
                    receiver.requests.append(Received("POST", self.path, dict(self.headers), data))
                    receiver._arrived.notify_all()

            def _answer(self, status: int, body: bytes, ctype: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (a "slow receiver" test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def plan(self, path: str, *steps) -> str:
        with self._lock:
            self._plans[path] = list(steps)
        return self.url + path

    def serve(self, path: str, body: bytes, content_type: str = "application/json") -> str:
        self._files[path] = (body, content_type)
        return self.url + path

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len([r for r in self.requests if r.path == path]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{path}: {count} request(s) expected within {timeout} s")
                self._arrived.wait(left)
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[str, list[str], bytes]] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


class Stack:
    """A database, broker prefix, runtime, Flask app, worker and beat of their own."""

    def __init__(self, admin_url: str, redis_url: str, tmp: Path, **overrides) -> None:
        self.admin_url, self.tmp = admin_url, tmp
        self.name = f"jobline_cb_{uuid.uuid4().hex[:10]}"
        base = dict(redis_url=redis_url, redis_prefix=f"jlcb-{uuid.uuid4().hex[:8]}:", heartbeat_s=0.5,
                    reap_after_s=4, redispatch_after_s=2, beat_interval_s=0.2, cancel_grace_s=2,
                    retry_base_s=0.2, retry_max_s=1, prefetch=1, plugins="tests.support.jobtypes",
                    storage_url=f"file://{tmp / 'objects'}", fetch_allow="127.0.0.0/8,::1", fetch_timeout_s=2)
        self.settings = Settings(database_url=admin_url.rsplit("/", 1)[0] + "/" + self.name,
                                 **{**base, **overrides})
        self.procs: list = []

    def start(self, concurrency: int = 2) -> Stack:
        from api.app import create_app
        from shared.engine.migrate import upgrade
        from shared.engine.runtime import Runtime
        from tests.conftest import beat_proc, worker_proc

        self._admin(f'CREATE DATABASE "{self.name}"')
        upgrade(self.settings.database_url)
        self.runtime = Runtime.build(self.settings)
        self.app = create_app(runtime=self.runtime)
        self.procs = [worker_proc(self.settings, self.tmp, f"cbw-{self.name}", concurrency).start(),
                      beat_proc(self.settings, self.tmp, f"cbb-{self.name}").start()]
        return self

    def account(self) -> tuple[object, str]:
        acct = self.runtime.accounts.create(f"acct-{uuid.uuid4().hex[:10]}")
        return acct, self.runtime.accounts.create_key(acct)

    def stop(self) -> None:
        for p in self.procs:
            p.stop()
        if hasattr(self, "runtime"):
            self.runtime.db.close()
        from tests.conftest import flush_broker

        flush_broker(self.settings.redis_url, self.settings.redis_prefix)
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()


def wait_for(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.1):
    return wait_until(predicate, timeout, interval)

