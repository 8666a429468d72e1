"""The edge every route inherits: hostile input becomes a 4xx in the surface's own format.

- Every JSON body is parsed by ``shared.engine.validation.loads`` (``request.get_json`` through the
  app's JSON provider, webargs through ``api.blueprint.Parser``): depth cap, no NaN /
  Infinity / 1e400 / integers beyond 64 bits / NUL / lone surrogates.
- Form fields and uploaded file names are checked when the form is parsed.
- The path, the query string and header values are screened before any view (and before
  authentication): no NUL, and a request line within ``MAX_REQUEST_LINE``.
- Whatever still escapes a view is rendered by the surface's renderer (``api.errors.render``):
  a ``DataError`` from PostgreSQL (a value it cannot store) is a 400, anything else a 500
  whose body carries the request id that the log line carries too.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import psycopg2
from flask import Flask, Request, Response, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

from api.errors import render
from shared.engine.validation import Invalid, loads, text_problem

log = logging.getLogger(__name__)

#: Longest request line (method, path and query) served. Beyond gunicorn's own limit
#: (api/gunicorn_conf.py) gunicorn answers; below it, each surface in its own format.
#: Dragon's ``GET /v1/status?tasks=K&tasks=K2...`` fits ``MAX_GET_TASK_KEYS`` keys.
MAX_REQUEST_LINE = 8000
MAX_GET_TASK_KEYS = 200
#: gunicorn's header limits (api/gunicorn_conf.py); beyond them the worker marks the request.
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_BYTES = 8190
#: Set in the environ by api/gunicorn_worker.py for a line gunicorn itself refused as too long.
TOO_LONG = "jobline.request_line_too_long"
#: Set by api/gunicorn_worker.py for headers gunicorn refused (too many, or one too large).
HEADERS_TOO_LARGE = "jobline.headers_too_large"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with bodies parsed by ``shared.engine.validation.loads``."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


class StrictRequest(Request):
    """Form fields, their names and uploaded file names may not carry NUL."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        for name, value in [*self.form.items(multi=True)]:
            _screen(name, "form field name")
            _screen(value, f"form field {name!r}")
        for name, part in self.files.items(multi=True):
            _screen(name, "file field name")
            _screen(part.filename or "", f"the file name of field {name!r}")


def _screen(value: str | None, where: str) -> None:
    problem = text_problem(value) if isinstance(value, str) else None  # a part may have no name
    if problem:
        raise BadRequest(f"{where[:100]} {problem}")


def request_id() -> str:
    """This request's id: a well-formed ``X-Request-Id`` it came with, else a new one."""
    if "request_id" not in g:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    return g.request_id


def _check_request() -> None:
    """Runs before every view (app-level, so before each blueprint's authentication)."""
    line = len(request.method) + 1 + len(request.environ.get("RAW_URI") or request.full_path)
    if line > MAX_REQUEST_LINE or request.environ.get(TOO_LONG):
        hint = ""
        if request.path.startswith("/dragon/"):
            hint = (f"; status by GET takes up to {MAX_GET_TASK_KEYS} task keys, "
                    'POST {"tasks": [...]} to the same URL takes more')
        raise _TooLong(f"the request line is longer than {MAX_REQUEST_LINE} bytes{hint}")
    if request.environ.get(HEADERS_TOO_LARGE):
        raise _HeadersTooLarge("the request's header fields are too many or too large "
                               f"(at most {MAX_HEADER_FIELDS} fields of {MAX_HEADER_FIELD_BYTES} bytes each)")
    _screen(request.path, "the path")
    for name, value in request.args.items(multi=True):
        _screen(name, "a query parameter name")
        _screen(value, f"query parameter {name!r}")
    for name, value in request.headers.items():
        _screen(value, f"header {name!r}")


class _TooLong(Exception):
    pass


class _HeadersTooLarge(Exception):
    pass


def _too_long(error: _TooLong) -> Response:
    return render(414, str(error))


def _headers_too_large(error: _HeadersTooLarge) -> Response:
    return render(431, str(error))


def _invalid(error: Invalid) -> Response:
    location = "json" if request.path.startswith("/v1/") else "body"
    return render(400, f"The request is not valid: {error}",
                  [{"name": error.where or "body", "location": location, "description": error.message}])


def _data_error(error: psycopg2.DataError) -> Response:
    """PostgreSQL refused a value (the transaction rolled back: nothing changed)."""
    detail = (getattr(error, "pgerror", None) or str(error)).strip().splitlines()[0].removeprefix("ERROR:").strip()
    log.warning("a value reached PostgreSQL and was refused (request %s): %s", request_id(), detail)
    return render(400, f"A value in the request cannot be stored: {detail}")


def _internal(error: Exception) -> Response:
    rid = request_id()
    log.exception("unhandled error (request %s) on %s %s", rid, request.method, request.path)
    response = render(500, f"Internal server error; it was logged with request id {rid}.")
    response.headers["X-Request-Id"] = rid
    return response


def init_app(app: Flask) -> None:
    """Install the JSON provider, request class, screen and catch-alls (after ``errors.init_app``)."""
    app.json_provider_class = StrictJSONProvider
    app.json = StrictJSONProvider(app)
    app.json.sort_keys = False
    app.request_class = StrictRequest
    app.before_request(_check_request)  # app-level: before every blueprint's own (authentication)
    app.register_error_handler(_TooLong, _too_long)
    app.register_error_handler(_HeadersTooLarge, _headers_too_large)
    app.register_error_handler(Invalid, _invalid)
    app.register_error_handler(psycopg2.DataError, _data_error)
    app.register_error_handler(Exception, _internal)
