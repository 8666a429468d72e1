"""``jobline up`` in a subprocess, as a user runs it: embedded servers, ports of its own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.net import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
#: What the stack's environment must not inherit: it would point ``jobline up`` elsewhere.
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "JOBLINE_URL", "JOBLINE_API_KEY", "JOBLINE_HOME")


def user_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def ports() -> dict[str, int]:
    return {"api": free_port(), "pg": free_port(), "redis": free_port()}


class Up:
    def __init__(self, data: Path, ports: dict[str, int], **env: str) -> None:
        self.data = data
        env = user_env(JOBLINE_PLUGINS="tests.support.jobtypes", JOBLINE_HEARTBEAT_S="0.5", **env)
        self.out = data.parent / f"up-{time.monotonic_ns()}.out"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.admin.cli", "up", "--data-dir", str(data), "--port", str(ports["api"]),
             "--pg-port", str(ports["pg"]), "--redis-port", str(ports["redis"]), "--workers", "all"],
            cwd=ROOT, env=env, stdout=self.out.open("w"), stderr=subprocess.STDOUT)
        self.text = wait_until(lambda: "Ctrl-C stops" in (t := self.out.read_text()) and t or
                               (self.proc.poll() is not None and pytest.fail(t)), timeout=120, interval=0.3)
        self.key = re.search(r"API key:\s+(\S+)", self.text).group(1)
        self.url = f"http://127.0.0.1:{ports['api']}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        assert self.proc.wait(90) == 0, self.out.read_text()
