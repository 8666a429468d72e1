"""schemathesis against the canonical API's own /openapi.json: no 5xx, responses match the
schema, alone and in sequences that follow the links between operations; and every
operation refuses a request without a key."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

pytestmark = pytest.mark.usefixtures("engine")
PUBLIC = {"/openapi.json", "/docs", "/files/{token}"}


def test_no_server_errors_and_responses_match_the_schema(app, auth):
    """Each operation of the spec, with generated inputs (driven by hand: schemathesis's
    pytest plugin does not run under pytest 9)."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for op in operations:
        if op.path in PUBLIC:
            continue

        @given(case=op.as_strategy())
        @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            # Schema-valid yet meaningless input (a made-up cursor, an unknown job type) is
            # rightly a 400, so the "positive data is accepted" check does not apply here.
            case.call_and_validate(headers={**(case.headers or {}), **auth},
                                   excluded_checks=[positive_data_acceptance])

        run()


def test_sequences_that_follow_the_links(app, auth):
    """Stateful: a created job's (or app's, upload's) id is fed into get, cancel, restart,
    events, files and delete, in generated orders. schemathesis infers the links from the
    spec (a response's ``id`` and a path's ``{job_id}``)."""
    machine = schemathesis.openapi.from_wsgi("/openapi.json", app).as_state_machine()
    linked = [name for name in dir(machine) if name.startswith("POST_v1_jobs___201_")]
    assert len(linked) >= 5, linked  # the links are there, not only random calls

    class Machine(machine):
        def get_call_kwargs(self, case):
            return {"headers": {**(case.headers or {}), **auth}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # The key is always a valid one here, so "ignored auth" would be a false alarm
            # (test_every_operation_needs_a_key covers requests without one). Unknown query
            # parameters are ignored on purpose (`?apikey=` is a way to send the key, and
            # clients add cache-busters), which the negative-data check counts as accepting
            # invalid input; invalid input still must never cause a 5xx.
            case.validate_response(response, transport_kwargs=kwargs, excluded_checks=[
                positive_data_acceptance, ignored_auth, negative_data_rejection])

    Machine.run(settings=settings(max_examples=40, stateful_step_count=10, deadline=None, database=None,
                                  suppress_health_check=list(HealthCheck)))


def test_every_operation_needs_a_key(client):
    spec = client.get("/openapi.json").get_json()
    checked = 0
    for path, ops in spec["paths"].items():
        if path in PUBLIC:
            continue
        url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        for method in ops:
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            r = client.open(url, method=method.upper(), json={})
            assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked >= 8
