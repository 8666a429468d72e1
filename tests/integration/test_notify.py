"""NOTIFY only where someone waits: a job's terminal event, or every event of a streamed job.

Each test LISTENs on the trigger's channel itself and counts the notices of its own job.
"""

from __future__ import annotations

import select
import time
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.usefixtures("engine")


class Notices:
    """A LISTEN on ``job_events`` of the test database, collecting (job id, event id)."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("LISTEN job_events")
        self.seen: list[tuple[int, int]] = []

    def of(self, job_id: int) -> list[int]:
        """Event ids notified so far for ``job_id``."""
        while select.select([self.conn], [], [], 0.2)[0]:
            self.conn.poll()
            self.seen += [tuple(int(x) for x in n.payload.split(":")) for n in self.conn.notifies]
            self.conn.notifies.clear()
        return [event for job, event in self.seen if job == job_id]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def notices(settings):
    n = Notices(settings.database_url)
    yield n
    n.close()


def events_of(runtime, job_id: int) -> dict[str, int]:
    return {row["type"]: row["id"] for row in runtime.store.events(job_id)}


def test_a_job_nobody_watches_notifies_only_its_end(client, auth, runtime, notices):
    job = client.post("/v1/jobs", json={"type": "test.sleep", "params": {"seconds": 0.6, "steps": 3}},
                      headers=auth).get_json()
    internal = runtime.jobs.get(runtime.accounts.authenticate(auth["Authorization"][7:]), job["id"])["id"]
    wait_until(lambda: runtime.store.get_by_id(internal)["status"] == "succeeded", timeout=30, interval=0.1)
    events = events_of(runtime, internal)
    assert {"created", "claim", "progress", "succeed"} <= set(events), events
    assert notices.of(internal) == [events["succeed"]]  # not the claim's, not the progress'


def test_wait_returns_on_completion(client, auth, runtime, notices):
    t0 = time.monotonic()
    job = client.post("/v1/jobs?wait=20", json={"type": "test.sleep", "params": {"seconds": 1, "steps": 2}},
                      headers=auth).get_json()
    assert job["status"] == "succeeded"
    finished = datetime.fromisoformat(job["finished_at"].replace("Z", "+00:00"))
    internal = runtime.jobs.get(runtime.accounts.authenticate(auth["Authorization"][7:]), job["id"])["id"]
    # woken by the terminal notice (not the once-a-second fallback, nor the 20 s timeout)
    assert datetime.now(UTC) - finished < timedelta(seconds=0.9), (job, time.monotonic() - t0)
    assert notices.of(internal) == [events_of(runtime, internal)["succeed"]]


def test_a_stream_sees_every_event_live(client, auth, runtime, notices):
    start = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    job = client.post("/v1/jobs", json={"type": "test.sleep", "params": {"seconds": 3, "steps": 3},
                                        "start_at": start}, headers=auth).get_json()
    internal = runtime.jobs.get(runtime.accounts.authenticate(auth["Authorization"][7:]), job["id"])["id"]
    r = client.get(f"/v1/jobs/{job['id']}/events", headers={**auth, "Accept": "text/event-stream"})
    arrived: dict[str, float] = {}
    for chunk in r.response:
        for line in chunk.decode().splitlines():
            if line.startswith("event: "):
                arrived.setdefault(line[7:], time.monotonic())
    r.close()
    assert list(arrived)[:1] == ["created"] and list(arrived)[-2:] == ["succeed", "end"], arrived
    # the claim and the first progress came as they happened, not with the end 3 s later
    assert arrived["succeed"] - arrived["claim"] > 2, arrived
    assert arrived["succeed"] - arrived["progress"] > 0.5, arrived
    notified = notices.of(internal)
    events = events_of(runtime, internal)
    assert events["claim"] in notified and events["succeed"] in notified and len(notified) >= 4, notified
    with runtime.db.transaction() as cur:  # the registration outlives the stream a while, then beat drops it
        cur.execute("SELECT expires_at > now() AS live FROM job_watchers WHERE job_id = %s", (internal,))
        assert cur.fetchone()["live"]
