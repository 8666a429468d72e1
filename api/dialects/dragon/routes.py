"""The Dragon task API (Stupeflix; seed 001) under ``/dragon``.

Every method of the document: ``POST /v1/create`` (one task or a list, ``block``),
``POST|GET /v1/create_file[/{filename}]`` (302 to the file), ``POST /v1/create_stream``,
``GET /v1/status`` (``tasks=K&tasks=K2``, ``block``), ``GET /v1/status_stream`` and its
alias ``/v1/stream``, ``GET /v1/file[/{filename}]?task=K``; plus what Stupeflix's browser
client sends: ``POST /v1/status`` with ``{"tasks": [keys]}``, JSON bodies as ``text/plain``,
and CORS (it runs on the customer's pages). Create and status answer exactly 200 with a list.

Choices the document leaves open:
- A task key is the job's public UUID in base32 (``api/dialects/dragon/keys.py``), unguessable, and
  reading by task key needs no API key (only task-creating requests do, as documented); a
  key that is sent narrows reads to its account, a public key's to the tasks it created
  (``api/access.py``). A malformed key is a 400; a well-formed key of no task the caller
  may read reads, in status lists and
  streams, as a finished task in error (``"result": "unknown task key ..."``), so a client
  polling many keys is not stuck on one deleted task; ``/v1/file`` answers it 404.
- Output files are chosen by name or by stem (``small`` and ``small.jpg`` alike); a task
  with a single output file takes any name, or none. A file name with an extension that
  names no output (the document's ``<img src=".../create_file/cat.jpg?task_name=image.thumb...">``)
  gets the task's first output, its default (``small`` for a thumbnail); a bare unknown name
  is the documented 404.
- ``create_file`` and ``file`` wait up to ``JOBLINE_MAX_WAIT_S``; a task still running then
  gets a 302 to ``/v1/file/{filename}?task=K``, which waits again (browsers and
  ``curl -L`` follow it, so an ``<img>`` tag just takes longer).
- 401 covers bad credentials, a public key from a Referer off the whitelist, and an
  account's limit of tasks in flight, as the document says.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, redirect, request, url_for
from flask_smorest import Api

from api import streams
from api.common import base_url, runtime, wait_for, waiter
from api.dialects.dragon import inputs as dr
from api.dialects.dragon import statuses
from api.dialects.dragon.keys import encode
from api.dialects.dragon.streams import follow
from api.errors import register_renderer
from shared.engine.accounts import Account
from shared.engine.errors import NotFound
from shared.engine.jobs import JobSpec
from shared.engine.jobstore import Row
from shared.engine.queries import queries

MOUNT = "/dragon"
#: Canonical error statuses Dragon folds into its own (auth and limits are all 401).
STATUS_MAP = {403: 401, 429: 401, 422: 400, 409: 400}
NDJSON = "application/x-ndjson"

bp = Blueprint("dragon", __name__, url_prefix=MOUNT)


# -- rendering -------------------------------------------------------------------------


def render_error(status: int, message: str, errors: list[dict[str, str]], headers: dict[str, str]) -> Response:
    status = STATUS_MAP.get(status, status)
    if status == 400:
        errors = errors or [{"name": "request", "location": "body", "description": message}]
        body: dict[str, Any] = {"status": "error", "errors": errors}
    else:
        body = {"status": "error", "message": message}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def _cors(response: Response) -> Response:
    """Stupeflix's client calls from customers' pages: let browsers read our answers."""
    if request.path == MOUNT or request.path.startswith(MOUNT + "/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _stream(lines) -> Response:
    return Response(lines, mimetype=NDJSON, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- looking tasks up ------------------------------------------------------------------


def _rows_for_keys(task_keys: list[str]) -> list[Row | None]:
    """The tasks for ``task_keys``, in order; ``None`` for keys of no task the caller may read.

    The task key is the credential (the document asks for one only to create tasks); a key
    that is sent narrows the read to its account, and a public key to the tasks it created.
    """
    caller = dr.reader()
    rows = runtime().db.all("dragon_jobs_by_public_ids", public_ids=[str(u) for u in dr.public_ids(task_keys)],
                            account_id=caller.id if caller else None,
                            key_id=caller.key_id if caller and caller.key_kind == "public" else None)
    by_key = {encode(r["public_id"]): r for r in rows}
    return [by_key.get(k) for k in task_keys]


def _statuses(task_keys: list[str], rows: list[Row | None]) -> list[dict[str, Any]]:
    return [statuses.of_row(r) if r else statuses.unknown(k) for k, r in zip(task_keys, rows, strict=True)]


def _wait(rows: list[Row | None]) -> list[Row | None]:
    """``rows`` again once all have finished (or the wait cap); deleted ones become ``None``."""
    known = [r for r in rows if r is not None]
    if not known:
        return rows
    fresh = {r["id"]: r for r in wait_for(known, runtime().settings.max_wait_s)}
    return [fresh.get(r["id"]) if r is not None else None for r in rows]


# -- create ----------------------------------------------------------------------------


def _create(account: Account, specs: list[JobSpec]) -> list[Row]:
    """Create the tasks; a public key's are recorded as its own, in the same transaction."""
    rt = runtime()
    if account.key_kind != "public":
        return rt.jobs.create(account, specs)
    with rt.jobs.creating(account, specs) as (cur, rows):
        cur.execute(queries["record_public_key_jobs"], {"job_ids": [r["id"] for r in rows], "key_id": account.key_id})
    return rows


