"""Callbacks end to end: a real worker and beat deliver to a real HTTP receiver and a real
SMTP server on loopback; signatures verified with the ``standardwebhooks`` package.

Runs on a stack of its own (database, broker prefix, worker, beat: ``tests/support/callbacks.py``)
with fast retries, a 1 s attempt timeout and a 6 s total age, and an SMTP server on a free port.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.callbacks import SmtpSink, Stack, free_port, wait_for

MAX_AGE_S = 6


@pytest.fixture(scope="module")
def smtp():
    s = SmtpSink()
    yield s
    s.close()


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory, smtp):
    s = Stack(*servers, tmp_path_factory.mktemp("callbacks"), callback_retry_base_s=0.3, callback_retry_max_s=1.0,
              callback_max_age_s=MAX_AGE_S, callback_timeout_s=1, smtp_host="127.0.0.1", smtp_port=smtp.port,
              smtp_from="jobs@jobline.test")
    try:
        yield s.start()
    finally:
        s.stop()


@pytest.fixture
def api(stack):
    _account, key = stack.account()
    return stack.app.test_client(), {"Authorization": f"Bearer {key}"}


def submit(api, callback_url=None, **job):
    client, auth = api
    body = {"type": "hello", "params": {"name": "John"}, **job}
    if callback_url is not None:
        body["callback_url"] = callback_url
    r = client.post("/v1/jobs", json=body, headers=auth)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def deliveries(api, job_id):
    client, auth = api
    r = client.get(f"/v1/jobs/{job_id}/deliveries", headers=auth)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def settled(api, job_id, state="delivered", count=1, timeout=30):
    """The job's deliveries once ``count`` of them are in ``state``."""
    return wait_for(lambda: (lambda d: d if sum(x["state"] == state for x in d) >= count else None)(
        deliveries(api, job_id)), timeout)


def secret(api):
    """A fresh signing secret: rotating is the only way to see one."""
    client, auth = api
    r = client.post("/v1/webhook/secret:rotate", headers=auth)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["secret"]


