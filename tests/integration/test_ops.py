"""Operations as an operator meets them: readiness per pod, metrics behind a token and with
bounded labels, bounded event streams per account."""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket

import pytest

from tests.support.net import free_port, wait_until
from tests.support.web import gunicorn_server as gunicorn


@pytest.fixture
def app_with(runtime):
    """An application built from the session's settings with some of them changed."""
    from api.app import create_app
    from shared.engine.runtime import Runtime

    made = []

    def build(**changes):
        rt = Runtime.build(dataclasses.replace(runtime.settings, **changes))
        made.append(rt)
        return create_app(runtime=rt).test_client()

    yield build
    for rt in made:
        rt.db.close()


def test_ready_while_postgres_answers_even_with_redis_away(app_with):
    client = app_with(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    r = client.get("/readyz")
    body = r.get_json()
    assert r.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["postgres"] == "ok" and body["checks"]["redis"].startswith("unavailable")


def test_not_ready_without_postgres(app_with):
    client = app_with(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/x")  # nothing listens there
    r = client.get("/readyz")
    assert r.status_code == 503 and r.get_json()["status"] == "unavailable"
    assert r.get_json()["checks"]["postgres"].startswith("unavailable")


def test_metrics_token(app_with, key):
    client = app_with(metrics_token="s3cret-metrics")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {key}"},
                    {"Authorization": "Basic czNjcmV0LW1ldHJpY3M6"}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401 and "jobline_" not in r.get_data(as_text=True), headers
    r = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert r.status_code == 200 and "jobline_queue_depth" in r.get_data(as_text=True)


def test_metrics_labels_stay_bounded_whatever_the_methods(client):
    """Random HTTP methods (an attacker's choice) all count as one label value."""
    for i in range(50):
        client.open("/v1/jobs", method=f"X{i:03d}YZ")
        client.open(f"/no/such/route/{i}", method="GET")
    text = client.get("/metrics").get_data(as_text=True)
    assert "X001YZ" not in text and "/no/such/route" not in text
    assert 'method="other",route="unmatched",status="405"' in text and 'route="unmatched"' in text


def test_event_streams_are_bounded_per_account(settings, make_account, tmp_path):
    """Through gunicorn (one process): an account's open streams stop at its limit with 429,
    other accounts keep theirs up to the process-wide cap, a closed stream frees its slot."""
    (_a, key_a), (_b, key_b) = make_account(), make_account()
    later = {"type": "hello", "params": {"name": "x"}, "start_at": "2999-01-01T00:00:00Z"}  # never finishes here
    limited = dataclasses.replace(settings, max_streams_per_account=2, max_streams=3)
    with gunicorn(limited, tmp_path / "gunicorn.log") as port:
        def call(method, path, key, body=None, accept="application/json"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Authorization": f"Bearer {key}", "Accept": accept,
                                  "Content-Type": "application/json"})
            return conn, conn.getresponse()

        def stream(job, key):
            return call("GET", f"/v1/jobs/{job}/events", key, accept="text/event-stream")

        job_a = json.loads(call("POST", "/v1/jobs", key_a, later)[1].read())["id"]
        job_b = json.loads(call("POST", "/v1/jobs", key_b, later)[1].read())["id"]
        open_a = [stream(job_a, key_a) for _ in range(2)]
        assert [r.status for _c, r in open_a] == [200, 200]
        _c, refused = stream(job_a, key_a)
        assert refused.status == 429 and "open event streams" in json.loads(refused.read())["message"]
        # Dragon's streams count too, refused in Dragon's format (its limits are 401) before creating
        _c, r = call("POST", "/dragon/v1/create_stream", key_a, {"tasks": {"task_name": "hello", "name": "x"}})
        assert r.status == 401 and json.loads(r.read())["status"] == "error"
        listed = json.loads(call("GET", "/v1/jobs", key_a)[1].read())["jobs"]
        assert [j["id"] for j in listed] == [job_a]
        # another account still gets one, up to the cap of the process
        other = stream(job_b, key_b)
        assert other[1].status == 200
        assert stream(job_b, key_b)[1].status == 429
        # a stream whose client went away gives its slot back (noticed at its next keep-alive)
        conn, _r = open_a.pop()
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        wait_until(lambda: stream(job_a, key_a)[1].status == 200, timeout=40, interval=1)


def test_413_states_the_limit_of_the_route(app_with, key):
    """Uploads take up to JOBLINE_FETCH_MAX_BYTES, JSON bodies JOBLINE_MAX_BODY_BYTES: each 413 says its own."""
    client = app_with(max_body_bytes=500, fetch_max_bytes=1000)
    auth = {"Authorization": f"Bearer {key}"}
    r = client.post("/v1/uploads", data=b"x" * 2000, headers=auth)
    assert r.status_code == 413 and "limit 1000 bytes" in r.get_json()["message"]
    r = client.post("/v1/jobs", data=b"{" + b" " * 2000 + b"}", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and "limit 500 bytes" in r.get_json()["message"]
    assert client.post("/v1/uploads", data=b"x" * 800, headers=auth).status_code == 201


def test_docs_need_no_network(client):
    """/docs loads Swagger UI from the API itself (the pinned swagger-ui-bundle), not a CDN."""
    page = client.get("/docs").get_data(as_text=True)
    assert "cdn." not in page and "/docs/assets/swagger-ui-bundle.js" in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        r = client.get(f"/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.data) > 10_000, asset
    assert client.get("/docs/assets/../../__init__.py").status_code == 404
