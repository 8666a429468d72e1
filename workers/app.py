"""Entry point for ``celery -A workers.app worker|beat``: builds the runtime from the environment."""

from __future__ import annotations

from celery import Celery, signals

from shared.logs import configure_logging
from shared.runtime import Runtime
from workers.runner import Runner
from workers.tasks import register


def create_worker_app(runtime: Runtime | None = None) -> Celery:
    runtime = runtime or Runtime.build()
    celery = runtime.celery
    celery.jobline_runtime = runtime
    register(celery, Runner(runtime))

    @signals.worker_process_init.connect(weak=False)
    def _fresh_pool(**_kw) -> None:
        runtime.db.close()  # a forked child must not reuse the parent's sockets

    @signals.setup_logging.connect(weak=False)
    def _logging(**_kw) -> None:
        configure_logging(runtime.settings.log_level)

    return celery


app = create_worker_app()
