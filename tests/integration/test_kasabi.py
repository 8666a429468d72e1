"""The Kasabi Jobs API (seed 004) at /kasabi: every documented request, and what its clients send."""

from __future__ import annotations

import json
import sys
import time
import types
from datetime import UTC, datetime, timedelta

import pytest
import rdflib
from rdflib.term import Literal, URIRef

from tests.conftest import wait_until
from tests.support.datasets import NT, make_dataset, nt, reset_held_running
from tests.support.web import gunicorn_server, request

pytestmark = pytest.mark.usefixtures("engine")
FORM = "application/x-www-form-urlencoded"
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")


@pytest.fixture
def owner(client, make_account):
    """(account, X_KASABI_APIKEY headers, dataset code with 4 triples)."""
    account, key = make_account()
    code = make_dataset(client, {"Authorization": f"Bearer {key}"}, triples=4)
    return account, {"X_KASABI_APIKEY": key}, code


def job_path(url: str) -> str:
    return url.split("localhost", 1)[1]


def poll(client, url, headers, until=("succeeded", "failed")):
    """What pytassium does: GET the job resource until it reads a final status."""
    return wait_until(lambda: (body := client.get(job_path(url), headers=headers).get_json())["status"] in until and body,
                      timeout=60)


def test_form_post_as_kasabi_rb_then_poll_until_succeeded(client, owner):
    _account, key, code = owner
    r = client.post(f"/kasabi/dataset/{code}/jobs", data={"jobType": "reset"}, headers=key)
    assert r.status_code == 202 and r.mimetype == "text/plain"
    url = r.get_data(as_text=True)
    assert url == r.headers["Location"] and url.startswith(f"http://localhost/kasabi/dataset/{code}/jobs/")
    body = poll(client, url, key)
    assert set(body) == {"created", "startTime", "endTime", "status"} and body["status"] == "succeeded"
    for field in ("created", "startTime", "endTime"):
        assert datetime.strptime(body[field], "%Y-%m-%dT%H:%M:%SZ")
    assert client.get(f"/kasabi/api/{code}/status", headers=key).get_json() == {"status": "draft", "storageMode": "read-write"}
    assert client.get(f"/v1/datasets/{code}", headers={"Authorization": f"Bearer {key['X_KASABI_APIKEY']}"}).get_json()["triples"] == 0


def test_json_post_as_pytassium_with_start_time_now(client, owner):
    _account, key, code = owner
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # pytassium's default startTime
    r = client.post(f"/kasabi/dataset/{code}/jobs", data=json.dumps({"jobType": "reset", "startTime": now}),
                    headers={**key, "Content-Type": "application/json", "Accept": "*/*"})
    assert r.status_code == 202
    body = poll(client, r.headers["Location"], {**key, "Accept": "application/json"})
    assert body["status"] == "succeeded" and body["startTime"] == now


def test_start_time_in_the_future_is_scheduled_and_cancellable(client, owner):
    _account, key, code = owner
    later = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = client.post(f"/kasabi/dataset/{code}/jobs?apikey={key['X_KASABI_APIKEY']}",
                    data={"jobType": "reset", "startTime": later})
    assert r.status_code == 202
    body = client.get(job_path(r.headers["Location"]), headers=key).get_json()
    assert body["status"] == "scheduled" and body["startTime"] == later and body["endTime"] is None
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    bearer = {"Authorization": f"Bearer {key['X_KASABI_APIKEY']}"}
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=bearer).get_json()["status"] == "canceled"
    body = client.get(job_path(r.headers["Location"]), headers=key).get_json()
    assert body["status"] == "failed" and body["endTime"] is not None  # Kasabi has no "canceled"
    assert client.get(f"/v1/datasets/{code}", headers=bearer).get_json()["triples"] == 4
    # the document's example URL shape answers too
    assert client.get(f"/kasabi/data/{code}/jobs/{job_id}", headers=key).get_json()["status"] == "failed"


