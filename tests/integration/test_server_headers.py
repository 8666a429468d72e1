"""What the real server (gunicorn with api/gunicorn_conf.py) lets through to the application.

Header names with "_" map to the same WSGI environ key as their "-" twins, so a client could
pass ``X_Forwarded_For`` off as ``X-Forwarded-For``. Only Kasabi's ``X_KASABI_APIKEY`` may
arrive; every other underscore header is dropped before the environ is built.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.net import free_port, wait_until


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    """gunicorn with the production config, serving an app that echoes the HTTP_* environ."""
    port = free_port()
    log = tmp_path_factory.mktemp("echo") / "gunicorn.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf",
                             "-b", f"127.0.0.1:{port}", "tests.support.echo_environ:app"],
                            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_until(lambda: _up(port), timeout=60, interval=0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(20)


def _up(port: int) -> bool:
    try:
        return environ(port, []) is not None
    except OSError:
        return False


def environ(port: int, headers: list[tuple[str, str]]) -> dict[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", "/")
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def test_underscore_spoofing_is_dropped(echo):
    seen = environ(echo, [("X-Forwarded-For", "203.0.113.7"), ("X_Forwarded_For", "127.0.0.1"),
                          ("X_Real_IP", "127.0.0.1"), ("API_KEY", "jl_spoofed_key"), ("Remote_User", "admin")])
    assert seen["HTTP_X_FORWARDED_FOR"] == "203.0.113.7"  # not merged with the spoofed twin
    assert "HTTP_X_REAL_IP" not in seen and "HTTP_API_KEY" not in seen and "HTTP_REMOTE_USER" not in seen


def test_kasabi_header_alone_is_let_through(echo):
    seen = environ(echo, [("X_KASABI_APIKEY", "jl_abc_def"), ("X_Other", "x")])
    assert seen["HTTP_X_KASABI_APIKEY"] == "jl_abc_def" and "HTTP_X_OTHER" not in seen
