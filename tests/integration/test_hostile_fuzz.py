"""Generated hostile input over every route of the route table (issue 20).

schemathesis (``tests/fuzz``) stays inside the spec's types and covers only the canonical
API; here hypothesis draws any route of any surface, with path segments, query parameters
and JSON or form bodies taken from the issue's hostile classes (NUL, lone surrogates, NaN,
1e400, 64-bit overflow, deep nesting, Unicode digits, calendar ends, other id spellings).
A route added later is drawn too: it inherits the edge (``api/hostile.py``) or fails here.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_hostile import snapshot, surface_format, world  # noqa: F401 - fixture

#: Operations routes and static files take no input worth fuzzing; streams with real keys and
#: waits would only wait (their inputs are covered by the explicit corpus).
SKIP = re.compile(r"^/(healthz|readyz|metrics|openapi\.json|docs|static)")
PARAMS = ["type", "status", "cursor", "limit", "created_after", "created_before", "page", "size", "offset",
          "job-id", "object-uuid", "tasks", "task", "task_name", "name", "url", "app_id", "createdStartDate",
          "completedEndDate", "statusIn", "sortBy", "output", "format", "apikey", "secret", "provider", "x"]
KEYS = ["type", "params", "metadata", "start_at", "jobs", "name", "tasks", "task", "task_name", "task_metas",
        "inputs", "callback_url", "jobType", "startTime", "analysis", "algorithm", "parameters", "code",
        "title", "description", "url", "id", "taxon_id", "schema_id", "loci", "visibility", "users"]
WORDS = ["\x00", "a\x00b", "²", "٣", "9" * 25, "-1", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
         "NaN", "Infinity", "1e400", "é", "x.é", "..", "%", "{}", "[]", "null", "true", "A" * 300, "", " ",
         "urn:uuid:00000000-0000-0000-0000-000000000000", "{00000000-0000-0000-0000-000000000000}",
         "00000000000000000000000000000000", "inference", "goeburst", "reset", "image.thumb"]


def _routes(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if SKIP.match(rule.rule):
            continue
        out += [(rule.rule, m) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(out)


words = st.sampled_from(WORDS) | st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
#: JSON values, serialised with ``allow_nan`` (NaN, Infinity) and ASCII escapes (lone surrogates).
scalars = (st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=True, allow_infinity=True)
           | words | st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4), max_leaves=12)
bodies = (st.none()
          | st.dictionaries(st.sampled_from(KEYS), values, max_size=5).map(lambda d: ("json", json.dumps(d)))
          | values.map(lambda v: ("json", json.dumps(v)))
          | st.integers(65, 5000).map(lambda n: ("json", "[" * n))
          | st.dictionaries(st.sampled_from(KEYS), words, max_size=4).map(lambda d: ("form", d)))


def _segment(value: str) -> str:
    return quote(value, safe="") or "x"


@st.composite
def requests(draw, routes, w, nul: bool):
    rule, method = draw(st.sampled_from(routes))
    real = {"job_id": w.job, "app_id": w.app, "code": w.code, "pid": w.project}
    names = re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule)
    given_values = {n: draw(st.sampled_from([real[n]]) | words) if n in real else draw(words) for n in names}
    query = draw(st.lists(st.tuples(st.sampled_from(PARAMS), words), max_size=4))
    if nul:  # somewhere the edge always reads: a path segment, or a query parameter
        if names and draw(st.booleans()):
            given_values[names[0]] = draw(words) + "\x00"
        else:
            query.append((draw(st.sampled_from(PARAMS)), "\x00"))
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: _segment(given_values[m.group(1)]), rule)
    qs = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query)
    return method, path + ("?" + qs if qs else ""), draw(bodies)


def _call(client, w, method, url, body):
    kw = {"headers": w.auth}
    if body and body[0] == "json":
        kw.update(data=body[1], content_type="application/json")
    elif body:
        kw.update(data=body[1], content_type="application/x-www-form-urlencoded")
    return client.open(url, method=method, **kw)


@pytest.fixture(scope="module")
def routes(app):
    found = _routes(app)
    assert len(found) > 100 and {p.split("/")[1] for p, _ in found} >= {"v1", "dragon", "canotic", "phyloviz",
                                                                         "rekosearch", "kasabi"}
    return found


def test_generated_hostile_requests_on_every_route_never_get_a_5xx(app, world, routes):  # noqa: F811
    client = app.test_client()

    @given(request=requests(routes, world, nul=False))
    @settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(request):
        method, url, body = request
        r = _call(client, world, method, url, body)
        try:
            assert r.status_code < 500, (method, url, body, r.status_code, r.get_data(as_text=True)[:300])
            if r.status_code >= 400:
                assert surface_format(url)(r), (method, url, r.status_code, r.get_data(as_text=True)[:300])
        finally:
            r.close()

    run()


def test_a_nul_in_any_route_is_a_400_in_its_format_and_changes_nothing(app, world, routes):  # noqa: F811
    """Whatever else the request holds, a NUL in its path or query is refused before any
    view runs, on every route, old or new."""
    client = app.test_client()
    before = snapshot(world)

    @given(request=requests(routes, world, nul=True))
    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(request):
        method, url, body = request
        r = _call(client, world, method, url, body)
        try:
            assert r.status_code == 400, (method, url, body, r.status_code, r.get_data(as_text=True)[:300])
            assert surface_format(url)(r), (method, url, r.get_data(as_text=True)[:300])
        finally:
            r.close()

    run()
    assert snapshot(world) == before
