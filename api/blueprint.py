"""flask-smorest's Blueprint, with invalid input answered 400 (webargs says 422 by default).

Argument schemas given as classes are instantiated once, here: webargs would build one per
request, and building a schema (it deep-copies its fields) cost more than loading one.
JSON bodies are parsed by ``shared.engine.validation.loads`` (depth cap, no NaN, NUL, ...).
"""

from __future__ import annotations

import typing

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from shared.engine.validation import Invalid, loads


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req, schema: ma.Schema) -> typing.Any:
        """The JSON body. A JSON object or list sent without ``Content-Type: application/json``
        (``curl -d`` says form-urlencoded) is read all the same; any other body of another type
        is refused naming the content type, not the fields it then seems to lack."""
        if req.mimetype == "multipart/form-data":
            return core.missing
        data = req.get_data(cache=True)
        if not data.strip():
            return core.missing
        if not is_json_request(req) and data.lstrip()[:1] not in (b"{", b"["):
            abort(400, messages={"json": {"_schema": [
                f"the body must be JSON (Content-Type: application/json), not {req.mimetype or 'untyped'} data"]}})
        try:
            return loads(data)
        except Invalid as exc:
            abort(400, exc=exc, messages={"json": {exc.where or "_schema": [exc.message]}})
        except ValueError as exc:
            abort(400, exc=exc, messages={"json": {"_schema": [f"Invalid JSON body: {exc}"]}})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, *args, **kwargs):
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
