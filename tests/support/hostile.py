"""Shared by the hostile-input tests (issue 20): each surface's error format, the world the
requests aim at, a snapshot that says whether anything changed, and the API under gunicorn."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg2
import pytest

from api.dialects.dragon.keys import encode
from tests.support.datasets import make_dataset
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


def console(r) -> bool:
    return r.mimetype == "text/html" and "<" in r.get_data(as_text=True)


FORMATS = {"/v1": canonical, "/dragon": dragon, "/canotic": canotic, "/phyloviz": phyloviz,
           "/rekosearch": rekosearch, "/kasabi": kasabi, "/console": console}


def surface_format(path: str):
    """The format expected under ``path`` (signed download links are the canonical API's)."""
    return next((check for prefix, check in FORMATS.items() if path.startswith(prefix + "/")), canonical)


# -- the world the requests aim at, and "nothing changed" ------------------------------------------


#: How a row of a table with this column belongs to an account (first match wins), so that
#: the snapshot sees the world's rows only: other tests' jobs run on in the background.
_OWNERS = [
    ("account_id", "{c} = %(a)s"),
    ("created_by", "{c} = %(a)s"),
    ("job_id", "{c} IN (SELECT id FROM jobs WHERE account_id = %(a)s)"),
    ("media_job_id", "{c} IN (SELECT id FROM media_jobs WHERE account_id = %(a)s)"),
    ("delivery_id", "{c} IN (SELECT d.id FROM deliveries d JOIN jobs j ON j.id = d.job_id WHERE j.account_id = %(a)s)"),
    ("project_id", "{c} IN (SELECT id FROM phylo_projects WHERE account_id = %(a)s)"),
    ("dataset_id", "{c} IN (SELECT id FROM datasets WHERE account_id = %(a)s)"),
]
_PHYLO_DATASET = "{c} IN (SELECT d.id FROM phylo_datasets d JOIN phylo_projects p ON p.id = d.project_id WHERE p.account_id = %(a)s)"


def make_world(app, runtime, settings) -> SimpleNamespace:
    """An account with a scheduled job, an app, a dataset and a project to aim requests at."""
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
    with contextlib.closing(psycopg2.connect(settings.database_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name, array_agg(column_name::text) FROM information_schema.columns"
                    " WHERE table_schema = 'public' GROUP BY 1 ORDER BY 1")
        columns = dict(cur.fetchall())
    counts = []
    for table, cols in columns.items():
        owner = next((where.format(c=c) for c, where in _OWNERS if c in cols), "true")
        if table.startswith("phylo_") and "dataset_id" in cols and "project_id" not in cols:
            owner = _PHYLO_DATASET.format(c="dataset_id")
        counts.append(f"SELECT '{table}', count(*) FROM \"{table}\" WHERE {owner}")
    return SimpleNamespace(
        account=account.id, key=key, auth=auth, job=job, task=encode(uuid.UUID(job)), app=r.get_json()["app_id"],
        code=make_dataset(client, auth, triples=2), project=phylo.project(), counts=" UNION ALL ".join(counts),
        dsn=settings.database_url)


@pytest.fixture(scope="module")
def world(app, runtime, settings):
    return make_world(app, runtime, settings)


def snapshot(world) -> dict:
    """Row counts of every table (the world's rows), and the world's job and dataset (a cancel,
    restart or reset would change them)."""
    with contextlib.closing(psycopg2.connect(world.dsn)) as conn, conn.cursor() as cur:
        cur.execute(world.counts, {"a": world.account})
        out = dict(cur.fetchall())
        cur.execute("SELECT status, run, attempt FROM jobs WHERE public_id = %s", (world.job,))
        out["the job"] = cur.fetchone()
        cur.execute("SELECT status, generation FROM datasets WHERE code = %s", (world.code,))
        out["the dataset"] = cur.fetchone()
        return out
