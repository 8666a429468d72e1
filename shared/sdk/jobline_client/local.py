"""What the client commands read of a ``jobline up`` running in this folder: its address, its key.

``jobline up`` (the server's ``shared/admin/stack.py``) writes ``<data dir>/stack.json`` and
``credentials.json``; the client only reads them, so the SDK needs nothing of the server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_FILE = "stack.json"
CREDENTIALS_FILE = "credentials.json"


def default_data_dir() -> Path:
    """Where ``jobline up`` keeps its data, and where the other commands look for it."""
    return Path(os.environ.get("JOBLINE_HOME") or ".jobline")


def running(data_dir: Path) -> dict | None:
    """``{api_url, database_url, redis_url, pid}`` of the ``jobline up`` running on ``data_dir``."""
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
        pid = int(state["pid"])
        os.kill(pid, 0)
    except PermissionError:
        return state  # alive, started by another user
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none, unreadable, or left by a launcher that was killed
    try:  # a killed launcher's pid taken by another program does not count
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return state  # no /proc here: trust the pid
    if argv == [b""]:
        return state  # a process in the middle of exec shows no command line yet
    return state if b"up" in argv and any(b"jobline" in a or b"shared.admin.cli" in a for a in argv) else None


def local_key(data_dir: Path) -> str | None:
    """The first API key ``jobline up`` created on ``data_dir``, if any."""
    try:
        return json.loads((data_dir / CREDENTIALS_FILE).read_text())["api_key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
