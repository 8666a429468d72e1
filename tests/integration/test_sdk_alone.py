"""``pip install ./shared/sdk`` in a fresh virtualenv: the SDK and its commands, nothing of the server."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "shared" / "sdk"
SERVER_ONLY = {"celery", "kombu", "numpy", "pillow", "rdflib", "flask", "flask-smorest", "psycopg2-binary",
               "gunicorn", "gevent", "redis", "jobline"}


def run(*cmd: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_sdk_declares_requests_alone():
    project = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0].split("=")[0] for d in project["dependencies"]] == ["requests"]
    assert project["name"] == "jobline-client"


def test_pip_install_of_the_sdk_alone_installs_no_server_dependency(tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    py = venv / "bin" / "python"
    run(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", SDK, cwd=tmp_path)

    installed = {p["name"].lower() for p in json.loads(run(py, "-m", "pip", "list", "--format=json", cwd=tmp_path))}
    assert "jobline-client" in installed and "requests" in installed
    assert not installed & SERVER_ONLY, f"the SDK pulled in server dependencies: {installed & SERVER_ONLY}"

    # Isolated (-I: no cwd, no PYTHONPATH) from an empty folder: only what the venv has is importable.
    probe = ("import sys, jobline_client, jobline_client.main as m; m.parser(); "
             "print(jobline_client.__file__); "
             "print(sorted({n.split('.')[0] for n in sys.modules} & {'shared', 'api', 'workers', 'celery', "
             "'numpy', 'PIL', 'rdflib', 'flask'}))")
    where, loaded = run(py, "-I", "-c", probe, cwd=tmp_path).splitlines()
    assert Path(where).is_relative_to(venv), f"imported from {where}, not from the fresh install"
    assert loaded == "[]", f"importing the SDK loaded {loaded}"

    usage = run(venv / "bin" / "jobline", "--help", cwd=tmp_path)
    for command in ("submit", "wait", "events", "apps", "deliveries", "webhook"):
        assert command in usage
    assert "accounts" not in usage and " up " not in usage  # the admin commands stay with the server
