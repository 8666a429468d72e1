"""Waking requests that wait on jobs, without polling and without holding a pooled connection.

One LISTEN connection per API process receives ``job_events`` notifications (sent by a
trigger when an event row commits) and sets the events of the requests watching that job.
It also receives ``jobline_auth`` notices (a key or an account changed) for the
``on_auth_change`` hooks: the key cache of ``shared.accounts`` is live only while it listens.
A waiter registers before it reads the job's state, so no wake-up is lost in between. If
the LISTEN connection is down, waiters fall back to re-reading once a second.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from shared.db import connect_raw
from shared.errors import DatabaseUnavailable
from shared.jobstore import Row

log = logging.getLogger("jobline.waiter")
CHANNEL = "job_events"
AUTH_CHANNEL = "jobline_auth"
FALLBACK_POLL_S = 1.0


class Watch:
    def __init__(self, hub: Waiter) -> None:
        self.hub = hub
        self.event = threading.Event()

    def wait(self, timeout: float) -> bool:
        """Block until a watched job has a new event (or ``timeout``); True if woken."""
        if not self.hub.healthy:
            timeout = min(timeout, FALLBACK_POLL_S)
        woken = self.event.wait(max(timeout, 0))
        self.event.clear()
        return woken


class Waiter:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.healthy = False
        self._watches: dict[int, set[Watch]] = defaultdict(set)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.on_auth_change: list[Callable[[], None]] = []

    def start(self) -> None:
        """Listen from now on (it also starts on the first watch)."""
        self._ensure_listener()

    def _ensure_listener(self) -> None:
        if self._thread is None or self._pid != os.getpid():
            with self._lock:
                if self._thread is None or self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._thread = threading.Thread(target=self._listen, name="jobline-listen", daemon=True)
                    self._thread.start()

    @contextmanager
    def watch(self, job_ids: Iterable[int]) -> Iterator[Watch]:
        self._ensure_listener()
        w = Watch(self)
        ids = list(job_ids)
        with self._lock:
            for i in ids:
                self._watches[i].add(w)
        try:
            yield w
        finally:
            with self._lock:
                for i in ids:
                    self._watches[i].discard(w)
                    if not self._watches[i]:
                        del self._watches[i]

    def until(self, ids: list[int], timeout: float, read: Callable[[], list[Row]],
              done: Callable[[list[Row]], bool]) -> list[Row]:
        """Re-read with ``read`` each time a watched job changes, until ``done`` or timeout."""
        deadline = time.monotonic() + timeout
        with self.watch(ids) as w:
            while True:
                rows = read()
                remaining = deadline - time.monotonic()
                if done(rows) or remaining <= 0:
                    return rows
                w.wait(remaining)

    def _listen(self) -> None:
        pause = 0.5
        while True:
            try:
                conn = connect_raw(self.dsn)
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}; LISTEN {AUTH_CHANNEL}")
                self._auth_changed()  # notices may have been missed while we were away
                self.healthy, pause = True, 0.5
                self._wake_all()  # events too
                while True:
                    if select.select([conn], [], [], 30)[0]:
                        conn.poll()
                        self._dispatch(conn.notifies)
                        conn.notifies.clear()
                    else:
                        with conn.cursor() as cur:
                            cur.execute("SELECT 1")  # notice a dead connection
            except (DatabaseUnavailable, Exception):  # noqa: BLE001 - keep listening forever
                if self.healthy:
                    log.warning("LISTEN connection lost; waiters poll until it is back", exc_info=True)
                self.healthy = False
                self._wake_all()
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _auth_changed(self) -> None:
        for hook in self.on_auth_change:
            hook()

    def _dispatch(self, notifies) -> None:
        if any(n.channel == AUTH_CHANNEL for n in notifies):
            self._auth_changed()
        with self._lock:
            for n in notifies:
                if n.channel == AUTH_CHANNEL:
                    continue
                job_id = int(n.payload.partition(":")[0])
                for w in self._watches.get(job_id, ()):
                    w.event.set()

    def _wake_all(self) -> None:
        with self._lock:
            for watches in self._watches.values():
                for w in watches:
                    w.event.set()
