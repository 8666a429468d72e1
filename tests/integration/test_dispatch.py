"""Wake-ups and claims: PostgreSQL is the queue, a Celery message only names a queue."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
import redis

from shared.engine.dispatch import FANOUT, WAKE_SLOTS, Waker
from tests.conftest import wait_until


@pytest.fixture
def waker(settings, runtime):
    """A waker on a prefix of its own, so this test's slots are not the engine's."""
    import dataclasses

    w = Waker(dataclasses.replace(settings, redis_prefix=f"{settings.redis_prefix}w{uuid.uuid4().hex[:6]}:"),
              runtime.celery)
    sent: list[tuple] = []
    w._send = lambda wakeups: sent.extend(wakeups) or len(wakeups)  # count, do not publish
    w.sent = sent
    yield w
    r = redis.Redis.from_url(settings.redis_url)
    for key in r.scan_iter(match=f"{w.settings.redis_prefix}*"):
        r.delete(key)


def test_wakeups_are_coalesced_per_queue(waker):
    assert waker.wake({"default": 500, "images": 1}) == FANOUT + 1
    assert Counter(q for q, _slot, _c in waker.sent) == {"default": FANOUT, "images": 1}
    assert len({slot for q, slot, _c in waker.sent if q == "default"}) == FANOUT
    for _ in range(WAKE_SLOTS):
        waker.wake({"default": 1})
    assert waker.wake({"default": 1}) == 0  # every slot pending: nothing more is sent
    waker.release("default", 3)
    assert waker.wake({"default": 5}) == 1 and waker.sent[-1][:2] == ("default", 3)


def test_wakeups_go_out_through_celery_send_task(settings, runtime, monkeypatch):
    """Published with Celery's own API (no hand-built message): what send_task is given."""
    calls = []
    monkeypatch.setattr(runtime.celery, "send_task", lambda name, **kw: calls.append((name, kw)))
    w = Waker(settings, runtime.celery)
    assert w.wake_at("images", 2.5) == 1
    (name, kw), = calls
    assert name == "jobline.wake" and kw["args"] == ["images", None] and kw["queue"] == "images"
    assert kw["countdown"] == 2.5


def test_claims_never_hand_a_job_to_two_workers(runtime, make_account):
    account, _key = make_account()
    spec = vars(runtime.jobs.spec("test.sleep", {"seconds": 0}))
    spec["queue"] = queue = f"q-{uuid.uuid4().hex[:6]}"  # a queue no worker drains
    with runtime.db.transaction() as cur:
        ids = {r["id"] for r in runtime.store.insert(cur, account.id, [spec] * 200, None)}
    claimed: list[int] = []

    def claimer(n):
        while row := runtime.store.claim_next(queue, f"t{n}", lease_s=60):
            claimed.append(row["id"])

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_claim_is_fair_across_accounts(runtime, make_account):
    """B's one job is claimed before A's backlog drains, though A queued first."""
    a, _ = make_account()
    b, _ = make_account()
    queue = f"q-{uuid.uuid4().hex[:6]}"

    def spec(priority=0):
        return dict(vars(runtime.jobs.spec("test.sleep", {"seconds": 0})), queue=queue, priority=priority)

    with runtime.db.transaction() as cur:
        a_jobs = runtime.store.insert(cur, a.id, [spec()] * 50, None)
    with runtime.db.transaction() as cur:
        [b_job] = runtime.store.insert(cur, b.id, [spec()], None)
    first = [runtime.store.claim_next(queue, "w", lease_s=60)["id"] for _ in range(3)]
    assert b_job["id"] in first[:2], first  # A's head, then B's: round robin, not arrival order
    with runtime.db.transaction() as cur:  # priority still comes first
        [urgent] = runtime.store.insert(cur, a.id, [spec(priority=9)], None)
    assert runtime.store.claim_next(queue, "w", lease_s=60)["id"] == urgent["id"]
    assert len(a_jobs) == 50


def test_an_expired_lease_is_claimed_again_at_once(runtime, make_account):
    account, _key = make_account()
    queue = f"q-{uuid.uuid4().hex[:6]}"
    spec = dict(vars(runtime.jobs.spec("test.sleep", {"seconds": 0})), queue=queue)
    with runtime.db.transaction() as cur:
        [job] = runtime.store.insert(cur, account.id, [spec], None)
    claimed = runtime.store.claim_next(queue, "dead-worker", lease_s=60)
    assert claimed["id"] == job["id"]
    assert runtime.store.claim_next(queue, "other", lease_s=60) is None  # leased
    with runtime.db.transaction() as cur:  # its worker stopped heart-beating a while ago
        cur.execute("UPDATE jobs SET heartbeat_at = now() - interval '61 seconds' WHERE id = %s", (job["id"],))
    again = runtime.store.claim_next(queue, "other", lease_s=60)
    assert again["id"] == job["id"] and again["attempt"] == 2
    assert runtime.store.succeed(job["id"], "dead-worker", "late") is None  # the old claim writes nothing
    assert runtime.store.succeed(job["id"], "other", "ok")["status"] == "succeeded"
    events = [e["type"] for e in runtime.store.events(job["id"])]
    assert events == ["created", "claim", "reap", "claim", "succeed"]


