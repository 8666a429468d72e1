"""Beat's work, every tick: dispatch due jobs, re-dispatch lost ones, reap dead ones.

Safe with several beat processes: every step selects its rows ``FOR UPDATE SKIP LOCKED``
and changes them with a conditional UPDATE, so no job is dispatched twice by two beats.
"""

from __future__ import annotations

import logging
import time

from shared.registry import QUEUES
from shared.runtime import Runtime
from workers.callbacks import dispatch_due as dispatch_due_callbacks

log = logging.getLogger("jobline.beat")

#: Purge expired idempotency keys this often.
PURGE_EVERY_S = 300.0


class Maintainer:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self._last_purge = 0.0

    def tick(self) -> dict[str, int]:
        s = self.runtime.settings
        # Jobs due before the next tick go out now with a countdown, so they start on time
        # rather than up to one tick late; the claim refuses a message that arrives early.
        # Two intervals, not one: a tick takes the interval plus its own work.
        due = self.store.dispatch_due(lookahead_s=2 * s.beat_interval_s)
        reserved = self._reserved()
        lost = self.store.redispatch_lost(self._drained_queues(), s.redispatch_after_s, reserved)
        lost += self.store.redispatch_lost(list(QUEUES), s.visibility_timeout_s, reserved)
        requeued, failed = self.store.reap(s.reap_after_s)
        self.runtime.dispatcher.publish(due + lost + requeued)
        terminated = self.store.terminate_canceled(s.cancel_grace_s)
        for row in terminated:
            if row["worker"]:
                self.runtime.celery.control.revoke(row["worker"], terminate=True, signal="SIGKILL")
                # Its message may have carried other jobs, which now have none.
                if row["dispatched_at"] is not None:
                    self.runtime.dispatcher.publish(self.store.redispatch_published_with(row["queue"], row["dispatched_at"]))
        if time.monotonic() - self._last_purge > PURGE_EVERY_S:
            self.runtime.db.one("purge_idempotency_keys", ttl_s=s.idempotency_ttl_s)
            self._last_purge = time.monotonic()
        counts = {"dispatched": len(due), "redispatched": len(lost), "reaped": len(requeued),
                  "failed": failed, "terminated": len(terminated),
                  "callbacks": dispatch_due_callbacks(self.runtime)}
        if any(counts.values()):
            log.info("beat: %s", counts)
        return counts

    def _reserved(self) -> set[int]:
        """Jobs in messages workers hold: waiting in a worker's buffer is not being lost."""
        try:
            return self.runtime.dispatcher.reserved_job_ids()
        except Exception:  # noqa: BLE001 - broker away: nothing is re-published this tick anyway
            return set()

    def _drained_queues(self) -> list[str]:
        """Queues with no message waiting on the broker.

        A queued job is re-published only once its queue has drained: in a backlog its
        message is most likely still waiting, and re-publishing thousands would only add
        duplicates. A job unclaimed past the visibility timeout is re-published anyway, unless
        a worker holds its message (kombu restores those itself after that timeout).
        """
        try:
            return [q for q, n in self.runtime.dispatcher.depths(QUEUES).items() if n == 0]
        except Exception:  # noqa: BLE001 - broker away: nothing to publish to anyway
            log.warning("broker unreachable; skipping re-dispatch this tick", exc_info=True)
            return []
