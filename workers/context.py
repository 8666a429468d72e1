"""What a handler gets: its parameters, a progress reporter, a cancel check, a logger."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.engine.errors import JobCanceled
from shared.engine.fetch import Fetched

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
    _save: Callable[[str, bytes, str | None], dict] | None = None
    _fetch: Callable[[str], Fetched] | None = None
    _last_report: float = 0.0

    def save_file(self, name: str, data: bytes, content_type: str | None = None) -> dict:
        """Store an output file of this job, fetched later by name through a signed URL."""
        assert self._save is not None
        return self._save(name, data, content_type)

    def fetch(self, url: str) -> Fetched:
        """GET a user-given URL under the SSRF guard, byte cap and timeouts (``FetchError``)."""
        assert self._fetch is not None
        return self._fetch(url)

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
