"""Key scopes on every route of every surface, generated from the route table.

For each route of the application (``app.url_map``) × each method × each key kind (secret,
read, public from a whitelisted page), the answer must follow ``api.access.ROUTES``: a key
without the scope gets 401/403 in the surface's own format and nothing changes; a key with
it gets past the check (whatever the view then says about the dummy ids). A route that is
not in ``ROUTES`` fails ``test_every_route_has_an_access_decision``.
"""

from __future__ import annotations

import re
import uuid

import psycopg2
import pytest

from api.access import ROUTES, Access, decision, required_scopes
from shared.engine.accounts import SCOPES

DUMMY = {"job_id": str(uuid.UUID(int=7)), "app_id": "0" * 32, "upload_id": str(uuid.UUID(int=8)),
         "token": "x", "filename": "x.jpg", "name": "x", "code": "nosuchdataset"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REFUSED = {401, 403}


@pytest.fixture
def keys(runtime):
    account = runtime.accounts.create(f"scopes-{uuid.uuid4().hex[:8]}", referers=["app.example"])
    return account, {kind: runtime.accounts.create_key(account, kind=kind) for kind in SCOPES}


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Referer": "https://app.example/page"}


def routes(app):
    """(endpoint, method, concrete path) for every route of the application."""
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: DUMMY.get(m.group(1), "nope"), rule.rule)
        for method in METHODS:
            if method in rule.methods:
                yield rule.endpoint, method, path


def fingerprint(settings, account_id: int) -> dict[str, str]:
    """A digest of every row of the account (its own row, each table with an ``account_id``,
    its jobs' events): what a refused request must leave as it was, inserts and updates alike.
    Other tests' workers may write meanwhile; they write no row of this account."""
    with psycopg2.connect(settings.database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND column_name = 'account_id' ORDER BY 1")
        queries = {t: f'SELECT * FROM "{t}" WHERE account_id = %(a)s' for (t,) in cur.fetchall()}
        queries["accounts"] = "SELECT * FROM accounts WHERE id = %(a)s"
        queries["job_events"] = "SELECT e.* FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.account_id = %(a)s"
        out = {}
        for name, sql in queries.items():
            cur.execute(f"SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) FROM ({sql}) r",
                        {"a": account_id})
            out[name] = cur.fetchone()[0]
    conn.close()
    return out


def test_every_route_has_an_access_decision(app):
    undecided = sorted({endpoint for endpoint, _m, _p in routes(app)} - set(ROUTES))
    assert not undecided, f"add these endpoints to api/access.py ROUTES: {undecided}"
    stale = sorted(set(ROUTES) - {endpoint for endpoint, _m, _p in routes(app)})
    assert not stale, f"ROUTES names endpoints that no longer exist: {stale}"


def test_the_matrix(app, client, keys, settings):
    account, by_kind = keys
    refused, allowed = [], []
    for endpoint, method, path in routes(app):
        access = decision(endpoint, method)
        for kind, key in by_kind.items():
            may = access is Access.NONE or bool(SCOPES[kind] & required_scopes(access))
            (allowed if may else refused).append((endpoint, method, path, kind, key))
    assert refused and allowed

    before = fingerprint(settings, account.id)
    for endpoint, method, path, kind, key in refused:
        r = client.open(path, method=method, headers=headers(key), json={})
        assert r.status_code in REFUSED, (endpoint, method, path, kind, r.status_code, r.data[:200])
        assert b"may not do this" in r.data, (endpoint, method, kind, r.data[:200])
    assert fingerprint(settings, account.id) == before, "a refused request changed something"

    for endpoint, method, path, kind, key in allowed:
        r = client.open(path, method=method, headers=headers(key), json={})
        assert r.status_code not in REFUSED, (endpoint, method, path, kind, r.status_code, r.data[:200])


def test_the_security_critical_cells_by_hand(client, keys, runtime):
    """The attack that started it: a public key plus a forged Referer was a master key."""
    account, by_kind = keys
    secret, read, public = (headers(by_kind[k]) for k in ("secret", "read", "public"))
    job = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "A"}}, headers=secret).get_json()
    for method, path in [("GET", "/v1/jobs"), ("GET", f"/v1/jobs/{job['id']}"), ("DELETE", f"/v1/jobs/{job['id']}"),
                         ("POST", "/v1/webhook/secret:rotate"), ("GET", "/v1/apps"), ("GET", "/canotic/jobs"),
                         ("GET", "/rekosearch/api/v1/jobs/list"), ("GET", "/phyloviz/projects")]:
        assert client.open(path, method=method, headers=public).status_code == 403, (method, path)
    assert str(runtime.jobs.get(account, job["id"])["public_id"]) == job["id"]  # still there

    # a read key reads and changes nothing
    assert client.get(f"/v1/jobs/{job['id']}", headers=read).status_code == 200
    for method, path, body in [("POST", "/v1/jobs", {"type": "hello", "params": {"name": "x"}}),
                               ("POST", f"/v1/jobs/{job['id']}/cancel", None),
                               ("DELETE", f"/v1/jobs/{job['id']}", None),
                               ("GET", f"/canotic/jobs/{job['id']}/cancel", None),  # a GET that writes
                               ("POST", "/dragon/v1/create", {"tasks": {"task_name": "hello", "name": "x"}})]:
        r = client.open(path, method=method, headers=read, json=body)
        assert r.status_code in REFUSED, (method, path, r.status_code)
    assert runtime.jobs.get(account, job["id"])["status"] in ("queued", "running", "succeeded")

    # a public key creates Dragon tasks and reads back its own, and only its own
    mine = client.post("/dragon/v1/create", json={"tasks": {"task_name": "hello", "name": "P"}}, headers=public)
    assert mine.status_code == 200, mine.data
    mine = mine.get_json()[0]["key"]
    theirs = client.post("/dragon/v1/create", json={"tasks": {"task_name": "hello", "name": "S"}},
                         headers=secret).get_json()[0]["key"]
    seen = client.get(f"/dragon/v1/status?tasks={mine}&tasks={theirs}", headers=public).get_json()
    assert seen[0]["key"] == mine and "unknown task key" not in str(seen[0])
    assert "unknown task key" in seen[1]["result"]
    # the secret key of the account sees both
    both = client.get(f"/dragon/v1/status?tasks={mine}&tasks={theirs}", headers=secret).get_json()
    assert all("unknown task key" not in str(s) for s in both)


def test_scopes_are_in_the_openapi_document(client):
    spec = client.get("/openapi.json").get_json()
    assert "read" in spec["components"]["securitySchemes"]["bearer"]["description"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in {m.lower() for m in METHODS}:
                continue
            assert op.get("security") == [] or op.get("x-jobline-scopes"), (method, path)
    assert spec["paths"]["/v1/jobs"]["get"]["x-jobline-scopes"] == ["read"]
    assert spec["paths"]["/v1/jobs"]["post"]["x-jobline-scopes"] == ["write"]


def test_keys_list_shows_scopes(keys, runtime, capsys, settings, monkeypatch):
    from shared.admin import cli

    account, _ = keys
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert cli.main(["keys", "create", account.name, "--scope", "read", "--label", "ci"]) == 0
    created = capsys.readouterr().out.strip()
    assert runtime.accounts.authenticate(created).scopes == {"read"}
    assert cli.main(["keys", "list", account.name]) == 0
    out = capsys.readouterr().out
    assert "secret (read,write)" in out and "read (read)" in out and "public (public)" in out
