"""Job services shared by the canonical API and every dialect.

Validation of a job against its type, batch creation (one INSERT, one transaction, then
waking the queues after commit), idempotency keys, and the client verbs (cancel, restart,
delete). Dialects translate their requests into these calls and render the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2
from marshmallow import ValidationError
from psycopg2.extras import Json

from shared.engine import states
from shared.engine.accounts import Account
from shared.engine.db import Database
from shared.engine.dispatch import Waker
from shared.engine.errors import BadRequest, Conflict, IdempotencyMismatch, LimitReached, NotFound
from shared.engine.files import FileService
from shared.engine.groupcommit import GroupCommit
from shared.engine.jobstore import JobStore, Row
from shared.engine.metrics import JOBS_CREATED
from shared.engine.queries import queries
from shared.engine.registry import Registry
from shared.engine.settings import Settings
from shared.engine.validation import canonical_uuid

log = logging.getLogger(__name__)

Rendered = tuple[int, Any]
#: Errors of a group INSERT that rolled back because of some request's values (not an outage);
#: psycopg2 raises ValueError itself for a NUL in text, before anything is sent.
REFUSED = (psycopg2.DataError, psycopg2.IntegrityError, psycopg2.ProgrammingError, BadRequest, ValueError, OverflowError)


@dataclass(frozen=True)
class JobSpec:
    """A job as a client asked for it, validated against its type."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    queue: str = "default"
    priority: int = 0
    max_attempts: int = 3
    start_at: datetime | None = None
    callback_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def flatten_errors(messages: Any, location: str, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow's nested error dict → ``[{name, location, description}]``."""
    if isinstance(messages, dict):
        out: list[dict[str, str]] = []
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_errors(value, location, name))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"name": prefix or "_schema", "location": location, "description": m} for m in messages]
    if isinstance(messages, list):
        return [e for m in messages for e in flatten_errors(m, location, prefix)]
    return [{"name": prefix or "_schema", "location": location, "description": str(messages)}]


