"""Dragon task statuses: ``{"status", "key", "progress", "events", "result"}``.

``STATUSES`` is the one place canonical states get Dragon's names. A status is rendered
either from a job row (``of_row``) or, in streams, by replaying the job's events one by one
(``Replay``), so a stream shows every step (``executing`` before ``success``) even when
several happen between two reads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.dialects.dragon.keys import encode
from shared.engine.jobstore import Row

STATUSES = {
    "scheduled": "queued",
    "queued": "queued",
    "running": "executing",
    "succeeded": "success",
    "failed": "error",
    "canceled": "error",
}
FINISHED = frozenset({"success", "error"})
CANCELED_MESSAGE = "the task was canceled"


def iso(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds, as the document shows (``...27.703674+00:00``)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def percent(fraction: float | None) -> int | float:
    value = round(float(fraction or 0) * 100, 1)
    return int(value) if value.is_integer() else value


def result_of(row: Row) -> Any:
    if row["status"] == "succeeded":
        return row["result"]
    if row["status"] == "canceled":
        return row["error"] or CANCELED_MESSAGE
    return row["error"]


def render(key: str, status: str, events: dict[str, str], progress: Any = None, result: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status, "key": key}
    if status == "executing":
        out["progress"] = progress if progress is not None else 0
    out["events"] = dict(events)
    if status in FINISHED:
        out["result"] = result
    return out


def of_row(row: Row) -> dict[str, Any]:
    events = {"queued": iso(row["queued_at"] or row["created_at"])}
    if row["started_at"]:
        events["started"] = iso(row["started_at"])
    if row["finished_at"]:
        events["completed"] = iso(row["finished_at"])
    status = STATUSES[row["status"]]
    return render(encode(row["public_id"]), status, events, percent(row["progress"]),
                  result_of(row) if status in FINISHED else None)


def unknown(key: str) -> dict[str, Any]:
    """What a key of no task of this account reads as: finished, in error (see the dialect's notes)."""
    return render(key, "error", {}, result=f"unknown task key {key!r}")


class Replay:
    """A task's status as its events arrive (streams); ``cursor`` is the last event applied."""

    def __init__(self, row: Row) -> None:
        self.job_id: int = row["id"]
        self.cursor: int = row["last_event_id"]
        self.status = of_row(row)
        self.sent: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status["status"] in FINISHED

    def apply(self, event: Row, row: Row | None) -> None:
        """Advance by one event; ``row`` is the job as read after the events (for results)."""
        self.cursor = event["id"]
        kind, at, state = event["type"], iso(event["at"]), STATUSES[event["status"]]
        s = self.status
        # The row's timestamps are the transaction's, the event's a moment later: prefer the
        # row's while it is still on this run, so streams and /v1/status agree to the microsecond.
        same_run = row is not None and row["run"] == event["run"]
        if kind == "claim":
            if same_run and row["started_at"] and row["attempt"] == event["data"].get("attempt"):
                at = iso(row["started_at"])
            self.status = render(s["key"], "executing", {"queued": s["events"].get("queued", at), "started": at}, 0)
        elif kind == "progress" and s["status"] == "executing":
            self.status = render(s["key"], "executing", s["events"], percent(event["data"].get("progress")))
        elif state in FINISHED:
            if same_run and STATUSES[row["status"]] in FINISHED:
                self.status = of_row(row)
                return
            # restarted since: the event's own record is all there is
            result = event["data"].get("error") or (CANCELED_MESSAGE if event["status"] == "canceled" else None)
            self.status = render(s["key"], state, {**s["events"], "completed": at}, result=result)
        elif state == "queued" and kind in ("dispatch", "retry", "reap", "restart"):
            self.status = render(s["key"], "queued", {"queued": at})

    def gone(self) -> None:
        self.status = render(self.status["key"], "error", self.status["events"], result="the task was deleted")

    def pending_line(self) -> dict[str, Any] | None:
        """The status if it changed since last sent (then marked sent), else ``None``."""
        if self.status == self.sent:
            return None
        self.sent = self.status
        return self.status
