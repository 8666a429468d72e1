"""The canonical apps API (``/v1/apps``), a job's callback deliveries, the account's webhook settings."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import authenticate
from api.blueprint import Blueprint
from api.common import runtime
from shared.apps.callbacks import Deliveries
from shared.apps.service import AppService

blp = Blueprint("apps", __name__, url_prefix="/v1",
                description="Apps (a job type with defaults), callbacks and their deliveries.")


class AppIn(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200), metadata={"example": "dog v cat"})
    type = fields.String(required=True, metadata={"description": "A job type (see GET /v1/job-types).",
                                                  "example": "hello"})
    params = fields.Dict(load_default=dict, metadata={"description": "Default parameters; each input's keys override them."})
    input_map = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Length(1, 200)),
                            load_default=dict,
                            metadata={"description": "Input key → parameter name.", "example": {"data_url": "url"}})
    callback_url = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2048),
                                 metadata={"description": "Default callback: an http(s) URL or an email address."})

    class Meta:
        unknown = ma.RAISE


class AppOut(ma.Schema):
    app_id = fields.String(attribute="public_id", metadata={"example": "60D31EB37595DD44584BE5EF363283E3"})
    name = fields.String()
    type = fields.String()
    params = fields.Dict()
    input_map = fields.Dict()
    callback_url = fields.String(allow_none=True)
    created_at = fields.DateTime()


class AppList(ma.Schema):
    apps = fields.List(fields.Nested(AppOut))


class AttemptOut(ma.Schema):
    attempt = fields.Integer()
    at = fields.String()
    duration_ms = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "null: this attempt delivered it."})
    response = fields.String(allow_none=True, metadata={"description": "The first bytes of the receiver's answer."})


class DeliveryOut(ma.Schema):
    id = fields.UUID(metadata={"description": "Sent as the webhook-id header, the same on every attempt."})
    run = fields.Integer()
    job_status = fields.String()
    target = fields.String()
    state = fields.String(metadata={"description": "pending, delivered, or failed (given up)."})
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    attempts = fields.List(fields.Nested(AttemptOut))


class WebhookIn(ma.Schema):
    default_callback_url = fields.String(required=True, allow_none=True, validate=validate.Length(max=2048),
                                         metadata={"description": "Used by jobs without a callback URL of their own "
                                                                  "or of their app; null removes it."})

    class Meta:
        unknown = ma.RAISE


class WebhookOut(ma.Schema):
    default_callback_url = fields.String(allow_none=True)
    secret_rotated_at = fields.DateTime(allow_none=True, metadata={
        "description": "When the signing secret was last rotated (null: never; rotate to see one)."})


class SecretOut(ma.Schema):
    secret = fields.String(metadata={"description": "Verifies webhook-signature (Standard Webhooks). "
                                                    "Shown only in this response: keep it."})
    secret_rotated_at = fields.DateTime()


@blp.before_request
def _auth() -> None:
    authenticate()


@blp.route("/apps")
class Apps(MethodView):
    @blp.response(200, AppList)
    def get(self):
        """The account's apps, newest first"""
        return {"apps": AppService(runtime()).list(authenticate())}

    @blp.arguments(AppIn)
    @blp.response(201, AppOut)
    def post(self, body):
        """Create an app: a job type with default parameters and a default callback"""
        return AppService(runtime()).create(authenticate(), **body)


@blp.route("/apps/<app_id>")
class App(MethodView):
    @blp.response(200, AppOut)
    def get(self, app_id):
        """Get an app"""
        return AppService(runtime()).get(authenticate(), app_id)

    @blp.response(204)
    def delete(self, app_id):
        """Delete an app (its jobs stay)"""
        AppService(runtime()).delete(authenticate(), app_id)


@blp.route("/jobs/<job_id>/deliveries")
@blp.response(200, DeliveryOut(many=True))
def deliveries(job_id):
    """A job's callback deliveries (one per finished run), each with every attempt"""
    rt = runtime()
    job = rt.jobs.get(authenticate(), job_id)
    return Deliveries(rt).for_job(job["id"])


@blp.route("/jobs/<job_id>/deliveries/<delivery_id>:redeliver", methods=["POST"])
@blp.response(200, DeliveryOut)
def redeliver(job_id, delivery_id):
    """Send a delivered or given-up callback again now (same webhook-id and body); 409 while pending"""
    rt = runtime()
    job = rt.jobs.get(authenticate(), job_id)
    return Deliveries(rt).redeliver(job["id"], delivery_id)


@blp.route("/webhook")
class Webhook(MethodView):
    @blp.response(200, WebhookOut)
    def get(self):
        """The account's default callback URL (the signing secret is never shown again)"""
        return Deliveries(runtime()).webhook(authenticate())

    @blp.arguments(WebhookIn)
    @blp.response(200, WebhookOut)
    def put(self, body):
        """Set (or, with null, remove) the default callback URL"""
        return Deliveries(runtime()).set_default_callback(authenticate(), body["default_callback_url"])


@blp.route("/webhook/secret:rotate", methods=["POST"])
@blp.response(200, SecretOut)
def rotate_secret():
    """Replace the webhook signing secret and show the new one, this once"""
    return Deliveries(runtime()).rotate_secret(authenticate())
