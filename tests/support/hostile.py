"""Shared by the hostile-input tests (issue 20): each surface's error format, the world the
requests aim at, a snapshot that says whether anything changed, and the API under gunicorn."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg2
import pytest

from api.dragon.keys import encode
from tests.conftest import ROOT, wait_until
from tests.support.datasets import make_dataset
from tests.support.net import free_port
from tests.support.phyloviz import Phylo

FAR = (datetime.now(UTC) + timedelta(days=3650)).isoformat()
HELLO = {"type": "hello", "params": {"name": "x"}}


# -- each surface's error format ----------------------------------------------------------------


def _json(r):
    return r.get_json(silent=True) if r.mimetype == "application/json" else None


def canonical(r) -> bool:
    body = _json(r)
    return isinstance(body, dict) and body.get("code") == r.status_code and {"status", "message"} <= set(body)


def dragon(r) -> bool:
    body = _json(r)
    return isinstance(body, dict) and body.get("status") == "error" and ("errors" in body or "message" in body)


def canotic(r) -> bool:
    body = _json(r)
    return isinstance(body, dict) and isinstance(body.get("message"), str) and "code" not in body


def phyloviz(r) -> bool:
    body = _json(r)
    return isinstance(body, dict) and {"message", "detail"} <= set(body)


def rekosearch(r) -> bool:
    body = _json(r)
    return isinstance(body, dict) and isinstance(body.get("message"), str) and set(body) <= {
        "message", "affected_query_parameter"}


def kasabi(r) -> bool:
    return r.mimetype == "text/plain" and bool(r.get_data(as_text=True).strip())


FORMATS = {"/v1": canonical, "/dragon": dragon, "/canotic": canotic, "/phyloviz": phyloviz,
           "/rekosearch": rekosearch, "/kasabi": kasabi}


def surface_format(path: str):
    """The format expected under ``path`` (signed download links are the canonical API's)."""
    return next((check for prefix, check in FORMATS.items() if path.startswith(prefix + "/")), canonical)


# -- the world the requests aim at, and "nothing changed" ------------------------------------------


@pytest.fixture(scope="module")
def world(app, runtime, settings):
    client = app.test_client()
    account = runtime.accounts.create(f"hostile-{uuid.uuid4().hex[:8]}")
    key = runtime.accounts.create_key(account)
    auth = {"Authorization": f"Bearer {key}"}
    r = client.post("/v1/jobs", json={**HELLO, "start_at": FAR}, headers=auth)
    assert r.status_code == 201, r.get_json()
    job = r.get_json()["id"]
    r = client.post("/v1/apps", json={"name": "greeter", "type": "hello"}, headers=auth)
    assert r.status_code == 201, r.get_json()
    phylo = Phylo(client, key)
    with psycopg2.connect(settings.database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                    " AND table_type = 'BASE TABLE' ORDER BY 1")
        tables = [t for (t,) in cur.fetchall()]
    conn.close()
    return SimpleNamespace(
        key=key, auth=auth, job=job, task=encode(uuid.UUID(job)), app=r.get_json()["app_id"],
        code=make_dataset(client, auth, triples=2), project=phylo.project(), tables=tables,
        dsn=settings.database_url)


def snapshot(world) -> dict:
    """Row counts of every table, and the world's job (a cancel or restart would change it)."""
    counts = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in world.tables)
    conn = psycopg2.connect(world.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(counts)
            out = dict(cur.fetchall())
            cur.execute("SELECT status, run, attempt FROM jobs WHERE public_id = %s", (world.job,))
            out["the job"] = cur.fetchone()
            cur.execute("SELECT status, generation FROM datasets WHERE code = %s", (world.code,))
            out["the dataset"] = cur.fetchone()
        return out
    finally:
        conn.close()


def request(port: int, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


@contextlib.contextmanager
def gunicorn(settings, tmp_path):
    """The API under gunicorn with its production configuration (api/gunicorn_conf.py)."""
    port = free_port()
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "-b",
                             f"127.0.0.1:{port}", "api.wsgi:app"], cwd=ROOT, env=env, stderr=subprocess.STDOUT,
                            stdout=(tmp_path / "gunicorn.log").open("wb"), start_new_session=True)

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
