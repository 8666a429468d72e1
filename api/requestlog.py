"""Each request timed into /metrics and written to the access log: one JSON line (method,
path, status, duration, account id, request id) on the ``jobline.access`` logger.

The request id is the client's ``X-Request-Id`` when well formed, else a new one; every
response carries it back, so a client can quote it and an operator find the line.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, g, request

from api.hostile import request_id
from shared.engine.metrics import HTTP_SECONDS

log = logging.getLogger("jobline.access")

#: Label values come from this set only: a client choosing methods must not grow /metrics.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        if "started" not in g:
            return response
        seconds = time.perf_counter() - g.started
        route = request.url_rule.rule if request.url_rule else "unmatched"
        method = request.method if request.method in METHODS else "other"
        HTTP_SECONDS.labels(method, route, response.status_code).observe(seconds)
        rid = request_id()
        response.headers["X-Request-Id"] = rid
        account = g.get("account")
        log.info("%s %s %d", request.method, request.path, response.status_code, extra={
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": round(seconds * 1000, 3), "account_id": getattr(account, "id", None),
            "request_id": rid})
        return response
