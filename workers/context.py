"""What a handler gets: its parameters, a progress reporter, a cancel check, a logger."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.errors import JobCanceled

#: Progress writes closer together than this are coalesced (the last one always lands).
PROGRESS_MIN_INTERVAL_S = 0.25


@dataclass
class JobContext:
    job_id: str
    type: str
    params: dict[str, Any]
    attempt: int
    log: logging.LoggerAdapter
    _report: Callable[[float, str | None], bool]
    _cancel: threading.Event = field(default_factory=threading.Event)
    _last_report: float = 0.0

    @property
    def canceled(self) -> bool:
        return self._cancel.is_set()

    def check_canceled(self) -> None:
        """Raise ``JobCanceled`` if a client cancelled the job; call it between units of work."""
        if self._cancel.is_set():
            raise JobCanceled()

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0..1); raises ``JobCanceled`` once the job is cancelled."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        if fraction >= 1.0 or message or now - self._last_report >= PROGRESS_MIN_INTERVAL_S:
            self._last_report = now
            if self._report(fraction, message):
                self._cancel.set()
        self.check_canceled()
