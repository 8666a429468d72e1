"""Draining a queue: claim due jobs from PostgreSQL, run each handler under a lease, record the outcome.

A wake-up (``shared.engine.dispatch``) names a queue; the pool process that receives it claims jobs
one at a time (a prefork process has one slot) until none is due. A claim is a lease: the heartbeat
renews it, and a job whose lease ran out is claimed again by whoever asks next. Every write
after the claim is guarded by the claim's worker token, so a worker whose job was claimed
again meanwhile, cancelled or deleted changes nothing.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from shared.engine.errors import DatabaseUnavailable, JobCanceled, JobError, TransientError
from shared.engine.fetch import fetch
from shared.engine.jobstore import Row
from shared.engine.logs import current_job
from shared.engine.metrics import JOB_QUEUE_WAIT_SECONDS, JOB_RUN_SECONDS, JOBS_FINISHED
from shared.engine.runtime import Runtime
from workers import limits, services
from workers.context import JobContext

log = logging.getLogger("jobline.worker")

#: Exceptions retried with backoff while attempts remain (besides ``TransientError``).
TRANSIENT = (TransientError, ConnectionError, TimeoutError)
#: How long to keep trying to record an outcome while PostgreSQL is away. The heartbeat
#: keeps the lease meanwhile (the reaper counts a lease only from the server's return), so
#: a handler that finished during a long outage is recorded, not run again.
RECORD_PATIENCE_S = 900.0
#: The longest pause between two attempts to record an outcome.
RECORD_PAUSE_MAX_S = 1.0
#: A wake-up drains its queue this long at most (checked between jobs), then hands on to a
#: fresh wake-up, so that a warm shutdown waits for the running job only.
DRAIN_S = 2.0


def _kill_self(why: str) -> None:
    """The backstop of a time limit or a cancel: this pool process dies, Celery starts another."""
    log.error("killing worker process %d: %s", os.getpid(), why)
    os.kill(os.getpid(), signal.SIGKILL)


def _token() -> str:
    """A claim's worker token: which process holds it, and which claim of that process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Heartbeat:
    """One thread per worker process renews the lease of the job the process runs.

    It sets the job's cancel flag when a cancel is requested or the job is no longer ours
    (deleted, cancelled, claimed again after the lease ran out); if the handler is still
    running ``cancel_grace_s`` later, or past its type's hard time limit, it kills the
    process: only this job runs in it, so only this job stops.
    One long-lived thread, not one per job: starting a thread costs more than a hello job.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._jobs: dict[int, tuple[str, threading.Event, float, float]] = {}
        self._lost: dict[int, float] = {}
        self._lock = threading.Lock()
        self._pid = 0

    def track(self, job_id: int, worker: str, cancel: threading.Event, hard_limit_s: float) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first job in this (forked) process
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="jobline-heartbeat", daemon=True).start()
            self._jobs[job_id] = (worker, cancel, time.monotonic(), hard_limit_s)

    def settle(self, job_id: int) -> None:
        """The handler returned: keep the lease while its outcome is recorded, without the
        time limit or the kill of a lost job (the guarded write then changes nothing)."""
        with self._lock:
            if job_id in self._jobs:
                worker, cancel, started, _limit = self._jobs[job_id]
                self._jobs[job_id] = (worker, cancel, started, math.inf)

    def untrack(self, job_id: int) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
            self._lost.pop(job_id, None)

    def _loop(self) -> None:
        while True:
            time.sleep(self.runtime.settings.heartbeat_s)
            with self._lock:
                jobs = list(self._jobs.items())
            for job_id, (worker, cancel, started, hard_limit_s) in jobs:
                now = time.monotonic()
                if now - started > hard_limit_s:
                    _kill_self(f"job {job_id} passed its hard time limit of {hard_limit_s:g} s")
                try:
                    row = self.runtime.store.heartbeat(job_id, worker)
                except DatabaseUnavailable:
                    continue
                if row is None and hard_limit_s == math.inf:
                    continue  # settled: its outcome's guarded write will find it gone
                if row is None:
                    cancel.set()
                    lost = self._lost.setdefault(job_id, now)
                    if now - lost > self.runtime.settings.cancel_grace_s:
                        with self._lock:
                            still = job_id in self._jobs
                        if still:
                            _kill_self(f"job {job_id} is no longer ours and its handler did not stop")
                elif row["cancel_requested_at"] is not None:
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

    def drain(self, queue: str, slot: int | None) -> int:
        """Claim and run due jobs of ``queue`` until none is left; return how many ran.

        ``slot`` is the wake-up slot this drain holds (``shared.engine.dispatch``): given back before
        the last, empty-handed claim, so no job committed meanwhile goes unseen. A job that
        succeeds is recorded in the same statement that claims the next one."""
        waker, lease_s = self.runtime.waker, self.runtime.settings.reap_after_s
        deadline, parent, ran = time.monotonic() + DRAIN_S, os.getppid(), 0
        job: Row | None = None
        worker = ""
        while True:
            if job is None:
                if time.monotonic() > deadline or os.getppid() != parent:
                    waker.hand_on(queue, slot)  # work may be left: a fresh wake-up carries on
                    return ran
                worker = _token()
                job = self.store.claim_next(queue, worker, lease_s)
                if job is None and slot is not None:
                    try:
                        waker.release(queue, slot)
                    except Exception:  # noqa: BLE001 - the slot expires on its own
                        log.warning("could not give back wake-up slot %s of %s", slot, queue, exc_info=True)
                    slot = None
                    job = self.store.claim_next(queue, worker, lease_s)
                if job is None:
                    return ran
            if ran == 0:
                waker.wake({queue: 1})  # there is work: recruit another process, if one is idle
            going_on = time.monotonic() < deadline and os.getppid() == parent
            next_worker = _token() if going_on else ""
            _outcome, job = self.run(job, worker, (queue, next_worker) if going_on else None)
            worker = next_worker
            ran += 1

    def run(self, job: Row, worker: str, then: tuple[str, str] | None = None) -> tuple[str, Row | None]:
        """Run a job this worker has claimed: what happened, and the next job if ``then``
        (queue, worker token) asked to claim one as it succeeded."""
        token = current_job.set(str(job["public_id"]))
        try:
            return self._run_claimed(job, worker, then)
        finally:
            current_job.reset(token)

    def _run_claimed(self, job: dict, worker: str, then: tuple[str, str] | None) -> tuple[str, Row | None]:
        job_id = job["id"]
        jlog = logging.LoggerAdapter(log, {"attempt": job["attempt"], "type": job["type"]})
        if job.get("waited_s") is not None:  # None: a reclaimed expired lease, not a wait
            JOB_QUEUE_WAIT_SECONDS.labels(job["type"]).observe(max(0.0, job["waited_s"]))
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
        if job["type"] not in self.runtime.registry:
            return self._failed(job, worker, f"unknown job type {job['type']!r} (missing plugin?)", jlog), None
        jt = self.runtime.registry[job["type"]]
        self.heartbeat.track(job_id, worker, cancel, jt.time_limit)
        try:
            return self._run_tracked(job, worker, then, ctx, jlog)
        finally:
            self.heartbeat.untrack(job_id)

    def _run_tracked(self, job: dict, worker: str, then: tuple[str, str] | None, ctx: JobContext,
                     jlog: logging.LoggerAdapter) -> tuple[str, Row | None]:
        """Run the handler and record its outcome, the heartbeat renewing the lease throughout."""
        job_id, jt = job["id"], self.runtime.registry[job["type"]]
        started = time.monotonic()
        try:
            try:
                with JOB_RUN_SECONDS.labels(job["type"]).time(), limits.soft_limit(jt.soft_time_limit):
                    result = self.handler(job["type"])(ctx)
            finally:
                self.heartbeat.settle(job_id)  # before any outcome is recorded
        except JobCanceled:
            if self._finish(self.store.cancel_running, job_id, worker, "cooperative"):
                JOBS_FINISHED.labels(job["type"], "canceled").inc()
            return "canceled", None
        except SoftTimeLimitExceeded:
            return self._failed(job, worker, f"timed out after {jt.soft_time_limit:g} s", jlog), None
        except TRANSIENT as exc:
            return self._transient(job, worker, exc, jlog), None
        except JobError as exc:
            return self._failed(job, worker, str(exc) or type(exc).__name__, jlog), None
        except Exception as exc:  # noqa: BLE001 - a handler bug fails its job, not the worker
            jlog.exception("handler raised")
            return self._failed(job, worker, f"{type(exc).__name__}: {exc}", jlog), None
        following = None
        if then is None:
            finished = self._finish(self.store.succeed, job_id, worker, result)
        else:
            finished, following = self._record(self.store.succeed_and_claim_next, job_id, worker, result,
                                               then[0], then[1], self.runtime.settings.reap_after_s)
            self._announce(job_id, finished)
        if finished is None:
            return "gone", following  # deleted, or claimed again by another worker meanwhile
        JOBS_FINISHED.labels(job["type"], "succeeded").inc()
        jlog.info("succeeded in %.3f s", time.monotonic() - started)
        return "succeeded", following

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
            self.runtime.waker.wake_at(job["queue"], delay)
        return "retry"

    def _finish(self, verb: Callable[..., Any], job_id: int, *args: Any) -> Any:
        """Record a terminal outcome; once recorded, tell the ``on_finished`` hooks."""
        row = self._record(verb, job_id, *args)
        self._announce(job_id, row)
        return row

    def _announce(self, job_id: int, row: Row | None) -> None:
        if row is not None:
            for hook in self.on_finished:
                try:
                    hook(job_id, row)
                except Exception:  # noqa: BLE001 - beat catches up on whatever a hook missed
                    log.warning("on_finished hook failed for job %s", job_id, exc_info=True)

    def _record(self, verb: Callable[..., Any], *args: Any) -> Any:
        """Record an outcome, waiting out a short PostgreSQL outage instead of losing it."""
        deadline = time.monotonic() + RECORD_PATIENCE_S
        pause = 0.2
        while True:
            try:
                return verb(*args)
            except DatabaseUnavailable:
                if time.monotonic() > deadline:
                    raise  # the reaper will requeue the job once its heartbeat is stale
                time.sleep(pause)
                pause = min(pause * 2, RECORD_PAUSE_MAX_S)