def test_start_time_in_the_past_runs_now(client, owner):
    _account, key, code = owner
    r = client.post(f"/kasabi/dataset/{code}/jobs", json={"jobType": "reset", "startTime": "2011-05-27T14:30:00Z"}, headers=key)
    body = poll(client, r.headers["Location"], key)
    assert body["status"] == "succeeded" and body["startTime"] == "2011-05-27T14:30:00Z"


def test_export_job_type(client, owner):
    _account, key, code = owner
    r = client.post(f"/kasabi/dataset/{code}/jobs", data={"jobType": "export"}, headers=key)
    assert poll(client, r.headers["Location"], key)["status"] == "succeeded"
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    files = client.get(f"/v1/jobs/{job_id}/files", headers={"Authorization": f"Bearer {key['X_KASABI_APIKEY']}"}).get_json()
    assert [f["name"] for f in files] == ["dump.nt"]


def test_status_api_is_json_whatever_accept_and_read_only_during_a_reset(client, owner, runtime):
    account, key, code = owner
    for accept in ("application/json", "text/html", "*/*", "application/rdf+xml", None):
        headers = {**key, **({"Accept": accept} if accept else {})}
        r = client.get(f"/kasabi/api/{code}/status?output=json", headers=headers)
        assert r.mimetype == "application/json" and r.get_json() == {"status": "draft", "storageMode": "read-write"}
    with reset_held_running(runtime, account, code):
        assert client.get(f"/kasabi/api/{code}/status", headers=key).get_json()["storageMode"] == "read-only"
    assert client.get(f"/kasabi/api/{code}/status", headers=key).get_json()["storageMode"] == "read-write"
    bearer = {"Authorization": f"Bearer {key['X_KASABI_APIKEY']}"}
    client.patch(f"/v1/datasets/{code}", json={"status": "published"}, headers=bearer)
    assert client.get(f"/kasabi/api/{code}/status", headers=key).get_json() == {"status": "published", "storageMode": "read-write"}


@pytest.mark.parametrize("kwargs, reason", [
    ({"data": {}}, "missing parameter jobType"),
    ({"data": {"jobType": ""}}, "missing parameter jobType"),
    ({"json": {"startTime": "2011-05-27T14:30:00Z"}}, "missing parameter jobType"),
    ({"data": {"jobType": "explode"}}, "unknown jobType 'explode'"),
    ({"json": {"jobType": ["reset"]}}, "unknown jobType"),
    ({"data": {"jobType": "reset", "startTime": "tomorrow"}}, "startTime 'tomorrow' is not an ISO 8601"),
    ({"json": {"jobType": "reset", "startTime": 1306506600}}, "startTime must be an ISO 8601"),
    ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, "neither form parameters nor a JSON object"),
    ({"data": "[1, 2]", "headers": {"Content-Type": "application/json"}}, "must be an object"),
])
def test_bad_requests_are_400_plain_text_and_create_nothing(client, owner, kwargs, reason):
    _account, key, code = owner
    headers = {**key, **kwargs.pop("headers", {})}
    r = client.post(f"/kasabi/dataset/{code}/jobs", headers=headers, **kwargs)
    assert r.status_code == 400 and r.mimetype == "text/plain" and reason in r.get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {key['X_KASABI_APIKEY']}"}
    assert client.get("/v1/jobs", headers=bearer).get_json()["jobs"] == []