def test_webhook_is_signed_and_marks_the_job(api, receiver, stack):
    key = secret(api)
    job = submit(api, receiver.plan("/ok"))
    [req] = receiver.wait_for("/ok")
    payload = Webhook(key).verify(req.body, req.headers)
    assert list(payload) == ["job_id", "status", "output", "job"]
    # A canonical job's callback speaks the canonical API: its states, its job fields.
    assert payload["job_id"] == job["id"] and payload["status"] == "succeeded" and payload["output"] == "Hello John"
    assert payload["job"] == {**{k: job[k] for k in ("id", "type", "params", "run", "created_at", "callback_url",
                                                     "metadata")},
                              "status": "succeeded", "result": "Hello John", "error": None,
                              "finished_at": payload["job"]["finished_at"]}
    assert datetime.fromisoformat(payload["job"]["finished_at"]) >= datetime.fromisoformat(job["created_at"])
    assert req.headers["Content-Type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 44).verify(req.body, req.headers)
    [d] = settled(api, job["id"])
    assert d["job_status"] == "succeeded" and d["target"] == receiver.url + "/ok" and d["id"] == req.headers["webhook-id"]
    assert [(a["attempt"], a["status_code"], a["error"]) for a in d["attempts"]] == [(1, 200, None)]
    row = stack.runtime.jobs.get(stack.runtime.accounts.authenticate(api[1]["Authorization"][7:]), job["id"])
    assert row["callback_succeeded"] is True


def test_retried_after_500_with_the_same_id_and_body(api, receiver):
    key = secret(api)
    job = submit(api, receiver.plan("/flaky", 500, 503, 200))
    reqs = receiver.wait_for("/flaky", 3)
    assert len({r.headers["webhook-id"] for r in reqs}) == 1 and len({r.body for r in reqs}) == 1
    for r in reqs:  # each attempt signed afresh
        Webhook(key).verify(r.body, r.headers)
    [d] = settled(api, job["id"])
    assert [a["status_code"] for a in d["attempts"]] == [500, 503, 200]
    assert "HTTP 500" in d["attempts"][0]["error"] and d["attempts"][0]["response"] == "nope"


def app_job(api, callback_url, name="John"):
    """Through an app and the Canotic dialect, where a callback may be an email address."""
    client, auth = api
    app = client.post("/v1/apps", json={"name": "greeter", "type": "hello"}, headers=auth).get_json()
    r = client.post(f"/canotic/apps/{app['app_id']}/jobs", json={"inputs": [{"name": name}],
                                                                "callback_url": callback_url}, headers=auth)
    assert r.status_code == 200, r.get_json()
    return {"id": r.get_json()["jobs"][0]["job_id"]}


def test_email_callback_through_a_real_smtp_server(api, smtp):
    job = app_job(api, "someone@example.com")
    other = app_job(api, "mailto:other@example.org", "Ada")
    for j in (job, other):
        [d] = settled(api, j["id"])
        assert d["attempts"][0]["status_code"] == 250
    mails = {tuple(rcpt): message_from_bytes(data) for _from, rcpt, data in smtp.messages}
    mail = mails[("someone@example.com",)]
    assert mail["From"] == "jobs@jobline.test" and job["id"] in mail["Subject"] and "completed" in mail["Subject"]
    body = json.loads(mail.get_payload(decode=True))
    assert body["job_id"] == job["id"] and body["output"] == "Hello John" and body["job"]["status"] == "completed"
    assert json.loads(mails[("other@example.org",)].get_payload(decode=True))["output"] == "Hello Ada"


def test_down_slow_and_redirecting_receivers_block_nobody(api, receiver):
    client, auth = api
    down = f"http://127.0.0.1:{free_port()}/down"
    slow = receiver.plan("/slow", *[("sleep", 3)] * 30)
    redirect = receiver.plan("/redirect", *[("redirect", receiver.url + "/redirect-target")] * 30)
    bad = [submit(api, url) for url in (down, slow, redirect)]
    good = [submit(api, receiver.plan(f"/good-{i}")) for i in range(3)]
    plain = client.post("/v1/jobs?wait=30", json={"jobs": [{"type": "hello", "params": {"name": f"p{i}"}}
                                                            for i in range(5)]}, headers=auth).get_json()["jobs"]
    assert all(j["status"] == "succeeded" for j in plain)
    for j in good:
        settled(api, j["id"])
    for j, why in zip(bad, ("connecting to 127.0.0.1", "did not answer", "redirect"), strict=True):
        [d] = settled(api, j["id"], "failed", timeout=MAX_AGE_S + 30)  # given up after the total age
        assert len(d["attempts"]) >= 2 and all(why in a["error"] for a in d["attempts"]), d
        assert client.get(f"/v1/jobs/{j['id']}", headers=auth).get_json()["status"] == "succeeded"
    assert receiver.at("/redirect-target") == []  # a redirect is never followed


def test_refused_addresses_are_never_contacted(api, stack):
    """Refused at creation (400); and at delivery too, for a host that resolved elsewhere then."""
    client, auth = api
    for url in ("http://10.255.255.1/hook", "http://169.254.169.254/latest/meta-data/"):
        r = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "x"}, "callback_url": url}, headers=auth)
        assert r.status_code == 400 and "private address" in r.get_json()["message"], r.get_json()
    rt = stack.runtime
    account = rt.accounts.authenticate(auth["Authorization"].split()[1])
    job, meta = rt.jobs.create(account, [rt.jobs.spec("hello", {"name": "x"}, callback_url=url) for url in
                                         ("http://10.255.255.1/hook", "http://169.254.169.254/latest/meta-data/")])
    job, meta = ({"id": str(j["public_id"])} for j in (job, meta))
    for j in (job, meta):
        d = wait_for(lambda j=j: (deliveries(api, j["id"]) or [{}])[0].get("attempts"))
        assert "refused to fetch" in d[0]["error"] and "private address" in d[0]["error"]
        assert d[0]["status_code"] is None


