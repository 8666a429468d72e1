"""The callback task (queue ``callbacks``), and publishing it as soon as a job finishes.

A worker that finishes a job publishes that job's delivery at once (``task_postrun`` of
``run_job``: no change to the runner needed). Whatever finishes elsewhere (a cancel through
the API, the reaper), retries that come due and messages lost on the way are published by
beat (``dispatch_due``, one step of ``Maintainer.tick``). A duplicate message is harmless:
an attempt starts only by claiming the delivery in PostgreSQL.
"""

from __future__ import annotations

import logging

from celery import Celery, signals

from shared.apps import callback_payload
from shared.callbacks import DELIVER_CALLBACK, Deliveries
from shared.celery_app import RUN_JOB
from shared.errors import DatabaseUnavailable
from shared.runtime import Runtime
from shared.states import TERMINAL

log = logging.getLogger("jobline.callbacks")

#: What ``Runner.run`` returns when the job reached a terminal state.
FINISHED = frozenset(s.value for s in TERMINAL)


def deliveries(runtime: Runtime) -> Deliveries:
    return Deliveries(runtime, callback_payload)


def register(celery: Celery, runtime: Runtime) -> None:
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

    @signals.task_postrun.connect(weak=False)
    def _publish_after_finish(task=None, args=None, retval=None, **_kw) -> None:
        if getattr(task, "name", None) != RUN_JOB or retval not in FINISHED or not args:
            return
        try:
            service.dispatch_for_job(int(args[0]))
        except Exception:  # noqa: BLE001 - beat publishes it within a tick
            log.warning("could not publish the callback of job %s now; beat will", args[0], exc_info=True)


def dispatch_due(runtime: Runtime) -> int:
    """Beat's step: publish every delivery due and not in flight; return how many."""
    return deliveries(runtime).dispatch_due()
