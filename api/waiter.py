"""Waking requests that wait on jobs, without polling and without holding a pooled connection.

A LISTEN connection per API process receives ``job_events`` notifications (sent by a
trigger when an event row commits) and sets the events of the requests watching that job.
Another receives ``jobline_auth`` notices (a key or an account changed) for the
``on_auth_change`` hooks: the key cache of ``shared.engine.accounts`` is live only while it listens.
A waiter registers before it reads the job's state, so no wake-up is lost in between. If
the LISTEN connection is down, waiters fall back to re-reading once a second.

Only an event that leaves its job terminal NOTIFYs on its own (all that ``?wait=`` needs).
A ``live`` watch (an event stream) also registers its jobs in ``job_watchers`` for
``WATCH_TTL_S`` and renews them while it waits, so every event of theirs notifies
(migration 0019): NOTIFY is paid only where someone waits.
"""

from __future__ import annotations

import logging
import math
import os
import select
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from shared.engine.db import connect_raw
from shared.engine.errors import DatabaseUnavailable
from shared.engine.jobstore import Row

log = logging.getLogger("jobline.waiter")
CHANNEL = "job_events"
AUTH_CHANNEL = "jobline_auth"
FALLBACK_POLL_S = 1.0
#: A live watch's registration lasts this long and is renewed at half of it.
WATCH_TTL_S = 60.0


class Watch:
    def __init__(self, hub: Waiter, ids: list[int], live: bool) -> None:
        self.hub, self.ids = hub, ids
        self.event = threading.Event()
        self._renew_at = time.monotonic() if live and ids else math.inf

    def renew(self) -> None:
        """Keep a live watch registered (its jobs' every event notifies)."""
        if time.monotonic() >= self._renew_at:
            self.hub.register(self.ids, WATCH_TTL_S)
            self._renew_at = time.monotonic() + WATCH_TTL_S / 2

    def wait(self, timeout: float) -> bool:
        """Block until a watched job has a new event (or ``timeout``); True if woken."""
        if not self.hub.healthy:
            timeout = min(timeout, FALLBACK_POLL_S)
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            self.renew()
            woken = self.event.wait(max(min(deadline, self._renew_at) - time.monotonic(), 0))
            if woken or time.monotonic() >= deadline:
                break
        self.event.clear()
        return woken


class Listener:
    """A thread with its own connection that LISTENs on ``channel`` and hands each batch of
    notices to ``deliver``; it reconnects forever, calling ``changed`` when it comes up or
    goes down (notices may have been missed). Started on first ``start()`` in a process."""

    def __init__(self, dsn: str, channel: str, deliver: Callable[[list], None], changed: Callable[[], None]) -> None:
        self.dsn, self.channel, self.deliver, self.changed = dsn, channel, deliver, changed
        self.healthy = False
        self._lock = threading.Lock()
        self._pid = 0

    def start(self) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():  # first use in this process (or after a fork)
                    self._pid = os.getpid()
                    threading.Thread(target=self._listen, name=f"jobline-listen-{self.channel}", daemon=True).start()

    def _listen(self) -> None:
        pause = 0.5
        while True:
            try:
                conn = connect_raw(self.dsn)
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {self.channel}")
                self.changed()  # before healthy: nothing may be trusted from while we were away
                self.healthy, pause = True, 0.5
                while True:
                    if select.select([conn], [], [], 30)[0]:
                        conn.poll()
                        self.deliver(conn.notifies)
                        conn.notifies.clear()
                    else:
                        with conn.cursor() as cur:
                            cur.execute("SELECT 1")  # notice a dead connection
            except (DatabaseUnavailable, Exception):  # noqa: BLE001 - keep listening forever
                if self.healthy:
                    log.warning("LISTEN %s connection lost; reconnecting", self.channel, exc_info=True)
                self.healthy = False
                self.changed()
                time.sleep(pause)
                pause = min(pause * 2, 5.0)


class Waiter:
    """Job-event waits, and key-change notices for ``on_auth_change`` hooks.

    Two connections: job events are many (two or more a job) and are listened to only once
    a request of this process has waited on a job; key changes are rare and always heard.
    """

    def __init__(self, dsn: str, register: Callable[[list[int], float], None]) -> None:
        """``register(job_ids, ttl_s)``: have those jobs' every event notify for ``ttl_s``."""
        self.dsn, self.register = dsn, register
        self._watches: dict[int, set[Watch]] = defaultdict(set)
        self._lock = threading.Lock()
        self.on_auth_change: list[Callable[[], None]] = []
        self._events = Listener(dsn, CHANNEL, self._dispatch, self._wake_all)
        self._auth = Listener(dsn, AUTH_CHANNEL, lambda _notices: self._auth_changed(), self._auth_changed)

    @property
    def healthy(self) -> bool:
        """Whether job events arrive (else waiters re-read once a second)."""
        return self._events.healthy

    @property
    def hears_auth_changes(self) -> bool:
        return self._auth.healthy

    def start(self) -> None:
        """Hear key changes from now on (job events are listened to from the first watch)."""
        self._auth.start()

    @contextmanager
    def watch(self, job_ids: Iterable[int], live: bool = False) -> Iterator[Watch]:
        """Wake on the jobs' terminal events, or on every event if ``live`` (a stream).
        Read the jobs only inside the block: events committed before it may not notify."""
        self._events.start()
        ids = list(job_ids)
        w = Watch(self, ids, live)
        with self._lock:
            for i in ids:
                self._watches[i].add(w)
        try:
            w.renew()
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

    def _auth_changed(self) -> None:
        for hook in self.on_auth_change:
            hook()

    def _dispatch(self, notifies) -> None:
        with self._lock:
            for n in notifies:
                job_id = int(n.payload.partition(":")[0])
                for w in self._watches.get(job_id, ()):
                    w.event.set()

    def _wake_all(self) -> None:
        with self._lock:
            for watches in self._watches.values():
                for w in watches:
                    w.event.set()
