"""Hostile input on every surface (issue 20): each class of the issue's corpus, on the
canonical API and the five dialects, answers a 4xx in that surface's own error format and
changes nothing in the database. ``test_hostile_fuzz.py`` adds generated input over every
route of the route table."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg2
import pytest

from api.dragon.keys import encode
from api.hostile import MAX_GET_TASK_KEYS
from tests.conftest import ROOT, wait_until
from tests.support.datasets import make_dataset
from tests.support.net import free_port
from tests.support.phyloviz import Phylo

NUL = "\u0000"
DEEP = "[" * 10_000
FAR = (datetime.now(UTC) + timedelta(days=3650)).isoformat()


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
    r = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "x"}, "start_at": FAR}, headers=auth)
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


# -- the corpus ------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    method: str
    path: str
    json: object = None
    data: object = None
    headers: dict = field(default_factory=dict)
    content_type: str | None = None

    def call(self, client, world):
        path = self.path.format(w=world)
        kw = {"headers": {**world.auth, **self.headers}}
        if self.json is not None:
            kw["data"] = json.dumps(self.json)
            kw["content_type"] = "application/json"
        elif self.data is not None:
            kw["data"] = self.data() if callable(self.data) else self.data
            if self.content_type:
                kw["content_type"] = self.content_type
        return client.open(path, method=self.method, **kw)


def raw(text: str, content_type: str = "application/json") -> dict:
    return {"data": text, "content_type": content_type}


def form(**fields) -> dict:
    return {"data": fields, "content_type": "application/x-www-form-urlencoded"}


def files(name: str, filename: str, **fields) -> dict:
    return {"data": lambda: {name: (io.BytesIO(b"\x89PNG data"), filename), **fields},
            "content_type": "multipart/form-data"}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HELLO = {"type": "hello", "params": {"name": "x"}}
URN = "urn:uuid:{w.job}"
CASES = [
    # NUL anywhere
    Case("v1 params NUL", "POST", "/v1/jobs", {"type": "hello", "params": {"name": f"a{NUL}b"}}),
    Case("v1 metadata value NUL", "POST", "/v1/jobs", {**HELLO, "metadata": {"k": NUL}}),
    Case("v1 metadata key NUL", "POST", "/v1/jobs", {**HELLO, "metadata": {f"k{NUL}": 1}}),
    Case("v1 type NUL", "POST", "/v1/jobs", {"type": f"hello{NUL}", "params": {"name": "x"}}),
    Case("v1 image URL NUL", "POST", "/v1/jobs", {"type": "image.info", "params": {"url": f"https://example.com/{NUL}.jpg"}}),
    Case("v1 callback NUL", "POST", "/v1/jobs", {**HELLO, "callback_url": f"https://example.com/{NUL}"}),
    Case("v1 idempotent NUL body", "POST", "/v1/jobs", {"type": "hello", "params": {"name": NUL}},
         headers={"Idempotency-Key": "hostile-1"}),
    Case("v1 query NUL", "GET", "/v1/jobs?type=%00"),
    Case("v1 status query NUL", "GET", "/v1/jobs?status=%00"),
    Case("v1 path NUL dataset", "GET", "/v1/datasets/%00"),
    Case("v1 path NUL job", "GET", "/v1/jobs/%00"),
    Case("v1 path NUL file", "GET", "/v1/jobs/{w.job}/files/%00"),
    Case("v1 app name NUL", "POST", "/v1/apps", {"name": f"a{NUL}", "type": "hello"}),
    Case("v1 app params NUL", "POST", "/v1/apps", {"name": "a", "type": "hello", "params": {"name": NUL}}),
    Case("v1 dataset title NUL", "POST", "/v1/datasets", {"code": "hostile-ds", "title": f"t{NUL}"}),
    Case("v1 dataset code NUL", "POST", "/v1/datasets", {"code": f"ds{NUL}", "title": "t"}),
    Case("v1 upload filename NUL", "POST", "/v1/uploads", **files("file", f"a{NUL}.png")),
    Case("v1 webhook NUL", "PUT", "/v1/webhook", {"url": f"https://example.com/{NUL}"}),
    # non-JSON numbers and strings
    Case("v1 NaN", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": NaN}}')),
    Case("v1 Infinity", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": Infinity}}')),
    Case("v1 -Infinity", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": -Infinity}}')),
    Case("v1 1e400", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": 1e400}}')),
    Case("v1 huge int", "POST", "/v1/jobs", {**HELLO, "metadata": {"a": 10**30}}),
    Case("v1 huge priority", "POST", "/v1/jobs", {**HELLO, "priority": 10**30}),
    Case("v1 lone surrogate", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "\\ud800"}}')),
    Case("v1 lone surrogate key", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"\\udfff": 1}}')),
    Case("v1 triples bad \\U", "POST", "/v1/datasets/{w.code}/triples",
         **raw('<http://a.example/s> <http://a.example/p> "\\U0011FFFF" .\n', "application/n-triples")),
    Case("v1 triples surrogate \\U", "POST", "/v1/datasets/{w.code}/triples",
         **raw('<http://a.example/s> <http://a.example/p> "\\U0000D800" .\n', "application/n-triples")),
    Case("v1 triples surrogate \\u", "POST", "/v1/datasets/{w.code}/triples",
         **raw('<http://a.example/s> <http://a.example/p> "\\uDC00" .\n', "application/n-triples")),
    # deep nesting
    Case("v1 deep body", "POST", "/v1/jobs", **raw(DEEP)),
    Case("v1 deep metadata", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": '
                                                      + "[" * 100 + "]" * 100 + "}}")),
    Case("v1 deep apps", "POST", "/v1/apps", **raw(DEEP)),
    Case("v1 deep datasets", "POST", "/v1/datasets", **raw(DEEP)),
    Case("v1 deep webhook", "PUT", "/v1/webhook", **raw(DEEP)),
    # out-of-range values
    Case("v1 start_at year 1 +01:00", "POST", "/v1/jobs", {**HELLO, "start_at": "0001-01-01T00:00:00+01:00"}),
    Case("v1 start_at year 9999 -01:00", "POST", "/v1/jobs", {**HELLO, "start_at": "9999-12-31T23:59:59-01:00"}),
    Case("v1 start_at NUL", "POST", "/v1/jobs", {**HELLO, "start_at": f"2030-01-01T00:00:00Z{NUL}"}),
    Case("v1 created_after year 1", "GET", "/v1/jobs?created_after=0001-01-01T00:00:00%2B01:00"),
    Case("v1 created_before year 9999", "GET", "/v1/jobs?created_before=9999-12-31T23:59:59-01:00"),
    Case("v1 huge cursor", "GET", "/v1/jobs?cursor=" + b64("j" + "9" * 30)),
    Case("v1 unicode digit cursor", "GET", "/v1/jobs?cursor=" + b64("j²")),
    Case("v1 huge wait", "GET", "/v1/jobs/{w.job}?wait=1e400"),
    Case("v1 NaN wait", "GET", "/v1/jobs/{w.job}?wait=nan"),
    Case("v1 huge limit", "GET", "/v1/jobs?limit=99999999999999999999999"),
    Case("v1 dataset job year 9999", "POST", "/v1/datasets/{w.code}/jobs",
         {"type": "reset", "start_at": "9999-12-31T23:59:59-01:00"}),
    Case("v1 Last-Event-ID huge", "GET", "/v1/jobs/{w.job}/events",
         headers={"Accept": "text/event-stream", "Last-Event-ID": "9" * 30}),
    Case("v1 Last-Event-ID unicode digit", "GET", "/v1/jobs/{w.job}/events",
         headers={"Accept": "text/event-stream", "Last-Event-ID": "²"}),
    # ids in other shapes
    *[Case(f"v1 urn:uuid {m} {p}", m, f"/v1/jobs/{URN}{p}")
      for m, p in [("GET", ""), ("DELETE", ""), ("POST", "/cancel"), ("POST", "/restart"), ("GET", "/events"),
                   ("GET", "/files"), ("GET", "/files/small"), ("GET", "/deliveries")]],
    Case("v1 braces id", "POST", "/v1/jobs/%7B{w.job}%7D/cancel"),
    Case("v1 app urn:uuid", "GET", "/v1/apps/urn:uuid:{w.job}"),
    Case("v1 upload urn:uuid", "DELETE", "/v1/uploads/urn:uuid:{w.job}"),
    # non-ASCII output file names
    Case("v1 non-ASCII file name", "GET", "/v1/jobs/{w.job}/files/x.%C3%A9"),
    Case("v1 non-ASCII file token", "GET", "/files/x.%C3%A9"),
    # batches mixing good and bad items
    Case("v1 batch with a NUL item", "POST", "/v1/jobs", {"jobs": [HELLO, {"type": "hello", "params": {"name": NUL}}]}),
    Case("v1 batch with a far item", "POST", "/v1/jobs", {"jobs": [HELLO, {**HELLO, "start_at": "9999-12-31T23:59:59-01:00"}]}),
    Case("v1 batch with a bad type", "POST", "/v1/jobs", {"jobs": [HELLO, {"type": "nope"}]}),
    Case("v1 batch with a non-object", "POST", "/v1/jobs", {"jobs": [HELLO, 5, None, "x"]}),
    # long request lines
    Case("v1 long request line", "GET", "/v1/jobs?type=" + "a" * 9000),
    Case("v1 long id", "GET", "/v1/jobs/" + "a" * 9000),

    # Dragon (JSON whatever the Content-Type)
    Case("dragon params NUL", "POST", "/dragon/v1/create", {"tasks": [{"task_name": "hello", "name": f"a{NUL}"}]}),
    Case("dragon metas key NUL", "POST", "/dragon/v1/create",
         {"tasks": [{"task_name": "hello", "name": "a", "task_metas": {f"k{NUL}": 1}}]}),
    Case("dragon image URL NUL", "POST", "/dragon/v1/create", {"tasks": {"task_name": "image.info", "url": f"http://x/{NUL}"}}),
    Case("dragon task_name NUL", "POST", "/dragon/v1/create", {"tasks": {"task_name": f"hello{NUL}", "name": "a"}}),
    Case("dragon NaN text/plain", "POST", "/dragon/v1/create",
         **raw('{"tasks": {"task_name": "hello", "name": "a", "task_metas": {"n": NaN}}}', "text/plain")),
    Case("dragon 1e400", "POST", "/dragon/v1/create",
         **raw('{"tasks": {"task_name": "hello", "name": "a", "task_metas": {"n": 1e400}}}', "text/plain")),
    Case("dragon surrogate", "POST", "/dragon/v1/create", **raw('{"tasks": {"task_name": "hello", "name": "\\udc00"}}', "text/plain")),
    Case("dragon deep create", "POST", "/dragon/v1/create", **raw(DEEP, "text/plain")),
    Case("dragon deep create_stream", "POST", "/dragon/v1/create_stream", **raw(DEEP, "text/plain")),
    Case("dragon deep status", "POST", "/dragon/v1/status", **raw('{"tasks": ' + DEEP, "text/plain")),
    Case("dragon deep status_stream", "POST", "/dragon/v1/status_stream", **raw(DEEP, "text/plain")),
    Case("dragon deep create_file", "POST", "/dragon/v1/create_file", **raw(DEEP, "text/plain")),
    Case("dragon status key NUL", "GET", "/dragon/v1/status?tasks=%00"),
    Case("dragon file task NUL", "GET", "/dragon/v1/file?task=%00"),
    Case("dragon create_file query NUL", "GET", "/dragon/v1/create_file?task_name=hello&name=%00"),
    Case("dragon create_file filename NUL", "GET", "/dragon/v1/create_file/%00?task_name=hello&name=a"),
    Case("dragon batch with a bad item", "POST", "/dragon/v1/create",
         {"tasks": [{"task_name": "hello", "name": "ok"}, {"task_name": "hello", "name": f"x{NUL}"}]}),
    Case("dragon batch with a non-object", "POST", "/dragon/v1/create", {"tasks": [{"task_name": "hello", "name": "ok"}, 7]}),
    Case("dragon status of too many keys by GET", "GET",
         "/dragon/v1/status?" + "&".join(["tasks={w.task}"] * (MAX_GET_TASK_KEYS * 2))),
    Case("dragon status long key", "GET", "/dragon/v1/status?tasks=" + "A" * 9000),

    # Canotic
    Case("canotic inputs NUL json", "POST", "/canotic/apps/{w.app}/jobs", {"inputs": [{"name": f"a{NUL}"}]}),
    Case("canotic inputs NUL form", "POST", "/canotic/apps/{w.app}/jobs", **form(inputs='[{"name": "a\\u0000"}]')),
    Case("canotic raw NUL form field", "POST", "/canotic/apps/{w.app}/jobs", **form(inputs=f'[{{"name": "a{NUL}"}}]')),
    Case("canotic metadata NaN", "POST", "/canotic/apps/{w.app}/jobs",
         **raw('{"inputs": [{"name": "a"}], "metadata": {"x": NaN}}')),
    Case("canotic metadata key NUL", "POST", "/canotic/apps/{w.app}/jobs", {"inputs": [{"name": "a"}], "metadata": {NUL: 1}}),
    Case("canotic inputs 1e400 form", "POST", "/canotic/apps/{w.app}/jobs", **form(inputs='[{"name": "a", "n": 1e400}]')),
    Case("canotic deep json", "POST", "/canotic/apps/{w.app}/jobs", **raw(DEEP)),
    Case("canotic deep form", "POST", "/canotic/apps/{w.app}/jobs", **form(inputs=DEEP)),
    Case("canotic callback NUL", "POST", "/canotic/apps/{w.app}/jobs", {"inputs": [{"name": "a"}], "callback_url": f"a{NUL}@b.c"}),
    Case("canotic batch with a bad item", "POST", "/canotic/apps/{w.app}/jobs",
         {"inputs": [{"name": "ok"}, {"name": f"x{NUL}"}, {"name": 5}]}),
    Case("canotic offset huge", "GET", "/canotic/jobs?offset=99999999999999999999999"),
    Case("canotic page huge", "GET", "/canotic/jobs?page=99999999999999999999"),
    Case("canotic page unicode digit", "GET", "/canotic/jobs?page=%C2%B2"),
    Case("canotic createdStartDate year 1", "GET", "/canotic/jobs?page=0&createdStartDate=0001-01-01T00:00:00%2B01:00"),
    Case("canotic createdEndDate year 9999", "GET", "/canotic/jobs?page=0&createdEndDate=9999-12-31T23:59:59-01:00"),
    Case("canotic query NUL", "GET", "/canotic/jobs?app_id=%00"),
    Case("canotic path NUL", "GET", "/canotic/jobs/%00"),
    Case("canotic app path NUL", "GET", "/canotic/apps/%00/jobs"),
    Case("canotic urn:uuid", "GET", "/canotic/jobs/" + URN),
    Case("canotic urn:uuid cancel", "POST", "/canotic/jobs/" + URN + "/cancel"),
    Case("canotic long request line", "GET", "/canotic/jobs?app_id=" + "a" * 9000),

    # PHYLOViZ
    Case("phyloviz deep job", "POST", "/phyloviz/projects/{w.project}/jobs", **raw(DEEP)),
    Case("phyloviz NaN job", "POST", "/phyloviz/projects/{w.project}/jobs",
         **raw('{"analysis": "inference", "algorithm": "goeburst", "parameters": ["x", NaN]}')),
    Case("phyloviz huge lvs", "POST", "/phyloviz/projects/{w.project}/jobs",
         {"analysis": "inference", "algorithm": "goeburst", "parameters": ["x", 10**30]}),
    Case("phyloviz project name NUL", "POST", "/phyloviz/projects",
         {"name": f"a{NUL}", "visibility": "private", "description": "", "users": []}),
    Case("phyloviz taxon NUL path", "PUT", "/phyloviz/taxa/%00", {"description": "x"}),
    Case("phyloviz taxon description NUL", "PUT", "/phyloviz/taxa/hostile-taxon", {"description": f"x{NUL}"}),
    Case("phyloviz page unicode digit", "GET", "/phyloviz/projects/{w.project}/jobs?page=%C2%B2"),
    Case("phyloviz page huge", "GET", "/phyloviz/projects/{w.project}/jobs?page=99999999999999999999999"),
    Case("phyloviz urn:uuid job", "DELETE", "/phyloviz/projects/{w.project}/jobs/" + URN),
    Case("phyloviz project NUL", "GET", "/phyloviz/projects/%00"),
    Case("phyloviz profiles filename NUL", "POST", "/phyloviz/projects/{w.project}/datasets/x/profiles/files",
         **files("file", f"p{NUL}.tsv")),
    Case("phyloviz long request line", "GET", "/phyloviz/projects/{w.project}/jobs?x=" + "a" * 9000),

    # Rekosearch
    Case("rekosearch job-name NUL", "POST", "/rekosearch/api/v1/upload/gen", **files("file", "a.png", **{"job-name": f"n{NUL}"})),
    Case("rekosearch filename NUL", "POST", "/rekosearch/api/v1/upload/gen", **files("file", f"a{NUL}.png", **{"job-name": "n"})),
    Case("rekosearch job-id NUL", "GET", "/rekosearch/api/v1/jobs/get?job-id=%00"),
    Case("rekosearch job-id unicode digit", "GET", "/rekosearch/api/v1/jobs/get?job-id=%C2%B2"),
    Case("rekosearch job-id huge", "DELETE", "/rekosearch/api/v1/jobs/delete?job-id=99999999999999999999999"),
    Case("rekosearch object NUL", "GET", "/rekosearch/api/v1/jobs/get-object-url?job-id=1&object-uuid=%00"),
    Case("rekosearch long request line", "GET", "/rekosearch/api/v1/jobs/list?x=" + "a" * 9000),

    # Kasabi (plain text)
    Case("kasabi startTime year 1 +01:00", "POST", "/kasabi/dataset/{w.code}/jobs",
         **form(jobType="reset", startTime="0001-01-01T00:00:00+01:00")),
    Case("kasabi startTime year 9999 -01:00", "POST", "/kasabi/dataset/{w.code}/jobs",
         **form(jobType="reset", startTime="9999-12-31T23:59:59-01:00")),
    Case("kasabi startTime json year 9999", "POST", "/kasabi/dataset/{w.code}/jobs",
         {"jobType": "reset", "startTime": "9999-12-31T23:59:59-01:00"}),
    Case("kasabi startTime NUL", "POST", "/kasabi/dataset/{w.code}/jobs", {"jobType": "reset", "startTime": f"2030-01-01{NUL}"}),
    Case("kasabi jobType NUL", "POST", "/kasabi/dataset/{w.code}/jobs", **form(jobType=f"reset{NUL}")),
    Case("kasabi deep", "POST", "/kasabi/dataset/{w.code}/jobs", **raw(DEEP)),
    Case("kasabi NaN", "POST", "/kasabi/dataset/{w.code}/jobs", **raw('{"jobType": "reset", "x": NaN}')),
    Case("kasabi status NUL", "GET", "/kasabi/api/%00/status"),
    Case("kasabi job NUL", "GET", "/kasabi/dataset/{w.code}/jobs/%00"),
    Case("kasabi job urn:uuid", "GET", "/kasabi/dataset/{w.code}/jobs/" + URN),
    Case("kasabi apikey NUL", "GET", "/kasabi/api/{w.code}/status?apikey=%00"),
    Case("kasabi long request line", "GET", "/kasabi/api/{w.code}/status?x=" + "a" * 9000),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_a_4xx_in_the_surfaces_format_and_changes_nothing(client, world, case):
    before = snapshot(world)
    r = case.call(client, world)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    assert surface_format(case.path)(r), (r.status_code, r.mimetype, r.get_data(as_text=True)[:300])
    assert snapshot(world) == before


def test_every_class_of_the_issue_is_in_the_corpus():
    """The issue's classes, each with at least one case on every surface it names."""
    ids = " | ".join(c.id for c in CASES)
    for word in ("NUL", "NaN", "Infinity", "1e400", "huge", "surrogate", "\\U", "deep", "year 1", "year 9999",
                 "unicode digit", "cursor", "urn:uuid", "non-ASCII", "batch", "long request line"):
        assert word in ids, word
    for surface in FORMATS:
        assert any(c.path.startswith(surface + "/") and "NUL" in c.id for c in CASES), surface
        assert any(c.path.startswith(surface + "/") and "long" in c.id for c in CASES), surface


