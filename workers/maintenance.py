"""Beat's work, every tick: queue due scheduled jobs, wake queues with claimable jobs, fail
jobs whose worker died once their attempts are spent, end cancels past their grace, prune
finished jobs past their retention, sweep a batch of orphaned files.

Safe with several beat processes: every step selects its rows ``FOR UPDATE SKIP LOCKED``
and changes them with a conditional UPDATE, so no job is dispatched twice by two beats; a
wake-up too many is harmless.
"""

from __future__ import annotations

import logging
import time

from shared.engine.errors import DatabaseUnavailable
from shared.engine.registry import QUEUES
from shared.engine.runtime import Runtime
from workers.callbacks import dispatch_due as dispatch_due_callbacks
from workers.sweeper import Sweeper

log = logging.getLogger("jobline.beat")

#: Purge expired idempotency keys and job watchers this often; look for jobs past retention this often once
#: none is left (while some are, every tick prunes a batch).
PURGE_EVERY_S = 300.0
PRUNE_EVERY_S = 60.0
#: Most jobs pruned in one tick: one short statement, so creates never wait behind it.
PRUNE_BATCH = 500
#: A running job whose lease ran out this many times over, and that no worker claimed again
#: meanwhile (none runs its queue), is shown as queued again.
REQUEUE_AFTER_LEASES = 2


class Maintainer:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self._last_purge = 0.0
        self._next_prune = 0.0
        self.sweeper = Sweeper(runtime)
        #: When this beat last saw PostgreSQL answer after not reaching it (or started): no
        #: worker could renew a lease meanwhile, so none is reaped until a lease has passed
        #: since (the SQL also counts from the server's start, for the workers' claims).
        self._db_back_at: float | None = time.monotonic()

    def tick(self) -> dict[str, int]:
        try:
            return self._tick()
        except DatabaseUnavailable:
            self._db_back_at = None
            raise

    def _tick(self) -> dict[str, int]:
        s, waker = self.runtime.settings, self.runtime.waker
        # Jobs due before the next tick are queued now, with a wake-up timed for when the
        # first and the last of them are due, so they start on time rather than up to a tick
        # late. Two intervals, not one: a tick takes the interval plus its own work.
        due = self.store.dispatch_due(lookahead_s=2 * s.beat_interval_s)
        for row in due:
            for countdown in sorted({row["first_s"], row["last_s"]}):
                if countdown > 0.001:
                    waker.wake_at(row["queue"], countdown)
        if self._db_back_at is None:
            self._db_back_at = time.monotonic()
        requeued, failed = {}, 0
        if time.monotonic() - self._db_back_at >= s.reap_after_s:
            requeued, failed = self.store.reap(fail_after_s=s.reap_after_s,
                                               requeue_after_s=REQUEUE_AFTER_LEASES * s.reap_after_s)
        # The safety net: a wake-up lost, or a lease that ran out, leaves claimable jobs
        # with nobody draining their queue. Wake-ups are coalesced, so this costs nothing
        # while workers drain.
        claimable = self.store.claimable_queues(QUEUES, s.reap_after_s)
        woken = waker.wake({q: 1 for q in claimable})
        terminated = self.store.terminate_canceled(s.cancel_grace_s)
        if time.monotonic() - self._last_purge > PURGE_EVERY_S:
            self.runtime.db.one("purge_idempotency_keys", ttl_s=s.idempotency_ttl_s)
            self.runtime.db.one("purge_job_watchers")
            self._last_purge = time.monotonic()
        counts = {"dispatched": sum(r["n"] for r in due), "woken": woken, "requeued": sum(requeued.values()),
                  "failed": failed, "terminated": len(terminated), "callbacks": dispatch_due_callbacks(self.runtime),
                  "pruned": self.prune(), "swept": self.sweep()}
        if any(counts.values()):
            log.info("beat: %s", counts)
        return counts

    def sweep(self) -> int:
        try:
            return sum(self.sweeper.sweep().values())
        except DatabaseUnavailable:
            raise
        except Exception:  # noqa: BLE001 - the store may be away; the next pass tries again
            log.warning("sweeping orphaned files failed", exc_info=True)
            return 0

    def prune(self) -> int:
        """Retention: delete a batch of jobs finished over ``retention_days`` ago, and their files."""
        days = self.runtime.settings.retention_days
        if days <= 0 or time.monotonic() < self._next_prune:
            return 0
        rows = self.store.prune(days, PRUNE_BATCH)
        for row in rows:
            if row["files"]:
                try:
                    self.runtime.files.delete_job(str(row["public_id"]))
                except Exception:  # noqa: BLE001 - the rows are gone; orphaned bytes are only space
                    log.warning("could not delete the files of pruned job %s", row["public_id"], exc_info=True)
        if len(rows) < PRUNE_BATCH:
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
        return len(rows)
