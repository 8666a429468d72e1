"""The Kasabi Jobs API (seed 004) at ``/kasabi``: per-dataset jobs, owner only, plain text.

``POST /kasabi/dataset/{code}/jobs`` (form or JSON: ``jobType``, ``startTime``) answers 202
with the job's URL both in ``Location`` (pytassium reads it) and as the body (kasabi.rb
reads that). ``GET`` on that URL gives ``created, startTime, endTime, status``. The Status
API, ``GET /kasabi/api/{code}/status``, is JSON whatever the Accept header. The dataset's
description, ``GET /kasabi/dataset/{code}.ttl``, names its status, jobs and store endpoints
(pytassium's ``Dataset`` finds its APIs there); the store takes N-Triples or Turtle. Keys come as
``X_KASABI_APIKEY`` (underscores: gunicorn_conf.py lets the header through), ``?apikey=``,
or any of our own forms (api/auth.py). Errors are plain text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from flask_smorest import Api

from api.auth import authenticate
from api.common import base_url, runtime
from api.datasets import load_body
from api.errors import register_renderer
from shared.datasets import rdf
from shared.datasets.service import DatasetService, storage_mode
from shared.engine.errors import BadRequest, NotFound
from shared.engine.validation import Invalid, iso, loads, parse_datetime

MOUNT = "/kasabi"
blp = Blueprint("kasabi", __name__, url_prefix=MOUNT)

#: Canonical status → Kasabi's. The document's example and pytassium say ``succeeded`` (its
#: list says ``completed``); a waiting job is ``scheduled``; Kasabi had no cancel, and a
#: cancelled job did not do its work, so it reads ``failed``.
STATUSES = {"scheduled": "scheduled", "queued": "scheduled", "running": "running",
            "succeeded": "succeeded", "failed": "failed", "canceled": "failed"}
#: The dataset description's service predicates (pytassium's ``Dataset.service_types``).
KS = "http://labs.kasabi.com/ns/services#"
SERVICES = {"statusEndpoint": "/api/{code}/status", "jobsEndpoint": "/dataset/{code}/jobs",
            "storeEndpoint": "/dataset/{code}/store"}
#: ``jobType`` → job type. The document promises bulk download "later": that is ``export``.
JOB_TYPES = {"reset": "dataset.reset", "export": "dataset.export"}


def _text(body: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, mimetype="text/plain", headers=headers or {})


def _render_error(status: int, message: str, errors: list[dict[str, str]], headers: dict[str, str]) -> Response:
    return _text(message, status, headers)


def _time(value: datetime | None) -> str | None:
    return iso(value) if value else None


def _owned(code: str) -> tuple[Any, dict[str, Any]]:
    """The key's account and its dataset ``code``. Another account's dataset is 404, as an
    unknown code is (codes are per account): a 401 would tell others that the code exists."""
    account = authenticate()
    return account, DatasetService(runtime().db).find(account, code)


def _params() -> dict[str, Any]:
    """Form parameters, or a JSON object in the body (whatever its Content-Type says)."""
    if request.form:
        return request.form.to_dict()
    raw = request.get_data(cache=True)
    if not raw.strip():
        return request.args.to_dict()
    try:
        body = loads(raw)
    except ValueError:
        raise BadRequest("the body is neither form parameters nor a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the JSON body must be an object: {\"jobType\": \"reset\"}")
    return body


def _start_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest("startTime must be an ISO 8601 date-time, e.g. 2011-05-27T14:30:00Z")
    try:
        return parse_datetime(value)  # no zone: UTC, as in the document
    except Invalid as exc:
        raise BadRequest(f"startTime {value[:64]!r} {exc.message}, e.g. 2011-05-27T14:30:00Z") from None


def _job_url(code: str, job_id: object) -> str:
    return f"{base_url()}{MOUNT}/dataset/{code}/jobs/{job_id}"


@blp.route("/dataset/<code>/jobs", methods=["POST"])
def create_job(code: str) -> Response:
    account, dataset = _owned(code)
    params = _params()
    job_type = params.get("jobType")
    if not job_type:
        raise BadRequest("missing parameter jobType (e.g. reset)")
    if not isinstance(job_type, str) or job_type not in JOB_TYPES:
        raise BadRequest(f"unknown jobType {str(job_type)[:64]!r}; supported: {', '.join(JOB_TYPES)}")
    rt = runtime()
    spec = rt.jobs.spec(JOB_TYPES[job_type], {"dataset": dataset["code"]}, start_at=_start_time(params.get("startTime")))
    job = rt.jobs.create(account, [spec])[0]
    url = _job_url(dataset["code"], job["public_id"])
    return _text(url, 202, {"Location": url})


@blp.route("/dataset/<code>/jobs/<job_id>")
@blp.route("/data/<code>/jobs/<job_id>")  # the document's example URL shape
def get_job(code: str, job_id: str) -> Response:
    account, dataset = _owned(code)
    job = runtime().jobs.get(account, job_id)
    if job["type"] not in JOB_TYPES.values() or job["params"].get("dataset") != dataset["code"]:
        raise NotFound(f"no job {job_id!r} on dataset {code!r}")
    return jsonify({
        "created": _time(job["created_at"]),
        "startTime": _time(job["start_at"] or job["created_at"]),  # no startTime: as soon as possible
        "endTime": _time(job["finished_at"]),
        "status": STATUSES[job["status"]],
    })


@blp.route("/dataset/<code>.ttl")
def description(code: str) -> Response:
    """The dataset's description (Turtle): pytassium's ``fetch_meta`` finds the APIs here."""
    _account, dataset = _owned(code)
    base, ds = base_url() + MOUNT, DatasetService(runtime().db)
    me = rdf.iri(f"{base}/dataset/{dataset['code']}")
    lines = [f"{me} {rdf.iri('http://www.w3.org/1999/02/22-rdf-syntax-ns#type')} {rdf.iri('http://rdfs.org/ns/void#Dataset')} .",
             f"{me} {rdf.iri('http://purl.org/dc/terms/title')} {rdf.literal(dataset['title'])} .",
             f"{me} {rdf.iri('http://rdfs.org/ns/void#triples')} "
             f"{rdf.literal(str(ds.count(dataset['id'], dataset['generation'])), datatype='http://www.w3.org/2001/XMLSchema#integer')} ."]
    lines += [f"{me} {rdf.iri(KS + name)} {rdf.iri(base + path.format(code=dataset['code']))} ."
              for name, path in SERVICES.items()]
    return Response("\n".join(lines) + "\n", 200, mimetype="text/turtle")


@blp.route("/dataset/<code>/store", methods=["POST"])
def store(code: str) -> Response:
    """The store API: add the body's triples (N-Triples or Turtle, as pytassium's ``store_data``)."""
    account, dataset = _owned(code)
    return jsonify(load_body(account, dataset["code"]))


@blp.route("/api/<code>/status")
def status(code: str) -> Response:
    """The Status API: JSON whatever Accept says (pytassium also adds ?output=json)."""
    _account, dataset = _owned(code)
    return jsonify({"status": dataset["status"], "storageMode": storage_mode(dataset)})


def init_app(app: Flask, api: Api) -> None:
    app.register_blueprint(blp)
    register_renderer(app, MOUNT, _render_error)