# -- what must keep working ---------------------------------------------------------------------


def test_dragon_status_by_get_takes_the_documented_number_of_keys(client, world):
    query = "&".join([f"tasks={world.task}"] * MAX_GET_TASK_KEYS)
    r = client.get(f"/dragon/v1/status?{query}", headers=world.auth)
    assert r.status_code == 200, r.get_json()
    assert len(r.get_json()) == MAX_GET_TASK_KEYS and r.get_json()[0]["key"] == world.task


def test_json_that_is_fine_still_is(client, world):
    """Nesting up to the cap, big and negative 64-bit integers, paired surrogates (emoji), a
    backslash before u0000 (text, not NUL), floats: all stored and read back as sent."""
    metadata = {"deep": json.loads("[" * 60 + "]" * 60), "big": 2**63 - 1, "small": -(2**63), "emoji": "\U0001F600",
                "text": "\\u0000", "pi": 3.14159, "tiny": 1e-300}
    r = client.post("/v1/jobs", json={**HELLO, "metadata": metadata, "start_at": FAR}, headers=world.auth)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["metadata"] == metadata
    client.delete(f"/v1/jobs/{r.get_json()['id']}", headers=world.auth)


def test_extreme_times_within_range_are_kept_and_shown_with_four_digit_years(client, world, make_account):
    """``0001-01-01T00:00:00Z`` is a valid time: stored, and never shown as ``1-01-01``."""
    r = client.post("/v1/jobs", json={**HELLO, "start_at": "9999-12-31T23:59:59Z"}, headers=world.auth)
    assert r.status_code == 201 and r.get_json()["start_at"].startswith("9999-12-31T23:59:59"), r.get_json()
    client.delete(f"/v1/jobs/{r.get_json()['id']}", headers=world.auth)
    r = client.get("/v1/jobs?created_after=0001-01-01T00:00:00Z&created_before=9999-12-31T23:59:59Z", headers=world.auth)
    assert r.status_code == 200 and r.get_json()["jobs"]
    _account, key = make_account()
    code = make_dataset(client, {"Authorization": f"Bearer {key}"})
    r = client.post(f"/kasabi/dataset/{code}/jobs", data={"jobType": "reset", "startTime": "0001-01-01T00:00:00Z"},
                    headers={"X_KASABI_APIKEY": key})
    assert r.status_code == 202, r.get_data(as_text=True)
    job = client.get(r.headers["Location"].split("localhost", 1)[1], headers={"X_KASABI_APIKEY": key}).get_json()
    assert job["startTime"] == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(("path", "body", "named"), [
    ("/v1/jobs", {"jobs": [HELLO, HELLO, {"type": "hello", "params": {"name": f"b{NUL}"}}]}, "jobs.2.params.name"),
    ("/v1/jobs", {"jobs": [HELLO, {**HELLO, "start_at": "9999-12-31T23:59:59-01:00"}]}, "jobs.1.start_at"),
    ("/v1/jobs", {"jobs": [HELLO, {**HELLO, "metadata": {"k": [1, NUL]}}]}, "jobs.1.metadata.k.1"),
    ("/dragon/v1/create", {"tasks": [{"task_name": "hello", "name": "a"}, {"task_name": "hello", "name": f"b{NUL}"}]},
     "tasks.1.name"),
    ("/canotic/apps/{w.app}/jobs", {"inputs": [{"name": "a"}, {"name": f"b{NUL}"}]}, "inputs.1.name"),
    ("/canotic/apps/{w.app}/jobs", {"inputs": json.dumps([{"name": "a"}, {"name": f"b{NUL}"}])}, "inputs.1.name"),
    ("/phyloviz/projects", {"name": "p", "visibility": "private", "description": "", "users": [f"u{NUL}"]}, "users.0"),
])
def test_a_batch_with_one_bad_item_names_it(client, world, path, body, named):
    before = snapshot(world)
    r = client.post(path.format(w=world), data=json.dumps(body), content_type="application/json", headers=world.auth)
    assert r.status_code == 400 and named in r.get_data(as_text=True), r.get_data(as_text=True)
    assert snapshot(world) == before


