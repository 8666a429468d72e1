"""Entry point for ``celery -A workers.app worker|beat``: builds the runtime from the environment.

With ``JOBLINE_WORKER_METRICS_PORT`` set, every worker process on the host counts into one
folder and one of them serves ``/metrics`` for all (workers/exporter.py). The folder must be
set before prometheus-client is imported, hence first thing here.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path

from workers import exporter

_METRICS_DIR = exporter.prepare()
_MAIN_PID = os.getpid()
if _METRICS_DIR is not None:
    exporter.join(_METRICS_DIR)
    atexit.register(lambda: os.getpid() == _MAIN_PID and exporter.leave(_METRICS_DIR))

from celery import Celery, signals  # noqa: E402

from shared.engine.logs import configure_logging  # noqa: E402
from shared.engine.metrics import WORKER_UP  # noqa: E402
from shared.engine.runtime import Runtime  # noqa: E402
from workers import alive, callbacks, services  # noqa: E402
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

    stop_exporter = threading.Event()

    @signals.worker_ready.connect(weak=False)
    def _touch_alive_file(sender=None, **_kw) -> None:
        path = runtime.settings.alive_file
        if path and sender is not None and getattr(sender, "timer", None) is not None:
            alive.touch(path)  # the consumer's event loop touches it: a stuck loop stops
            sender.timer.call_repeatedly(alive.TOUCH_EVERY_S, alive.touch, (path,))

    @signals.worker_ready.connect(weak=False)
    def _serve_metrics(sender=None, **_kw) -> None:
        port = exporter.port_from_env()
        metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if port and metrics_dir:
            WORKER_UP.labels(getattr(sender, "hostname", None) or "worker").set(1)
            exporter.serve(Path(metrics_dir), port, runtime.settings.worker_metrics_addr, stop_exporter)

    @signals.worker_shutdown.connect(weak=False)
    def _stop_serving(**_kw) -> None:
        stop_exporter.set()  # a standby worker on this host takes the port over
        if _METRICS_DIR is not None and os.getpid() == _MAIN_PID:
            exporter.leave(_METRICS_DIR)  # the worker may end without running atexit

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
