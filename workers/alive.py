"""Liveness for workers and beat without a broker round trip: a file touched by the loop
that does the work, and a probe that checks its age.

``celery inspect ping`` starts a Celery client and needs a reply over Redis (seconds of CPU
per probe, and a Redis blip would restart every worker). Instead the worker's event loop
(a kombu timer in the consumer) and beat's tick touch ``JOBLINE_ALIVE_FILE``; a stuck loop
stops touching it. Probe: ``python -m workers.alive [max_age_s]`` exits 1 when the file is
missing or older than ``max_age_s`` (default 60).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

#: How often the worker's event loop touches the file.
TOUCH_EVERY_S = 5.0
DEFAULT_MAX_AGE_S = 60.0


def touch(path: str) -> None:
    if path:
        Path(path).touch()


def age_s(path: str) -> float | None:
    """Seconds since the file was touched, None when it does not exist."""
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return None


def main(argv: list[str]) -> int:
    path = os.environ.get("JOBLINE_ALIVE_FILE", "")
    max_age = float(argv[0]) if argv else DEFAULT_MAX_AGE_S
    if not path:
        print("JOBLINE_ALIVE_FILE is not set", file=sys.stderr)
        return 1
    age = age_s(path)
    if age is None or age > max_age:
        print(f"{path}: {'missing' if age is None else f'touched {age:.0f} s ago'} (limit {max_age:g} s)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
