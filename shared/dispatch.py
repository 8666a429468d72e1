"""Publishing ``run_job`` messages: always after the job's transaction has committed.

If publishing fails (Redis away, the process dies) nothing is lost: the job is committed as
``queued`` and beat publishes it again once it has gone unclaimed for a while.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from celery import Celery

from shared.celery_app import RUN_JOB
from shared.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    job_id: int
    queue: str
    priority: int = 0
    countdown: float = 0.0
    type: str | None = None


class Dispatcher:
    def __init__(self, celery: Celery, registry: Registry) -> None:
        self.celery = celery
        self.registry = registry

    def publish(self, messages: Iterable[Message]) -> int:
        """Publish on one producer connection; return how many went out. Never raises."""
        sent = 0
        try:
            with self.celery.producer_or_acquire() as producer:
                for m in messages:
                    options: dict = {}
                    if m.type in self.registry:
                        jt = self.registry[m.type]
                        options = {"soft_time_limit": jt.soft_time_limit, "time_limit": jt.time_limit}
                    self.celery.send_task(
                        RUN_JOB, args=[m.job_id], queue=m.queue, producer=producer,
                        # kombu's Redis transport pops lower numbers first; ours are "higher wins".
                        priority=9 - m.priority,
                        countdown=m.countdown if m.countdown > 0.001 else None,
                        **options,
                    )
                    sent += 1
        except Exception:  # noqa: BLE001 - the job is safe in PostgreSQL; beat re-publishes it
            log.warning("publish failed after %d message(s); beat will re-dispatch", sent, exc_info=True)
        return sent
