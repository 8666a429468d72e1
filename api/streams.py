"""Bounds on open event streams (SSE and Dragon's NDJSON), so one tenant cannot take them all.

Each open stream holds a greenlet and a watch on the LISTEN hub for as long as its client
stays. Per API process, an account may hold ``JOBLINE_MAX_STREAMS_PER_ACCOUNT`` and all
accounts together ``JOBLINE_MAX_STREAMS``; beyond either, a new stream is refused with 429
(in the surface's error format) before anything is created. A stream's slot is given back
when its response closes, however it ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from flask import Response, current_app

from shared.engine.errors import LimitReached


class StreamLimits:
    def __init__(self, per_account: int, total: int) -> None:
        self.per_account, self.total = per_account, total
        self._open: Counter[int] = Counter()
        self._lock = threading.Lock()

    def acquire(self, account_id: int) -> Callable[[], None]:
        """Take a slot for ``account_id``; the returned function gives it back (once)."""
        with self._lock:
            if self._open[account_id] >= self.per_account:
                raise LimitReached(f"this account already has {self.per_account} open event streams here; "
                                   "close some, or poll")
            if sum(self._open.values()) >= self.total:
                raise LimitReached("too many open event streams on this server; retry shortly, or poll")
            self._open[account_id] += 1
        released = threading.Event()

        def release() -> None:
            if not released.is_set():
                released.set()
                with self._lock:
                    self._open[account_id] -= 1
                    if self._open[account_id] <= 0:
                        del self._open[account_id]

        return release


def limits() -> StreamLimits:
    return current_app.extensions["jobline_streams"]


def limited(release: Callable[[], None], response: Response) -> Response:
    """``response`` (a stream) that gives its slot back when it closes."""
    response.call_on_close(release)
    return response


def init_app(app, settings) -> None:
    app.extensions["jobline_streams"] = StreamLimits(settings.max_streams_per_account, settings.max_streams)
