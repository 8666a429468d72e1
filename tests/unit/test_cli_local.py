"""The CLI finds a ``jobline up`` from its data folder, and sends its key only to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jobline_client.cli import target
from jobline_client.local import running

from tests.support.net import wait_until


@pytest.fixture
def home(tmp_path, monkeypatch):
    for var in ("JOBLINE_URL", "JOBLINE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JOBLINE_HOME", str(tmp_path))
    (tmp_path / "credentials.json").write_text(json.dumps({"account": "local", "api_key": "jl_local_k"}))
    return tmp_path


@pytest.fixture
def launcher():
    """A live process whose command line is a launcher's (``… shared.admin.cli up``)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "shared.admin.cli", "up"],
                            stdin=subprocess.PIPE)
    wait_until(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes())  # exec has finished
    yield proc.pid
    proc.stdin.close()
    proc.wait()


def stack_file(home, pid: int) -> None:
    (home / "stack.json").write_text(json.dumps({"api_url": "http://127.0.0.1:8123", "pid": pid,
                                                 "database_url": "postgresql://x", "redis_url": "redis://x"}))


def test_a_running_stack_is_the_default_server_and_its_key_the_default_key(home, launcher):
    stack_file(home, launcher)
    assert target(None, None) == ("http://127.0.0.1:8123", "jl_local_k")
    assert target("http://127.0.0.1:8123/", None) == ("http://127.0.0.1:8123", "jl_local_k")
    assert target(None, "jl_mine") == ("http://127.0.0.1:8123", "jl_mine")


def test_the_local_key_never_goes_to_another_server(home, monkeypatch, launcher):
    stack_file(home, launcher)
    assert target("https://jobs.example.com", None) == ("https://jobs.example.com", None)
    monkeypatch.setenv("JOBLINE_URL", "https://jobs.example.com")
    assert target(None, None) == ("https://jobs.example.com", None)


def test_a_stack_file_left_by_a_dead_launcher_is_ignored(home):
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    stack_file(home, dead)
    assert running(home) is None
    assert target(None, None) == (None, None)  # the client's defaults, and no key sent
    stack_file(home, os.getpid())  # alive, but another program (pytest) took the pid
    assert running(home) is None
