"""Canonical error shape, and the hook each dialect uses to render errors its own way.

Canonical: ``{"code": 400, "status": "Bad Request", "message": "...", "errors": [{name,
location, description}]}``. A dialect registers a renderer for its mount prefix, so that
even routing errors (404, 405) and oversized bodies (413) under ``/dragon`` look like Dragon's.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Flask, Response, current_app, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from shared.engine.errors import BadRequest, JoblineError
from shared.engine.jobs import flatten_errors


class ErrorItem(ma.Schema):
    name = ma.fields.String()
    location = ma.fields.String()
    description = ma.fields.String()


class ErrorSchema(ma.Schema):
    """The canonical error payload (documented in /openapi.json for every error response)."""

    code = ma.fields.Integer()
    status = ma.fields.String()
    message = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(ErrorItem))


class JoblineApi(Api):
    ERROR_SCHEMA = ErrorSchema


#: (status, message, errors) → response
Renderer = Callable[[int, str, list[dict[str, str]], dict[str, str]], Response]


def canonical(status: int, message: str, errors: list[dict[str, str]], headers: dict[str, str]) -> Response:
    body: dict[str, Any] = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def register_renderer(app: Flask, prefix: str, renderer: Renderer) -> None:
    app.extensions.setdefault("jobline_error_renderers", {})[prefix] = renderer


def render(status: int, message: str, errors: list[dict[str, str]] | None = None,
           headers: dict[str, str] | None = None) -> Response:
    renderers: dict[str, Renderer] = current_app.extensions.get("jobline_error_renderers", {})
    for prefix, renderer in renderers.items():
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return renderer(status, message, errors or [], headers or {})
    return canonical(status, message, errors or [], headers or {})


def _from_http(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    errors = []
    if isinstance(messages, dict):
        for location, fields in messages.items():
            errors.extend(flatten_errors(fields, location))
    message = data.get("message") or error.description or HTTPStatus(error.code or 500).phrase
    if errors and error.code in (400, 422):
        message = "The request is not valid: " + "; ".join(
            f"{e['name']}: {e['description']}" for e in errors[:5])
    if error.code == 413:
        limit = request.max_content_length  # per route: uploads take more than JSON bodies
        message = f"Request body too large (limit {limit} bytes)."
    return render(error.code or 500, message, errors, data.get("headers") or {})


def _from_jobline(error: JoblineError) -> Response:
    errors = error.errors if isinstance(error, BadRequest) else []
    headers = {"Retry-After": "5"} if error.status == 503 else {}
    return render(error.status, error.message, errors, headers)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(JoblineError, _from_jobline)
