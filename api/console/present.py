"""How the console shows values: times in UTC, JSON pretty-printed, files by what they are."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def ago(value: datetime | None) -> str:
    """``12s ago``: how fresh a heartbeat or a queued job is."""
    if value is None:
        return "—"
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def kind(file: dict[str, Any]) -> str:
    """``image`` (shown inline), ``json`` (pretty-printed) or ``other`` (a link)."""
    ctype = file.get("content_type") or ""
    if ctype.startswith("image/"):
        return "image"
    if ctype == "application/json" or file.get("name", "").endswith(".json"):
        return "json"
    return "other"


def percent(progress: float | None) -> int:
    return round((progress or 0) * 100)


FILTERS = {"pretty": pretty, "when": when, "ago": ago, "file_kind": kind, "percent": percent}
