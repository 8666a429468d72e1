"""The canonical /v1 API against real PostgreSQL, Redis, worker and beat processes."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.usefixtures("engine")


def create(client, auth, body, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(f"/v1/jobs?{qs}", json=body, headers=auth)


def job_status(client, auth, job_id):
    return client.get(f"/v1/jobs/{job_id}", headers=auth).get_json()["status"]


def test_hello_with_wait(client, auth):
    r = create(client, auth, {"type": "hello", "params": {"name": "John"}}, wait=10)
    assert r.status_code == 201, r.get_json()
    job = r.get_json()
    assert job["status"] == "succeeded" and job["result"] == "Hello John"
    assert job["progress"] == 1.0 and job["attempt"] == 1 and job["finished_at"]
    events = client.get(f"/v1/jobs/{job['id']}/events", headers=auth).get_json()
    assert [e["type"] for e in events] == ["created", "claim", "succeed"]
    assert [e["status"] for e in events] == ["queued", "running", "succeeded"]


def test_get_with_wait_and_list_filters_and_cursor(client, auth):
    made = [create(client, auth, {"type": "hello", "params": {"name": f"n{i}"}}) for i in range(5)]
    assert made[0].status_code == 201, made[0].get_json()
    ids = [r.get_json()["id"] for r in made]
    last = client.get(f"/v1/jobs/{ids[-1]}?wait=10", headers=auth).get_json()
    assert last["status"] == "succeeded"
    seen, cursor = [], None
    while True:
        page = client.get("/v1/jobs?limit=2&type=hello" + (f"&cursor={cursor}" if cursor else ""), headers=auth).get_json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    assert client.get("/v1/jobs?status=failed", headers=auth).get_json()["jobs"] == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert client.get(f"/v1/jobs?created_after={future}", headers=auth).get_json()["jobs"] == []


def test_batch_of_1000_in_one_request(client, auth, runtime):
    body = {"jobs": [{"type": "hello", "params": {"name": f"n{i}"}} for i in range(1000)]}
    r = create(client, auth, body)
    assert r.status_code == 201
    jobs = r.get_json()["jobs"]
    assert len(jobs) == 1000 and [j["params"]["name"] for j in jobs] == [f"n{i}" for i in range(1000)]
    ids = [runtime.jobs.get(runtime.accounts.authenticate(auth["Authorization"][7:]), j["id"])["id"] for j in jobs[:1]]
    assert ids

    def all_done():
        page = client.get("/v1/jobs?status=succeeded&limit=500", headers=auth).get_json()["jobs"]
        return len(page) == 500

    wait_until(all_done, timeout=90, interval=0.5)
    last = client.get(f"/v1/jobs/{jobs[-1]['id']}?wait=60", headers=auth).get_json()
    assert last["result"] == "Hello n999"


def test_batch_over_the_limit_is_refused(client, auth, settings):
    body = {"jobs": [{"type": "hello", "params": {"name": "x"}}] * (settings.max_batch + 1)}
    r = create(client, auth, body)
    assert r.status_code == 400 and "at most" in r.get_json()["message"]


def test_sse_stream_follows_a_running_job_and_resumes(client, auth):
    job = create(client, auth, {"type": "test.sleep", "params": {"seconds": 1, "steps": 4}}).get_json()
    r = client.get(f"/v1/jobs/{job['id']}/events", headers={**auth, "Accept": "text/event-stream"})
    assert r.mimetype == "text/event-stream"
    text = b"".join(r.response).decode()
    kinds = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event: ")]
    assert kinds[0] == "created" and "claim" in kinds and kinds[-2:] == ["succeed", "end"]
    assert kinds.count("progress") >= 1
    ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    r2 = client.get(f"/v1/jobs/{job['id']}/events", headers={**auth, "Accept": "text/event-stream",
                                                            "Last-Event-ID": str(ids[-2])})
    text2 = b"".join(r2.response).decode()
    assert [int(line[4:]) for line in text2.splitlines() if line.startswith("id: ")] == ids[-1:]


def test_cancel_scheduled_then_restart_keeps_history(client, auth):
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    job = create(client, auth, {"type": "hello", "params": {"name": "Ann"}, "start_at": later}).get_json()
    assert job["status"] == "scheduled"
    r = client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth)
    assert r.status_code == 200 and r.get_json()["status"] == "canceled"
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth).status_code == 409
    r = client.post(f"/v1/jobs/{job['id']}/restart", headers=auth)
    assert r.status_code == 200 and r.get_json()["run"] == 2
    done = client.get(f"/v1/jobs/{job['id']}?wait=10", headers=auth).get_json()
    assert done["status"] == "succeeded" and done["result"] == "Hello Ann" and done["run"] == 2
    events = client.get(f"/v1/jobs/{job['id']}/events", headers=auth).get_json()
    restart = next(e for e in events if e["type"] == "restart")
    assert restart["data"]["previous_status"] == "canceled"
    assert [e["type"] for e in events] == ["created", "cancel", "restart", "claim", "succeed"]
    assert client.post(f"/v1/jobs/{job['id']}/restart", headers=auth).status_code == 200


def test_cancel_queued_job_never_runs(client, make_account, runtime):
    account, key = make_account()
    auth = {"Authorization": f"Bearer {key}"}
    with runtime.db.transaction() as cur:  # queued, not yet due (as in a retry's backoff): nobody claims it
        [row] = runtime.store.insert(cur, account.id, [vars(runtime.jobs.spec("hello", {"name": "x"}))], None)
        cur.execute("UPDATE jobs SET run_after = now() + interval '2 seconds' WHERE id = %s", (row["id"],))
    job_id = str(row["public_id"])
    assert job_status(client, auth, job_id) == "queued"
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=auth).get_json()["status"] == "canceled"
    import time

    time.sleep(3)  # past its due time: beat and the workers must not resurrect it
    assert job_status(client, auth, job_id) == "canceled"
    events = [e["type"] for e in client.get(f"/v1/jobs/{job_id}/events", headers=auth).get_json()]
    assert events == ["created", "cancel"]


def test_cancel_running_is_cooperative(client, auth):
    job = create(client, auth, {"type": "test.sleep", "params": {"seconds": 20, "steps": 100}}).get_json()
    wait_until(lambda: job_status(client, auth, job["id"]) == "running")
    r = client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth)
    assert r.status_code == 200 and r.get_json()["cancel_requested_at"]
    done = client.get(f"/v1/jobs/{job['id']}?wait=10", headers=auth).get_json()
    assert done["status"] == "canceled" and done["progress"] < 0.5
    events = client.get(f"/v1/jobs/{job['id']}/events", headers=auth).get_json()
    assert events[-1]["data"]["how"] == "cooperative"


def test_cancel_running_that_ignores_it_is_terminated_after_grace(client, auth, engine):
    job = create(client, auth, {"type": "test.sleep", "params": {"seconds": 15, "steps": 15, "ignore_cancel": True}}).get_json()
    wait_until(lambda: job_status(client, auth, job["id"]) == "running")
    client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth)
    done = client.get(f"/v1/jobs/{job['id']}?wait=10", headers=auth).get_json()
    assert done["status"] == "canceled"
    events = client.get(f"/v1/jobs/{job['id']}/events", headers=auth).get_json()
    assert events[-1]["data"]["how"] == "terminated after grace period"
    # the worker survives and keeps working
    assert create(client, auth, {"type": "hello", "params": {"name": "z"}}, wait=20).get_json()["status"] == "succeeded"


def test_failure_and_transient_retry(client, auth):
    failed = create(client, auth, {"type": "test.sleep", "params": {"seconds": 0, "fail": "bad input file"}}, wait=10).get_json()
    assert failed["status"] == "failed" and failed["error"] == "bad input file" and failed["attempt"] == 1
    flaky = create(client, auth, {"type": "test.sleep", "params": {"seconds": 0, "steps": 1, "transient_failures": 2}}).get_json()
    done = client.get(f"/v1/jobs/{flaky['id']}?wait=20", headers=auth).get_json()
    assert done["status"] == "succeeded" and done["attempt"] == 3
    events = [e["type"] for e in client.get(f"/v1/jobs/{flaky['id']}/events", headers=auth).get_json()]
    assert events.count("retry") == 2
    doomed = create(client, auth, {"type": "test.sleep", "params": {"seconds": 0, "transient_failures": 9}, "max_attempts": 2}).get_json()
    done = client.get(f"/v1/jobs/{doomed['id']}?wait=20", headers=auth).get_json()
    assert done["status"] == "failed" and "after 2 attempts" in done["error"]


def test_delete(client, auth):
    job = create(client, auth, {"type": "hello", "params": {"name": "x"}}, wait=10).get_json()
    assert client.delete(f"/v1/jobs/{job['id']}", headers=auth).status_code == 204
    assert client.get(f"/v1/jobs/{job['id']}", headers=auth).status_code == 404
    assert client.delete(f"/v1/jobs/{job['id']}", headers=auth).status_code == 404
    running = create(client, auth, {"type": "test.sleep", "params": {"seconds": 10, "steps": 50}}).get_json()
    wait_until(lambda: job_status(client, auth, running["id"]) == "running")
    assert client.delete(f"/v1/jobs/{running['id']}", headers=auth).status_code == 204
    # the worker notices at its next heartbeat and moves on to other work
    assert create(client, auth, {"type": "hello", "params": {"name": "y"}}, wait=20).get_json()["status"] == "succeeded"


def test_scheduled_job_starts_on_time(client, auth):
    at = datetime.now(UTC) + timedelta(seconds=2)
    job = create(client, auth, {"type": "hello", "params": {"name": "S"}, "start_at": at.isoformat()}).get_json()
    assert job["status"] == "scheduled"
    done = client.get(f"/v1/jobs/{job['id']}?wait=10", headers=auth).get_json()
    assert done["status"] == "succeeded"
    started = datetime.fromisoformat(done["started_at"])
    assert at <= started + timedelta(milliseconds=50) and started - at < timedelta(seconds=1.5)


def test_job_types(client, auth):
    types = {t["name"]: t for t in client.get("/v1/job-types", headers=auth).get_json()}
    assert types["hello"]["queue"] == "default"
    assert types["hello"]["params_schema"]["required"] == ["name"]


# -- idempotency ------------------------------------------------------------------------


def test_idempotency_repeat_conflict_and_concurrent(client, auth, app):
    body = {"type": "hello", "params": {"name": "once"}}
    h = {**auth, "Idempotency-Key": "k-1"}
    first = client.post("/v1/jobs", json=body, headers=h)
    again = client.post("/v1/jobs", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    conflict = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "other"}}, headers=h)
    assert conflict.status_code == 422 and "Idempotency-Key" in conflict.get_json()["message"]

    results = []

    def post():
        results.append(app.test_client().post("/v1/jobs", json=body, headers={**auth, "Idempotency-Key": "k-2"}))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in results} == {201}
    assert len({r.get_json()["id"] for r in results}) == 1


# -- authentication and tenancy ---------------------------------------------------------


def test_every_auth_form(client, key, runtime, make_account):
    forms = [
        {"Authorization": f"Bearer {key}"}, {"Authorization": f"Secret {key}"},
        {"Authorization": key}, {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()},
        {"API-KEY": key},
    ]
    for headers in forms:
        assert client.get("/v1/jobs", headers=headers).status_code == 200, headers
    assert client.get(f"/v1/jobs?apikey={key}").status_code == 200
    account, _ = make_account(referers=["app.example.org"])
    public = runtime.accounts.create_key(account, kind="public")
    # a public key is for Dragon tasks only: even from a whitelisted page, /v1 is refused
    for referer in ("https://app.example.org/x", None, "https://evil.example.net/"):
        h = {"Authorization": f"Api-Key {public}", **({"Referer": referer} if referer else {})}
        r = client.get("/v1/jobs", headers=h)
        assert r.status_code == 403 and r.get_json()["code"] == 403


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer jl_00000000_forged"},
    {"Authorization": "Basic !!!"}, {"Authorization": "Basic " + base64.b64encode(b":").decode()},
])
def test_bad_credentials_are_401(client, headers):
    r = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "x"}}, headers=headers)
    assert r.status_code == 401 and r.get_json()["code"] == 401


def test_revoked_key_is_refused_at_once(client, runtime, make_account):
    _account, key = make_account()
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    runtime.accounts.revoke_key(key.split("_")[1])
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_no_plaintext_key_in_the_database(runtime, key):
    with runtime.db.transaction() as cur:
        cur.execute("SELECT * FROM api_keys")
        dump = json.dumps([{k: str(v) for k, v in r.items()} for r in cur.fetchall()])
    assert key not in dump and key.split("_")[2] not in dump


def test_another_accounts_job_is_404_and_untouched(client, auth, make_account):
    job = create(client, auth, {"type": "hello", "params": {"name": "mine"}}, wait=10).get_json()
    other = {"Authorization": f"Bearer {make_account()[1]}"}
    for method, path in [("get", ""), ("get", "/events"), ("post", "/cancel"), ("post", "/restart"), ("delete", "")]:
        r = getattr(client, method)(f"/v1/jobs/{job['id']}{path}", headers=other)
        assert r.status_code == 404, (method, path)
    assert client.get("/v1/jobs", headers=other).get_json()["jobs"] == []
    after = client.get(f"/v1/jobs/{job['id']}", headers=auth).get_json()
    assert after["status"] == "succeeded" and after["run"] == 1


# -- bad input: a clear 4xx, nothing written ---------------------------------------------


@pytest.mark.parametrize("body,name", [
    ({"type": "nope", "params": {}}, "type"),
    ({"type": "hello", "params": {}}, "params.name"),
    ({"type": "hello", "params": {"name": 5}}, "params.name"),
    ({"type": "hello", "params": {"name": "x" * 201}}, "params.name"),
    ({"type": "hello", "params": "John"}, "params"),
    ({"type": 7}, "type"),
    ({"type": "hello", "params": {"name": "x"}, "priority": 99}, "priority"),
    ({"type": "hello", "params": {"name": "x"}, "start_at": "tomorrow"}, "start_at"),
    ({"type": "hello", "params": {"name": "x"}, "callback_url": "not a url"}, "callback_url"),
    ({"type": "hello", "params": {"name": "x"}, "surprise": 1}, "surprise"),
    ({"jobs": [{"type": "hello", "params": {"name": "ok"}}, {"type": "hello", "params": {}}]}, "jobs.1.params.name"),
    ({"jobs": []}, None),
    ({}, "type"),
    ([1, 2], None),
])
def test_bad_bodies_are_400_and_write_nothing(client, auth, body, name):
    r = client.post("/v1/jobs", json=body, headers=auth)
    assert r.status_code == 400, r.get_json()
    payload = r.get_json()
    assert payload["code"] == 400 and payload["message"]
    if name:
        assert name in [e["name"] for e in payload["errors"]], payload
    assert client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []


def test_malformed_json_oversized_body_unknown_and_bad_ids(client, auth, settings):
    r = client.post("/v1/jobs", data="{not json", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and "Invalid JSON" in r.get_json()["errors"][0]["description"]
    big = json.dumps({"type": "hello", "params": {"name": "x" * (settings.max_body_bytes + 10)}})
    r = client.post("/v1/jobs", data=big, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.get_json()["code"] == 413
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", "1%27%20OR%201=1"):
        assert client.get(f"/v1/jobs/{bad}", headers=auth).status_code == 404
    assert client.get("/v1/jobs?cursor=%%%", headers=auth).status_code == 400
    assert client.get("/v1/jobs?limit=0", headers=auth).status_code == 400
    assert client.get("/v1/jobs?status=bogus", headers=auth).status_code == 400
    assert client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []


def test_openapi_and_health(client):
    spec = client.get("/openapi.json").get_json()
    assert "/v1/jobs" in spec["paths"] and "/v1/jobs/{job_id}/events" in spec["paths"]
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"postgres": "ok", "redis": "ok"}


def test_metrics(client, auth):
    create(client, auth, {"type": "hello", "params": {"name": "m"}}, wait=10)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'jobline_jobs_created_total{type="hello"}' in text
    assert 'jobline_queue_depth{queue="default"}' in text
    assert 'jobline_queue_oldest_age_seconds{queue="images"}' in text
    assert 'jobline_http_request_seconds_count{method="POST",route="/v1/jobs",status="201"}' in text


def test_offsets_beyond_postgres_range_are_normalised(client, auth):
    """Python accepts +16:00; PostgreSQL does not: found by schemathesis, was a 500."""
    r = client.get("/v1/jobs?created_after=2000-01-01T00%3A00%3A00%2B16%3A00", headers=auth)
    assert r.status_code == 200
    r = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "tz"}, "start_at": "2000-01-01T00:00:00+16:00"},
                    headers=auth)
    assert r.status_code == 201 and r.get_json()["start_at"].startswith("1999-12-31T08:00:00")


def test_callback_targets_urls_and_email_addresses(client, auth):
    r = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "cb"},
                                      "callback_url": "https://hooks.example.com/done"}, headers=auth)
    assert r.status_code == 201 and r.get_json()["callback_url"] == "https://hooks.example.com/done"
    for target in ("ops@example.com", "mailto:ops@example.com"):  # this session has no SMTP server
        r = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "cb"}, "callback_url": target}, headers=auth)
        assert r.status_code == 400 and "SMTP" in r.get_json()["message"]


def test_progress_keeps_one_event_per_run(client, auth):
    """The latest progress is on the job; its ticks replace one event instead of piling up."""
    job = create(client, auth, {"type": "test.sleep", "params": {"seconds": 0.5, "steps": 10}}, wait=20).get_json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    events = client.get(f"/v1/jobs/{job['id']}/events", headers=auth).get_json()
    progress = [e for e in events if e["type"] == "progress"]
    assert len(progress) == 1 and progress[0]["data"] == {"progress": 1.0, "message": "step 10"}
    assert [e["type"] for e in events] == ["created", "claim", "progress", "succeed"]


def test_a_nul_character_in_a_filter_is_a_400(client, auth):
    r = client.get("/v1/jobs?type=a%00b", headers=auth)
    assert r.status_code == 400 and "NUL" in r.get_json()["message"]


def test_wait_is_bounded_by_the_setting_it_is_capped_at(client, auth, settings):
    r = client.post(f"/v1/jobs?wait={settings.max_wait_s + 1}", json={"type": "hello", "params": {"name": "w"}},
                    headers=auth)
    assert r.status_code == 400 and "JOBLINE_MAX_WAIT_S" in r.get_json()["message"]
    assert client.get("/v1/jobs", headers=auth).get_json()["jobs"] == []  # nothing created


def test_a_json_body_without_its_content_type(client, auth):
    """curl -d sends form-urlencoded: a JSON body is read all the same; other bodies are told why."""
    body = json.dumps({"type": "hello", "params": {"name": "plain"}})
    for ctype in ("application/x-www-form-urlencoded", "text/plain", None):
        headers = {**auth, **({"Content-Type": ctype} if ctype else {})}
        r = client.post("/v1/jobs", data=body, headers=headers)
        assert r.status_code == 201 and r.get_json()["params"] == {"name": "plain"}, (ctype, r.get_json())
    r = client.post("/v1/jobs", data="type=hello", headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "Content-Type: application/json" in r.get_json()["message"]
