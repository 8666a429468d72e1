"""A real S3-compatible server on loopback: moto's server (``moto[server]``) in its own process.

Not a mock object: boto3 in the test, the API and the worker processes talks HTTP to it,
exactly as to S3 or MinIO. Credentials are moto's dummies, put in the environment so the
worker processes that inherit it sign their requests the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.net import free_port, wait_until

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """Start ``moto_server`` on a free loopback port; yield its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, env={**os.environ, **ENV})
    try:
        wait_until(lambda: proc.poll() is not None or _up(url), timeout=60)
        assert proc.poll() is None, f"moto_server exited: see {log}"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
