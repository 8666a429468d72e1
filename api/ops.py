"""Operations endpoints: liveness, readiness (PostgreSQL and Redis reachable), metrics."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from shared.errors import DatabaseUnavailable
from shared.metrics import exposition

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
    ok = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ok" if ok else "unavailable", "checks": checks})
    response.status_code = 200 if ok else 503
    return response


@blp.get("/metrics")
def metrics():
    return Response(exposition(current_app.extensions["jobline"]), mimetype=CONTENT_TYPE_LATEST)
