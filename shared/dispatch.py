"""Publishing ``run_job`` messages: always after the job's transaction has committed.

If publishing fails (Redis away, the process dies) nothing is lost: the job is committed as
``queued`` and beat publishes it again once it has gone unclaimed for a while.

Messages are written the way Celery's ``send_task`` writes them through kombu's Redis
transport (task protocol 2, one LPUSH onto the queue's priority list), but built here and
sent in one pipeline: ``send_task`` costs about 15 times more per message, which showed as
the largest item in profiles of batch creation. ``tests/integration/test_dispatch.py`` compares
our envelope with one Celery produces, so a protocol change cannot slip by.

Jobs can share a message: ``run_job(id1, id2, ...)``. The worker claims and runs them one
after another, each with its own claim, heartbeat and time limits, so a pack saves Celery's
per-message cost (about 2.5 ms of worker CPU) without changing what a job sees. Jobs share
only once their queue holds ``SPREAD`` waiting messages (counting the new ones), so that
many worker processes can start at once; beyond that, at most ``jobs_per_message`` share
one. A backlog already that deep means every process is busy anyway.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel

from shared.celery_app import RUN_JOB
from shared.registry import Registry
from shared.settings import Settings

log = logging.getLogger(__name__)
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
#: A queue holds this many waiting messages before two jobs share one.
SPREAD = 64
#: How long a queue's measured depth is trusted.
DEPTH_TTL_S = 0.25


@dataclass(frozen=True)
class Message:
    job_id: int
    queue: str
    priority: int = 0
    countdown: float = 0.0
    type: str | None = None


def list_key(prefix: str, queue: str, kombu_priority: int) -> str:
    """The Redis list kombu keeps a queue's messages of this priority in."""
    step = PRIORITY_STEPS[max(i for i, s in enumerate(PRIORITY_STEPS) if s <= kombu_priority)]
    return f"{prefix}{queue}{Channel.sep}{step}" if step else f"{prefix}{queue}"


class Dispatcher:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.origin = f"gen{os.getpid()}@{socket.gethostname()}"
        self._depths: dict[str, tuple[float, int]] = {}

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=5, socket_connect_timeout=5)

    def packs(self, batch: list[Message]) -> list[list[Message]]:
        """Group a batch into messages: same queue, priority and type, due now, shared."""
        groups: dict[tuple, list[Message]] = {}
        for m in batch:
            key = (m.queue, m.priority, m.type) if m.countdown <= 0.001 and m.type in self.registry else m
            groups.setdefault(key, []).append(m)
        out: list[list[Message]] = []
        for group in groups.values():
            size = 1
            if len(group) > 1 and self.settings.jobs_per_message > 1:
                room = max(1, SPREAD - self.depth(group[0].queue))
                size = max(1, min(self.settings.jobs_per_message, -(-len(group) // room)))
            out += [group[i:i + size] for i in range(0, len(group), size)]
        return out

    def reserved_job_ids(self) -> set[int]:
        """Jobs whose message a worker holds (prefetched or running, not yet acked).

        kombu keeps each such message in the ``unacked`` hash until it is acked; a job in
        there is not lost, however long it has waited in a worker's buffer."""
        ids: set[int] = set()
        for value in self.redis.hvals(f"{self.settings.redis_prefix}{Channel.unacked_key}"):
            try:
                raw = json.loads(value)[0]
                if raw["headers"]["task"] == RUN_JOB:
                    ids.update(int(i) for i in json.loads(base64.b64decode(raw["body"]))[0])
            except (ValueError, KeyError, IndexError, TypeError):
                continue  # not one of ours
        return ids

    def depth(self, queue: str) -> int:
        """Messages waiting on ``queue`` (all priorities), re-read at most every 0.25 s."""
        return self.depths([queue])[queue]

    def depths(self, queues: Iterable[str]) -> dict[str, int]:
        """``depth`` of several queues, the stale ones re-read in one pipeline."""
        now = time.monotonic()
        stale = [q for q in queues if now - self._depths.get(q, (0.0, 0))[0] > DEPTH_TTL_S]
        if stale:
            pipe = self.redis.pipeline(transaction=False)
            for queue in stale:
                for step in PRIORITY_STEPS:
                    pipe.llen(list_key(self.settings.redis_prefix, queue, step))
            lens = pipe.execute()
            for i, queue in enumerate(stale):
                self._depths[queue] = (now, sum(lens[i * len(PRIORITY_STEPS):(i + 1) * len(PRIORITY_STEPS)]))
        return {q: self._depths[q][1] for q in queues}

    def envelope(self, pack: list[Message], kombu_priority: int) -> str:
        """One ``run_job`` message for the jobs of ``pack`` (all of one queue, priority, type).

        A pack's hard limit is the sum of its jobs'; each job's soft limit is kept by the
        runner, which arms it around each handler (``workers.limits``).
        """
        m = pack[0]
        task_id = str(uuid.uuid4())
        limits = [None, None]
        if m.type in self.registry:
            jt = self.registry[m.type]
            limits = [jt.time_limit, jt.soft_time_limit] if len(pack) == 1 else [jt.time_limit * len(pack), None]
        eta = (datetime.now(UTC) + timedelta(seconds=m.countdown)).isoformat() if m.countdown > 0.001 else None
        ids = [p.job_id for p in pack]
        body = json.dumps([ids, {}, _EMBED]).encode()
        return json.dumps({
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py", "task": RUN_JOB, "id": task_id, "shadow": None, "eta": eta, "expires": None,
                "group": None, "group_index": None, "retries": 0, "timelimit": limits, "root_id": task_id,
                "parent_id": None, "argsrepr": repr(ids), "kwargsrepr": "{}", "origin": self.origin,
                "ignore_result": True, "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {},
            },
            "properties": {
                "correlation_id": task_id, "reply_to": "", "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": m.queue}, "priority": kombu_priority,
                "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
            },
        })

    def publish(self, messages: Iterable[Message]) -> int:
        """Publish in one Redis pipeline; return how many jobs went out. Never raises."""
        batch = list(messages)
        if not batch:
            return 0
        try:
            pipe = self.redis.pipeline(transaction=False)
            for pack in self.packs(batch):
                m = pack[0]
                kombu_priority = 9 - m.priority  # kombu pops lower numbers first; ours: higher wins
                pipe.lpush(list_key(self.settings.redis_prefix, m.queue, kombu_priority), self.envelope(pack, kombu_priority))
            pipe.execute()
            return len(batch)
        except Exception:  # noqa: BLE001 - the jobs are safe in PostgreSQL; beat re-publishes them
            log.warning("publish of %d message(s) failed; beat will re-dispatch", len(batch), exc_info=True)
            return 0
