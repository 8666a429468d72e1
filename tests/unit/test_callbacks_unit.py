"""Callback targets, backoff, signatures, the job view, and one attempt's bookkeeping (no services)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.apps import callbacks
from shared.apps.callbacks import (
    Deliveries,
    Outcome,
    backoff,
    check_target,
    give_up,
    parse_target,
    send_email,
    send_webhook,
    signed_headers,
)
from shared.apps.service import STATUS, callback_payload, iso, load_inputs, render_job
from shared.engine.errors import BadRequest
from shared.engine.fetch import Policy
from shared.engine.settings import Settings
from shared.engine.states import Status

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = datetime(2016, 6, 23, 9, 10, 2, 798123, tzinfo=UTC)


@pytest.mark.parametrize("value, kind, address", [
    ("http://www.example.com/callback", "webhook", "http://www.example.com/callback"),
    ("https://hooks.example.com:8443/a?b=c", "webhook", "https://hooks.example.com:8443/a?b=c"),
    ("  https://x.example/  ", "webhook", "https://x.example/"),
    ("someone@example.com", "email", "someone@example.com"),
    ("mailto:First.Last+jobs@mail.example.co.uk", "email", "First.Last+jobs@mail.example.co.uk"),
])
def test_valid_targets(value, kind, address):
    assert parse_target(value) == callbacks.Target(kind, address)


@pytest.mark.parametrize("value, why", [
    ("", "http(s) URL or an email"), ("ftp://example.com/x", "http(s)"), ("javascript:alert(1)", "http(s)"),
    ("file:///etc/passwd", "http(s)"), ("http:///nohost", "http(s)"), ("http://u:p@example.com/", "credentials"),
    ("a@b@c.com", "http(s)"), ("x@example.com\r\nBcc: victim@example.com", "control"),
    ("http://example.com/ a", "spaces"), ("http://example.com:99999/", "port"),
    ("https://example.com/" + "a" * 3000, "longer"), ("mailto:", "http(s)"), ("@example.com", "http(s)"),
])
def test_invalid_targets(value, why):
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_target(value)


def test_check_target_names_the_field():
    assert check_target(None) is None and check_target("") is None
    assert check_target(" http://a.example/ ") == "http://a.example/"
    with pytest.raises(BadRequest) as exc:
        check_target("gopher://x", "callbackUrl")
    assert exc.value.errors[0]["name"] == "callbackUrl" and "callbackUrl" in exc.value.message


def test_backoff_doubles_caps_and_jitters():
    assert [backoff(n, 10, 3600, rand=lambda: 1.0) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert [backoff(n, 10, 3600, rand=lambda: 0.0) for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff(30, 10, 3600, rand=lambda: 1.0) == 3600 and backoff(30, 10, 3600, rand=lambda: 0.0) == 1800
    samples = {backoff(3, 10, 3600) for _ in range(50)}
    assert all(20 <= s <= 40 for s in samples) and len(samples) > 1


def test_give_up_after_the_total_age():
    created = NOW - timedelta(hours=23)
    assert not give_up(created, NOW, 1800, 86400)
    assert give_up(created, NOW, 4000, 86400)


def test_signature_verifies_with_standardwebhooks():
    body = json.dumps({"job_id": "j1", "status": "completed"})
    now = datetime.now(UTC)
    headers = signed_headers(SECRET, "msg_1", body, now)
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert Webhook(SECRET).verify(body, headers) == {"job_id": "j1", "status": "completed"}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace("completed", "error"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "B" * 32).verify(body, headers)


def test_after_a_rotation_both_secrets_verify_for_a_while():
    body, now, old, new = "{}", datetime.now(UTC), SECRET, "whsec_" + "C" * 32
    headers = signed_headers(new, "msg_2", body, now, previous=old)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):  # a receiver on either secret accepts it
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "B" * 32).verify(body, headers)
    assert len(signed_headers(new, "m", body, now, previous=None)["webhook-signature"].split(" ")) == 1


def job_row(status: str, **kw) -> dict:
    row = {"id": 7, "public_id": "576ba74e-ec47-41ff-b015-57cc00000000", "status": status, "params": {"name": "x"},
           "input": {"data_url": "https://example.com/dog.png"}, "result": None, "error": None,
           "created_at": NOW - timedelta(seconds=28), "finished_at": None, "callback_url": "http://www.example.com/callback",
           "metadata": {}, "app_public_id": "60D31EB37595DD44584BE5EF363283E3", "callback_succeeded": None}
    return {**row, **kw}


def test_status_mapping_covers_every_state():
    assert set(STATUS) == {s.value for s in Status}
    assert {STATUS[s] for s in ("scheduled", "queued", "running")} == {"pending"}
    assert (STATUS["succeeded"], STATUS["failed"], STATUS["canceled"]) == ("completed", "error", "canceled")


def test_render_job_as_documented():
    assert iso(NOW) == "2016-06-23T09:10:02.798Z"
    pending = render_job(job_row("running"))
    assert list(pending) == ["job_id", "created_at", "callback_url", "app_id", "status", "input", "metadata"]
    assert pending["status"] == "pending" and pending["input"] == {"data_url": "https://example.com/dog.png"}
    done = render_job(job_row("succeeded", result={"category": "dog"}, finished_at=NOW, callback_succeeded=True))
    assert list(done) == ["job_id", "completed_at", "created_at", "callback_url", "app_id", "status",
                          "callback_succeeded", "input", "output", "metadata"]
    assert done["completed_at"] == "2016-06-23T09:10:02.798Z" and done["output"] == {"category": "dog"}
    failed = render_job(job_row("failed", error="boom", finished_at=NOW, callback_succeeded=False))
    assert failed["status"] == "error" and failed["error"] == "boom" and failed["callback_succeeded"] is False
    quiet = render_job(job_row("succeeded", finished_at=NOW, callback_url=None))  # no callback: null, not false
    assert quiet["callback_succeeded"] is None
    canceled = render_job(job_row("canceled", finished_at=NOW))
    assert "completed_at" not in canceled and "output" not in canceled
    assert render_job(job_row("queued", input=None))["input"] == {"name": "x"}  # a job made outside an app


def test_callback_payload_shape():
    payload = callback_payload(job_row("succeeded", result={"category": "dog"}, finished_at=NOW))
    assert list(payload) == ["job_id", "status", "output", "job"]
    assert payload["status"] == "completed" and payload["output"] == {"category": "dog"}
    assert payload["job"]["job_id"] == payload["job_id"]


def test_email_without_a_server_fails_for_good():
    outcome = send_email("a@example.com", "s", "{}", Settings(smtp_host=""))
    assert not outcome.ok and outcome.permanent and "JOBLINE_SMTP_HOST" in outcome.error


def test_webhook_to_a_refused_address_never_connects():
    outcome = send_webhook("http://127.0.0.1:9/hook", "{}", {}, Policy())  # loopback, no allowlist
    assert not outcome.ok and "loopback" in outcome.error and outcome.status_code is None


@pytest.mark.parametrize("url, why", [
    ("http://127.0.0.1:9/inputs.json", "loopback"), ("http://10.1.2.3/inputs.json", "private"),
    ("ftp://example.com/inputs.json", "only http"), ("", "URL of a JSON file"),
])
def test_inputs_file_refused_before_any_connection(url, why):
    with pytest.raises(BadRequest, match=why) as exc:
        load_inputs(url, Policy())
    assert exc.value.errors[0]["name"] == "inputs_file"


# -- one attempt, against a fake database that fails loudly on an unknown query -----------------


def claimed_job(job: dict, run: int = 1) -> dict:
    """A job row as ``claim_delivery`` returns it: ``job_*`` columns beside the delivery's."""
    cols = {f"job_{k}": v for k, v in job.items() if k not in ("id", "status", "app_public_id")}
    return {**cols, "job_status_now": job["status"], "job_run": run, "job_app_public_id": job["app_public_id"]}


