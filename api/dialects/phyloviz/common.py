"""Shared parts of the PHYLOViZ dialect (``api/dialects/phyloviz/routes.py``): its blueprint, error
format, request parsing and services. Route modules beside this one add phyloDB's
resources (catalogue, projects and datasets, analyses) to the same blueprint.

Errors look like phyloDB's: ``{"message": "<problem>"}`` with phyloDB's problem names
(``not-found``, ``bad-request``, ``unauthorized``, ...) and the right status, plus a
``detail`` saying what exactly was wrong (and ``errors`` / ``invalid_lines`` when known).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.auth import authenticate
from api.common import runtime
from shared.engine.accounts import Account
from shared.engine.errors import BadRequest
from shared.phylo.analyses import Analyses
from shared.phylo.catalog import Catalog
from shared.phylo.projects import Datasets, Projects

bp = Blueprint("phyloviz", __name__, url_prefix="/phyloviz")

#: HTTP status → phyloDB's problem name (its ``Problem`` enum, lower-cased, dashed).
PROBLEMS = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "not-allowed", 406: "not-acceptable", 409: "conflict", 413: "payload-too-large",
    415: "content-type", 422: "bad-request", 429: "too-many-requests", 500: "server",
    503: "unavailable",
}


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"message": PROBLEMS.get(status, HTTPStatus(status).phrase.lower().replace(" ", "-")),
                            "detail": detail, **extra}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def render_error(status: int, message: str, errors: list[dict[str, str]], headers: dict[str, str]) -> Response:
    """The renderer registered for ``/phyloviz`` (routing errors, 413 and raised errors)."""
    return problem(status, message, errors, headers)


#: Endpoints answered without a key: phyloDB's API root (example.sh checks it first).
PUBLIC_ENDPOINTS = frozenset({"phyloviz.api_root"})


@bp.before_request
def _authenticate() -> None:
    if request.endpoint not in PUBLIC_ENDPOINTS:
        authenticate()  # every phyloDB call carries "Authorization: Bearer"; ?provider= is ignored


def account() -> Account:
    return authenticate()


def body() -> dict[str, Any]:
    """The JSON object body, whatever the Content-Type says; 400 otherwise."""
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def upload() -> bytes:
    """The multipart ``file`` field (phyloDB's ``--form file=@...``)."""
    part = request.files.get("file")
    if part is None:
        raise BadRequest("a multipart/form-data body with a 'file' field is required")
    return part.read()


def page() -> int:
    raw = request.args.get("page", "0")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 7 or int(raw) > 1_000_000:
        raise BadRequest("page must be a non-negative integer")
    return int(raw)


def projects() -> Projects:
    return Projects(runtime().db)


def datasets() -> Datasets:
    return Datasets(runtime().db)


def catalog() -> Catalog:
    return Catalog(runtime().db)


def analyses() -> Analyses:
    rt = runtime()
    return Analyses(rt.db, rt.jobs)


def project(project_id: str, *, write: bool = False) -> dict[str, Any]:
    """The project if the caller may read it (or write it): else 404 (or 403 when public)."""
    return projects().get(account(), project_id, write=write)


def no_content() -> Response:
    return Response(status=204)


def created(resource_id: str) -> tuple[dict[str, str], int]:
    return {"id": resource_id}, 201
