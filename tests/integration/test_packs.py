"""Jobs that share a Celery message (``run_job(id1, id2, ...)``): each is still its own job."""

from __future__ import annotations

import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.usefixtures("engine")


def create(client, auth, body):
    return client.post("/v1/jobs", json=body, headers=auth)


def test_jobs_sharing_a_message_keep_their_own_soft_limit(client, auth, runtime):
    """A batch of 130 goes out as packs of 3 (64 messages first); one slow job times out alone."""
    jobs = [{"type": "test.brief", "params": {"seconds": 0, "steps": 1}} for _ in range(130)]
    jobs[64] = {"type": "test.brief", "params": {"seconds": 3, "steps": 3}}
    made = create(client, auth, {"jobs": jobs}).get_json()["jobs"]
    done = [client.get(f"/v1/jobs/{j['id']}?wait=30", headers=auth).get_json() for j in made]
    assert [j["status"] for j in done].count("succeeded") == 129, [j["error"] for j in done if j["error"]]
    assert done[64]["status"] == "failed" and done[64]["error"] == "timed out after 1 s"
    workers = [e["data"]["worker"] for j in made
               for e in client.get(f"/v1/jobs/{j['id']}/events", headers=auth).get_json() if e["type"] == "claim"]
    assert len(set(workers)) < len(workers)  # jobs did share messages


def test_when_a_shared_message_is_terminated_its_other_jobs_go_out_again(runtime, make_account):
    """Beat kills the task of a job that ignored its cancel; the jobs that came with it in
    the same dispatch have lost their message and are published again at once."""
    account, _key = make_account()
    spec = runtime.jobs.spec("test.sleep", {"seconds": 0, "steps": 1})
    with runtime.db.transaction() as cur:  # committed, not published: as if in the killed message
        stuck, *mates = runtime.store.insert(cur, account.id, [vars(spec)] * 3, None)
        cur.execute("UPDATE jobs SET status = 'running', attempt = 1, worker = 'gone-task', heartbeat_at = now(),"
                    " started_at = now(), cancel_requested_at = now() - interval '1 hour' WHERE id = %s", (stuck["id"],))

    def statuses():
        return [runtime.store.get_by_id(m["id"])["status"] for m in [stuck, *mates]]

    wait_until(lambda: statuses() == ["canceled", "succeeded", "succeeded"], timeout=10, interval=0.1)
    for mate in mates:
        reasons = [e["data"].get("reason") for e in runtime.store.events(mate["id"]) if e["type"] == "redispatch"]
        assert reasons[:1] == ["its message was terminated"], reasons
