"""What every blueprint (canonical or dialect) needs from the application."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app, request

from api.waiter import Waiter
from shared.engine.jobstore import Row
from shared.engine.runtime import Runtime
from shared.engine.states import TERMINAL

TERMINAL_NAMES = frozenset(s.value for s in TERMINAL)


def runtime() -> Runtime:
    return current_app.extensions["jobline"]


def waiter() -> Waiter:
    return current_app.extensions["jobline_waiter"]


def base_url() -> str:
    """The API's base URL as clients see it (``JOBLINE_PUBLIC_URL``, else the request's)."""
    return (runtime().settings.public_url or request.host_url).rstrip("/")


def finished(rows: Sequence[Row]) -> bool:
    return all(r["status"] in TERMINAL_NAMES for r in rows)


def wait_for(rows: list[Row], seconds: float) -> list[Row]:
    """The rows again once all are finished, or after ``seconds`` (capped), whichever is first.

    Sleeps on the process's LISTEN hub (no polling, no pooled connection held meanwhile).
    Rows deleted meanwhile drop out of the result.
    """
    if not seconds or finished(rows):
        return rows
    rt = runtime()
    ids = [r["id"] for r in rows]
    timeout = min(seconds, rt.settings.max_wait_s)
    return waiter().until(ids, timeout, lambda: rt.store.get_many(ids), finished)
