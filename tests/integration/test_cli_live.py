"""The drawing commands as a person runs them: ``jobline submit --wait`` (a progress bar fed by
the job's event stream), ``jobline watch`` and ``jobline status``, each the real CLI in a
subprocess against the API served by gunicorn, with real workers. Not a terminal, so rich
prints plain lines and its final bar or table; COLUMNS and NO_COLOR keep them stable."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from tests.support.net import wait_until
from tests.support.web import ROOT, gunicorn_server

pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture(scope="module")
def url(settings, tmp_path_factory):
    with gunicorn_server(settings, tmp_path_factory.mktemp("cli-web") / "gunicorn.log") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def jobline(url, tmp_path):
    def run(*args: str, key: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "110", "NO_COLOR": "1",
               "JOBLINE_HOME": str(tmp_path / "no-local-stack")}
        for name in ("JOBLINE_URL", "JOBLINE_API_KEY", "TTY_COMPATIBLE", "FORCE_COLOR"):
            env.pop(name, None)
        return subprocess.run([sys.executable, "-m", "shared.admin.cli", *args, "--url", url, "--key", key],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    return run


def test_submit_wait_draws_progress_from_the_event_stream(jobline, key):
    done = jobline("submit", "test.sleep", "--param", "seconds=2", "--param", "steps=4", "--wait", key=key)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["result"]["slept"] == 2
    *reports, bar = done.stderr.splitlines()
    seen = [float(re.fullmatch(r"progress +([\d.]+)% step \d", line).group(1)) for line in reports]
    assert seen and seen == sorted(seen) and seen[-1] == 100.0 and set(seen) <= {25.0, 50.0, 75.0, 100.0}
    assert re.fullmatch(rf"job {job['id'][:8]} ━+ 100% \d:\d\d:\d\d succeeded *", bar), bar
    assert len(bar) <= 110


def test_submit_wait_of_a_failing_job_exits_1(jobline, key):
    done = jobline("submit", "test.sleep", "--param", "fail=no luck", "--wait", key=key)
    assert done.returncode == 1 and json.loads(done.stdout)["status"] == "failed"
    bar, message = done.stderr.splitlines()[-2:]
    assert bar.startswith("job ") and bar.rstrip().endswith("failed") and message.endswith("failed: no luck")


def test_watch_follows_jobs_until_they_finish(jobline, key, client, auth):
    made = [client.post("/v1/jobs", json=body, headers=auth).get_json() for body in (
        {"type": "test.sleep", "params": {"seconds": 1.5, "steps": 3}}, {"type": "hello", "params": {"name": "W"}})]
    done = jobline("watch", *[j["id"] for j in made], "--interval", "0.2", key=key)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for job in made:  # a line per change, the last one the end
        mine = [line.split() for line in lines if line.startswith(job["id"])]
        assert mine[-1][1:] == [job["type"], "succeeded", "100.0%"], mine
    sleeper = [line.split()[2] for line in lines if line.startswith(made[0]["id"])]
    assert "succeeded" not in sleeper[:-1] and len(sleeper) >= 2  # it was followed while it ran
    table = done.stdout[re.search(r"^jobs *$", done.stdout, re.M).start():]
    for job in made:
        assert re.search(rf"│ {job['id'][:8]} +│ {re.escape(job['type'])} +│ succeeded +│ +100% │", table), table
    failing = client.post("/v1/jobs", json={"type": "test.sleep", "params": {"fail": "x"}}, headers=auth).get_json()
    assert jobline("jobs", "watch", failing["id"], "--interval", "0.2", key=key).returncode == 1


def test_watch_without_ids_follows_the_newest_jobs_until_interrupted(url, key, client, auth, tmp_path):
    job = client.post("/v1/jobs?wait=20", json={"type": "hello", "params": {"name": "N"}}, headers=auth).get_json()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "110", "NO_COLOR": "1", "JOBLINE_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "shared.admin.cli", "watch", "--status", "succeeded", "--interval", "0.2",
                             "--url", url, "--key", key], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.split() == [job["id"], "hello", "succeeded", "100.0%"]
        later = client.post("/v1/jobs?wait=20", json={"type": "hello", "params": {"name": "M"}}, headers=auth).get_json()
        assert proc.stdout.readline().split()[:3] == [later["id"], "hello", "succeeded"]  # it keeps following
        proc.send_signal(signal.SIGINT)
        out, _err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and later["id"][:8] in out  # the last table, on the way out


def test_status_prints_queue_depths_and_workers_of_the_account(jobline, key, make_account, client, auth):
    _other, other_key = make_account()
    far = {"type": "hello", "params": {"name": "later"}, "start_at": "2999-01-01T00:00:00Z"}
    for k in (key, other_key, other_key):
        assert client.post("/v1/jobs", json=far, headers={"Authorization": f"Bearer {k}"}).status_code == 201
    running = client.post("/v1/jobs", json={"type": "test.sleep", "params": {"seconds": 30, "steps": 300}},
                          headers=auth).get_json()
    wait_until(lambda: client.get(f"/v1/jobs/{running['id']}", headers=auth).get_json()["status"] == "running",
               timeout=60)
    try:
        done = jobline("status", key=key)
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert out.startswith("Queues (your jobs) ")
        assert re.search(r"│ default +│ +1 │ +0 │ +1 │ — +│", out), out  # the other's 2 scheduled are not counted
        assert re.search(r"│ images +│ +0 │ +0 │ +0 │ — +│", out), out  # idle queues listed too
        workers = out[out.index("Workers (seen by heartbeat)"):]
        assert re.search(r"│ [^│]+:\d+ +│ default +│ +1 │ \d+ s ago +│", workers), workers
        as_json = json.loads(jobline("status", "--json", key=key).stdout)
        assert [w["queues"] for w in as_json["workers"]] == [["default"]]
        assert {q["queue"]: q["scheduled"] for q in as_json["queues"]}["default"] == 1
    finally:
        client.post(f"/v1/jobs/{running['id']}/cancel", headers=auth)
    idle = jobline("status", key=make_account()[1])
    assert idle.returncode == 0 and "Workers: none is running your jobs now." in idle.stdout


def test_the_queues_endpoint_answers_a_read_key_and_refuses_none(client, runtime, make_account):
    account, _key = make_account()
    reader = runtime.accounts.create_key(account, "read")
    r = client.get("/v1/queues", headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 200 and r.get_json()["workers"] == []
    assert {q["queue"] for q in r.get_json()["queues"]} >= {"default", "images", "analysis", "maintenance"}
    assert client.get("/v1/queues").status_code == 401
