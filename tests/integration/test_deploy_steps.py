"""The steps deploy/ scripts, run for real: the init command that creates the first account
once, and the alive file that workers' and beat's liveness probes read."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid

from tests.conftest import ROOT, beat_proc, worker_proc
from tests.support.net import wait_until
from workers import alive


def run(settings, *argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT), **env})


def test_the_init_command_creates_the_first_account_once(settings, runtime):
    name = f"init-{uuid.uuid4().hex[:8]}"
    argv = ("-m", "shared.admin.cli", "accounts", "create", "--role", "admin", "--if-missing", name)
    first = run(settings, *argv)
    assert first.returncode == 0, first.stderr
    head, key = first.stdout.strip().splitlines()
    assert json.loads(head) == {"account": name, "role": "admin"}
    assert runtime.accounts.authenticate(key, None).name == name
    again = run(settings, *argv)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"account": name, "created": False}  # no second key
    without = run(settings, *argv[:-2], name)
    assert without.returncode != 0 and "already exists" in (without.stderr + without.stdout)


def test_workers_and_beat_keep_their_alive_file_fresh(settings, tmp_path):
    procs = []
    for kind, make in (("worker", worker_proc), ("beat", beat_proc)):
        path = tmp_path / f"{kind}-alive"
        mine = dataclasses.replace(settings, alive_file=str(path))
        procs.append((path, mine, make(mine, tmp_path, f"alive-{kind}").start()))
    try:
        for path, mine, _p in procs:
            wait_until(path.exists, timeout=60, interval=0.2)
            first = path.stat().st_mtime
            wait_until(lambda p=path, t=first: p.stat().st_mtime > t, timeout=20, interval=0.5)  # touched again
            assert run(mine, "-m", "workers.alive", "30").returncode == 0
    finally:
        for _path, _mine, p in procs:
            p.stop()
    path, mine, _p = procs[0]
    os.utime(path, (0, 0))  # a loop that stopped touching it
    stale = run(mine, "-m", "workers.alive", "30")
    assert stale.returncode == 1 and "touched" in stale.stderr
    path.unlink()
    assert run(mine, "-m", "workers.alive").returncode == 1
    assert alive.age_s(str(path)) is None