class JobService:
    def __init__(self, db: Database, waker: Waker, registry: Registry, settings: Settings,
                 files: Callable[[], FileService]) -> None:
        self.db = db
        self._files = files
        self.store = JobStore(db)
        self.waker = waker
        self.registry = registry
        self.settings = settings
        self._group = GroupCommit(self._commit_group, refused=REFUSED)

    # -- creating ---------------------------------------------------------------------

    def spec(self, type: str, params: Any, *, field_prefix: str = "", **options: Any) -> JobSpec:
        """Validate ``params`` for job type ``type``; ``BadRequest`` names the bad fields."""
        if type not in self.registry:
            raise BadRequest(f"unknown job type {type!r}", errors=[{
                "name": f"{field_prefix}type", "location": "json",
                "description": f"must be one of: {', '.join(self.registry.names())}"}])
        jt = self.registry[type]
        if not isinstance(params, dict):
            raise BadRequest("params must be an object", errors=[{
                "name": f"{field_prefix}params", "location": "json", "description": "Not a valid mapping type."}])
        try:
            clean = jt.schema.load(params)
        except ValidationError as exc:
            errors = flatten_errors(exc.messages, "json", f"{field_prefix}params")
            raise BadRequest(f"invalid parameters for job type {type!r}", errors=errors) from None
        options = {k: v for k, v in options.items() if v is not None}
        options.setdefault("max_attempts", jt.max_attempts)
        return JobSpec(type=type, params=clean, queue=jt.queue, **options)

    def create(self, account: Account, specs: Sequence[JobSpec]) -> list[Row]:
        """Insert ``specs`` in one transaction, then wake the queues of the queued ones."""
        if account.max_in_flight is None:  # nothing to check first: the INSERT is the transaction
            self._check_batch(specs)
            return self._group.submit([dict(vars(s), account_id=account.id) for s in specs])
        with self.creating(account, specs) as (_cur, rows):
            pass
        return rows

    def _commit_group(self, batches: list[Sequence[dict[str, Any]]]) -> list[list[Row]]:
        """One INSERT and one wake-up pass for the creates of several requests (``GroupCommit``)."""
        jobs_in_order = [job for jobs in batches for job in jobs]
        rows = self.store.insert_alone(jobs_in_order)
        # Rows come back in insertion order (ids are drawn as the sorted rows are inserted);
        # each request gets its own slice, so make sure no row could go to another account.
        if len(rows) != len(jobs_in_order) or any(
                r["account_id"] != j["account_id"] or r["type"] != j["type"] for r, j in zip(rows, jobs_in_order, strict=False)):
            raise RuntimeError("inserted rows do not line up with the requests of the group")
        self.publish(rows)
        out, start = [], 0
        for jobs in batches:
            out.append(rows[start:start + len(jobs)])
            start += len(jobs)
        return out

    @contextmanager
    def creating(self, account: Account, specs: Sequence[JobSpec]) -> Iterator[tuple[Any, list[Row]]]:
        """Insert jobs in a transaction the caller extends with rows that must commit with them
        (an app's inputs, an analysis record); wake the queues once it has committed."""
        with self.db.transaction() as cur:
            rows = self._insert(cur, account, specs, None)
            yield cur, rows
        self.publish(rows)

    def create_idempotent(self, account: Account, specs: Sequence[JobSpec], key: str,
                          request_hash: str, render: Callable[[list[Row]], Rendered]) -> Rendered:
        """Like ``create``, but the same key and body give the same response again.

        The key row is inserted first in the same transaction as the jobs, so a concurrent
        duplicate waits on it and then reads the stored response instead of creating jobs.
        """
        ids = {"account_id": account.id, "key": key}
        with self.db.transaction() as cur:
            cur.execute(queries["expire_idempotency_key"], {**ids, "ttl_s": self.settings.idempotency_ttl_s})
            cur.execute(queries["claim_idempotency_key"], {**ids, "request_hash": request_hash})
            if cur.fetchone() is None:
                cur.execute(queries["get_idempotency_key"], ids)
                stored = cur.fetchone()
                if stored["request_hash"] != request_hash:
                    raise IdempotencyMismatch()
                return stored["response_status"], stored["response"]
            rows = self._insert(cur, account, specs, key)
            status, body = render(rows)
            cur.execute(queries["save_idempotency_response"], {**ids, "status": status, "response": Json(body)})
        self.publish(rows)
        return status, body

    def _check_batch(self, specs: Sequence[JobSpec]) -> None:
        if not specs:
            raise BadRequest("no jobs to create")
        if len(specs) > self.settings.max_batch:
            raise BadRequest(f"at most {self.settings.max_batch} jobs per request")

    def _insert(self, cur, account: Account, specs: Sequence[JobSpec], key: str | None) -> list[Row]:
        self._check_batch(specs)
        if account.max_in_flight is not None:
            cur.execute("SELECT id FROM accounts WHERE id = %(id)s FOR UPDATE", {"id": account.id})
            cur.execute(queries["count_in_flight"], {"account_id": account.id})
            if cur.fetchone()["n"] + len(specs) > account.max_in_flight:
                raise LimitReached(f"the account's limit of {account.max_in_flight} jobs in flight is reached")
        return self.store.insert(cur, account.id, [vars(s) for s in specs], key)

    def publish(self, rows: Sequence[Row]) -> None:
        """Wake the queues of the queued ones (after their transaction has committed)."""
        counts: dict[str, int] = {}
        for r in rows:
            if r["run"] == 1 and r["attempt"] == 0:
                JOBS_CREATED.labels(r["type"]).inc()
            if r["status"] == states.Status.QUEUED.value:
                counts[r["queue"]] = counts.get(r["queue"], 0) + 1
        self.waker.wake_soon(counts)

    # -- reading ----------------------------------------------------------------------

    def get(self, account: Account, public_id: str) -> Row:
        canonical = canonical_uuid(public_id)
        row = self.store.get(account.id, canonical) if canonical else None
        if row is None:
            raise NotFound(f"no job {public_id!r}")
        return row

    # -- client verbs -----------------------------------------------------------------

    def cancel(self, account: Account, public_id: str) -> Row:
        public_id = str(self.get(account, public_id)["public_id"])
        row = self.store.cancel(account.id, public_id)
        if row is None:
            job = self.get(account, public_id)
            if job["status"] == states.Status.RUNNING.value:  # already flagged
                return job
            raise Conflict(f"job {public_id} is {job['status']}; only scheduled, queued or running jobs can be canceled")
        return row

    def restart(self, account: Account, public_id: str) -> Row:
        job = self.get(account, public_id)
        public_id = str(job["public_id"])
        row = self.store.restart(account.id, public_id)
        if row is None:
            raise Conflict(f"job {public_id} is {job['status']}; only finished jobs can be restarted")
        self.publish([row])
        return row

    def delete(self, account: Account, public_id: str) -> Row:
        """Delete a job and its history; a running handler sees it gone at its next heartbeat."""
        canonical = canonical_uuid(public_id)
        row = self.store.delete(account.id, canonical) if canonical else None
        if row is None:
            raise NotFound(f"no job {public_id!r}")
        self._files().delete_job(canonical)
        return row
