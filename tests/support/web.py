"""The API as deployed: gunicorn with gevent workers and psycogreen (api/gunicorn_conf.py)."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.support.net import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def request(port: int, method: str, path: str, headers: dict | None = None, body: str | bytes | None = None):
    """(status, headers, text) of one request to the server on ``port``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


@contextlib.contextmanager
def in_thread(app) -> Iterator[str]:
    """``app`` on a real loopback socket in this process (werkzeug, threaded); yields its URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def gunicorn_server(settings, log: Path, app: str = "api.wsgi:app") -> Iterator[int]:
    """A gunicorn (one gevent worker) on a free port serving ``app`` with ``settings``."""
    port = free_port()
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "-b", f"127.0.0.1:{port}",
                             app], cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)

    def up() -> bool:
        try:
            return request(port, "GET", "/healthz")[0] == 200
        except OSError:
            return False

    try:
        wait_until(up, timeout=60, interval=0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
