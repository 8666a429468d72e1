"""Callbacks: where a finished job's result goes, and how it is signed, sent, retried, recorded.

A pending delivery is inserted by a trigger in the transaction of the job's terminal
transition (migration 0003), so no finished job misses its callback. The task
``jobline.deliver_callback`` (queue ``callbacks``) makes one attempt: claim the delivery
(at most one attempt at a time), POST the signed JSON (Standard Webhooks) through the SSRF
guard, or email it, and record the attempt. 2xx is delivered; anything else, a redirect
included, is retried with exponential backoff and jitter until the delivery is
``JOBLINE_CALLBACK_MAX_AGE_S`` old. Each attempt is bounded by ``JOBLINE_CALLBACK_TIMEOUT_S``
and runs on its own queue, so a slow or dead receiver delays nobody else.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import re
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from shared.engine.accounts import Account
from shared.engine.errors import BadRequest, Conflict, NotFound
from shared.engine.fetch import FetchError, Policy, check_address, fetch
from shared.engine.runtime import Runtime

log = logging.getLogger("jobline.callbacks")

DELIVER_CALLBACK = "jobline.deliver_callback"
QUEUE = "callbacks"
#: A receiver's answer is read up to this size, and this much of it is kept with the attempt.
MAX_RESPONSE_BYTES = 1 << 20
RESPONSE_EXCERPT = 500
MAX_TARGET_LENGTH = 2048
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


@dataclass(frozen=True)
class Target:
    kind: str  # "webhook" or "email"
    address: str  # the URL, or the bare email address


def parse_target(value: str) -> Target:
    """An http(s) URL or an email address (bare or ``mailto:``); ``ValueError`` says what is wrong."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an http(s) URL or an email address")
    value = value.strip()
    if len(value) > MAX_TARGET_LENGTH:
        raise ValueError(f"longer than {MAX_TARGET_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in value):
        raise ValueError("contains spaces or control characters")
    address = value[7:] if value.lower().startswith("mailto:") else value
    if "://" not in value and _EMAIL.match(address):
        return Target("email", address)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL or an email address")
    if parts.username or parts.password:
        raise ValueError("URLs with credentials are not accepted")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return Target("webhook", value)


def check_target(value: str | None, name: str = "callback_url", location: str = "json", *,
                 runtime: Runtime | None = None) -> str | None:
    """``value`` if it is a valid callback target (or empty: none), else ``BadRequest``.

    With ``runtime``, also one that can be delivered: an email needs an SMTP server, and a
    URL whose host resolves to an address the SSRF guard refuses would only be retried for a
    day in vain. A host that does not resolve now is accepted (DNS may come back).
    """
    if value is None or value == "":
        return None
    try:
        target = parse_target(value)
        if runtime is not None:
            _check_deliverable(target, runtime)
    except ValueError as exc:
        raise BadRequest(f"{name} {exc}", errors=[{"name": name, "location": location,
                                                  "description": str(exc)}]) from None
    return value.strip()


def _check_deliverable(target: Target, runtime: Runtime) -> None:
    if target.kind == "email":
        if not runtime.settings.smtp_host:
            raise ValueError("is an email address, but this server sends no email (no SMTP server configured)")
        return
    parts = urlsplit(target.address)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        ips = [str(ipaddress.ip_address(host))]  # a literal address: no lookup to fail
    except ValueError:
        try:
            ips = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
        except (socket.gaierror, UnicodeError):
            return
    try:
        for ip in ips:
            check_address(ip, host, runtime.fetch_policy)
    except FetchError as exc:
        raise ValueError(f"can never be delivered: {exc}") from None


def backoff(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Delay after failed attempt ``attempt`` (1, 2, ...): doubling, capped, "equal jitter".

    Half the delay is fixed, half random, so receivers coming back from an outage are not
    hit by every sender at the same instant, yet retries still back off.
    """
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    return delay / 2 + rand() * delay / 2


def give_up(created_at: datetime, now: datetime, delay_s: float, max_age_s: float) -> bool:
    """Whether the next attempt would come after the delivery's total age is spent."""
    return now + timedelta(seconds=delay_s) > created_at + timedelta(seconds=max_age_s)


def signed_headers(secret: str, msg_id: str, body: str, now: datetime,
                   previous: str | None = None) -> dict[str, str]:
    """Standard Webhooks headers: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``
    (space-separated signatures: the previous secret's too, for a day after a rotation)."""
    signatures = [Webhook(s).sign(msg_id, now, body) for s in (secret, previous) if s]
    return {"Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": " ".join(signatures)}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    response: str | None = None
    permanent: bool = False  # retrying cannot help (no SMTP server configured, bad target)


def send_webhook(url: str, body: str, headers: dict[str, str], policy: Policy) -> Outcome:
    """POST once through the SSRF guard; a redirect is a failed attempt, never followed."""
    try:
        got = fetch(url, policy, method="POST", body=body.encode(), headers=headers)
    except FetchError as exc:
        message = str(exc)
        if "redirect" in message:
            message = "the receiver answered with a redirect; callbacks do not follow redirects (give the final URL)"
        return Outcome(False, error=message)
    excerpt = got.body[:RESPONSE_EXCERPT].decode("utf-8", "replace")
    if 200 <= got.status < 300:
        return Outcome(True, got.status, response=excerpt)
    return Outcome(False, got.status, error=f"the receiver answered HTTP {got.status}", response=excerpt)


def send_email(address: str, subject: str, body: str, s: Any) -> Outcome:
    """Send ``body`` (the JSON payload) to ``address`` through the configured SMTP server."""
    if not s.smtp_host:
        return Outcome(False, error="no SMTP server is configured (JOBLINE_SMTP_HOST)", permanent=True)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = s.smtp_from, address, subject
    msg["Message-ID"] = make_msgid(domain=s.smtp_from.rpartition("@")[2] or None)
    msg.set_content(body)
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.callback_timeout_s) as smtp:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        return Outcome(False, exc.smtp_code, error=f"SMTP server refused: {exc.smtp_code} {exc.smtp_error!r}")
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return Outcome(False, code, error=f"SMTP server refused the recipient: {code} {reply!r}")
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, error=f"SMTP: {type(exc).__name__}: {exc}")
    return Outcome(True, 250)


