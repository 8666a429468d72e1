"""The Canotic Job API (seed 000) at ``/canotic``, plus what its published client sends.

Every route is served at ``/canotic/...`` (the document's curl examples), again at
``/canotic/api/...`` (its "HTTP Request" lines) and at ``/canotic/v1/...`` (the published
client's base URL ends in ``/v1``):

- create: ``POST /apps/{app_id}/jobs`` and ``POST /apps/{app_id}`` (the curl line), and
  ``POST /api/jobs/`` with ``app_id`` in the body or query. The document writes this one as a
  GET; a GET never creates anything here (crawlers, retries): ``GET /jobs`` lists, and a GET
  carrying creation's parameters (``callback_url``, ``inputs``...) is refused with 400.
  ``inputs_file`` is the URL of a JSON list, or a multipart file part holding one.
- get ``GET /jobs/{id}``; cancel ``POST|GET /jobs/{id}/cancel`` and ``DELETE /jobs/{id}``;
  restart ``POST /jobs/{id}/restart``; ``GET /jobs/{id}/response`` (the client's).
- list ``GET /jobs?app_id=&limit=&offset=`` → ``{jobs, total, limit, offset, has_more}``, and
  ``GET /apps/{app_id}/jobs``; with the client's parameters (``page``, ``size``, ``sortBy``,
  ``orderBy``, created/completed date ranges, repeated ``statusIn``) → ``{jobs, pages}``.
- the client's ``download_jobs``: ``POST /apps/{app_id}/job_responses`` with the same filters
  answers the matching jobs' responses at once (``{jobs, total, truncated}``) instead of
  emailing them later: accounts here have no address to mail them to.

Statuses: ``shared.apps.service.STATUS`` is the one mapping (also the vocabulary of callbacks about jobs of an app):
scheduled, queued and running jobs all read ``pending`` (the document has no running state);
succeeded → ``completed``, failed → ``error``, canceled → ``canceled``.
Bodies: JSON or form fields, snake_case or camelCase keys. Errors: ``{"message": ...}``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from flask_smorest import Api

from api.auth import authenticate
from api.common import runtime, wait_for
from api.errors import register_renderer
from shared.apps.callbacks import check_target
from shared.apps.service import STATUS, AppService, inputs_policy, load_inputs, render_job
from shared.engine.errors import BadRequest, Conflict
from shared.engine.states import Status
from shared.engine.validation import MAX_INT, Invalid, loads, parse_datetime

MOUNT = "/canotic"
bp = Blueprint("canotic", __name__, url_prefix=MOUNT)
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_RESPONSES = 10000  # jobs in one download_jobs answer
#: Parameters only job creation takes: on a GET they mean the document's GET-to-create form.
CREATE_ONLY = ("callback_url", "callbackUrl", "inputs", "inputs_file", "inputsFile", "inputsFileUrl",
               "inputs_file_url", "metadata")
CANCEL_WAIT_S = 2.0  # a running job stops at its handler's next check: usually answer "canceled"
#: Body keys in both spellings → ours. ``api_key``/``secret`` are read by authentication.
FIELDS = {"callback_url": "callback_url", "callbackUrl": "callback_url", "inputs": "inputs",
          "inputs_file": "inputs_file", "inputsFile": "inputs_file", "inputsFileUrl": "inputs_file",
          "inputs_file_url": "inputs_file", "metadata": "metadata", "app_id": "app_id", "appId": "app_id",
          "api_id": "app_id", "api_key": None, "secret": None, "apikey": None}
#: The client's ``statusIn`` words (and the document's) → our states.
STATUS_IN = {"SCHEDULED": ["scheduled", "queued"], "IN_PROGRESS": ["running"], "COMPLETED": ["succeeded"],
             "FAILED": ["failed"], "CANCELED": ["canceled"], "CANCELLED": ["canceled"], "SUSPENDED": [],
             "EXPIRED": [], "PENDING": ["scheduled", "queued", "running"], "ERROR": ["failed"]}
CLIENT_PARAMS = ("page", "size", "sortBy", "orderBy", "statusIn", "createdStartDate", "createdEndDate",
                 "completedStartDate", "completedEndDate")
SORT = {"id": False, "created": False, "createdat": False, "created_at": False,
        "completed": True, "completedat": True, "completed_at": True}


def _bad(name: str, description: str, location: str = "json") -> BadRequest:
    return BadRequest(f"{name}: {description}", errors=[{"name": name, "location": location, "description": description}])


def route(rule: str, methods: list[str]):
    """Register the view at ``rule`` and at ``/api`` + ``rule``."""
    def wrap(view):
        for prefix in ("", "/api", "/v1"):
            bp.add_url_rule(prefix + rule, f"{view.__name__}{prefix.replace('/', '_')}", view,
                            methods=methods, strict_slashes=False)
        return view
    return wrap


@bp.before_request
def _auth() -> None:
    authenticate()


# -- creating ------------------------------------------------------------------------------


def _create_body() -> dict[str, Any]:
    """Query parameters (the document's table), overridden by the JSON or form body."""
    raw: dict[str, Any] = {k: v for k, v in request.args.items()}
    uploaded: list[Any] = []  # inputs from uploaded inputs_file parts
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raw.update(request.form.items())
        for key, part in request.files.items(multi=True):
            if FIELDS.get(key) != "inputs_file":
                raise _bad(key, "unknown file part (send the JSON list of inputs as inputs_file)", "files")
            uploaded += _inputs_part(key, part.read())
    elif request.get_data(cache=True).strip():
        try:
            body = loads(request.get_data(cache=True))
        except ValueError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        raw.update(body)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in FIELDS:
            raise _bad(key, "unknown field (known: callback_url, inputs, inputs_file, metadata, app_id)")
        name = FIELDS[key]
        if name is None:
            continue
        if name in ("inputs", "metadata") and isinstance(value, str):  # form fields carry JSON text
            try:
                value = loads(value)
            except ValueError as exc:
                raise _bad(key, f"is not valid JSON: {exc}") from None
            except Invalid as exc:
                raise _bad(f"{key}.{exc.where}" if exc.where else key, exc.message) from None
        if name in out and out[name] != value:
            raise _bad(key, f"given twice with different values ({name})")
        out[name] = value
    out["uploaded"] = uploaded  # after the loop: no client field can set it
    checks = {"inputs": list, "metadata": dict, "callback_url": str, "inputs_file": str, "app_id": str}
    for name, kind in checks.items():
        if out.get(name) is not None and not isinstance(out[name], kind):
            raise _bad(name, f"must be {'a list' if kind is list else 'an object' if kind is dict else 'a string'}")
    return out


def _inputs_part(key: str, data: bytes) -> list[Any]:
    """An uploaded ``inputs_file``: "a JSON file" holding the list of inputs."""
    try:
        inputs = loads(data)
    except ValueError:
        raise _bad(key, "the uploaded file is not JSON", "files") from None
    except Invalid as exc:
        raise _bad(f"{key}.{exc.where}" if exc.where else key, exc.message, "files") from None
    if not isinstance(inputs, list):
        raise _bad(key, "the uploaded file must hold a JSON list of inputs", "files")
    return inputs


def _create(app_id: str | None) -> Response:
    rt, account = runtime(), authenticate()
    body = _create_body()
    app_id = app_id or body.get("app_id")
    if not app_id:
        raise _bad("app_id", "is required")
    apps = AppService(rt)
    app = apps.get(account, app_id)
    check_target(body.get("callback_url"), runtime=rt)  # before fetching anything
    inputs = list(body.get("inputs") or []) + body["uploaded"]
    if body.get("inputs_file"):
        inputs += load_inputs(body["inputs_file"], inputs_policy(rt))
    rows = apps.submit(account, app, inputs, body.get("callback_url"), body.get("metadata"))
    jobs = [render_job(r) for r in rows]
    # Every created job is in the answer (no id is lost); "limit" grows to hold them.
    return jsonify({"jobs": jobs, "total": len(jobs), "limit": max(DEFAULT_LIMIT, len(jobs)), "offset": 0,
                    "has_more": False})


@route("/apps/<app_id>/jobs", ["POST"])
def create_for_app(app_id: str) -> Response:
    return _create(app_id)


@route("/apps/<app_id>", ["POST"])
def create_at_app(app_id: str) -> Response:
    return _create(app_id)


# -- one job -------------------------------------------------------------------------------


def _job(row: dict) -> Response:
    return jsonify(render_job(AppService(runtime()).decorate([row])[0]))


@route("/jobs/<job_id>", ["GET"])
def get_job(job_id: str) -> Response:
    return _job(runtime().jobs.get(authenticate(), job_id))


@route("/jobs/<job_id>/cancel", ["POST", "GET"])
def cancel_job(job_id: str) -> Response:
    rt, account = runtime(), authenticate()
    try:
        row = rt.jobs.cancel(account, job_id)
    except Conflict:
        status = STATUS[rt.jobs.get(account, job_id)["status"]]
        raise Conflict(f"job {job_id} is {status}; only pending jobs can be canceled") from None
    if row["status"] == Status.RUNNING.value:
        row = (wait_for([row], CANCEL_WAIT_S) or [row])[0]
    return _job(row)


@route("/jobs/<job_id>", ["DELETE"])
def delete_job(job_id: str) -> Response:
    return cancel_job(job_id)  # the document: "This endpoint cancels a specific job"


@route("/jobs/<job_id>/restart", ["POST"])
def restart_job(job_id: str) -> Response:
    rt, account = runtime(), authenticate()
    try:
        return _job(rt.jobs.restart(account, job_id))
    except Conflict:
        status = STATUS[rt.jobs.get(account, job_id)["status"]]
        raise Conflict(f"job {job_id} is {status}; only completed, error or canceled jobs can be restarted") from None


@route("/jobs/<job_id>/response", ["GET"])
def job_response(job_id: str) -> Response:
    job = render_job(AppService(runtime()).decorate([runtime().jobs.get(authenticate(), job_id)])[0])
    return jsonify({"job_id": job["job_id"], "status": job["status"], "output": job.get("output"),
                    "completed_at": job.get("completed_at")})


# -- lists ---------------------------------------------------------------------------------


def _int(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise _bad(name, "must be a non-negative integer of at most 18 digits", "query")
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise _bad(name, f"must be between {low} and {high}" if high else f"must be at least {low}", "query")
    return value


def _date(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_datetime(raw.strip().replace(" ", "+"))
    except Invalid as exc:
        raise _bad(name, f"{exc.message}; a date and time such as 2020-03-01T00:00:00Z", "query") from None


def _statuses() -> list[str] | None:
    words = [w.strip() for v in request.args.getlist("statusIn") for w in v.split(",") if w.strip()]
    if not words:
        return None
    unknown = [w for w in words if w.upper() not in STATUS_IN]
    if unknown:
        raise _bad("statusIn", f"unknown status {unknown[0]!r} (one of: {', '.join(list(STATUS_IN)[:7])})", "query")
    return sorted({s for w in words for s in STATUS_IN[w.upper()]})


def _filters() -> dict[str, Any]:
    """The client's list filters: statuses and created / completed date ranges."""
    return {"statuses": _statuses(), "created": (_date("createdStartDate"), _date("createdEndDate")),
            "completed": (_date("completedStartDate"), _date("completedEndDate"))}


def _list(app_id: str | None) -> Response:
    rt, account = runtime(), authenticate()
    apps = AppService(rt)
    given = [k for k in CREATE_ONLY if k in request.args]
    if given:
        raise _bad(given[0], "creates jobs, which takes a POST (a GET only lists): "
                   "POST the same parameters to /canotic/api/jobs", "query")
    app_id = app_id or request.args.get("app_id") or request.args.get("appId")
    app = apps.get(account, app_id) if app_id else None
    if not any(k in request.args for k in CLIENT_PARAMS):
        limit, offset = _int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT), _int("offset", 0, 0)
        total, rows = apps.page(account, app=app, limit=limit, offset=offset)
        return jsonify({"jobs": [render_job(r) for r in rows], "total": total, "limit": limit,
                        "offset": offset, "has_more": offset + len(rows) < total})
    page, size = _int("page", 0, 0), _int("size", DEFAULT_LIMIT, 1, MAX_LIMIT)
    sort, order = request.args.get("sortBy", "id"), request.args.get("orderBy", "asc").lower()
    if sort.lower() not in SORT:
        raise _bad("sortBy", "must be id, createdAt or completedAt", "query")
    if order not in ("asc", "desc"):
        raise _bad("orderBy", "must be asc or desc", "query")
    total, rows = apps.page(account, app=app, **_filters(), descending=order == "desc",
                            by_completion=SORT[sort.lower()], limit=size, offset=min(page * size, MAX_INT))
    return jsonify({"jobs": [render_job(r) for r in rows], "pages": math.ceil(total / size)})


@route("/jobs", ["GET"])
def list_jobs() -> Response:
    return _list(None)


@route("/apps/<app_id>/jobs", ["GET"])
def list_app_jobs(app_id: str) -> Response:
    return _list(app_id)


@route("/apps/<app_id>/job_responses", ["POST"])
def download_responses(app_id: str) -> Response:
    """The client's ``download_jobs``: the matching jobs' responses, oldest first."""
    rt, account = runtime(), authenticate()
    apps = AppService(rt)
    total, rows = apps.page(account, app=apps.get(account, app_id), **_filters(), descending=False,
                            limit=MAX_RESPONSES, offset=0)
    jobs = [render_job(r) for r in rows]
    return jsonify({"jobs": [{k: j.get(k) for k in ("job_id", "status", "output", "completed_at")} for j in jobs],
                    "total": total, "truncated": total > len(jobs)})


@bp.route("/api/jobs", methods=["POST"], strict_slashes=False)
def create_api_form() -> Response:
    return _create(None)


# -- errors --------------------------------------------------------------------------------


def render_error(status: int, message: str, errors: list[dict[str, str]], headers: dict[str, str]) -> Response:
    if errors and not message.startswith("The request is not valid") and not any(e["name"] in message for e in errors):
        message += ": " + "; ".join(f"{e['name']}: {e['description']}" for e in errors[:5])
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Canotic"'
    return response


def init_app(app: Flask, api: Api) -> None:
    app.register_blueprint(bp)
    register_renderer(app, MOUNT, render_error)

