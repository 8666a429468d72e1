"""The API under the real server: gunicorn with api/gunicorn_conf.py, one worker process."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.settings import Settings
from tests.support.net import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def gunicorn(settings: Settings, log: Path, app: str = "api.wsgi:app") -> Iterator[int]:
    """Serve ``app`` on a free loopback port with ``settings``; yield the port."""
    port = free_port()
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf",
                             "-b", f"127.0.0.1:{port}", app], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

    def up() -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
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
