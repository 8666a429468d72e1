"""Beside the hostile corpus (issue 20): what must keep working (fine JSON, calendar ends,
Dragon's GET status of many keys, batches naming their bad item), lines too long for gunicorn,
and errors that escape a view."""

from __future__ import annotations

import ast
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from api.hostile import MAX_GET_TASK_KEYS
from tests.support.datasets import make_dataset
from tests.support.hostile import (
    FAR,
    FORMATS,
    HELLO,
    canonical,
    canotic,
    dragon,
    kasabi,
    phyloviz,
    rekosearch,
    snapshot,
)
from tests.support.web import gunicorn_server, request

NUL = "\u0000"


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
    from shared.engine.jobs import JobSpec

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


def test_over_long_request_lines_through_gunicorn_answer_in_each_surfaces_format(settings, tmp_path, world):
    """gunicorn refuses lines over 8190 bytes itself; its worker hands them to the app, so a
    Dragon client reads Dragon's JSON and a Kasabi client plain text, never an HTML page."""
    from api import gunicorn_worker, hostile

    assert gunicorn_worker.TOO_LONG == hostile.TOO_LONG
    with gunicorn_server(settings, tmp_path / "gunicorn.log") as port:
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


def test_over_large_headers_through_gunicorn_answer_431_in_each_surfaces_format(settings, tmp_path, world):
    """Too many header fields, or one too large, are refused by gunicorn's parser; its worker
    hands the request line to the app (with no headers), which answers 431 in the surface's format."""
    from api import gunicorn_worker, hostile

    assert gunicorn_worker.HEADERS_TOO_LARGE == hostile.HEADERS_TOO_LARGE
    # read, not imported: importing the config sets PROMETHEUS_MULTIPROC_DIR in this process
    conf = {node.targets[0].id: node.value.value for node in ast.parse(Path(gunicorn_worker.__file__).with_name(
        "gunicorn_conf.py").read_text()).body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)}
    assert (conf["limit_request_fields"], conf["limit_request_field_size"]) == (
        hostile.MAX_HEADER_FIELDS, hostile.MAX_HEADER_FIELD_BYTES)
    big = {"Authorization": world.auth["Authorization"], "X-Big": "b" * 9000}
    many = {"Authorization": world.auth["Authorization"], **{f"X-H{i}": "v" for i in range(120)}}
    with gunicorn_server(settings, tmp_path / "gunicorn.log") as port:
        for path, check in [("/dragon/v1/status", dragon), ("/v1/jobs", canonical), ("/canotic/jobs", canotic),
                            ("/phyloviz/taxa", phyloviz), ("/rekosearch/api/v1/jobs/list", rekosearch),
                            (f"/kasabi/api/{world.code}/status", kasabi)]:
            for headers in (big, many):
                status, got, body = request(port, "GET", path, headers)
                response = SimpleNamespace(status_code=status, mimetype=got["Content-Type"].split(";")[0],
                                           get_json=lambda silent=False, b=body: json.loads(b),
                                           get_data=lambda as_text=False, b=body: b)
                assert status == 431 and check(response), (path, len(headers), status, body[:200])
        # below the limits the same requests are served
        status, _h, _b = request(port, "GET", "/v1/jobs", {"Authorization": world.auth["Authorization"], "X-Big": "b" * 8000})
        assert status == 200


# -- what still escapes a view ------------------------------------------------------------------


def test_an_error_that_escapes_a_view_is_rendered_by_its_surface_with_a_request_id(runtime, caplog, monkeypatch):
    """A bug is a 500 in the surface's format whose body (and X-Request-Id header) names the
    request id that the log line names; a value PostgreSQL refuses (a DataError) is the client's 400."""
    from api import access
    from api.app import create_app

    app = create_app(runtime=runtime)
    for prefix in FORMATS:
        app.add_url_rule(f"{prefix}/test-boom", f"boom{prefix}", lambda: 1 / 0)
        app.add_url_rule(f"{prefix}/test-refused", f"refused{prefix}",
                         lambda: runtime.db.one("get_job", account_id=0, public_id="not-a-uuid"))
        for endpoint in (f"boom{prefix}", f"refused{prefix}"):  # keyless, so the view itself runs
            monkeypatch.setitem(access.ROUTES, endpoint, access.Access.NONE)
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
