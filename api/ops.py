"""Operations endpoints: liveness, readiness, metrics.

Readiness answers for this process: it is ready while it can reach PostgreSQL, the source of
truth and the queue, where a create commits. Redis only carries wake-ups (beat publishes
again whatever was missed), so a Redis outage shows in the body as ``degraded`` but keeps
the pod in its Service -- taking every API pod out at once would refuse jobs it can accept.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory
from prometheus_client import CONTENT_TYPE_LATEST
from swagger_ui_bundle import swagger_ui_path

from shared.engine.errors import DatabaseUnavailable
from shared.engine.metrics import exposition

blp = Blueprint("ops", __name__)


@blp.get("/healthz")
def healthz():
    return {"status": "ok"}


@blp.get("/readyz")
def readyz():
    rt = current_app.extensions["jobline"]
    checks = {}
    try:
        with rt.db.transaction() as cur:
            cur.execute("SELECT 1")
        checks["postgres"] = "ok"
    except DatabaseUnavailable as exc:
        checks["postgres"] = f"unavailable: {exc.message}"
    try:
        with rt.celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            conn.default_channel.client.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any broker failure means not ready
        checks["redis"] = f"unavailable: {exc}"
    ready = checks["postgres"] == "ok"
    status = "unavailable" if not ready else "ok" if checks["redis"] == "ok" else "degraded"
    response = jsonify({"status": status, "checks": checks})
    response.status_code = 200 if ready else 503
    return response


@blp.get("/docs/assets/<path:filename>")
def docs_assets(filename: str):
    """Swagger UI's files for /docs, from the pinned swagger-ui-bundle package (no CDN)."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


@blp.get("/metrics")
def metrics():
    rt = current_app.extensions["jobline"]
    token = rt.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return Response("metrics need Authorization: Bearer <JOBLINE_METRICS_TOKEN>\n", 401,
                            {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    return Response(exposition(rt), mimetype=CONTENT_TYPE_LATEST)
