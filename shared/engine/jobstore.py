"""The jobs repository: every job query, named, with transitions bound from ``states``.

Each method is one statement (one round trip, one transaction). Methods that change status
return the updated row, or ``None`` when the job was not in a source state of the
transition (the caller decides whether that is an error or a lost race).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from shared.engine import states
from shared.engine.db import Database, utc
from shared.engine.queries import queries

#: Queued rows read per queue at a scrape of the queue gauges (shared/engine/sql/jobs.sql queue_depths).
QUEUE_DEPTH_CAP = 100_000

Row = dict[str, Any]


def _json_default(value: Any) -> str:
    return utc(value).isoformat() if isinstance(value, datetime) else str(value)


def _move(t: states.Transition) -> dict[str, Any]:
    return {"sources": t.source_names, "target": t.target.value}


def _insert_params(jobs: Sequence[dict[str, Any]], idempotency_key: str | None) -> dict[str, Any]:
    payload = [dict(job, ord=i) for i, job in enumerate(jobs)]
    return {"jobs": json.dumps(payload, default=_json_default), "idempotency_key": idempotency_key}


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- API side ---------------------------------------------------------------------

    def insert(self, cur, account_id: int, jobs: Sequence[dict[str, Any]], idempotency_key: str | None) -> list[Row]:
        """Insert a batch in one statement inside the caller's transaction ``cur``."""
        cur.execute(queries["insert_jobs"], _insert_params([dict(j, account_id=account_id) for j in jobs], idempotency_key))
        return cur.fetchall()

    def insert_alone(self, jobs: Sequence[dict[str, Any]]) -> list[Row]:
        """Insert jobs (each naming its ``account_id``) as a statement of its own: atomic
        without BEGIN/COMMIT, and prepared. Rows come back in the order given."""
        return self.db.all("insert_jobs", **_insert_params(jobs, None))

    def get(self, account_id: int, public_id: str) -> Row | None:
        return self.db.one("get_job", account_id=account_id, public_id=public_id)

    def get_by_id(self, job_id: int) -> Row | None:
        return self.db.one("get_job_by_id", job_id=job_id)

    def get_many(self, ids: list[int]) -> list[Row]:
        return self.db.all("get_jobs_by_ids", ids=ids)

    def watch(self, job_ids: list[int], ttl_s: float) -> None:
        """Have these jobs' events NOTIFY for ``ttl_s`` seconds (not only their terminal one)."""
        self.db.one("watch_jobs", job_ids=job_ids, ttl_s=ttl_s)

    def list(self, account_id: int, *, statuses: list[str] | None = None, type: str | None = None,
             created_after=None, created_before=None, before_id: int | None = None,
             limit: int = 50) -> list[Row]:
        return self.db.all("list_jobs", account_id=account_id, statuses=statuses, type=type,
                           created_after=created_after, created_before=created_before,
                           before_id=before_id, limit=limit)

    def events(self, job_id: int, after_id: int = 0, limit: int = 1000) -> list[Row]:
        return self.db.all("list_events", job_id=job_id, after_id=after_id, limit=limit)

    def in_flight(self, account_id: int) -> int:
        row = self.db.one("count_in_flight", account_id=account_id)
        return int(row["n"]) if row else 0

    def cancel(self, account_id: int, public_id: str) -> Row | None:
        """Cancel a scheduled or queued job now; flag a running one for its handler to see."""
        row = self.db.one("cancel_pending", account_id=account_id, public_id=public_id, **_move(states.CANCEL))
        return row or self.db.one("request_cancel", account_id=account_id, public_id=public_id)

    def restart(self, account_id: int, public_id: str) -> Row | None:
        return self.db.one("restart_job", account_id=account_id, public_id=public_id, **_move(states.RESTART))

    def delete(self, account_id: int, public_id: str) -> Row | None:
        return self.db.one("delete_job", account_id=account_id, public_id=public_id)

    # -- worker side ------------------------------------------------------------------

    def claim_next(self, queue: str, worker: str, lease_s: float) -> Row | None:
        """Claim the next job of ``queue`` (a due one, or one whose lease ran out), if any."""
        return self.db.one("claim_next", queue=queue, worker=worker, lease_s=lease_s, **_move(states.CLAIM))

    def succeed_and_claim_next(self, job_id: int, worker: str, result: Any, queue: str, next_worker: str,
                               lease_s: float) -> tuple[Row | None, Row | None]:
        """``succeed`` and ``claim_next`` in one statement: (the finished row, the claimed job)."""
        row = self.db.one("succeed_and_claim_next", job_id=job_id, done_worker=worker, result=Json(result),
                          done_sources=states.SUCCEED.source_names, done_target=states.SUCCEED.target.value,
                          queue=queue, worker=next_worker, lease_s=lease_s, **_move(states.CLAIM))
        return (row["finished"], row["claimed"]) if row else (None, None)

    def claim(self, job_id: int, worker: str) -> Row | None:
        """Claim one given job (a stand-in for a worker, in tests and tools)."""
        return self.db.one("claim_job", job_id=job_id, worker=worker, **_move(states.CLAIM))

    def succeed(self, job_id: int, worker: str, result: Any) -> Row | None:
        return self.db.one("finish_job", job_id=job_id, worker=worker, result=Json(result),
                           error=None, event="succeed", **_move(states.SUCCEED))

    def fail(self, job_id: int, worker: str, error: str) -> Row | None:
        return self.db.one("finish_job", job_id=job_id, worker=worker, result=None,
                           error=error, event="fail", **_move(states.FAIL))

    def retry(self, job_id: int, worker: str, error: str, delay_s: float) -> Row | None:
        return self.db.one("retry_job", job_id=job_id, worker=worker, error=error,
                           delay_s=delay_s, **_move(states.RETRY))

    def cancel_running(self, job_id: int, worker: str | None, how: str) -> Row | None:
        return self.db.one("cancel_running", job_id=job_id, worker=worker, how=how, **_move(states.CANCEL))

    def heartbeat(self, job_id: int, worker: str) -> Row | None:
        """``None`` when the job is no longer ours (deleted, reaped, cancelled)."""
        return self.db.one("heartbeat", job_id=job_id, worker=worker)

    def progress(self, job_id: int, worker: str, progress: float, message: str | None) -> Row | None:
        return self.db.one("report_progress", job_id=job_id, worker=worker, progress=progress, message=message)

    # -- beat side --------------------------------------------------------------------

    def dispatch_due(self, lookahead_s: float, limit: int = 1000) -> list[Row]:
        """Scheduled jobs due within ``lookahead_s`` become queued: per queue, how many and
        when the first and last are due (``first_s``, ``last_s``)."""
        return self.db.all("dispatch_due", lookahead_s=lookahead_s, limit=limit, **_move(states.DISPATCH))

    def claimable_queues(self, queues: Sequence[str], lease_s: float) -> list[str]:
        return [r["queue"] for r in self.db.all("claimable_queues", queues=list(queues), lease_s=lease_s)]

    def queue_depths(self, queues: list[str], cap: int = QUEUE_DEPTH_CAP) -> list[Row]:
        return self.db.all("queue_depths", queues=list(queues), cap=cap)

    def reap(self, fail_after_s: float, requeue_after_s: float, limit: int = 500) -> tuple[dict[str, int], int]:
        """Fail running jobs whose heartbeat stopped ``fail_after_s`` ago and that are out of
        attempts (how many); requeue those stopped ``requeue_after_s`` ago that nobody
        claimed again (per queue, how many)."""
        failed = self.db.all("reap_fail", after_s=fail_after_s, limit=limit, **_move(states.FAIL))
        requeued = self.db.all("reap_requeue", after_s=requeue_after_s, limit=limit, **_move(states.RETRY))
        return {r["queue"]: r["n"] for r in requeued}, len(failed)

    def prune(self, days: float, limit: int = 500) -> list[Row]:
        """Delete up to ``limit`` jobs finished over ``days`` days ago (``public_id``, ``files``)."""
        return self.db.all("prune_finished", days=days, limit=limit)

    def terminate_canceled(self, grace_s: float, limit: int = 500) -> list[Row]:
        return self.db.all("terminate_canceled", grace_s=grace_s, limit=limit, **_move(states.CANCEL))
