"""Prometheus metrics: what each process counts, and engine-wide gauges read at scrape time.

Under gunicorn and Celery's prefork pool many processes count; with
``PROMETHEUS_MULTIPROC_DIR`` set (the gunicorn config and the worker entry point set it)
prometheus-client aggregates their files. Queue depth and the age of the oldest queued job
are read from PostgreSQL (the queue) when scraped, so they are right whichever process serves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.engine.registry import QUEUES

JOBS_CREATED = Counter("jobline_jobs_created_total", "Jobs created.", ["type"])
JOBS_FINISHED = Counter("jobline_jobs_finished_total", "Jobs that reached a terminal state in a worker.",
                        ["type", "status"])
JOB_RUN_SECONDS = Histogram("jobline_job_run_seconds", "Handler run time.", ["type"],
                            buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800))
JOB_QUEUE_WAIT_SECONDS = Histogram("jobline_job_queue_wait_seconds",
                                   "From due (created, or its startTime / retry time) to claimed by a worker.",
                                   ["type"], buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600))
#: 1 per live worker main process, by Celery node name; in multiprocess mode one sample per
#: pid (``liveall``). Labelled, so a pool child (which never sets it) adds no sample.
WORKER_UP = Gauge("jobline_worker_up", "A worker main process is running (one sample per pid).", ["node"],
                  multiprocess_mode="liveall")
HTTP_SECONDS = Histogram("jobline_http_request_seconds", "API request latency.", ["method", "route", "status"],
                         buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60))


class QueueCollector(Collector):
    """Jobs waiting to be claimed and the age of the oldest queued job, per queue (PostgreSQL)."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("jobline_queue_depth", "Due jobs waiting to be claimed.", labels=["queue"])
        age = GaugeMetricFamily("jobline_queue_oldest_age_seconds", "Age of the oldest queued job.", labels=["queue"])
        try:
            rows = {r["queue"]: r for r in self.runtime.store.queue_depths(list(QUEUES))}
            for q in QUEUES:
                row = rows.get(q) or {}
                depth.add_metric([q], float(row.get("due") or 0))
                age.add_metric([q], float(row.get("age_s") or 0.0))
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is away
            pass
        yield depth
        yield age


def exposition(runtime) -> bytes:
    """The text served at ``/metrics``."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    body = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(QueueCollector(runtime))
    return body + generate_latest(extra)
