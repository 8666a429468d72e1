"""A job's soft time limit, armed by the runner around each handler.

Celery's limits cover a whole task, and a wake-up task runs every job it claims, one after
another. In a prefork pool process the task runs in the main thread, so a real-time timer
raises ``SoftTimeLimitExceeded`` in the handler, as Celery's own limit would. The hard limit
is the heartbeat's (``workers.runner.Heartbeat``): it kills the process running the job.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery.exceptions import SoftTimeLimitExceeded


def _expired(_signum, _frame) -> None:
    raise SoftTimeLimitExceeded()


@contextmanager
def soft_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``SoftTimeLimitExceeded`` in the block after ``seconds`` (main thread only)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
