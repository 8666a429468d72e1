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

from tests.support.hostile import make_world, snapshot, surface_format

#: Operations routes and static files take no input worth fuzzing; streams with real keys and
#: waits would only wait (their inputs are covered by the explicit corpus).
SKIP = re.compile(r"^/(healthz|readyz|metrics|openapi\.json|docs|static)")
#: Query parameters each surface reads (plus one it does not).
PARAMS = {
    "/v1": ["type", "status", "cursor", "limit", "created_after", "created_before", "x"],
    "/dragon": ["tasks", "task", "task_name", "name", "url", "task_metas", "x"],
    "/canotic": ["app_id", "limit", "offset", "page", "size", "sortBy", "orderBy", "statusIn", "createdStartDate",
                 "createdEndDate", "completedStartDate", "completedEndDate", "x"],
    "/phyloviz": ["page", "format", "provider", "x"],
    "/rekosearch": ["job-id", "object-uuid", "job-name", "x"],
    "/kasabi": ["apikey", "output", "jobType", "startTime", "x"],
    "/files": ["x"],
    "/console": ["status", "type", "created_after", "created_before", "page", "x"],
}
KEYS = ["type", "params", "metadata", "start_at", "jobs", "name", "tasks", "task", "task_name", "task_metas",
        "inputs", "callback_url", "jobType", "startTime", "analysis", "algorithm", "parameters", "code",
        "title", "description", "url", "id", "taxon_id", "schema_id", "loci", "visibility", "users"]
WORDS = ["\x00", "a\x00b", "²", "٣", "9" * 25, "-1", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
         "NaN", "Infinity", "1e400", "é", "x.é", "..", "%", "{}", "[]", "null", "true", "A" * 300, "", " ",
         "urn:uuid:00000000-0000-0000-0000-000000000000", "{00000000-0000-0000-0000-000000000000}",
         "00000000000000000000000000000000", "inference", "goeburst", "reset", "image.thumb"]
#: Values no JSON body may carry, wherever they are (refused as the body is parsed).
UNSTORABLE = ["\x00", "a\x00", "\ud800", "x\udfff", float("nan"), float("inf"), float("-inf"), 10**30, -(10**25),
              json.loads("[" * 80 + "]" * 80)]
#: Values refused where a field expects a date, a number or an id (elsewhere they are just text).
HOSTILE = [*UNSTORABLE, "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "²", "urn:uuid:" + "0" * 8]
#: A valid body per creating route: the fuzzer hides one hostile value in it.
VALID = {
    ("/v1/jobs", "POST"): {"type": "hello", "params": {"name": "x"}, "metadata": {"k": "v"}},
    ("/v1/apps", "POST"): {"name": "a", "type": "hello", "params": {"name": "x"}},
    ("/v1/datasets", "POST"): {"code": "fuzz-ds", "title": "t"},
    ("/v1/datasets/<code>/jobs", "POST"): {"type": "reset", "start_at": "2030-01-01T00:00:00Z"},
    ("/v1/webhook", "PUT"): {"url": "https://example.com/hook"},
    ("/dragon/v1/create", "POST"): {"tasks": [{"task_name": "hello", "name": "x", "task_metas": {"k": "v"}}]},
    ("/dragon/v1/create_stream", "POST"): {"tasks": [{"task_name": "hello", "name": "x"}]},
    ("/dragon/v1/status", "POST"): {"tasks": ["AAAAAAAAAAAAAAAAAAAAAAAAAA"]},
    ("/canotic/apps/<app_id>/jobs", "POST"): {"inputs": [{"name": "x"}], "metadata": {"k": "v"}},
    ("/canotic/api/jobs", "POST"): {"app_id": "x", "inputs": [{"name": "x"}]},
    ("/phyloviz/projects", "POST"): {"name": "p", "visibility": "private", "description": "", "users": []},
    ("/phyloviz/projects/<pid>/jobs", "POST"): {"analysis": "inference", "algorithm": "goeburst", "parameters": ["d", 3]},
    ("/phyloviz/taxa/<taxon>", "PUT"): {"id": "t", "description": "d"},
    ("/kasabi/dataset/<code>/jobs", "POST"): {"jobType": "reset", "startTime": "2030-01-01T00:00:00Z"},
}


@st.composite
def injected(draw, body, values=HOSTILE):
    """``body`` with one leaf replaced by (or one key added holding) one of ``values``."""
    body = json.loads(json.dumps(body))
    spots, stack = [], [body]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node))
        for k in keys:
            spots.append((node, k))
            if isinstance(node[k], dict | list) and node[k]:
                stack.append(node[k])
        if isinstance(node, dict):
            spots.append((node, None))
    node, key = draw(st.sampled_from(spots))
    value = draw(st.sampled_from(values))
    if key is None:  # a new key: the key itself hostile, or an ordinary key with a hostile value
        name = draw(st.sampled_from(["\x00", "k\x00", "\ud800", *KEYS]))
        node[name] = value if draw(st.booleans()) or name in KEYS else "v"
    else:
        node[key] = value
    return body


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
any_body = (st.none()
          | st.dictionaries(st.sampled_from(KEYS), values, max_size=5).map(lambda d: ("json", json.dumps(d)))
          | values.map(lambda v: ("json", json.dumps(v)))
          | st.integers(65, 5000).map(lambda n: ("json", "[" * n))
          | st.dictionaries(st.sampled_from(KEYS), words, max_size=4).map(lambda d: ("form", d)))


