"""Operations endpoints as an operator meets them: readiness per pod, metrics behind a token."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support.net import free_port


@pytest.fixture
def app_with(runtime):
    """An application built from the session's settings with some of them changed."""
    from api.app import create_app
    from shared.runtime import Runtime

    made = []

    def build(**changes):
        rt = Runtime.build(dataclasses.replace(runtime.settings, **changes))
        made.append(rt)
        return create_app(runtime=rt).test_client()

    yield build
    for rt in made:
        rt.db.close()


def test_ready_while_postgres_answers_even_with_redis_away(app_with):
    client = app_with(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    r = client.get("/readyz")
    body = r.get_json()
    assert r.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["postgres"] == "ok" and body["checks"]["redis"].startswith("unavailable")


def test_not_ready_without_postgres(app_with):
    client = app_with(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/x")  # nothing listens there
    r = client.get("/readyz")
    assert r.status_code == 503 and r.get_json()["status"] == "unavailable"
    assert r.get_json()["checks"]["postgres"].startswith("unavailable")


def test_metrics_token(app_with, key):
    client = app_with(metrics_token="s3cret-metrics")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {key}"},
                    {"Authorization": "Basic czNjcmV0LW1ldHJpY3M6"}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401 and "jobline_" not in r.get_data(as_text=True), headers
    r = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert r.status_code == 200 and "jobline_queue_depth" in r.get_data(as_text=True)