@bp.route("/v1/create", methods=["POST"])
def create():
    body = dr.body()
    account = dr.account()
    block = dr.flag(body.get("block"), "block", "body")
    created = _create(account, dr.specs(body.get("tasks"), "tasks", "body"))
    task_keys = [encode(r["public_id"]) for r in created]
    return jsonify(_statuses(task_keys, _wait(list(created)) if block else list(created)))


@bp.route("/v1/create_stream", methods=["POST"])
def create_stream():
    body = dr.body()
    account = dr.account()
    specs = dr.specs(body.get("tasks"), "tasks", "body")
    release = streams.limits().acquire(account.id)  # before creating: a refused stream creates nothing
    try:
        rows = _create(account, specs)
    except BaseException:
        release()
        raise
    return streams.limited(release, _stream(
        follow(runtime(), waiter(), [r["id"] for r in rows], [statuses.of_row(r) for r in rows], rows)))


# -- status ----------------------------------------------------------------------------


@bp.route("/v1/status", methods=["GET", "POST"])
def status():
    if request.method == "POST":
        body = dr.body()
        task_keys = dr.task_keys(body.get("tasks"), "body")
        block = dr.flag(body.get("block"), "block", "body")
    else:
        task_keys = dr.task_keys(request.args.getlist("tasks"), "querystring")
        block = dr.flag(request.args.get("block"), "block", "querystring")
    rows = _rows_for_keys(task_keys)
    if block:
        rows = _wait(rows)
    return jsonify(_statuses(task_keys, rows))


@bp.route("/v1/status_stream", methods=["GET", "POST"])
@bp.route("/v1/stream", methods=["GET", "POST"])
def status_stream():
    if request.method == "POST":
        task_keys = dr.task_keys(dr.body().get("tasks"), "body")
    else:
        task_keys = dr.task_keys(request.args.getlist("tasks"), "querystring")
    rows = _rows_for_keys(task_keys)
    owners = [r["account_id"] for r in rows if r is not None]
    stream = _stream(follow(runtime(), waiter(), [r["id"] if r else None for r in rows], _statuses(task_keys, rows)))
    if not owners:  # only unknown keys: the stream ends after its first line
        return stream
    # Counted against the caller's account, or (read by task key alone) the tasks' owner.
    caller = dr.reader()
    return streams.limited(streams.limits().acquire(caller.id if caller else owners[0]), stream)


# -- files -----------------------------------------------------------------------------


@bp.route("/v1/create_file", methods=["GET", "POST"])
@bp.route("/v1/create_file/", methods=["GET", "POST"])
@bp.route("/v1/create_file/<filename>", methods=["GET", "POST"])
def create_file(filename: str | None = None):
    if request.method == "POST":
        body = dr.body()
        account = dr.account()
        task = body.get("task")
        if task is None and isinstance(body.get("tasks"), dict):
            task = body["tasks"]  # the create method's key, for a single task
        if task is None:
            raise dr.error("task", "body", "task is missing")
        spec = dr.spec(task, "task", "body")
    else:
        account = dr.account()
        args = {k: (v[0] if len(v) == 1 else v) for k, v in request.args.lists()}
        spec = dr.spec(args, "", "querystring")
    row = _create(account, [spec])[0]
    return _file_answer(row, filename)


@bp.route("/v1/file", methods=["GET"])
@bp.route("/v1/file/", methods=["GET"])
@bp.route("/v1/file/<filename>", methods=["GET"])
def file(filename: str | None = None):
    key = dr.task_keys(request.args.get("task"), "querystring", "task")[0]
    row = _rows_for_keys([key])[0]
    if row is None:
        raise NotFound(f"unknown task key {key!r}")
    return _file_answer(row, filename)


def _file_answer(row: Row, filename: str | None) -> Response:
    """Wait for the task, then 302 to the chosen file; 400 with the status if it failed."""
    row = _wait([row])[0]
    if row is None:
        raise NotFound("the task was deleted")
    status = statuses.of_row(row)
    if status["status"] == "error":
        response = jsonify(status)
        response.status_code = 400
        return response
    if status["status"] != "success":  # still running: come back through /v1/file, which waits again
        args = {k: v for k, v in request.args.items() if k in dr.CREDENTIALS}
        location = url_for("dragon.file", filename=filename, task=status["key"], **args) if filename \
            else url_for("dragon.file", task=status["key"], **args)
        return redirect(location, 302)
    chosen = _choose(row, filename)
    return redirect(runtime().files.url(chosen, base_url()), 302)


def _choose(row: Row, filename: str | None) -> Row:
    files = runtime().files.list(row["id"])
    listed = row["result"].get("files") if isinstance(row["result"], dict) else None
    order = [f.get("name") for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
    files.sort(key=lambda f: order.index(_stem(f["name"])) if _stem(f["name"]) in order else len(order))
    if not files:
        raise NotFound(f"'{filename or ''}' is not a valid filename, task '{row['type']}' has no output file")
    if filename:
        for f in files:
            if filename in (f["name"], _stem(f["name"])) or _stem(filename) == _stem(f["name"]):
                return f
    if len(files) == 1 or (filename and "." in filename):
        # A file name that names no output (the document's <img src=".../create_file/cat.jpg?
        # task_name=image.thumb..."> names the link, not an output): the first, default output.
        return files[0]
    choices = ", ".join(f"'{_stem(f['name'])}'" for f in files)
    if not filename:
        raise NotFound(f"a filename is required for this task, choose one of: {choices}")
    raise NotFound(f"'{filename}' is not a valid filename, choose one of: {choices}")


def _stem(name: str) -> str:
    return name.split(".", 1)[0]


def init_app(app: Flask, api: Api) -> None:
    app.register_blueprint(bp)
    app.after_request(_cors)
    register_renderer(app, MOUNT, render_error)
