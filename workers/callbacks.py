"""The callback task (queue ``callbacks``), and publishing it as soon as a job finishes.

A worker that finishes a job publishes that job's delivery at once (a ``Runner.on_finished``
hook, so a job that shares its message is not held back by the others). Whatever finishes elsewhere (a cancel through
the API, the reaper), retries that come due and messages lost on the way are published by
beat (``dispatch_due``, one step of ``Maintainer.tick``). A duplicate message is harmless:
an attempt starts only by claiming the delivery in PostgreSQL.
"""

from __future__ import annotations

import logging

from celery import Celery

from shared.apps.callbacks import DELIVER_CALLBACK, Deliveries
from shared.apps.service import callback_payload
from shared.engine.errors import DatabaseUnavailable
from shared.engine.runtime import Runtime
from workers.runner import Runner

log = logging.getLogger("jobline.callbacks")


def deliveries(runtime: Runtime) -> Deliveries:
    return Deliveries(runtime, callback_payload)


def register(celery: Celery, runtime: Runtime, runner: Runner) -> None:
    service = deliveries(runtime)
    soft = runtime.settings.callback_timeout_s * 4 + 20  # connect + send + read, or an SMTP dialogue

    @celery.task(name=DELIVER_CALLBACK, ignore_result=True, soft_time_limit=soft, time_limit=soft + 10)
    def deliver_callback(delivery_id: int) -> str:
        try:
            return service.deliver(int(delivery_id))
        except DatabaseUnavailable:
            # Unclaimed or still locked: beat publishes it again once the database is back.
            log.warning("database unavailable; callback %s will be retried", delivery_id)
            return "db-unavailable"

    def publish_now(job_id: int, row: dict) -> None:  # if it fails, beat publishes within a tick
        if row.get("callback", True):
            service.dispatch_for_job(job_id)

    runner.on_finished.append(publish_now)


def dispatch_due(runtime: Runtime) -> int:
    """Beat's step: publish every delivery due and not in flight; return how many."""
    return deliveries(runtime).dispatch_due()
