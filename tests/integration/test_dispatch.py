"""Our hand-built messages match what Celery's send_task writes to Redis."""

from __future__ import annotations

import base64
import json

import pytest
from kombu.transport.redis import Channel

from shared.celery_app import RUN_JOB, make_celery
from shared.dispatch import Dispatcher, Message, list_key
from shared.registry import default_registry
from shared.settings import Settings


class FakePipe:
    """Records LPUSHes; LLEN answers ``depth`` for the first list of a queue, 0 for the rest."""

    def __init__(self, sink, depth=0):
        self.sink, self.depth, self.lens = sink, depth, []

    def lpush(self, key, value):
        self.sink.append((key, value))

    def llen(self, key):
        self.lens.append(self.depth if not self.lens else 0)

    def execute(self):
        lens, self.lens = self.lens, []
        return lens


def celery_envelope(settings: Settings, queue: str, priority: int, countdown: float | None):
    """What send_task produces, captured at kombu's Redis ``_put`` (nothing is sent)."""
    app = make_celery(settings)
    captured = []

    def put(self, q, message, **kw):
        captured.append((self._q_for_pri(q, self._get_message_priority(message, reverse=False)), message))

    original = Channel._put
    Channel._put = put
    try:
        with app.connection_for_write() as conn:
            producer = app.amqp.Producer(conn.default_channel)
            app.send_task(RUN_JOB, args=[7], queue=queue, priority=priority, countdown=countdown,
                          time_limit=60, soft_time_limit=30, producer=producer)
    finally:
        Channel._put = original
    return captured[0]


@pytest.mark.parametrize("job_priority,countdown", [(0, None), (9, None), (5, 2.5)])
def test_envelope_matches_celery(settings, job_priority, countdown):
    key, theirs = celery_envelope(Settings(redis_url=settings.redis_url), "images", 9 - job_priority, countdown)
    sink: list = []
    d = Dispatcher(Settings(), default_registry())
    d.__dict__["redis"] = type("R", (), {"pipeline": lambda self, transaction: FakePipe(sink)})()
    assert d.publish([Message(7, "images", job_priority, countdown or 0)]) == 1
    our_key, ours = sink[0][0], json.loads(sink[0][1])
    assert our_key == key
    assert set(ours) == set(theirs)
    assert set(ours["headers"]) == set(theirs["headers"])
    assert set(ours["properties"]) == set(theirs["properties"])
    assert base64.b64decode(ours["body"]) == base64.b64decode(theirs["body"])
    for field in ("lang", "task", "retries", "kwargsrepr", "argsrepr", "group", "parent_id"):
        assert ours["headers"][field] == theirs["headers"][field], field
    assert (ours["headers"]["eta"] is None) == (theirs["headers"]["eta"] is None)
    assert ours["properties"]["priority"] == theirs["properties"]["priority"]
    assert ours["properties"]["delivery_info"] == theirs["properties"]["delivery_info"]
    assert ours["content-type"] == theirs["content-type"] and ours["content-encoding"] == theirs["content-encoding"]


def test_list_keys_follow_kombu_priority_steps():
    assert list_key("", "default", 0) == "default"
    assert list_key("p:", "default", 9) == "p:default" + Channel.sep + "9"
    assert list_key("", "images", 4) == "images" + Channel.sep + "3"


def _capture(settings: Settings, depth: int = 0) -> tuple[Dispatcher, list]:
    sink: list = []
    d = Dispatcher(settings, default_registry())
    d.__dict__["redis"] = type("R", (), {"pipeline": lambda self, transaction: FakePipe(sink, depth)})()
    return d, sink


def _ids(raw: str) -> list[int]:
    return json.loads(base64.b64decode(json.loads(raw)["body"]))[0]


def test_small_batches_get_a_message_per_job():
    d, sink = _capture(Settings())
    assert d.publish([Message(i, "default", 0, 0, "hello") for i in range(64)]) == 64
    assert [_ids(raw) for _key, raw in sink] == [[i] for i in range(64)]


def test_large_batches_share_messages_up_to_the_limit():
    d, sink = _capture(Settings(jobs_per_message=16))
    assert d.publish([Message(i, "default", 0, 0, "hello") for i in range(500)]) == 500
    packs = [_ids(raw) for _key, raw in sink]
    assert len(packs) == 63 and {len(p) for p in packs[:-1]} == {8}
    assert sorted(i for p in packs for i in p) == list(range(500))
    header = json.loads(sink[0][1])["headers"]
    assert header["timelimit"] == [60 * 8, None]  # the pack's hard limit; the runner keeps each soft one
    d, sink = _capture(Settings(jobs_per_message=16))
    d.publish([Message(i, "default", 0, 0, "hello") for i in range(5000)])
    assert max(len(_ids(raw)) for _key, raw in sink) == 16


def test_only_alike_jobs_due_now_share_a_message():
    d, sink = _capture(Settings(jobs_per_message=16))
    batch = [Message(i, "default", i % 2, 0, "hello") for i in range(400)]  # two priorities
    batch += [Message(1000 + i, "default", 0, 5.0, "hello") for i in range(200)]  # with a countdown
    d.publish(batch)
    packs = [_ids(raw) for _key, raw in sink]
    assert sorted(i for p in packs for i in p) == sorted(m.job_id for m in batch)
    for p in packs:
        assert len({i % 2 for i in p}) == 1 or all(i >= 1000 for i in p)
        assert len(p) == 1 or all(i < 1000 for i in p)


def test_one_job_per_message_when_configured():
    d, sink = _capture(Settings(jobs_per_message=1))
    d.publish([Message(i, "default", 0, 0, "hello") for i in range(500)])
    assert len(sink) == 500


def test_behind_a_backlog_even_a_few_jobs_share_a_message():
    d, sink = _capture(Settings(jobs_per_message=16), depth=62)  # room for 2 more messages
    d.publish([Message(i, "default", 0, 0, "hello") for i in range(6)])
    assert [_ids(raw) for _key, raw in sink] == [[0, 1, 2], [3, 4, 5]]
    d, sink = _capture(Settings(jobs_per_message=16), depth=500)
    d.publish([Message(i, "default", 0, 0, "hello") for i in range(6)])
    assert [_ids(raw) for _key, raw in sink] == [[0, 1, 2, 3, 4, 5]]
    d, sink = _capture(Settings(jobs_per_message=16), depth=500)
    d.publish([Message(0, "default", 0, 0, "hello")])
    assert [_ids(raw) for _key, raw in sink] == [[0]]


def test_jobs_in_messages_workers_hold_count_as_reserved(settings):
    """What kombu keeps in its ``unacked`` hash (prefetched or running messages)."""
    import redis

    d = Dispatcher(settings, default_registry())
    r = redis.Redis.from_url(settings.redis_url)
    key = f"{settings.redis_prefix}unacked"
    pack = json.loads(d.envelope([Message(i, "default", 0, 0, "hello") for i in (11, 12, 13)], 9))
    other = dict(pack, headers=dict(pack["headers"], task="someone.else"))
    r.hset(key, mapping={"tag-1": json.dumps([pack, "", "default"]), "tag-2": json.dumps([other, "", "default"]),
                         "tag-3": "not json"})
    try:
        assert d.reserved_job_ids() == {11, 12, 13}
    finally:
        r.delete(key)