def job_of(claimed: dict[str, Any]) -> dict[str, Any]:
    """The job row (as far as a payload needs it) from a claimed delivery's ``job_*`` columns."""
    job = {k[4:]: v for k, v in claimed.items() if k.startswith("job_") and k not in ("job_id", "job_status")}
    job["status"] = job.pop("status_now")
    if job["run"] != claimed["run"]:  # restarted before this callback went out: report the run it is about
        job.update(status=claimed["job_status"], result=None, error=None)
    return job


def canonical_payload(job: dict[str, Any]) -> dict[str, Any]:
    """A callback about a canonical (``/v1``) job: its states and field names, as ``GET /v1/jobs/{id}``."""
    stamp = lambda v: v.isoformat() if isinstance(v, datetime) else v  # noqa: E731
    view = {"id": str(job["public_id"]), "type": job.get("type"), "status": job["status"],
            "params": job.get("params") or {}, "result": job.get("result"), "error": job.get("error"),
            "run": job.get("run"), "created_at": stamp(job.get("created_at")),
            "finished_at": stamp(job.get("finished_at")), "callback_url": job.get("callback_url"),
            "metadata": job.get("metadata") or {}}
    return {"job_id": view["id"], "status": view["status"], "output": view["result"], "job": view}


class Deliveries:
    """Publishing, attempting and listing deliveries. ``payload(job_row)`` builds what is sent."""

    def __init__(self, runtime: Runtime, payload: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.settings = runtime.settings
        self.payload = payload

    # -- publishing --------------------------------------------------------------------
    def publish(self, ids: Iterable[int]) -> int:
        """Publish one attempt per id; never raises (beat publishes again what got lost)."""
        sent, celery, ids = 0, self.runtime.celery, list(ids)
        if not ids:
            return 0
        try:
            with celery.producer_or_acquire() as producer:
                for delivery_id in ids:
                    celery.send_task(DELIVER_CALLBACK, args=[delivery_id], queue=QUEUE, producer=producer)
                    sent += 1
        except Exception:  # noqa: BLE001 - the delivery is safe in PostgreSQL
            log.warning("publishing deliveries failed after %d; beat will publish them again", sent, exc_info=True)
        return sent

    def dispatch_for_job(self, job_id: int) -> int:
        return self.publish(r["id"] for r in self.db.all("mark_job_deliveries_dispatched", job_id=job_id))

    def dispatch_due(self, limit: int = 500) -> int:
        rows = self.db.all("mark_due_deliveries_dispatched", limit=limit,
                           redispatch_after_s=self.settings.redispatch_after_s)
        return self.publish(r["id"] for r in rows)

    # -- one attempt -------------------------------------------------------------------
    def deliver(self, delivery_id: int) -> str:
        """Make one attempt if the delivery is due and unclaimed; return its state after."""
        s = self.settings
        row = self.db.one("claim_delivery", id=delivery_id, lock_s=s.callback_timeout_s * 3 + 30)
        if row is None:
            return "skipped"
        at, started = datetime.now(UTC), time.monotonic()
        body = row["body"]
        try:
            if body is None:
                body = json.dumps(self.payload(job_of(row)) if self.payload else {}, default=str)
            outcome = self._send(row, body, at)
        except Exception as exc:  # noqa: BLE001 - a bug fails this attempt, not the worker
            log.exception("callback attempt %s crashed", delivery_id)
            outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}")
        delay = backoff(row["attempts"], s.callback_retry_base_s, s.callback_retry_max_s)
        if outcome.ok:
            state = "delivered"
        elif outcome.permanent or give_up(row["created_at"], datetime.now(UTC), delay, s.callback_max_age_s):
            state = "failed"
        else:
            state = "pending"
        self.db.one("record_attempt", id=delivery_id, state=state, delay_s=delay, error=outcome.error,
                    body=body, at=at, duration_ms=int((time.monotonic() - started) * 1000),
                    status_code=outcome.status_code, response=outcome.response)
        log.info("callback %s attempt %d to %s: %s%s", row["public_id"], row["attempts"], row["target"][:100],
                 state, f" ({outcome.error})" if outcome.error else "")
        return state

    def _send(self, row: dict[str, Any], body: str, now: datetime) -> Outcome:
        try:
            target = parse_target(row["target"])
        except ValueError as exc:
            return Outcome(False, error=f"invalid callback target: {exc}", permanent=True)
        if target.kind == "email":
            meta = json.loads(body)
            meta = meta if isinstance(meta, dict) else {}
            subject = f"Job {meta.get('job_id', '')} {meta.get('status', 'finished')}"
            return send_email(target.address, subject, body, self.settings)
        t = self.settings.callback_timeout_s
        policy = Policy(max_bytes=MAX_RESPONSE_BYTES, connect_timeout=min(5.0, t), read_timeout=t,
                        total_timeout=2 * t, max_redirects=0, allow=self.runtime.fetch_policy.allow)
        headers = signed_headers(row["webhook_secret"], str(row["public_id"]), body, now,
                                 row.get("webhook_secret_previous"))
        return send_webhook(target.address, body, headers, policy)

    # -- reading and settings ------------------------------------------------------------
    def for_job(self, job_id: int) -> list[dict[str, Any]]:
        return self.db.all("list_job_deliveries", job_id=job_id)

    def redeliver(self, job_id: int, public_id: str) -> dict[str, Any]:
        """Send a settled delivery of job ``job_id`` again now; ``NotFound`` for an id that is not
        one of its deliveries, ``Conflict`` while it is still pending (already on its way).

        The redelivery is retried as usual while the delivery is younger than
        ``JOBLINE_CALLBACK_MAX_AGE_S``; an older one gets one attempt per redelivery.
        """
        try:
            canonical = str(uuid.UUID(public_id))
        except ValueError:
            raise NotFound(f"no delivery {public_id!r}") from None
        row = self.db.one("redeliver", job_id=job_id, public_id=canonical)
        if row is None:
            raise NotFound(f"no delivery {public_id!r}")
        if not row["redelivered"]:
            raise Conflict(f"delivery {canonical} is {row['was']}: it is already being delivered")
        self.publish([row["id"]])
        return next(d for d in self.for_job(job_id) if str(d["id"]) == canonical)

    def webhook(self, account: Account) -> dict[str, Any]:
        """The default callback URL and when the secret was last rotated (never the secret)."""
        return self.db.one("get_webhook", account_id=account.id) or {}

    def set_default_callback(self, account: Account, default_callback_url: str | None) -> dict[str, Any]:
        url = check_target(default_callback_url, "default_callback_url", runtime=self.runtime)
        return self.db.one("set_default_callback", account_id=account.id, default_callback_url=url) or {}

    def rotate_secret(self, account: Account) -> dict[str, Any]:
        """A new signing secret, returned this once; deliveries from now on are signed with it."""
        return self.db.one("rotate_webhook_secret", account_id=account.id) or {}
