"""Beat's orphan sweep: stored bytes nothing points at any more.

A handler can save a file after its job was deleted (the delete removed the folder first),
and a writer that died mid-write leaves a ``.part`` file; neither is ever served nor deleted
by anyone else. Each beat tick looks at a bounded batch of the store's entries, resuming
where the last tick stopped; a full pass starts again every ``SWEEP_EVERY_S``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

from shared.engine.files import job_prefix
from shared.engine.runtime import Runtime

log = logging.getLogger("jobline.beat")

#: A full pass over the store starts this often at most.
SWEEP_EVERY_S = 600.0
#: Entries looked at in one tick (one query for the job folders among them).
SWEEP_BATCH = 200
#: A job folder whose job is gone is removed once this old (a save in flight has finished);
#: a ``.part`` file once this old (no write takes that long).
ORPHAN_AGE_S = 60.0
PARTIAL_AGE_S = 3600.0


class Sweeper:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pass: Iterator[tuple[str, str, float]] | None = None
        self._next_pass = 0.0

    @property
    def pending(self) -> bool:
        """A pass is under way (the next sweep resumes it)."""
        return self._pass is not None

    def _entries(self) -> Iterator[tuple[str, str, float]]:
        store = self.runtime.files.store
        for name, mtime in store.children(job_prefix("").rstrip("/")):
            yield "job", name, mtime
        for key, mtime in store.partials():
            yield "partial", key, mtime

    def sweep(self, batch: int = SWEEP_BATCH) -> dict[str, int]:
        """Remove the orphans among the next ``batch`` entries: how many of each kind."""
        if self._pass is None:
            if time.monotonic() < self._next_pass:
                return {"orphan_jobs": 0, "partials": 0}
            self._pass, self._next_pass = self._entries(), time.monotonic() + SWEEP_EVERY_S
        now, jobs, partials = time.time(), [], 0
        store = self.runtime.files.store
        for kind, name, mtime in self._take(self._pass, batch):
            if kind == "partial" and now - mtime > PARTIAL_AGE_S:
                store.delete(name)
                partials += 1
            elif kind == "job" and now - mtime > ORPHAN_AGE_S and _is_uuid(name):
                jobs.append(name)
        alive = {r["public_id"] for r in self.runtime.db.all("existing_jobs", ids=jobs)} if jobs else set()
        orphans = [j for j in jobs if j not in alive]
        for public_id in orphans:
            self.runtime.files.delete_job(public_id)
        if orphans or partials:
            log.info("swept %d orphaned job folders and %d partial files", len(orphans), partials)
        return {"orphan_jobs": len(orphans), "partials": partials}

    def _take(self, entries: Iterator[tuple[str, str, float]], n: int) -> list[tuple[str, str, float]]:
        taken: list[tuple[str, str, float]] = []
        for entry in entries:
            taken.append(entry)
            if len(taken) >= n:
                return taken
        self._pass = None  # this pass is done
        return taken


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False
