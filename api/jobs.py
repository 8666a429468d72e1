"""The canonical jobs API: ``/v1/jobs`` and ``/v1/job-types``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from apispec.ext.marshmallow.openapi import OpenAPIConverter
from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView

from api import streams
from api.auth import authenticate
from api.blueprint import Blueprint
from api.common import runtime, wait_for, waiter
from api.schemas import (
    CreateArgs,
    CreateJobs,
    EventOut,
    JobList,
    JobOut,
    JobTypeOut,
    ListArgs,
    WaitArgs,
)
from shared.apps.callbacks import check_target
from shared.engine.errors import BadRequest
from shared.engine.jobs import JobSpec
from shared.engine.runtime import Runtime
from shared.engine.states import TERMINAL
from shared.engine.validation import Invalid, check_int

blp = Blueprint("jobs", __name__, url_prefix="/v1", description="Jobs: create, follow, cancel, restart, delete.")
JOB = JobOut()
SSE_KEEPALIVE_S = 15.0


def _cursor(job_id: int) -> str:
    return base64.urlsafe_b64encode(f"j{job_id}".encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("j"):
            raise ValueError
        return check_int(int(raw[1:]))
    except (ValueError, Invalid, binascii.Error, UnicodeDecodeError):
        raise BadRequest("invalid cursor", errors=[{"name": "cursor", "location": "query",
                                                    "description": "Not a cursor returned by this API."}]) from None


@blp.before_request
def _auth() -> None:
    authenticate()


@blp.route("/jobs")
class Jobs(MethodView):
    @blp.arguments(CreateJobs)
    @blp.arguments(CreateArgs, location="query")
    @blp.response(201, JobOut, description="The job (or `{\"jobs\": [...]}` for a batch).")
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 255},
                          "description": "Same key and body within 24 h: the same response, no new job."}])
    def post(self, body, args):
        """Create a job, or a batch of jobs in one transaction"""
        rt, account = runtime(), authenticate()
        batch = body.get("jobs")
        items = batch if batch is not None else [body]
        specs = [self._spec(rt, item, f"jobs.{i}." if batch is not None else "") for i, item in enumerate(items)]

        def render(rows):
            jobs = JOB.dump(rows, many=True)
            return 201, ({"jobs": jobs} if batch is not None else jobs[0])

        key = request.headers.get("Idempotency-Key")
        if key:
            if len(key) > 255:
                raise BadRequest("Idempotency-Key is longer than 255 characters")
            digest = hashlib.sha256(json.dumps(request.get_json(force=True), sort_keys=True).encode()).hexdigest()
            status, payload = rt.jobs.create_idempotent(account, specs, key, digest, render)
            if args["wait"]:
                ids = [j["id"] for j in (payload["jobs"] if batch is not None else [payload])]
                status, payload = render(wait_for([rt.jobs.get(account, i) for i in ids], args["wait"]))
        else:
            status, payload = render(wait_for(rt.jobs.create(account, specs), args["wait"]))
        return Response(json.dumps(payload), status, mimetype="application/json")

    @staticmethod
    def _spec(rt: Runtime, item: dict, prefix: str) -> JobSpec:
        return rt.jobs.spec(item["type"], item.get("params") or {}, field_prefix=prefix,
                            start_at=item.get("start_at"),
                            callback_url=check_target(item.get("callback_url"), f"{prefix}callback_url", runtime=rt),
                            metadata=item.get("metadata") or {}, priority=item.get("priority", 0),
                            max_attempts=item.get("max_attempts"))

    @blp.arguments(ListArgs, location="query")
    @blp.response(200, JobList)
    def get(self, args):
        """List jobs, newest first, with filters and cursor pagination"""
        rt, account = runtime(), authenticate()
        limit = args["limit"]
        rows = rt.store.list(account.id, statuses=args["status"], type=args["type"],
                             created_after=args["created_after"], created_before=args["created_before"],
                             before_id=_uncursor(args["cursor"]) if args["cursor"] else None, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return {"jobs": rows, "next_cursor": _cursor(rows[-1]["id"]) if more else None}


@blp.route("/jobs/<job_id>")
class Job(MethodView):
    @blp.arguments(WaitArgs, location="query")
    @blp.response(200, JobOut)
    def get(self, args, job_id):
        """Get a job (optionally waiting for it to finish)"""
        rt = runtime()
        return wait_for([rt.jobs.get(authenticate(), job_id)], args["wait"])[0]

    @blp.response(204)
    def delete(self, job_id):
        """Delete a job, its history and its files (a running job is cancelled)"""
        runtime().jobs.delete(authenticate(), job_id)


@blp.route("/jobs/<job_id>/cancel", methods=["POST"])
@blp.response(200, JobOut)
def cancel(job_id):
    """Cancel a job: at once if scheduled or queued; a running handler stops at its next check"""
    return runtime().jobs.cancel(authenticate(), job_id)


@blp.route("/jobs/<job_id>/restart", methods=["POST"])
@blp.response(200, JobOut)
def restart(job_id):
    """Queue a finished job again as a new run; earlier runs stay in its events"""
    return runtime().jobs.restart(authenticate(), job_id)


@blp.route("/jobs/<job_id>/events")
@blp.response(200, EventOut(many=True), description="JSON, or an SSE stream with `Accept: text/event-stream`.")
def events(job_id):
    """A job's events; live as Server-Sent Events, resuming from Last-Event-ID"""
    rt, account = runtime(), authenticate()
    job = rt.jobs.get(account, job_id)
    if "text/event-stream" not in request.headers.get("Accept", ""):
        return rt.store.events(job["id"])
    try:
        after = check_int(int(request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or 0))
    except (ValueError, Invalid):
        raise BadRequest("Last-Event-ID must be an event id") from None
    release = streams.limits().acquire(account.id)
    return streams.limited(release, Response(
        stream_with_context(_sse(rt, job["id"], after)), mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}))


def _sse(rt: Runtime, job_id: int, after: int):
    """Send events after ``after``; end once the job has finished and all its events are out."""
    schema = EventOut()
    terminal = {s.value for s in TERMINAL}
    with waiter().watch([job_id], live=True) as w:
        while True:
            # Status first: its terminal event commits with it, so the read below includes it.
            job = rt.store.get_by_id(job_id)
            for row in rt.store.events(job_id, after):
                after = row["id"]
                yield f"id: {row['id']}\nevent: {row['type']}\ndata: {json.dumps(schema.dump(row))}\n\n"
            if job is None or job["status"] in terminal:
                yield "event: end\ndata: {}\n\n"
                return
            if not w.wait(SSE_KEEPALIVE_S):
                yield ": keep-alive\n\n"


@blp.route("/job-types")
@blp.response(200, JobTypeOut(many=True))
def job_types():
    """Job types and each one's parameter schema (JSON Schema)"""
    api = current_app.extensions["jobline_api"]
    converter = OpenAPIConverter(openapi_version="3.0.3", schema_name_resolver=lambda s: None, spec=api.spec)
    return [{"name": t.name, "queue": t.queue, "description": t.description,
             "params_schema": converter.schema2jsonschema(t.params), "soft_time_limit": t.soft_time_limit,
             "time_limit": t.time_limit, "max_attempts": t.max_attempts} for t in runtime().registry]
