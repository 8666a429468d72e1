"""Wake-ups: Celery tasks that name a queue, not a job. PostgreSQL is the queue.

A worker woken on a queue claims due jobs from PostgreSQL until none is left (``workers.runner``),
so a wake-up carries nothing that can be lost: a lost, duplicated or stale one is harmless.
They are published through Celery's own API (``send_task``) after the jobs' transaction has
committed, and by beat for due scheduled jobs and as a periodic safety net.

Coalesced: each queue has ``WAKE_SLOTS`` slots, each a Redis key set with NX and a TTL. A
wake-up is published only for a slot taken now, and its worker keeps the slot while it
drains the queue, so under load creates find every slot taken and publish nothing. A
worker gives its slot back before its last, empty-handed claim: a job committed before it
gives the slot back is seen by that claim; one committed after finds the slot free and
publishes. The TTL bounds how long a slot held by a dead worker (or by a wake-up stuck in
a dead worker's prefetch) keeps others from being woken.

The API wakes queues off the request path (``wake_soon``): one publisher thread per process
sends the pending wake-ups, coalesced per queue, each Redis call bounded by
``REDIS_TIMEOUT_S``. A slow or hung Redis then delays wake-ups, never a create; beat's
safety net wakes the queues meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from functools import cached_property

import redis
from celery import Celery

from shared.engine.settings import Settings

log = logging.getLogger(__name__)

#: The task a wake-up runs: ``wake(queue, slot)``; ``slot`` is None for a timed wake-up.
WAKE = "jobline.wake"
#: Most wake-ups pending (or workers draining on a wake-up's slot) per queue.
WAKE_SLOTS = 64
#: Most wake-ups one publish sends; a worker that finds work recruits another (``recruit``).
FANOUT = 4
#: How long taking a wake-up slot waits on Redis: a wake-up is worth less than the wait.
REDIS_TIMEOUT_S = 0.5

# Take up to ARGV[1] free slots among KEYS (SET NX PX ARGV[2]); return their indexes.
_TAKE = """
local want, got = tonumber(ARGV[1]), {}
for i = 1, #KEYS do
  if #got >= want then break end
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[2]) then got[#got + 1] = i - 1 end
end
return got
"""


class Waker:
    def __init__(self, settings: Settings, celery: Celery) -> None:
        self.settings = settings
        self.celery = celery
        self.ttl_ms = int(settings.redispatch_after_s * 1000)
        self._pending: dict[str, int] = {}
        self._more = threading.Condition()
        self._publisher_pid = 0

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                    socket_connect_timeout=REDIS_TIMEOUT_S)

    @cached_property
    def _take(self):
        return self.redis.register_script(_TAKE)

    def slot_key(self, queue: str, slot: int) -> str:
        return f"{self.settings.redis_prefix}jobline:wake:{queue}:{slot}"

    def wake(self, counts: Mapping[str, int]) -> int:
        """Wake each queue for ``n`` new jobs (at most ``FANOUT`` wake-ups, on free slots only);
        return how many were published. Never raises: beat wakes the queues again."""
        wanted = {q: min(n, FANOUT) for q, n in counts.items() if n > 0}
        if not wanted:
            return 0
        try:
            pipe = self.redis.pipeline(transaction=False)
            for queue, n in wanted.items():
                self._take(keys=[self.slot_key(queue, i) for i in range(WAKE_SLOTS)], args=[n, self.ttl_ms], client=pipe)
            taken = dict(zip(wanted, pipe.execute(), strict=True))
            return self._send([(q, int(slot), 0.0) for q, slots in taken.items() for slot in slots])
        except Exception:  # noqa: BLE001 - the jobs are safe in PostgreSQL; beat wakes the queue
            log.warning("waking %s failed; beat will wake them", sorted(wanted), exc_info=True)
            return 0

    def wake_soon(self, counts: Mapping[str, int]) -> None:
        """``wake`` on this process's publisher thread; returns at once. Wake-ups pending
        for a queue add up to ``FANOUT`` at most, so a stuck publisher holds little."""
        with self._more:
            if self._publisher_pid != os.getpid():  # first use in this (forked) process
                self._publisher_pid, self._pending = os.getpid(), {}
                threading.Thread(target=self._publish_pending, name="jobline-waker", daemon=True).start()
            for queue, n in counts.items():
                if n > 0:
                    self._pending[queue] = min(FANOUT, self._pending.get(queue, 0) + n)
            self._more.notify()

    def _publish_pending(self) -> None:
        while True:
            with self._more:
                self._more.wait_for(lambda: self._pending)
                pending, self._pending = self._pending, {}
            self.wake(pending)

    def wake_at(self, queue: str, countdown: float) -> int:
        """A wake-up ``countdown`` seconds from now (a retry's backoff, a scheduled start)."""
        try:
            return self._send([(queue, None, countdown)])
        except Exception:  # noqa: BLE001 - beat's safety net wakes the queue once the job is due
            log.warning("timed wake-up of %s failed; beat will wake it", queue, exc_info=True)
            return 0

    def hand_on(self, queue: str, slot: int | None) -> None:
        """Publish a wake-up on a slot this worker holds (it stops draining, work is left)."""
        try:
            if slot is None:
                self.wake({queue: 1})
            else:
                self._send([(queue, slot, 0.0)])
        except Exception:  # noqa: BLE001
            log.warning("handing on %s failed; beat will wake it", queue, exc_info=True)

    def release(self, queue: str, slot: int | None) -> None:
        """Give a slot back, so that the next create publishes a wake-up."""
        if slot is not None:
            self.redis.delete(self.slot_key(queue, slot))

    def _send(self, wakeups: list[tuple[str, int | None, float]]) -> int:
        if not wakeups:
            return 0
        with self.celery.producer_or_acquire() as producer:
            for queue, slot, countdown in wakeups:
                self.celery.send_task(WAKE, args=[queue, slot], queue=queue, producer=producer,
                                      countdown=countdown if countdown > 0.001 else None)
        return len(wakeups)
