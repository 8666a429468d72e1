"""The Celery task: a thin wake-up that has the runner drain the queue it names."""

from __future__ import annotations

from celery import Celery

from shared.engine.dispatch import WAKE
from workers.runner import Runner


def register(celery: Celery, runner: Runner) -> None:
    # Acked on receipt: a wake-up lost with its process costs nothing (the jobs wait in
    # PostgreSQL), and redelivering it would only wake the queue again.
    @celery.task(name=WAKE, ignore_result=True, acks_late=False)
    def wake(queue: str, slot: int | None = None) -> int:
        return runner.drain(str(queue), None if slot is None else int(slot))
