"""Group commit: concurrent creates in one API process share one INSERT and one wake-up pass.

Under load an API process holds many requests that each create a job or a few. Each was
its own statement (a WAL flush) and its own Redis round trip. Here the first request to
arrive leads: it takes every create waiting at that moment, inserts them all in one
statement, wakes their queues in one pipeline and hands each request its rows. Requests that arrive meanwhile wait for the next
flush, led by the first of them. Alone, a request flushes at once: nothing waits on a timer.
A flush that fails is retried request by request: one request's bad row fails only it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

Row = dict[str, Any]
Flush = Callable[[list[Sequence[dict[str, Any]]]], list[list[Row]]]


class _Pending:
    __slots__ = ("jobs", "rows", "error", "lead", "done")

    def __init__(self, jobs: Sequence[dict[str, Any]]) -> None:
        self.jobs = jobs
        self.rows: list[Row] | None = None
        self.error: BaseException | None = None
        self.lead = False
        self.done = threading.Event()


class GroupCommit:
    def __init__(self, flush: Flush, refused: tuple[type[BaseException], ...] = ()) -> None:
        """``flush(list of job lists)`` commits them all and returns their rows, list by list.

        ``refused``: errors by which the flush says it committed nothing because of some
        request's values; the flush is then retried request by request.
        """
        self._flush = flush
        self._refused = refused
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._busy = False

    def submit(self, jobs: Sequence[dict[str, Any]]) -> list[Row]:
        """Commit ``jobs`` (with whatever else is waiting); return their rows, or raise."""
        mine = _Pending(jobs)
        with self._lock:
            self._waiting.append(mine)
            lead = not self._busy
            self._busy = True
        if not lead:
            mine.done.wait()
            if not mine.lead:
                return self._result(mine)
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            self._run(batch)
        finally:
            with self._lock:
                if self._waiting:  # hand over to the first that came meanwhile
                    self._waiting[0].lead = True
                    self._waiting[0].done.set()
                else:
                    self._busy = False
            for pending in batch:
                if pending is not mine:
                    pending.done.set()
        return self._result(mine)

    def _run(self, batch: list[_Pending]) -> None:
        """Flush ``batch``; if that fails, flush each request alone, so a value one request
        got past validation (and PostgreSQL refuses) fails that request only."""
        try:
            for pending, rows in zip(batch, self._flush([p.jobs for p in batch]), strict=True):
                pending.rows = rows
            return
        except BaseException as exc:
            if len(batch) == 1 or not isinstance(exc, self._refused):
                for pending in batch:  # every request of the flush answers with its error
                    pending.error = exc
                return
        for pending in batch:
            try:
                pending.rows = self._flush([pending.jobs])[0]
            except Exception as exc:
                pending.error = exc

    @staticmethod
    def _result(pending: _Pending) -> list[Row]:
        if pending.error is not None:
            raise pending.error
        assert pending.rows is not None
        return pending.rows
