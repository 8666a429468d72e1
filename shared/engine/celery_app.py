"""The Celery application object, built from settings (no work at import).

Redis is transport only: wake-ups naming a queue (``shared.engine.dispatch``) and callback
deliveries. Jobs, their results and their claims live in PostgreSQL, so there is no result
backend, and a message lost with a dead worker loses no job.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from shared.engine.registry import QUEUES
from shared.engine.settings import Settings


def make_celery(settings: Settings) -> Celery:
    app = Celery("jobline", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=settings.prefetch,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="default",
        task_create_missing_queues=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            "queue_order_strategy": "priority",
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
            "retry_on_timeout": True,
            "global_keyprefix": settings.redis_prefix,
        },
        broker_pool_limit=10,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        beat_max_loop_interval=settings.beat_interval_s,
        timezone="UTC",
    )
    return app