def test_app_then_account_default_callbacks(api, receiver):
    client, auth = api
    r = client.put("/v1/webhook", json={"default_callback_url": receiver.plan("/account-default")}, headers=auth)
    assert r.status_code == 200 and r.get_json()["default_callback_url"].endswith("/account-default")
    plain = submit(api)
    app = client.post("/v1/apps", json={"name": "greeter", "type": "hello",
                                        "callback_url": receiver.plan("/app-default")}, headers=auth).get_json()
    r = client.post(f"/canotic/apps/{app['app_id']}/jobs", json={"inputs": [{"name": "Ada"}]}, headers=auth)
    assert r.status_code == 200, r.get_json()
    via_app = r.get_json()["jobs"][0]
    own = submit(api, receiver.plan("/own"))
    assert settled(api, plain["id"])[0]["target"].endswith("/account-default")
    assert settled(api, via_app["job_id"])[0]["target"].endswith("/app-default")
    assert settled(api, own["id"])[0]["target"].endswith("/own")
    payload = json.loads(receiver.wait_for("/app-default")[0].body)
    assert payload["job"]["app_id"] == app["app_id"] and payload["job"]["input"] == {"name": "Ada"}
    r = client.put("/v1/webhook", json={"default_callback_url": None}, headers=auth)
    assert r.get_json()["default_callback_url"] is None


def test_no_target_means_no_delivery(api, stack):
    client, auth = api
    job = client.post("/v1/jobs?wait=20", json={"type": "hello", "params": {"name": "x"}}, headers=auth).get_json()
    assert job["status"] == "succeeded"
    assert deliveries(api, job["id"]) == []


def test_cancel_and_restart_each_get_a_callback(api, receiver):
    client, auth = api
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    job = submit(api, receiver.plan("/runs"), start_at=later)
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth).get_json()["status"] == "canceled"
    [first] = receiver.wait_for("/runs")  # published by beat: no worker finished this job
    assert json.loads(first.body)["status"] == "canceled"
    assert client.post(f"/v1/jobs/{job['id']}/restart", headers=auth).status_code == 200
    reqs = receiver.wait_for("/runs", 2)
    assert json.loads(reqs[1].body)["status"] == "succeeded" and reqs[0].headers["webhook-id"] != reqs[1].headers["webhook-id"]
    ds = settled(api, job["id"], count=2)
    assert [(d["run"], d["job_status"]) for d in ds] == [(1, "canceled"), (2, "succeeded")]


def test_webhook_settings_and_bad_input(api):
    client, auth = api
    before = secret(api)
    r = client.post("/v1/webhook/secret:rotate", headers=auth)
    assert r.status_code == 200 and r.get_json()["secret"].startswith("whsec_") and r.get_json()["secret"] != before
    rotated_at = r.get_json()["secret_rotated_at"]
    # The secret is never readable again: not by GET, not in PUT's answer.
    r = client.get("/v1/webhook", headers=auth)
    assert r.status_code == 200 and "secret" not in r.get_json() and r.get_json()["secret_rotated_at"] == rotated_at
    r = client.put("/v1/webhook", json={"default_callback_url": None}, headers=auth)
    assert r.status_code == 200 and "secret" not in r.get_json()
    assert before not in client.get("/openapi.json").get_data(as_text=True)

    for bad in ({"default_callback_url": "ftp://x"}, {"default_callback_url": "http://u:p@x/"},
                {"default_callback_url": "a@b@c"}, {"nope": 1}, {"rotate_secret": True}, {}):
        r = client.put("/v1/webhook", json=bad, headers=auth)
        assert r.status_code == 400 and r.get_json()["message"], bad
    assert client.get("/v1/webhook").status_code == 401


def test_deliveries_carry_the_previous_secrets_signature_after_a_rotation(api, receiver):
    oldest, previous, current = secret(api), secret(api), secret(api)
    submit(api, receiver.plan("/rotated"))
    [req] = receiver.wait_for("/rotated")
    Webhook(current).verify(req.body, req.headers)
    Webhook(previous).verify(req.body, req.headers)  # receivers not yet switched keep working
    with pytest.raises(Exception, match="signature"):
        Webhook(oldest).verify(req.body, req.headers)

