"""Entry point for ``celery -A workers.app worker|beat``: builds the runtime from the environment.

With ``JOBLINE_WORKER_METRICS_PORT`` set, the worker's main process serves ``/metrics`` for
all its pool processes, which count into ``PROMETHEUS_MULTIPROC_DIR``; that must be set
before prometheus-client is imported, hence first thing here.
"""

from __future__ import annotations

import os
import tempfile

if os.environ.get("JOBLINE_WORKER_METRICS_PORT") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="jobline-worker-metrics-")

from celery import Celery, signals  # noqa: E402

from shared.logs import configure_logging  # noqa: E402
from shared.runtime import Runtime  # noqa: E402
from workers import callbacks, services  # noqa: E402
from workers.runner import Runner  # noqa: E402
from workers.tasks import register  # noqa: E402


def create_worker_app(runtime: Runtime | None = None) -> Celery:
    runtime = runtime or Runtime.build()
    celery = runtime.celery
    celery.jobline_runtime = runtime
    services.install(runtime)
    runner = Runner(runtime)
    register(celery, runner)
    callbacks.register(celery, runtime, runner)

    @signals.worker_process_init.connect(weak=False)
    def _fresh_pool(**_kw) -> None:
        runtime.db.close()  # a forked child must not reuse the parent's sockets

    @signals.worker_ready.connect(weak=False)
    def _serve_metrics(**_kw) -> None:
        port = os.environ.get("JOBLINE_WORKER_METRICS_PORT")
        if port:
            from prometheus_client import CollectorRegistry, multiprocess, start_http_server

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            start_http_server(int(port), addr=os.environ.get("JOBLINE_WORKER_METRICS_ADDR", "127.0.0.1"),
                              registry=registry)

    @signals.worker_process_shutdown.connect(weak=False)
    def _forget_child(pid=None, **_kw) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid or os.getpid())

    @signals.setup_logging.connect(weak=False)
    def _logging(**_kw) -> None:
        configure_logging(runtime.settings.log_level)

    return celery


app = create_worker_app()