def test_only_the_owner_may_use_the_api(client, owner, make_account):
    """No key or a bad one is 401; another account's dataset is 404 as an unknown code is,
    word for word, so no account can find out which codes others use."""
    _account, key, code = owner
    r = client.post(f"/kasabi/dataset/{code}/jobs", data={"jobType": "reset"}, headers=key)
    url = job_path(r.headers["Location"])
    other = {"X_KASABI_APIKEY": make_account()[1]}
    unknown = f"nope-{code}"
    for method, path, kw in [("post", f"/kasabi/dataset/{code}/jobs", {"data": {"jobType": "reset"}}),
                             ("get", url, {}), ("get", f"/kasabi/api/{code}/status", {}),
                             ("get", f"/kasabi/dataset/{code}.ttl", {})]:
        for headers in ({}, {"X_KASABI_APIKEY": "jl_deadbeef_nope"}):
            r = getattr(client, method)(path, headers=headers, **kw)
            assert r.status_code == 401 and r.mimetype == "text/plain", (method, path, headers)
        theirs = getattr(client, method)(path, headers=other, **kw)
        nobodys = getattr(client, method)(path.replace(code, unknown), headers=other, **kw)
        assert theirs.status_code == nobodys.status_code == 404, (method, path)
        assert theirs.mimetype == nobodys.mimetype == "text/plain"
        assert theirs.get_data(as_text=True) == nobodys.get_data(as_text=True).replace(unknown, code)
    # a job of another dataset of the same owner is not this dataset's job
    second = make_dataset(client, {"Authorization": f"Bearer {key['X_KASABI_APIKEY']}"})
    assert client.get(url.replace(f"/dataset/{code}/", f"/dataset/{second}/"), headers=key).status_code == 404
    for path in ("/kasabi/dataset/nope/jobs", "/kasabi/api/nope/status"):
        r = client.get(path, headers=key) if "status" in path else client.post(path, data={"jobType": "reset"}, headers=key)
        assert r.status_code == 404 and r.mimetype == "text/plain"
    assert client.get(f"/kasabi/dataset/{code}/jobs/not-a-uuid", headers=key).status_code == 404
    r = client.delete(f"/kasabi/dataset/{code}/jobs", headers=key)
    assert r.status_code == 405 and r.mimetype == "text/plain"


# -- through the real server: gunicorn drops underscore headers unless told not to ----------------


@pytest.fixture(scope="module")
def gunicorn(settings, tmp_path_factory):
    with gunicorn_server(settings, tmp_path_factory.mktemp("kasabi") / "gunicorn.log") as port:
        yield port


