"""flask-smorest's Blueprint, with invalid input answered 400 (webargs says 422 by default).

Argument schemas given as classes are instantiated once, here: webargs would build one per
request, and building a schema (it deep-copies its fields) cost more than loading one.
"""

from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, *args, **kwargs):
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