@pytest.mark.usefixtures("engine")
def test_a_slow_job_times_out_alone_among_many(client, auth):
    """Each job keeps its own soft limit, though one wake-up runs many jobs in turn."""
    jobs = [{"type": "test.brief", "params": {"seconds": 0, "steps": 1}} for _ in range(60)]
    jobs[30] = {"type": "test.brief", "params": {"seconds": 3, "steps": 3}}
    made = client.post("/v1/jobs", json={"jobs": jobs}, headers=auth).get_json()["jobs"]
    done = [client.get(f"/v1/jobs/{j['id']}?wait=30", headers=auth).get_json() for j in made]
    assert [j["status"] for j in done].count("succeeded") == 59, [j["error"] for j in done if j["error"]]
    assert done[30]["status"] == "failed" and done[30]["error"] == "timed out after 1 s"


@pytest.mark.usefixtures("engine")
def test_a_cancel_that_is_ignored_stops_only_that_job(client, auth, runtime):
    """A handler that never looks at its cancel flag: its process is ended after the grace,
    and the jobs queued behind it run, each once."""
    stuck = client.post("/v1/jobs", json={"type": "test.sleep", "params": {"seconds": 15, "steps": 15,
                                                                            "ignore_cancel": True}},
                        headers=auth).get_json()
    wait_until(lambda: client.get(f"/v1/jobs/{stuck['id']}", headers=auth).get_json()["status"] == "running")
    others = client.post("/v1/jobs", json={"jobs": [{"type": "hello", "params": {"name": "n"}}] * 20},
                         headers=auth).get_json()["jobs"]
    assert client.post(f"/v1/jobs/{stuck['id']}/cancel", headers=auth).status_code == 200
    done = client.get(f"/v1/jobs/{stuck['id']}?wait=20", headers=auth).get_json()
    assert done["status"] == "canceled"
    for job in others:
        got = client.get(f"/v1/jobs/{job['id']}?wait=30", headers=auth).get_json()
        assert got["status"] == "succeeded" and got["attempt"] == 1


def test_autoscaling_reads_demand_from_postgresql(runtime, make_account):
    """KEDA's query (deploy/k8s/keda.yaml is this named query): jobs running or due, not later ones."""
    account, _key = make_account()
    queue = f"q-{uuid.uuid4().hex[:6]}"
    spec = dict(vars(runtime.jobs.spec("test.sleep", {"seconds": 0})), queue=queue)
    with runtime.db.transaction() as cur:
        rows = runtime.store.insert(cur, account.id, [spec] * 5, None)
        cur.execute("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE id = %s", (rows[0]["id"],))
    assert runtime.db.one("autoscale_demand", queue=queue)["demand"] == 4
    runtime.store.claim_next(queue, "w", lease_s=60)
    runtime.store.claim_next(queue, "w", lease_s=60)
    assert runtime.db.one("autoscale_demand", queue=queue)["demand"] == 4  # 2 running + 2 due
    assert runtime.db.one("autoscale_demand", queue="callbacks")["demand"] >= 0


@pytest.mark.usefixtures("engine")
def test_a_new_account_is_not_held_up_by_another_accounts_backlog(client, make_account, runtime):
    """A queues 300 jobs, then B queues one: B's runs while A's backlog is still waiting."""
    (_a, key_a), (_b, key_b) = make_account(), make_account()
    backlog = [{"type": "test.sleep", "params": {"seconds": 0.05, "steps": 1}}] * 300
    a_jobs = client.post("/v1/jobs", json={"jobs": backlog}, headers={"Authorization": f"Bearer {key_a}"}).get_json()["jobs"]
    b = {"Authorization": f"Bearer {key_b}"}
    b_job = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "B"}}, headers=b).get_json()
    assert client.get(f"/v1/jobs/{b_job['id']}?wait=60", headers=b).get_json()["status"] == "succeeded"
    ids = [j["id"] for j in a_jobs]
    with runtime.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM jobs WHERE public_id = ANY(%s::uuid[]) AND status = 'queued'", (ids,))
        waiting = cur.fetchone()["n"]
    assert waiting > 100, "B's job waited for A's backlog"


@pytest.mark.usefixtures("engine")
def test_the_hard_time_limit_ends_the_process_of_a_job_that_outlives_it(client, auth, tmp_path):
    """A handler that swallows its soft limit: the heartbeat kills its process at the hard
    limit; the job, out of attempts, fails as a lost worker, and the worker runs on."""
    ledger = str(tmp_path / "ledger")
    job = client.post("/v1/jobs", json={"type": "test.stubborn", "params": {"seconds": 30, "ledger": ledger}},
                      headers=auth).get_json()
    done = wait_until(lambda: (j := client.get(f"/v1/jobs/{job['id']}", headers=auth).get_json())["status"] == "failed"
                      and j, timeout=60)
    assert "worker lost" in done["error"] and done["attempt"] == 1
    assert [line.split()[3] for line in open(ledger)] == ["start"]  # never reached "done"
    after = client.post("/v1/jobs?wait=20", json={"type": "hello", "params": {"name": "next"}}, headers=auth).get_json()
    assert after["status"] == "succeeded"
