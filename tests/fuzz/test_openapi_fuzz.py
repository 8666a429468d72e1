"""schemathesis against the canonical API's own /openapi.json: no 5xx, responses match the
schema, alone and in sequences that follow the links between operations; and every
operation refuses a request without a key.

marshmallow output schemas mark no field required, so a response missing a documented field
would still "match". The fuzzing reads the spec with every property of every response
schema made required (``strict``): each documented field must be there (null where the
spec says it may be)."""

from __future__ import annotations

import copy
import re
import uuid

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


def strict(spec: dict) -> dict:
    """The spec with every property of the schemas that 2xx responses reach made required."""
    spec = copy.deepcopy(spec)
    components = spec.get("components", {}).get("schemas", {})
    seen: set[int] = set()

    def visit(schema: object) -> None:
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        seen.add(id(schema))
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            visit(components.get(ref.rsplit("/", 1)[1]))
        if isinstance(schema.get("properties"), dict):
            schema["required"] = sorted(schema["properties"])
            for sub in schema["properties"].values():
                visit(sub)
        for key in ("items", "additionalProperties"):
            visit(schema.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key) or []:
                visit(sub)

    for ops in spec["paths"].values():
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            for status, response in (op.get("responses") or {}).items():
                if str(status).startswith("2"):
                    for media in (response.get("content") or {}).values():
                        visit(media.get("schema"))
    return spec


def load(app):
    """schemathesis's ``from_wsgi``, with the strict spec."""
    schema = schemathesis.openapi.from_dict(strict(app.test_client().get("/openapi.json").get_json()))
    schema.app, schema.location = app, "/openapi.json"
    return schema


def test_strict_makes_documented_fields_required(app):
    spec = strict(app.test_client().get("/openapi.json").get_json())
    job = spec["components"]["schemas"]["JobOut"]
    assert {"id", "status", "result", "error", "callback_url"} <= set(job["required"])
    assert spec["components"]["schemas"]["JobList"]["required"] == ["jobs", "next_cursor"]


@pytest.fixture
def seeded(client, auth):
    """The account owns one of each thing, so lists answer rows whose fields are checked."""
    job = client.post("/v1/jobs?wait=30", json={"type": "hello", "params": {"name": "fuzz"},
                                                "metadata": {"k": 1}}, headers=auth).get_json()
    assert job["status"] == "succeeded", job
    assert client.post("/v1/apps", json={"name": "fuzz", "type": "hello"}, headers=auth).status_code == 201
    code = f"fuzz-{uuid.uuid4().hex[:8]}"
    assert client.post("/v1/datasets", json={"code": code}, headers=auth).status_code == 201
    r = client.post(f"/v1/datasets/{code}/triples", data="<http://s> <http://p> <http://o> .\n",
                    headers={**auth, "Content-Type": "application/n-triples"})
    assert r.status_code == 200
    return auth


def test_no_server_errors_and_responses_match_the_schema(app, seeded):
    """Each operation of the spec, with generated inputs (driven by hand: schemathesis's
    pytest plugin does not run under pytest 9)."""
    schema = load(app)
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
            case.call_and_validate(headers={**(case.headers or {}), **seeded},
                                   excluded_checks=[positive_data_acceptance])

        run()


def test_sequences_that_follow_the_links(app):
    """Stateful: a created job's (or app's, upload's) id is fed into get, cancel, restart,
    events, files and delete, in generated orders. schemathesis infers the links from the
    spec (a response's ``id`` and a path's ``{job_id}``). Each scenario runs on an account of
    its own: lists that remembered earlier scenarios would make hypothesis's generation differ
    between replays of one scenario (FlakyStrategyDefinition)."""
    accounts = app.extensions["jobline"].accounts
    machine = load(app).as_state_machine()
    linked = [name for name in dir(machine) if name.startswith("POST_v1_jobs___201_")]
    assert len(linked) >= 5, linked  # the links are there, not only random calls

    class Machine(machine):
        def setup(self):
            account = accounts.create(f"fuzz-{uuid.uuid4().hex[:12]}")
            self.auth = {"Authorization": f"Bearer {accounts.create_key(account)}"}

        def get_call_kwargs(self, case):
            return {"headers": {**(case.headers or {}), **self.auth}}

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
