"""Faults: dead workers, lost messages, a crash between commit and publish, poison jobs.

Each test checks the engine's promise: every job ends in exactly one terminal state, and no
handler completes twice (a ledger file records each handler start and finish).
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import beat_proc, flush_broker, wait_until

pytestmark = pytest.mark.usefixtures("engine")


def create(client, auth, body):
    r = client.post("/v1/jobs", json=body, headers=auth)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def get(client, auth, job_id, wait=0):
    return client.get(f"/v1/jobs/{job_id}?wait={wait}", headers=auth).get_json()


def ledger_lines(path):
    return [line.split() for line in open(path)] if os.path.exists(path) else []


def test_sigkill_worker_mid_job_still_ends_exactly_once(client, auth, tmp_path):
    ledger = str(tmp_path / "ledger")
    job = create(client, auth, {"type": "test.sleep", "params": {"seconds": 2, "steps": 4, "ledger": ledger}})
    started = wait_until(lambda: [row for row in ledger_lines(ledger) if row[3] == "start"])
    os.kill(int(started[0][2]), signal.SIGKILL)
    done = get(client, auth, job["id"], wait=30)
    assert done["status"] == "succeeded" and done["attempt"] == 2
    lines = ledger_lines(ledger)
    assert [row[3] for row in lines].count("done") == 1
    assert len({row[2] for row in lines}) == 2  # a second process ran it
    events = [e["type"] for e in client.get(f"/v1/jobs/{job['id']}/events", headers=auth).get_json()]
    assert events.count("reap") == 1 and events.count("succeed") == 1


def test_redis_flushed_after_jobs_were_accepted(client, auth, tmp_path, settings):
    ledger = str(tmp_path / "ledger")
    body = {"jobs": [{"type": "test.sleep", "params": {"seconds": 0.05, "steps": 1, "ledger": ledger}}] * 40}
    jobs = create(client, auth, body)["jobs"]
    flush_broker(settings.redis_url, settings.redis_prefix)  # every queued message is gone
    for job in jobs:
        assert get(client, auth, job["id"], wait=60)["status"] == "succeeded"
    done = [row[0] for row in ledger_lines(ledger) if row[3] == "done"]
    assert sorted(done) == sorted(j["id"] for j in jobs)  # each exactly once


def test_api_dies_between_commit_and_publish(client, auth, runtime, monkeypatch):
    monkeypatch.setattr(runtime.jobs, "publish", lambda rows: None)
    job = create(client, auth, {"type": "hello", "params": {"name": "again"}})
    monkeypatch.undo()
    done = get(client, auth, job["id"], wait=20)  # beat's safety net woke the queue
    assert done["status"] == "succeeded" and done["result"] == "Hello again"
    events = [e["type"] for e in client.get(f"/v1/jobs/{job['id']}/events", headers=auth).get_json()]
    assert events == ["created", "claim", "succeed"]


def test_poison_job_fails_after_max_attempts_and_others_run(client, auth):
    poison = create(client, auth, {"type": "test.sleep", "params": {"crash": True}, "max_attempts": 2})
    others = [create(client, auth, {"type": "hello", "params": {"name": f"n{i}"}}) for i in range(5)]
    for job in others:
        assert get(client, auth, job["id"], wait=30)["status"] == "succeeded"
    done = wait_until(lambda: (j := get(client, auth, poison["id"]))["status"] == "failed" and j, timeout=60)
    assert done["attempt"] == 2 and "worker lost" in done["error"]


def test_two_beats_never_dispatch_a_job_twice(client, auth, settings, tmp_path, runtime):
    second = beat_proc(settings, tmp_path, "beat2").start()
    try:
        at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        jobs = create(client, auth, {"jobs": [{"type": "hello", "params": {"name": "b"}, "start_at": at}] * 200})["jobs"]
        for job in jobs[-5:]:
            assert get(client, auth, job["id"], wait=30)["status"] == "succeeded"
        with runtime.db.transaction() as cur:
            cur.execute("SELECT j.public_id, count(*) AS n FROM job_events e JOIN jobs j ON j.id = e.job_id"
                        " WHERE e.type = 'dispatch' AND j.public_id = ANY(%s::uuid[]) GROUP BY 1",
                        ([j["id"] for j in jobs],))
            counts = {str(r["public_id"]): r["n"] for r in cur.fetchall()}
        assert len(counts) == 200 and set(counts.values()) == {1}
    finally:
        second.stop()