def test_another_accounts_deliveries_are_not_found(api, stack, receiver):
    job = submit(api, receiver.plan("/mine"))
    client, _auth = api
    _acct, other = stack.account()
    r = client.get(f"/v1/jobs/{job['id']}/deliveries", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 404
    assert client.get("/v1/jobs/not-a-uuid/deliveries", headers=api[1]).status_code == 404


def test_a_lost_message_is_published_again_by_beat(api, stack, receiver):
    """The delivery row outlives its message: one published but never received goes out again."""
    rt = stack.runtime
    account = rt.accounts.authenticate(api[1]["Authorization"][7:])
    spec = rt.jobs.spec("hello", {"name": "lost"}, callback_url=receiver.plan("/lost"))
    # On a queue no worker serves, so only this test claims it (workers claim from PostgreSQL).
    with rt.db.transaction() as cur:
        [job] = rt.store.insert(cur, account.id, [dict(dataclasses.asdict(spec), queue="unserved")], None)
    assert rt.store.claim(job["id"], "test-worker") and rt.store.succeed(job["id"], "test-worker", "done")
    # As if the publish right after the job finished had been lost on the way to Redis:
    assert [r["id"] for r in rt.db.all("mark_job_deliveries_dispatched", job_id=job["id"])]
    [req] = receiver.wait_for("/lost", timeout=60)
    assert json.loads(req.body)["output"] == "done"
    assert settled(api, str(job["public_id"]))[0]["attempts"][0]["status_code"] == 200


def redeliver(api, job_id, delivery_id, auth=None):
    client, own = api
    return client.post(f"/v1/jobs/{job_id}/deliveries/{delivery_id}:redeliver", headers=auth or own)


def test_redeliver_sends_a_delivered_callback_again(api, receiver):
    key = secret(api)
    job = submit(api, receiver.plan("/again"))
    [first] = settled(api, job["id"])
    r = redeliver(api, job["id"], first["id"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["id"] == first["id"] and r.get_json()["state"] in ("pending", "delivered")
    reqs = receiver.wait_for("/again", 2)
    assert len(reqs) == 2 and reqs[0].body == reqs[1].body
    assert reqs[0].headers["webhook-id"] == reqs[1].headers["webhook-id"] == first["id"]
    Webhook(key).verify(reqs[1].body, reqs[1].headers)  # signed afresh
    [d] = wait_for(lambda: (lambda d: d if len(d[0]["attempts"]) == 2 and d[0]["state"] == "delivered" else None)(
        deliveries(api, job["id"])))
    assert [(a["attempt"], a["status_code"]) for a in d["attempts"]] == [(1, 200), (2, 200)]


def test_redeliver_a_given_up_delivery_but_not_a_pending_one(api, receiver):
    job = submit(api, receiver.plan("/late", *[500] * 200))
    [pending] = wait_for(lambda: (lambda d: d if d and d[0]["attempts"] else None)(deliveries(api, job["id"])))
    r = redeliver(api, job["id"], pending["id"])
    assert r.status_code == 409 and "already being delivered" in r.get_json()["message"]
    [failed] = settled(api, job["id"], "failed", timeout=MAX_AGE_S + 30)
    tried = len(failed["attempts"])
    receiver.plan("/late")  # the receiver is back
    assert redeliver(api, job["id"], failed["id"]).status_code == 200
    [d] = settled(api, job["id"])
    assert len(d["attempts"]) == tried + 1 and d["attempts"][-1]["status_code"] == 200 and d["last_error"] is None


def test_redeliver_refuses_other_accounts_bad_ids_and_read_keys(api, stack, receiver):
    job = submit(api, receiver.plan("/guarded"))
    [d] = settled(api, job["id"])
    acct, other = stack.account()
    other_job = submit((api[0], {"Authorization": f"Bearer {other}"}), receiver.plan("/theirs"))
    as_other = {"Authorization": f"Bearer {other}"}
    assert redeliver(api, job["id"], d["id"], as_other).status_code == 404  # not their job
    assert redeliver(api, other_job["id"], d["id"], as_other).status_code == 404  # not their delivery
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        r = redeliver(api, job["id"], bad)
        assert r.status_code == 404 and r.get_json()["message"].startswith("no delivery"), bad
    reader = stack.runtime.accounts.create_key(stack.runtime.accounts.authenticate(api[1]["Authorization"][7:]), "read")
    r = redeliver(api, job["id"], d["id"], {"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403 and "needs write" in r.get_json()["message"]
    assert len(receiver.at("/guarded")) == 1 and len(deliveries(api, job["id"])[0]["attempts"]) == 1
