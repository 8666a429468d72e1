"""Running one job: claim it, run its handler with a heartbeat, record the outcome.

Only the worker that wins the claim (queued → running, compare-and-set in PostgreSQL) runs
the handler; every later transition is guarded by the claim's worker id, so a late or
duplicate message, or a worker whose job was reaped meanwhile, changes nothing.
"""

from __future__ import annotations

import importlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from shared.dispatch import Message
from shared.errors import DatabaseUnavailable, JobCanceled, JobError, TransientError
from shared.fetch import fetch
from shared.jobstore import Row
from shared.logs import current_job
from shared.metrics import JOB_RUN_SECONDS, JOBS_FINISHED
from shared.runtime import Runtime
from workers import limits, services
from workers.context import JobContext

log = logging.getLogger("jobline.worker")

#: Exceptions retried with backoff while attempts remain (besides ``TransientError``).
TRANSIENT = (TransientError, ConnectionError, TimeoutError)
#: How long to keep trying to record an outcome while PostgreSQL is away.
RECORD_PATIENCE_S = 60.0


class Heartbeat:
    """One thread per worker process writes the heartbeat of every job the process runs.

    It also watches for a cancel (or the job vanishing) and sets that job's cancel flag.
    One long-lived thread, not one per job: starting a thread costs more than a hello job.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._jobs: dict[int, tuple[str, threading.Event]] = {}
        self._lock = threading.Lock()
        self._pid = 0

    def track(self, job_id: int, worker: str, cancel: threading.Event) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first job in this (forked) process
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="jobline-heartbeat", daemon=True).start()
            self._jobs[job_id] = (worker, cancel)

    def untrack(self, job_id: int) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def _loop(self) -> None:
        while True:
            time.sleep(self.runtime.settings.heartbeat_s)
            with self._lock:
                jobs = list(self._jobs.items())
            for job_id, (worker, cancel) in jobs:
                try:
                    row = self.runtime.store.heartbeat(job_id, worker)
                except DatabaseUnavailable:
                    continue
                if row is None or row["cancel_requested_at"] is not None:
                    cancel.set()


class Runner:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        services.install(runtime)
        self.store = runtime.store
        self._handlers: dict[str, Callable[[JobContext], Any]] = {}
        self.heartbeat = Heartbeat(runtime)
        #: Called with a job's id and row once this worker recorded its terminal state.
        self.on_finished: list[Callable[[int, Row], None]] = []

    def handler(self, type_name: str) -> Callable[[JobContext], Any]:
        if type_name not in self._handlers:
            module, _, attr = self.runtime.registry[type_name].handler.partition(":")
            self._handlers[type_name] = getattr(importlib.import_module(module), attr)
        return self._handlers[type_name]

    def run_pack(self, job_ids: list[int], worker: str) -> list[str]:
        """Run the jobs of one message in order; a shared message arms each job's soft limit."""
        return [self.run(job_id, worker, own_limit=len(job_ids) > 1) for job_id in job_ids]

    def run(self, job_id: int, worker: str, own_limit: bool = False) -> str:
        """Run job ``job_id`` if this message wins the claim; return what happened."""
        job = self.store.claim(job_id, worker)
        if job is None:
            return self._lost_claim(job_id)
        token = current_job.set(str(job["public_id"]))
        try:
            return self._run_claimed(job, worker, own_limit)
        finally:
            current_job.reset(token)

    def _run_claimed(self, job: dict, worker: str, own_limit: bool) -> str:
        job_id = job["id"]
        jlog = logging.LoggerAdapter(log, {"attempt": job["attempt"]})
        cancel = threading.Event()
        if job["cancel_requested_at"] is not None:
            cancel.set()

        def report(fraction: float, message: str | None) -> bool:
            try:
                row = self.store.progress(job_id, worker, fraction, message)
            except DatabaseUnavailable:
                return False
            return row is None or row["cancel_requested_at"] is not None

        public_id = str(job["public_id"])
        ctx = JobContext(public_id, job["type"], job["params"], job["attempt"], jlog, report, cancel,
                         lambda name, data, ctype: self.runtime.files.save(job_id, public_id, name, data, ctype),
                         lambda url: fetch(url, self.runtime.fetch_policy))
        self.heartbeat.track(job_id, worker, cancel)
        started = time.monotonic()
        guard = limits.soft_limit(self.runtime.registry[job["type"]].soft_time_limit) if own_limit else nullcontext()
        try:
            with JOB_RUN_SECONDS.labels(job["type"]).time(), guard:
                result = self.handler(job["type"])(ctx)
        except JobCanceled:
            if self._finish(self.store.cancel_running, job_id, worker, "cooperative"):
                JOBS_FINISHED.labels(job["type"], "canceled").inc()
            return "canceled"
        except SoftTimeLimitExceeded:
            limit = self.runtime.registry[job["type"]].soft_time_limit
            return self._failed(job, worker, f"timed out after {limit:g} s", jlog)
        except TRANSIENT as exc:
            return self._transient(job, worker, exc, jlog)
        except JobError as exc:
            return self._failed(job, worker, str(exc) or type(exc).__name__, jlog)
        except Exception as exc:  # noqa: BLE001 - a handler bug fails its job, not the worker
            jlog.exception("handler raised")
            return self._failed(job, worker, f"{type(exc).__name__}: {exc}", jlog)
        finally:
            self.heartbeat.untrack(job_id)
        if self._finish(self.store.succeed, job_id, worker, result) is None:
            return "gone"  # deleted, or reaped and handed to another worker meanwhile
        JOBS_FINISHED.labels(job["type"], "succeeded").inc()
        jlog.debug("succeeded in %.3f s", time.monotonic() - started)
        return "succeeded"

    def _lost_claim(self, job_id: int) -> str:
        """A duplicate or early message. If the job waits for its time, come back then."""
        row = self.store.claimability(job_id)
        if row and row["status"] == "queued" and row["wait_s"] and row["wait_s"] > 0:
            job = self.store.get_by_id(job_id)
            if job:
                self.runtime.dispatcher.publish([Message(job_id, job["queue"], job["priority"], float(row["wait_s"]), job["type"])])
            return "early"
        return "skipped"

    def _failed(self, job: dict, worker: str, error: str, jlog: logging.LoggerAdapter) -> str:
        jlog.warning("failed: %s", error)
        if self._finish(self.store.fail, job["id"], worker, error):
            JOBS_FINISHED.labels(job["type"], "failed").inc()
        return "failed"

    def _transient(self, job: dict, worker: str, exc: BaseException, jlog: logging.LoggerAdapter) -> str:
        error = f"{type(exc).__name__}: {exc}"
        if job["attempt"] >= job["max_attempts"]:
            return self._failed(job, worker, f"{error} (after {job['attempt']} attempts)", jlog)
        s = self.runtime.settings
        delay = min(s.retry_max_s, s.retry_base_s * 2 ** (job["attempt"] - 1)) * random.uniform(0.8, 1.2)
        row = self._record(self.store.retry, job["id"], worker, error, delay)
        if row is not None:
            jlog.info("transient error, retry in %.1f s: %s", delay, error)
            self.runtime.dispatcher.publish([Message(job["id"], job["queue"], job["priority"], delay, job["type"])])
        return "retry"

    def _finish(self, verb: Callable[..., Any], job_id: int, *args: Any) -> Any:
        """Record a terminal outcome; once recorded, tell the ``on_finished`` hooks."""
        row = self._record(verb, job_id, *args)
        if row is not None:
            for hook in self.on_finished:
                try:
                    hook(job_id, row)
                except Exception:  # noqa: BLE001 - beat catches up on whatever a hook missed
                    log.warning("on_finished hook failed for job %s", job_id, exc_info=True)
        return row

    def _record(self, verb: Callable[..., Any], *args: Any) -> Any:
        """Record an outcome, waiting out a short PostgreSQL outage instead of losing it."""
        deadline = time.monotonic() + RECORD_PATIENCE_S
        pause = 0.5
        while True:
            try:
                return verb(*args)
            except DatabaseUnavailable:
                if time.monotonic() > deadline:
                    raise  # the reaper will requeue the job once its heartbeat is stale
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
