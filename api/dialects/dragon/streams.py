"""Dragon's NDJSON status streams: the statuses first, then one line per change, until done.

The first line is the list of statuses in request order. Then each job's events are
replayed in order (``statuses.Replay``), one line per visible change, woken by the API
process's LISTEN hub (``api.waiter``) rather than by polling. While nothing changes, the
status of one unfinished task is repeated every ``KEEPALIVE_S`` (still valid NDJSON), so
proxies keep the connection and a vanished client is noticed; a quiet stream reads the
database only every ``RECHECK_S`` (a deleted job sends no event). The stream ends when
every task has finished (or was deleted).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from api.dialects.dragon.statuses import Replay
from api.waiter import Waiter
from shared.engine.jobstore import Row
from shared.engine.runtime import Runtime

KEEPALIVE_S = 20.0
RECHECK_S = 300.0
EVENTS_PAGE = 10_000  # dragon_events_after's LIMIT: a full page means read again at once


def _line(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": ")) + "\n"


def follow(rt: Runtime, waiter: Waiter, ids: list[int | None], first: list[dict[str, Any]],
           created: list[Row] | None = None, keepalive_s: float = KEEPALIVE_S,
           recheck_s: float = RECHECK_S) -> Iterator[str]:
    """Stream the tasks of internal ``ids``; ``first`` holds each one's status as a fallback
    (and the only one for ``None``, an unknown key). Tasks just ``created`` start from their
    creation, so the first line is their queued status and every later step follows."""
    known = [i for i in ids if i is not None]
    with waiter.watch(known, live=True) as watch:  # before the first read: no change can slip between
        if created is not None:
            rows = {r["id"]: {**r, "last_event_id": 0} for r in created}
        else:
            rows = {r["id"]: r for r in rt.db.all("dragon_jobs_by_ids", ids=known)} if known else {}
        replays = {i: Replay(rows[i]) for i in known if i in rows}
        head = [replays[i].pending_line() or replays[i].status if i in replays else first[n]
                for n, i in enumerate(ids)]
        yield _line(head)
        pending = {i: r for i, r in replays.items() if not r.finished}
        # Rows just created were not read inside the watch: read their events once at once.
        read_at, more = time.monotonic(), created is not None
        while pending:
            woke = more or watch.wait(keepalive_s)
            if not woke and waiter.healthy and time.monotonic() - read_at < recheck_s:
                yield _line(next(iter(pending.values())).status)  # keep-alive, no query
                continue
            read_at = time.monotonic()
            events = rt.db.all("dragon_events_after", job_ids=list(pending),
                               after_ids=[r.cursor for r in pending.values()])
            more = len(events) >= EVENTS_PAGE
            current: dict[int, Row] = {r["id"]: r for r in rt.store.get_many(list(pending))}
            lines = []
            for event in events:
                replay = pending.get(event["job_id"])
                if replay is None or event["id"] <= replay.cursor:
                    continue
                replay.apply(event, current.get(event["job_id"]))
                line = replay.pending_line()
                if line:
                    lines.append(line)
            for job_id, replay in list(pending.items()):
                if job_id not in current:
                    replay.gone()
                    lines.append(replay.pending_line())
                if replay.finished:
                    del pending[job_id]
            if lines:
                yield "".join(_line(x) for x in lines if x)
            elif not woke and pending:
                yield _line(next(iter(pending.values())).status)  # keep-alive
