"""Job types for tests only (loaded through ``JOBLINE_PLUGINS=tests.support.jobtypes``)."""

from __future__ import annotations

import os
import signal
import time

from marshmallow import Schema, fields

from shared.engine.errors import JobError, TransientError
from shared.engine.registry import JobType


class SleepParams(Schema):
    seconds = fields.Float(load_default=1.0)
    steps = fields.Integer(load_default=10)
    ledger = fields.String(load_default=None)
    transient_failures = fields.Integer(load_default=0)
    fail = fields.String(load_default=None)
    crash = fields.Boolean(load_default=False)
    ignore_cancel = fields.Boolean(load_default=False)


def _ledger(ctx, path: str | None, what: str) -> None:
    if path:
        with open(path, "a") as f:
            f.write(f"{ctx.job_id} {ctx.attempt} {os.getpid()} {what}\n")


def sleep(ctx):
    p = ctx.params
    _ledger(ctx, p["ledger"], "start")
    if p["crash"]:
        os.kill(os.getpid(), signal.SIGKILL)
    if ctx.attempt <= p["transient_failures"]:
        raise TransientError(f"flaky on attempt {ctx.attempt}")
    if p["fail"]:
        raise JobError(p["fail"])
    for i in range(p["steps"]):
        time.sleep(p["seconds"] / p["steps"])
        if p["ignore_cancel"]:
            continue
        ctx.progress((i + 1) / p["steps"], f"step {i + 1}")
    _ledger(ctx, p["ledger"], "done")
    return {"slept": p["seconds"], "pid": os.getpid()}


def stubborn(ctx):
    """Swallows its soft time limit and sleeps on: only the hard limit stops it."""
    from celery.exceptions import SoftTimeLimitExceeded

    _ledger(ctx, ctx.params["ledger"], "start")
    try:
        time.sleep(ctx.params["seconds"])
    except SoftTimeLimitExceeded:
        time.sleep(ctx.params["seconds"])
    _ledger(ctx, ctx.params["ledger"], "done")
    return "outlived its limits"


class FilesParams(Schema):
    names = fields.List(fields.String(), load_default=["a.txt", "b.json"])
    url = fields.String(load_default=None)


def files(ctx):
    for name in ctx.params["names"]:
        ctx.save_file(name, f"content of {name}".encode())
    if ctx.params["url"]:
        got = ctx.fetch(ctx.params["url"])
        ctx.save_file("fetched.bin", got.body, got.content_type or None)
    return {"files": ctx.params["names"]}


JOB_TYPES = [
    JobType("test.files", "default", FilesParams, "tests.support.jobtypes:files",
            "Writes small output files, and optionally one fetched from a URL."),
    JobType("test.sleep", "default", SleepParams, "tests.support.jobtypes:sleep",
            "Sleeps in steps, reporting progress; can fail, crash or be flaky on demand.",
            soft_time_limit=20, time_limit=25, max_attempts=3),
    JobType("test.long", "default", SleepParams, "tests.support.jobtypes:sleep",
            "test.sleep with limits long enough to outlive a two-minute database outage.",
            soft_time_limit=400, time_limit=420, max_attempts=3),
    JobType("test.brief", "default", SleepParams, "tests.support.jobtypes:sleep",
            "test.sleep with a 1 s soft limit.", soft_time_limit=1, time_limit=30, max_attempts=1),
    JobType("test.stubborn", "default", SleepParams, "tests.support.jobtypes:stubborn",
            "Ignores its 0.5 s soft limit; its 1.5 s hard limit kills its process.",
            soft_time_limit=0.5, time_limit=1.5, max_attempts=1),
]