def test_x_kasabi_apikey_header_through_gunicorn(gunicorn, owner):
    _account, key, code = owner
    status, _h, body = request(gunicorn, "GET", f"/kasabi/api/{code}/status?output=json",
                               {"X_KASABI_APIKEY": key["X_KASABI_APIKEY"], "Accept": "application/json"})
    assert status == 200 and json.loads(body) == {"status": "draft", "storageMode": "read-write"}
    status, headers, body = request(gunicorn, "POST", f"/kasabi/dataset/{code}/jobs",
                                    {**key, "Content-Type": FORM}, "jobType=reset")
    assert status == 202 and body == headers["Location"] and f":{gunicorn}/kasabi/dataset/{code}/jobs/" in body
    path = body.split(f":{gunicorn}", 1)[1]
    deadline = time.monotonic() + 60
    while json.loads(request(gunicorn, "GET", path, key)[2])["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status, _h, body = request(gunicorn, "GET", f"/kasabi/api/{code}/status?apikey={key['X_KASABI_APIKEY']}")
    assert status == 200 and json.loads(body)["storageMode"] == "read-write"
    status, _h, body = request(gunicorn, "GET", f"/kasabi/api/{code}/status")
    assert status == 401 and "API key" in body


# -- loads through the real server (gevent + psycogreen: no COPY), and pytassium itself -----------


def test_loads_of_a_thousand_triples_and_more_through_gunicorn(gunicorn, owner):
    _account, key, code = owner
    bearer = {"Authorization": f"Bearer {key['X_KASABI_APIKEY']}"}
    for n, path, headers in ((999, f"/v1/datasets/{code}/triples", {**bearer, **NT}),
                             (1000, f"/v1/datasets/{code}/triples", {**bearer, **NT}),
                             (12345, f"/v1/datasets/{code}/triples", {**bearer, **NT}),
                             (2500, f"/kasabi/dataset/{code}/store", {**key, "Content-Type": "text/turtle"})):
        status, _h, body = request(gunicorn, "POST", path, headers, nt(n, f"http://example.org/{n}"))
        assert status == 200 and json.loads(body)["added"] == n, (n, status, body)
    status, _h, body = request(gunicorn, "GET", f"/v1/datasets/{code}", bearer)
    assert json.loads(body)["triples"] == 4 + 999 + 1000 + 12345 + 2500
    bad = nt(3000) + "<http://example.org/s> oops .\n"
    status, _h, body = request(gunicorn, "POST", f"/kasabi/dataset/{code}/store", {**key, **NT}, bad)
    assert status == 400 and body.startswith("line 3001: not an N-Triples statement")
    status, _h, body = request(gunicorn, "GET", f"/v1/datasets/{code}", bearer)
    assert json.loads(body)["triples"] == 4 + 999 + 1000 + 12345 + 2500


def pytassium_module():
    """pytassium 0.2.8 as published: Python 2 code whose calls used here run on Python 3 once its
    module-level ``import StringIO`` (never used by them) resolves."""
    sys.modules.setdefault("StringIO", types.ModuleType("StringIO"))
    import pytassium

    return pytassium


def test_pytassium_drives_a_dataset_end_to_end(gunicorn, owner, tmp_path, settings):
    pytassium = pytassium_module()
    _account, key, code = owner
    ds = pytassium.Dataset(code, key["X_KASABI_APIKEY"])
    ds.uri = f"http://127.0.0.1:{gunicorn}/kasabi/dataset/{code}"  # instead of data.kasabi.com
    response, status = ds.status()
    assert response.status == 200 and status == {"status": "draft", "storageMode": "read-write"}
    assert set(ds.api_map) == {"status", "jobs", "update"}
    triple = (URIRef("http://example.org/apollo"), URIRef("http://example.org/crew"), Literal("Aldrin", lang="en"))
    assert (URIRef(ds.uri), VOID.triples, Literal(4)) in ds.meta
    response, _body = ds.store_data('<http://example.org/apollo> <http://example.org/crew> "Armstrong"@en .\n')
    assert response.status == 200
    graph = rdflib.Graph()
    graph.add(triple)
    assert ds.store_graph(graph)[0].status == 200
    path = tmp_path / "data.nt"
    path.write_text(nt(1200, "http://example.org/file"))
    assert ds.store_file(str(path))[0].status == 200
    bearer = {"Authorization": f"Bearer {key['X_KASABI_APIKEY']}"}
    assert json.loads(request(gunicorn, "GET", f"/v1/datasets/{code}", bearer)[2])["triples"] == 4 + 2 + 1200
    many = settings.max_body_bytes // 60  # a .nt file bigger than a Turtle body may be: streamed
    path.write_text(nt(many, "http://example.org/big"))
    assert path.stat().st_size > settings.max_body_bytes and ds.store_file(str(path))[0].status == 200
    assert json.loads(request(gunicorn, "GET", f"/v1/datasets/{code}", bearer)[2])["triples"] == 4 + 2 + 1200 + many
    response, job_uri = ds.schedule_reset()
    assert response.status == 202 and job_uri.startswith(f"{ds.uri}/jobs/")
    wait_until(lambda: ds.job_status(job_uri)[1]["status"] == "succeeded", timeout=60, interval=0.2)
    assert json.loads(request(gunicorn, "GET", f"/v1/datasets/{code}", bearer)[2])["triples"] == 0
    with pytest.raises(pytassium.PytassiumError, match="sparql"):
        ds.select("SELECT * WHERE { ?s ?p ?o }")
    assert request(gunicorn, "GET", f"/kasabi/dataset/{code}.ttl", {"X_KASABI_APIKEY": "not-a-key"})[0] == 401
    stranger = pytassium.Dataset(code, "not-a-key")
    stranger.uri = ds.uri
    with pytest.raises(pytassium.PytassiumError, match="status api"):  # no description: no APIs
        stranger.status()