def test_payload_of_a_job_restarted_before_its_callback_went_out():
    claimed = {"run": 1, "job_id": 7, "job_status": "succeeded", **claimed_job(job_row("running"), run=2)}
    job = callbacks.job_of(claimed)
    assert job["status"] == "succeeded" and job["app_public_id"] == "60D31EB37595DD44584BE5EF363283E3"
    assert callback_payload(job)["status"] == "completed"
    now = callbacks.job_of({**claimed, "job_run": 1})
    assert now["status"] == "running" and "status_now" not in now


class FakeDb:
    def __init__(self, claim: dict | None) -> None:
        self.claim, self.recorded = claim, None

    def one(self, name: str, **params):
        if name == "claim_delivery":
            return self.claim
        if name == "record_attempt":
            self.recorded = params
            return {"id": params["id"]}
        raise AssertionError(f"unexpected query {name}")


def attempt(outcome: Outcome | Exception, created_at: datetime | None = None, body: str | None = None,
            target: str = "http://hooks.example/x", claim: bool = True):
    row = {"id": 1, "public_id": "d1", "job_id": 7, "run": 1, "job_status": "succeeded", "target": target,
           "attempts": 2, "body": body, "created_at": created_at or datetime.now(UTC), "webhook_secret": SECRET,
           **claimed_job(job_row("succeeded", result="Hello", finished_at=NOW))}
    db = FakeDb(row if claim else None)
    settings = Settings(callback_retry_base_s=10, callback_retry_max_s=60, callback_max_age_s=3600)
    rt = SimpleNamespace(db=db, settings=settings, celery=None, fetch_policy=Policy())
    service = Deliveries(rt, callback_payload)  # type: ignore[arg-type]

    def send(*_a):
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    service._send = send  # type: ignore[method-assign]
    return service.deliver(1), db.recorded


def test_attempt_outcomes():
    state, rec = attempt(Outcome(True, 200, response="ok"))
    assert state == "delivered" and rec["status_code"] == 200 and rec["error"] is None
    assert json.loads(rec["body"])["output"] == "Hello"  # built once, stored for the retries
    state, rec = attempt(Outcome(False, 500, error="HTTP 500"))
    assert state == "pending" and 10 <= rec["delay_s"] <= 20 and rec["error"] == "HTTP 500"
    state, _ = attempt(Outcome(False, 500, error="HTTP 500"), created_at=datetime.now(UTC) - timedelta(hours=2))
    assert state == "failed"  # older than the total age: given up
    state, _ = attempt(Outcome(False, error="no SMTP", permanent=True))
    assert state == "failed"
    state, rec = attempt(RuntimeError("bug"), body='{"job_id": "x"}')
    assert state == "pending" and "RuntimeError: bug" in rec["error"] and rec["body"] == '{"job_id": "x"}'
    assert attempt(Outcome(True), claim=False) == ("skipped", None)


def test_an_invalid_stored_target_fails_for_good():
    rt = SimpleNamespace(db=None, settings=Settings(), celery=None, fetch_policy=Policy())
    outcome = Deliveries(rt)._send({"target": "ftp://x"}, "{}", NOW)  # type: ignore[arg-type]
    assert outcome.permanent and "invalid callback target" in outcome.error
