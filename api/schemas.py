"""Marshmallow schemas of the canonical API (requests validated, responses documented)."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from shared.engine.states import Status
from shared.engine.validation import Moment, Object, Text


class JobRequest(ma.Schema):
    type = Text(required=True, metadata={"description": "A job type (see GET /v1/job-types).", "example": "hello"})
    params = Object(load_default=dict, metadata={"example": {"name": "John"}})
    start_at = Moment(load_default=None, metadata={"description": "Run no earlier than this (ISO 8601 with zone)."})
    callback_url = Text(load_default=None, validate=validate.Length(max=2048),
                                 metadata={"description": "http(s) URL (signed webhook) or an email address."})
    metadata = Object(load_default=dict)
    priority = fields.Integer(load_default=0, validate=validate.Range(0, 9), metadata={"description": "0..9, higher first."})
    max_attempts = fields.Integer(load_default=None, validate=validate.Range(1, 100))

    class Meta:
        unknown = ma.RAISE


class CreateJobs(JobRequest):
    """One job, or ``{"jobs": [...]}`` for a batch."""

    type = Text(load_default=None, metadata={"example": "hello"})
    jobs = fields.List(fields.Nested(JobRequest), load_default=None)

    @ma.validates_schema
    def one_or_batch(self, data, **_kw):
        if (data.get("type") is None) == (data.get("jobs") is None):
            raise ma.ValidationError("give either a job (type, params, ...) or a batch (jobs: [...])", "type")


def _within_max_wait(seconds: float) -> None:
    limit = current_app.extensions["jobline"].settings.max_wait_s
    if seconds > limit:
        raise ma.ValidationError(f"must be at most {limit:g} (seconds; JOBLINE_MAX_WAIT_S)")


class CreateArgs(ma.Schema):
    wait = fields.Float(load_default=0, validate=[validate.Range(0), _within_max_wait],
                        metadata={"description": "Seconds to wait for completion before answering, "
                                                 "at most JOBLINE_MAX_WAIT_S (60 by default)."})


class WaitArgs(CreateArgs):
    pass


class ListArgs(ma.Schema):
    status = fields.List(Text(validate=validate.OneOf([s.value for s in Status])), load_default=None)
    type = Text(load_default=None)
    created_after = Moment(load_default=None)
    created_before = Moment(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = Text(load_default=None)


class JobOut(ma.Schema):
    id = fields.UUID(attribute="public_id")
    type = fields.String()
    status = fields.String()
    params = fields.Dict()
    progress = fields.Float()
    result = fields.Raw(allow_none=True)
    error = fields.String(allow_none=True)
    run = fields.Integer(metadata={"description": "1, plus one per restart."})
    attempt = fields.Integer()
    max_attempts = fields.Integer()
    priority = fields.Integer()
    queue = fields.String()
    start_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    queued_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    cancel_requested_at = fields.DateTime(allow_none=True)
    callback_url = fields.String(allow_none=True)
    metadata = fields.Dict()


class JobList(ma.Schema):
    jobs = fields.List(fields.Nested(JobOut))
    next_cursor = fields.String(allow_none=True)


class EventOut(ma.Schema):
    id = fields.Integer()
    at = fields.DateTime()
    type = fields.String()
    status = fields.String()
    run = fields.Integer()
    data = fields.Dict()


class JobTypeOut(ma.Schema):
    name = fields.String()
    queue = fields.String()
    description = fields.String()
    params_schema = fields.Dict()
    soft_time_limit = fields.Float()
    time_limit = fields.Float()
    max_attempts = fields.Integer()


class FileOut(ma.Schema):
    name = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    created_at = fields.DateTime()
    url = fields.String(metadata={"description": "Signed; expires (JOBLINE_URL_TTL_S)."})
