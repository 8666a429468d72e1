"""``GET /v1/queues``: the account's jobs in flight per queue, and the workers running them."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from api.auth import authenticate
from api.blueprint import Blueprint
from api.common import runtime
from shared.engine import states

blp = Blueprint("queues", __name__, url_prefix="/v1", description="Queue depths and workers, for the account.")
S = states.Status


class QueueOut(ma.Schema):
    queue = fields.String(metadata={"example": "images"})
    scheduled = fields.Integer(metadata={"description": "Jobs waiting for their start time."})
    queued = fields.Integer(metadata={"description": "Jobs waiting for a worker."})
    running = fields.Integer()
    oldest_queued_at = fields.DateTime(allow_none=True, metadata={"description": "How long the queue's head has waited."})


class WorkerOut(ma.Schema):
    worker = fields.String(metadata={"description": "host:pid of the worker process.", "example": "web-1:4242"})
    queues = fields.List(fields.String())
    running = fields.Integer(metadata={"description": "The account's jobs it runs now."})
    last_heartbeat_at = fields.DateTime()


class QueuesOut(ma.Schema):
    queues = fields.List(fields.Nested(QueueOut), metadata={"description": "Every queue, busy or not."})
    workers = fields.List(fields.Nested(WorkerOut), metadata={
        "description": "Worker processes seen by the heartbeat of the account's running jobs."})


@blp.route("/queues")
@blp.response(200, QueuesOut)
def queues():
    """The account's scheduled, queued and running jobs per queue, and the workers running them"""
    rt, account = runtime(), authenticate()
    depths = {d["queue"]: d for d in rt.db.all(
        "console_queue_depths", account_id=account.id, scheduled=S.SCHEDULED.value, queued=S.QUEUED.value,
        running=S.RUNNING.value, active=sorted(s.value for s in states.ACTIVE))}
    names = sorted({t.queue for t in rt.registry} | set(depths))
    empty = {"scheduled": 0, "queued": 0, "running": 0, "oldest_queued_at": None}
    return {"queues": [depths.get(q, {"queue": q, **empty}) for q in names],
            "workers": rt.db.all("queue_workers", account_id=account.id, running=S.RUNNING.value)}