def test_upper_case_ids_name_the_same_job(client, world):
    r = client.get(f"/v1/jobs/{world.job.upper()}", headers=world.auth)
    assert r.status_code == 200 and r.get_json()["id"] == world.job


def test_a_value_postgresql_refuses_fails_only_its_own_request(runtime, make_account):
    """Below the edge (issue 21): a create whose values PostgreSQL refuses, flushed with
    other accounts' creates, fails alone; theirs are committed."""
    import threading

    from shared.jobs import JobSpec

    accounts = [make_account()[0] for _ in range(6)]
    bad = JobSpec(type="hello", params={"name": "x\x00"}, start_at=datetime.now(UTC) + timedelta(days=3650))
    good = JobSpec(type="hello", params={"name": "ok"}, start_at=datetime.now(UTC) + timedelta(days=3650))
    results: dict[int, object] = {}
    barrier = threading.Barrier(len(accounts))

    def create(i: int) -> None:
        barrier.wait()
        try:
            results[i] = runtime.jobs.create(accounts[i], [bad if i == 0 else good] * 3)
        except Exception as exc:  # noqa: BLE001 - the culprit's error is the point
            results[i] = exc

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(accounts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert isinstance(results[0], Exception)
    for i in range(1, len(accounts)):
        assert isinstance(results[i], list) and len(results[i]) == 3, results[i]
    assert runtime.store.list(accounts[0].id, limit=10) == []


# -- through the real server: lines longer than gunicorn's limit ------------------------------


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


def test_over_long_request_lines_through_gunicorn_answer_in_each_surfaces_format(settings, tmp_path, world):
    """gunicorn refuses lines over 8190 bytes itself; its worker hands them to the app, so a
    Dragon client reads Dragon's JSON and a Kasabi client plain text, never an HTML page."""
    from api import gunicorn_worker, hostile

    assert gunicorn_worker.TOO_LONG == hostile.TOO_LONG
    with gunicorn(settings, tmp_path) as port:
        auth = {"Authorization": world.auth["Authorization"]}
        keys = "&".join([f"tasks={world.task}"] * 400)  # ~13 kB: beyond gunicorn's limit
        for path, check in [(f"/dragon/v1/status?{keys}", dragon), ("/v1/jobs?type=" + "a" * 10_000, canonical),
                            ("/canotic/jobs?x=" + "a" * 10_000, canotic), ("/phyloviz/taxa?x=" + "a" * 10_000, phyloviz),
                            ("/rekosearch/api/v1/jobs/list?x=" + "a" * 10_000, rekosearch),
                            (f"/kasabi/api/{world.code}/status?x=" + "a" * 10_000, kasabi)]:
            status, headers, body = request(port, "GET", path, auth)
            response = SimpleNamespace(status_code=status, mimetype=headers["Content-Type"].split(";")[0],
                                       get_json=lambda silent=False, b=body: json.loads(b),
                                       get_data=lambda as_text=False, b=body: b)
            assert status == 414 and check(response), (path[:40], status, body[:200])
        # between the app's limit and gunicorn's: the app's own check
        status, _h, body = request(port, "GET", "/dragon/v1/status?" + "&".join([f"tasks={world.task}"] * 245), auth)  # 8,106 bytes
        assert status == 414 and json.loads(body)["status"] == "error", body[:200]
        status, _h, body = request(port, "GET", "/dragon/v1/status?" + "&".join(
            [f"tasks={world.task}"] * hostile.MAX_GET_TASK_KEYS), auth)
        assert status == 200 and len(json.loads(body)) == hostile.MAX_GET_TASK_KEYS


# -- what still escapes a view ------------------------------------------------------------------


def test_an_error_that_escapes_a_view_is_rendered_by_its_surface_with_a_request_id(runtime, caplog):
    """A bug is a 500 in the surface's format whose body (and X-Request-Id header) names the
    request id that the log line names; a value PostgreSQL refuses (a DataError) is the client's 400."""
    from api.app import create_app

    app = create_app(runtime=runtime)
    for prefix in FORMATS:
        app.add_url_rule(f"{prefix}/test-boom", f"boom{prefix}", lambda: 1 / 0)
        app.add_url_rule(f"{prefix}/test-refused", f"refused{prefix}",
                         lambda: runtime.db.one("get_job", account_id=0, public_id="not-a-uuid"))
    client = app.test_client()
    for prefix, check in FORMATS.items():
        caplog.clear()
        r = client.get(f"{prefix}/test-boom", headers={"X-Request-Id": f"req-{prefix[1:]}"})
        assert r.status_code == 500 and check(r), (prefix, r.get_data(as_text=True))
        assert r.headers["X-Request-Id"] == f"req-{prefix[1:]}"
        if prefix != "/rekosearch":  # its document fixes the 500 body: {"message": "Internal server failure"}
            assert f"req-{prefix[1:]}" in r.get_data(as_text=True)
        assert any(f"req-{prefix[1:]}" in rec.getMessage() and rec.exc_info for rec in caplog.records)
        r = client.get(f"{prefix}/test-refused")
        assert r.status_code == 400 and check(r), (prefix, r.get_data(as_text=True))


def test_a_multipart_part_without_a_name_is_not_a_500(client, world):
    """What schemathesis sent: a form part whose Content-Disposition has no name."""
    body = (b'--B\r\nContent-Disposition: form-data\r\n\r\n{}\r\n'
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nnot a png\r\n--B--\r\n')
    r = client.post("/v1/uploads", data=body, content_type="multipart/form-data; boundary=B", headers=world.auth)
    assert r.status_code < 500, r.get_data(as_text=True)
