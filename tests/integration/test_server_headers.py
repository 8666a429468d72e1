"""What the real server (gunicorn with api/gunicorn_conf.py) lets through to the application.

Header names with "_" map to the same WSGI environ key as their "-" twins, so a client could
pass ``X_Forwarded_For`` off as ``X-Forwarded-For``. Only Kasabi's ``X_KASABI_APIKEY`` may
arrive; every other underscore header is dropped before the environ is built.
"""

from __future__ import annotations

import http.client
import json

import pytest

from shared.engine.settings import Settings
from tests.support.web import gunicorn_server


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    """gunicorn with the production config, serving an app that echoes the HTTP_* environ."""
    log = tmp_path_factory.mktemp("echo") / "gunicorn.log"
    with gunicorn_server(Settings(), log, app="tests.support.echo_environ:app") as port:
        yield port


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
