"""The Rekosearch jobs API (seed 003) at ``/rekosearch``: file-processing jobs over uploads.

``POST /api/v1/upload/gen`` (multipart: one or more files, ``job-name``; header
``Send-Email: ?1|?0``, with an ``email`` field unless the account is named by its address)
creates a media job: one ``media.analyze`` job per object, charged 1 credit per object.
``GET /api/v1/jobs/get?job-id=N``, ``GET /api/v1/jobs/list``,
``GET /api/v1/jobs/get-object-url?job-id=N&object-uuid=U``, ``DELETE /api/v1/jobs/delete?job-id=N``
answer as the document shows. The key comes raw (``Authorization: {token}``) or in any of our
forms. Result and object links are signed and expire (``JOBLINE_URL_TTL_S``); deleting the
job makes them answer 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from flask_smorest import Api

from api.auth import authenticate
from api.common import base_url, runtime
from api.dialects.rekosearch import params
from api.errors import register_renderer
from shared.engine.errors import BadRequest, NotFound
from shared.engine.states import Status
from shared.media.service import PARTIAL, MediaService

MOUNT = "/rekosearch"
blp = Blueprint("rekosearch", __name__, url_prefix=MOUNT)

#: A media job's derived status (``shared.media.service.outcome``) → Rekosearch's short-hand status and
#: its meaning. ``success`` and its meaning are the document's.
STATUSES: dict[str, tuple[str, str]] = {
    "queued": ("queued", "Job is waiting to be processed"),
    "running": ("processing", "Job is being processed"),
    "succeeded": ("success", "Job completed successfully"),
    PARTIAL: ("partial_success", "Job completed, but some objects could not be processed (see failed_to_process)"),
    "failed": ("failed", "Job failed: no object could be processed (see failed_to_process)"),
}


def _media() -> MediaService:
    return MediaService(runtime())


def _date(value: datetime) -> str:
    """The document's ``2020-01-01 12:00:00.000000000 UTC`` (nanoseconds; we keep microseconds)."""
    value = value.astimezone(UTC)
    return f"{value.year:04d}-" + value.strftime("%m-%d %H:%M:%S.%f") + "000 UTC"  # %Y gives "1" for year 1


def _number(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value


def _job(media: MediaService, account: Any, job_id: int) -> dict[str, Any]:
    try:
        return media.get(account, job_id)
    except NotFound:
        raise params.ParamError("The job does not exist", "job-id: number", 404) from None


def _summary(job: dict[str, Any]) -> dict[str, Any]:
    status, meaning = STATUSES[job["outcome"]]
    return {"job_id": job["id"], "job_name": job["name"], "date": _date(job["created_at"]),
            "total_size": job["total_size"], "credits_spent": job["credits_spent"],
            "status": status, "status_meaning": meaning}


def _results(media: MediaService, job: dict[str, Any]) -> dict[str, dict[str, str]]:
    base = base_url()
    out = {}
    for o in job["objects"]:
        if o["status"] == Status.SUCCEEDED and o["full_key"] and o["min_key"]:
            stem = str(o["object_uuid"])
            out[o["name"]] = {"full": media.url(o["full_key"], f"{stem}.json", "application/json", base),
                              "min": media.url(o["min_key"], f"{stem}.min.json", "application/json", base)}
    return out


@blp.before_request
def _auth() -> None:
    authenticate()


@blp.route("/api/v1/upload/gen", methods=["POST"])
def upload() -> Response:
    """Create a job from uploaded files: ``{"message": "Ok", "job_id": N, ...}``."""
    account = authenticate()
    name, files, email = params.upload(account)
    job = _media().create(account, name, files, email)
    return jsonify({"message": "Ok", "job_id": job["id"], "job_name": job["name"],
                    "date": _date(job["created_at"]), "total_size": job["total_size"],
                    "credits_spent": job["credits_spent"], "email": job["email"],
                    "object_uuid_names": {o["name"]: o["original_name"] for o in job["objects"]}})


@blp.route("/api/v1/jobs/get")
def get_job() -> Response:
    account = authenticate()
    media = _media()
    job = _job(media, account, params.job_id())
    objects = job["objects"]
    info = {
        "user_id": account.name,
        "job_id": job["id"],
        "job_name": job["name"],
        "date": _date(job["created_at"]),
        "total_size": job["total_size"],
        "credits_spent": job["credits_spent"],
        "email": job["email"],
        "object_uuid_names": {o["name"]: o["original_name"] for o in objects},
        "media_length": {o["name"]: _number(o["media_length"]) for o in objects
                         if o["status"] == Status.SUCCEEDED and o["media_length"] is not None},
        "failed_to_process": {o["name"]: o["failure"] for o in objects if o["failure"]},
        "status": STATUSES[job["outcome"]][0],
    }
    return jsonify({"job_info": info, "results": _results(media, job)})


@blp.route("/api/v1/jobs/list")
def list_jobs() -> Response:
    """Every job of the account, newest first."""
    return jsonify({"jobs": [_summary(j) for j in _media().summaries(authenticate())]})


@blp.route("/api/v1/jobs/get-object-url")
def object_url() -> Response:
    """A signed link to one object (it does not check the object exists, as documented)."""
    account = authenticate()
    job_id = params.job_id()
    name = params.text_param("object-uuid")
    try:
        url = _media().object_url(account, job_id, name, base_url())
    except NotFound:
        raise params.ParamError("The job does not exist", "job-id: number", 404) from None
    except BadRequest as exc:
        raise params.ParamError(f"The object-uuid query parameter is not valid: {exc.message}",
                                  "object-uuid: string") from None
    return jsonify({"url": url})


@blp.route("/api/v1/jobs/delete", methods=["DELETE"])
def delete_job() -> Response:
    account = authenticate()
    job_id = params.job_id()
    try:
        _media().delete(account, job_id)
    except NotFound:
        raise params.ParamError("The job does not exist", "job-id: number", 404) from None
    return jsonify({"message": "Ok"})


def init_app(app: Flask, api: Api) -> None:
    app.register_blueprint(blp)
    register_renderer(app, MOUNT, params.render_error)
