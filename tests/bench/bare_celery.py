"""The baseline: bare Celery on the same Redis, a no-op task that counts itself in Redis.

Same transport settings as Jobline's app (JSON, late acks, reject on worker lost, no
result backend, same prefetch), so the comparison isolates what Jobline adds.
"""

from __future__ import annotations

import os

import redis
from celery import Celery

from shared.engine.celery_app import make_celery
from shared.engine.settings import Settings

settings = Settings.from_env()
app: Celery = make_celery(settings)
COUNTER = os.environ.get("BARE_COUNTER", "bench:bare:done")
_redis: redis.Redis | None = None


@app.task(name="bench.noop", ignore_result=True)
def noop(i: int) -> None:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.redis_url)
    _redis.incr(COUNTER)