def _segment(value: str) -> str:
    return quote(value, safe="") or "x"


@st.composite
def requests(draw, routes, w, nul: bool):
    rule, method = draw(st.sampled_from(routes))
    return draw(request_to(rule, method, w, nul))


@st.composite
def request_to(draw, rule, method, w, nul: bool):
    real = {"job_id": w.job, "app_id": w.app, "code": w.code, "pid": w.project}
    names = re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule)
    # Real ids reach the views' deeper checks; never for DELETE, which would remove the world.
    given_values = {n: draw(st.sampled_from([real[n]]) | words) if n in real and method != "DELETE" else draw(words)
                    for n in names}
    params = PARAMS["/" + rule.split("/")[1]]
    query = draw(st.lists(st.tuples(st.sampled_from(params), words), max_size=4))
    if nul:  # somewhere the edge always reads: a path segment, or a query parameter
        if names and draw(st.booleans()):
            given_values[names[0]] = draw(words) + "\x00"
        else:
            query.append((draw(st.sampled_from(params)), "\x00"))
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: _segment(given_values[m.group(1)]), rule)
    qs = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query)
    body = draw(any_body)
    if (rule, method) in VALID and draw(st.integers(0, 3)):
        body = ("json", json.dumps(draw(injected(VALID[rule, method]))))
    return method, path + ("?" + qs if qs else ""), body


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


@pytest.mark.parametrize("surface", ["/v1", "/dragon", "/canotic", "/phyloviz", "/rekosearch", "/kasabi"])
def test_generated_hostile_requests_never_get_a_5xx(app, world, routes, surface):
    """On each surface: any of its routes, hostile path segments and query values, random
    JSON or form bodies, and valid bodies with one hostile value hidden somewhere."""
    client = app.test_client()
    mine = [r for r in routes if r[0].startswith(surface + "/")]

    @given(request=st.sampled_from(mine).flatmap(lambda rm: request_to(rm[0], rm[1], world, nul=False)))
    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
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


@pytest.fixture(scope="module")
def quiet(app, runtime, settings):
    """An account of its own for the tests that check nothing changed: the route fuzz above
    may create jobs in ``world`` (hostile-looking yet valid input), which then run on."""
    return make_world(app, runtime, settings)


def test_a_nul_in_any_route_is_a_400_in_its_format_and_changes_nothing(app, quiet, routes):
    """Whatever else the request holds, a NUL in its path or query is refused before any
    view runs, on every route, old or new."""
    client, world = app.test_client(), quiet
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


@pytest.mark.parametrize(("rule", "method"), list(VALID), ids=[f"{m} {r}" for r, m in VALID])
def test_a_valid_body_with_one_unstorable_value_anywhere_is_a_400_and_changes_nothing(app, quiet, rule, method):
    """Each creating route's valid body, with a NUL, a lone surrogate, NaN, Infinity, an
    integer beyond 64 bits or deep nesting hidden at any place (a key, a value, a list item):
    refused by the parse, in the surface's format, before anything is written."""
    client, world = app.test_client(), quiet
    real = {"app_id": world.app, "code": world.code, "pid": world.project, "taxon": "fuzz-taxon"}
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: real[m.group(1)], rule)
    before = snapshot(world)

    @given(body=injected(VALID[rule, method], UNSTORABLE))
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(body):
        r = _call(client, world, method, path, ("json", json.dumps(body)))
        try:
            assert r.status_code == 400, (body, r.status_code, r.get_data(as_text=True)[:300])
            assert surface_format(path)(r), (body, r.get_data(as_text=True)[:300])
        finally:
            r.close()

    run()
    assert snapshot(world) == before
