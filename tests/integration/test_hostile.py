"""Hostile input on every surface (issue 20): each class of the issue's corpus, on the
canonical API and the five dialects, answers a 4xx in that surface's own error format and
changes nothing in the database. ``test_hostile_fuzz.py`` adds generated input over every
route of the route table; ``test_hostile_edges.py`` what must keep working beside it."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field

import pytest

from api.hostile import MAX_GET_TASK_KEYS
from tests.support.hostile import FORMATS, HELLO, snapshot, surface_format

NUL = "\u0000"
DEEP = "[" * 10_000


# -- the corpus ------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    method: str
    path: str
    json: object = None
    data: object = None
    headers: dict = field(default_factory=dict)
    content_type: str | None = None

    def call(self, client, world):
        path = self.path.format(w=world)
        kw = {"headers": {**world.auth, **self.headers}}
        if self.json is not None:
            kw["data"] = json.dumps(self.json)
            kw["content_type"] = "application/json"
        elif self.data is not None:
            kw["data"] = self.data() if callable(self.data) else self.data
            if self.content_type:
                kw["content_type"] = self.content_type
        return client.open(path, method=self.method, **kw)


def raw(text: str, content_type: str = "application/json") -> dict:
    return {"data": text, "content_type": content_type}


def form(**fields) -> dict:
    return {"data": fields, "content_type": "application/x-www-form-urlencoded"}


def files(name: str, filename: str, **fields) -> dict:
    return {"data": lambda: {name: (io.BytesIO(b"\x89PNG data"), filename), **fields},
            "content_type": "multipart/form-data"}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


URN = "urn:uuid:{w.job}"
CASES = [
    # NUL anywhere
    Case("v1 params NUL", "POST", "/v1/jobs", {"type": "hello", "params": {"name": f"a{NUL}b"}}),
    Case("v1 metadata value NUL", "POST", "/v1/jobs", {**HELLO, "metadata": {"k": NUL}}),
    Case("v1 metadata key NUL", "POST", "/v1/jobs", {**HELLO, "metadata": {f"k{NUL}": 1}}),
    Case("v1 type NUL", "POST", "/v1/jobs", {"type": f"hello{NUL}", "params": {"name": "x"}}),
    Case("v1 image URL NUL", "POST", "/v1/jobs", {"type": "image.info", "params": {"url": f"https://example.com/{NUL}.jpg"}}),
    Case("v1 callback NUL", "POST", "/v1/jobs", {**HELLO, "callback_url": f"https://example.com/{NUL}"}),
    Case("v1 idempotent NUL body", "POST", "/v1/jobs", {"type": "hello", "params": {"name": NUL}},
         headers={"Idempotency-Key": "hostile-1"}),
    Case("v1 query NUL", "GET", "/v1/jobs?type=%00"),
    Case("v1 status query NUL", "GET", "/v1/jobs?status=%00"),
    Case("v1 path NUL dataset", "GET", "/v1/datasets/%00"),
    Case("v1 path NUL job", "GET", "/v1/jobs/%00"),
    Case("v1 path NUL file", "GET", "/v1/jobs/{w.job}/files/%00"),
    Case("v1 app name NUL", "POST", "/v1/apps", {"name": f"a{NUL}", "type": "hello"}),
    Case("v1 app params NUL", "POST", "/v1/apps", {"name": "a", "type": "hello", "params": {"name": NUL}}),
    Case("v1 dataset title NUL", "POST", "/v1/datasets", {"code": "hostile-ds", "title": f"t{NUL}"}),
    Case("v1 dataset code NUL", "POST", "/v1/datasets", {"code": f"ds{NUL}", "title": "t"}),
    Case("v1 upload filename NUL", "POST", "/v1/uploads", **files("file", f"a{NUL}.png")),
    Case("v1 webhook NUL", "PUT", "/v1/webhook", {"url": f"https://example.com/{NUL}"}),
    # non-JSON numbers and strings
    Case("v1 NaN", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": NaN}}')),
    Case("v1 Infinity", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": Infinity}}')),
    Case("v1 -Infinity", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": -Infinity}}')),
    Case("v1 1e400", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": 1e400}}')),
    Case("v1 huge int", "POST", "/v1/jobs", {**HELLO, "metadata": {"a": 10**30}}),
    Case("v1 huge priority", "POST", "/v1/jobs", {**HELLO, "priority": 10**30}),
    Case("v1 lone surrogate", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "\\ud800"}}')),
    Case("v1 lone surrogate key", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"\\udfff": 1}}')),
    Case("v1 triples bad \\U", "POST", "/v1/datasets/{w.code}/triples",
         **raw('<http://a.example/s> <http://a.example/p> "\\U0011FFFF" .\n', "application/n-triples")),
    Case("v1 triples surrogate \\U", "POST", "/v1/datasets/{w.code}/triples",
         **raw('<http://a.example/s> <http://a.example/p> "\\U0000D800" .\n', "application/n-triples")),
    Case("v1 triples surrogate \\u", "POST", "/v1/datasets/{w.code}/triples",
         **raw('<http://a.example/s> <http://a.example/p> "\\uDC00" .\n', "application/n-triples")),
    # deep nesting
    Case("v1 deep body", "POST", "/v1/jobs", **raw(DEEP)),
    Case("v1 deep metadata", "POST", "/v1/jobs", **raw('{"type": "hello", "params": {"name": "x"}, "metadata": {"a": '
                                                      + "[" * 100 + "]" * 100 + "}}")),
    Case("v1 deep apps", "POST", "/v1/apps", **raw(DEEP)),
    Case("v1 deep datasets", "POST", "/v1/datasets", **raw(DEEP)),
    Case("v1 deep webhook", "PUT", "/v1/webhook", **raw(DEEP)),
    # out-of-range values
    Case("v1 start_at year 1 +01:00", "POST", "/v1/jobs", {**HELLO, "start_at": "0001-01-01T00:00:00+01:00"}),
    Case("v1 start_at year 9999 -01:00", "POST", "/v1/jobs", {**HELLO, "start_at": "9999-12-31T23:59:59-01:00"}),
    Case("v1 start_at NUL", "POST", "/v1/jobs", {**HELLO, "start_at": f"2030-01-01T00:00:00Z{NUL}"}),
    Case("v1 created_after year 1", "GET", "/v1/jobs?created_after=0001-01-01T00:00:00%2B01:00"),
    Case("v1 created_before year 9999", "GET", "/v1/jobs?created_before=9999-12-31T23:59:59-01:00"),
    Case("v1 huge cursor", "GET", "/v1/jobs?cursor=" + b64("j" + "9" * 30)),
    Case("v1 unicode digit cursor", "GET", "/v1/jobs?cursor=" + b64("j²")),
    Case("v1 huge wait", "GET", "/v1/jobs/{w.job}?wait=1e400"),
    Case("v1 NaN wait", "GET", "/v1/jobs/{w.job}?wait=nan"),
    Case("v1 huge limit", "GET", "/v1/jobs?limit=99999999999999999999999"),
    Case("v1 dataset job year 9999", "POST", "/v1/datasets/{w.code}/jobs",
         {"type": "reset", "start_at": "9999-12-31T23:59:59-01:00"}),
    Case("v1 Last-Event-ID huge", "GET", "/v1/jobs/{w.job}/events",
         headers={"Accept": "text/event-stream", "Last-Event-ID": "9" * 30}),
    Case("v1 Last-Event-ID unicode digit", "GET", "/v1/jobs/{w.job}/events",
         headers={"Accept": "text/event-stream", "Last-Event-ID": "²"}),
    # ids in other shapes
    *[Case(f"v1 urn:uuid {m} {p}", m, f"/v1/jobs/{URN}{p}")
      for m, p in [("GET", ""), ("DELETE", ""), ("POST", "/cancel"), ("POST", "/restart"), ("GET", "/events"),
                   ("GET", "/files"), ("GET", "/files/small"), ("GET", "/deliveries")]],
    Case("v1 braces id", "POST", "/v1/jobs/%7B{w.job}%7D/cancel"),
    Case("v1 app urn:uuid", "GET", "/v1/apps/urn:uuid:{w.job}"),
    Case("v1 upload urn:uuid", "DELETE", "/v1/uploads/urn:uuid:{w.job}"),
    # non-ASCII output file names
    Case("v1 non-ASCII file name", "GET", "/v1/jobs/{w.job}/files/x.%C3%A9"),
    Case("v1 non-ASCII file token", "GET", "/files/x.%C3%A9"),
    # batches mixing good and bad items
    Case("v1 batch with a NUL item", "POST", "/v1/jobs", {"jobs": [HELLO, {"type": "hello", "params": {"name": NUL}}]}),
    Case("v1 batch with a far item", "POST", "/v1/jobs", {"jobs": [HELLO, {**HELLO, "start_at": "9999-12-31T23:59:59-01:00"}]}),
    Case("v1 batch with a bad type", "POST", "/v1/jobs", {"jobs": [HELLO, {"type": "nope"}]}),
    Case("v1 batch with a non-object", "POST", "/v1/jobs", {"jobs": [HELLO, 5, None, "x"]}),
    # long request lines
    Case("v1 long request line", "GET", "/v1/jobs?type=" + "a" * 9000),
    Case("v1 long id", "GET", "/v1/jobs/" + "a" * 9000),

    # Dragon (JSON whatever the Content-Type)
    Case("dragon params NUL", "POST", "/dragon/v1/create", {"tasks": [{"task_name": "hello", "name": f"a{NUL}"}]}),
    Case("dragon metas key NUL", "POST", "/dragon/v1/create",
         {"tasks": [{"task_name": "hello", "name": "a", "task_metas": {f"k{NUL}": 1}}]}),
    Case("dragon image URL NUL", "POST", "/dragon/v1/create", {"tasks": {"task_name": "image.info", "url": f"http://x/{NUL}"}}),
    Case("dragon task_name NUL", "POST", "/dragon/v1/create", {"tasks": {"task_name": f"hello{NUL}", "name": "a"}}),
    Case("dragon NaN text/plain", "POST", "/dragon/v1/create",
         **raw('{"tasks": {"task_name": "hello", "name": "a", "task_metas": {"n": NaN}}}', "text/plain")),
    Case("dragon 1e400", "POST", "/dragon/v1/create",
         **raw('{"tasks": {"task_name": "hello", "name": "a", "task_metas": {"n": 1e400}}}', "text/plain")),
    Case("dragon surrogate", "POST", "/dragon/v1/create", **raw('{"tasks": {"task_name": "hello", "name": "\\udc00"}}', "text/plain")),
    Case("dragon deep create", "POST", "/dragon/v1/create", **raw(DEEP, "text/plain")),
    Case("dragon deep create_stream", "POST", "/dragon/v1/create_stream", **raw(DEEP, "text/plain")),
    Case("dragon deep status", "POST", "/dragon/v1/status", **raw('{"tasks": ' + DEEP, "text/plain")),
    Case("dragon deep status_stream", "POST", "/dragon/v1/status_stream", **raw(DEEP, "text/plain")),
    Case("dragon deep create_file", "POST", "/dragon/v1/create_file", **raw(DEEP, "text/plain")),
    Case("dragon status key NUL", "GET", "/dragon/v1/status?tasks=%00"),
    Case("dragon file task NUL", "GET", "/dragon/v1/file?task=%00"),
    Case("dragon create_file query NUL", "GET", "/dragon/v1/create_file?task_name=hello&name=%00"),
    Case("dragon create_file filename NUL", "GET", "/dragon/v1/create_file/%00?task_name=hello&name=a"),
    Case("dragon batch with a bad item", "POST", "/dragon/v1/create",
         {"tasks": [{"task_name": "hello", "name": "ok"}, {"task_name": "hello", "name": f"x{NUL}"}]}),
    Case("dragon batch with a non-object", "POST", "/dragon/v1/create", {"tasks": [{"task_name": "hello", "name": "ok"}, 7]}),
    Case("dragon status of too many keys by GET", "GET",
         "/dragon/v1/status?" + "&".join(["tasks={w.task}"] * (MAX_GET_TASK_KEYS * 2))),
    Case("dragon status long key", "GET", "/dragon/v1/status?tasks=" + "A" * 9000),

    # Canotic
    Case("canotic inputs NUL json", "POST", "/canotic/apps/{w.app}/jobs", {"inputs": [{"name": f"a{NUL}"}]}),
    Case("canotic inputs NUL form", "POST", "/canotic/apps/{w.app}/jobs", **form(inputs='[{"name": "a\\u0000"}]')),
    Case("canotic raw NUL form field", "POST", "/canotic/apps/{w.app}/jobs", **form(inputs=f'[{{"name": "a{NUL}"}}]')),
    Case("canotic metadata NaN", "POST", "/canotic/apps/{w.app}/jobs",
         **raw('{"inputs": [{"name": "a"}], "metadata": {"x": NaN}}')),
    Case("canotic metadata key NUL", "POST", "/canotic/apps/{w.app}/jobs", {"inputs": [{"name": "a"}], "metadata": {NUL: 1}}),
    Case("canotic inputs 1e400 form", "POST", "/canotic/apps/{w.app}/jobs", **form(inputs='[{"name": "a", "n": 1e400}]')),
    Case("canotic deep json", "POST", "/canotic/apps/{w.app}/jobs", **raw(DEEP)),
    Case("canotic deep form", "POST", "/canotic/apps/{w.app}/jobs", **form(inputs=DEEP)),
    Case("canotic callback NUL", "POST", "/canotic/apps/{w.app}/jobs", {"inputs": [{"name": "a"}], "callback_url": f"a{NUL}@b.c"}),
    Case("canotic batch with a bad item", "POST", "/canotic/apps/{w.app}/jobs",
         {"inputs": [{"name": "ok"}, {"name": f"x{NUL}"}, {"name": 5}]}),
    Case("canotic offset huge", "GET", "/canotic/jobs?offset=99999999999999999999999"),
    Case("canotic page huge", "GET", "/canotic/jobs?page=99999999999999999999"),
    Case("canotic page unicode digit", "GET", "/canotic/jobs?page=%C2%B2"),
    Case("canotic createdStartDate year 1", "GET", "/canotic/jobs?page=0&createdStartDate=0001-01-01T00:00:00%2B01:00"),
    Case("canotic createdEndDate year 9999", "GET", "/canotic/jobs?page=0&createdEndDate=9999-12-31T23:59:59-01:00"),
    Case("canotic query NUL", "GET", "/canotic/jobs?app_id=%00"),
    Case("canotic path NUL", "GET", "/canotic/jobs/%00"),
    Case("canotic app path NUL", "GET", "/canotic/apps/%00/jobs"),
    Case("canotic urn:uuid", "GET", "/canotic/jobs/" + URN),
    Case("canotic urn:uuid cancel", "POST", "/canotic/jobs/" + URN + "/cancel"),
    Case("canotic long request line", "GET", "/canotic/jobs?app_id=" + "a" * 9000),

    # PHYLOViZ
    Case("phyloviz deep job", "POST", "/phyloviz/projects/{w.project}/jobs", **raw(DEEP)),
    Case("phyloviz NaN job", "POST", "/phyloviz/projects/{w.project}/jobs",
         **raw('{"analysis": "inference", "algorithm": "goeburst", "parameters": ["x", NaN]}')),
    Case("phyloviz huge lvs", "POST", "/phyloviz/projects/{w.project}/jobs",
         {"analysis": "inference", "algorithm": "goeburst", "parameters": ["x", 10**30]}),
    Case("phyloviz project name NUL", "POST", "/phyloviz/projects",
         {"name": f"a{NUL}", "visibility": "private", "description": "", "users": []}),
    Case("phyloviz taxon NUL path", "PUT", "/phyloviz/taxa/%00", {"description": "x"}),
    Case("phyloviz taxon description NUL", "PUT", "/phyloviz/taxa/hostile-taxon", {"description": f"x{NUL}"}),
    Case("phyloviz page unicode digit", "GET", "/phyloviz/projects/{w.project}/jobs?page=%C2%B2"),
    Case("phyloviz page huge", "GET", "/phyloviz/projects/{w.project}/jobs?page=99999999999999999999999"),
    Case("phyloviz urn:uuid job", "DELETE", "/phyloviz/projects/{w.project}/jobs/" + URN),
    Case("phyloviz project NUL", "GET", "/phyloviz/projects/%00"),
    Case("phyloviz profiles filename NUL", "POST", "/phyloviz/projects/{w.project}/datasets/x/profiles/files",
         **files("file", f"p{NUL}.tsv")),
    Case("phyloviz long request line", "GET", "/phyloviz/projects/{w.project}/jobs?x=" + "a" * 9000),

    # Rekosearch
    Case("rekosearch job-name NUL", "POST", "/rekosearch/api/v1/upload/gen", **files("file", "a.png", **{"job-name": f"n{NUL}"})),
    Case("rekosearch filename NUL", "POST", "/rekosearch/api/v1/upload/gen", **files("file", f"a{NUL}.png", **{"job-name": "n"})),
    Case("rekosearch job-id NUL", "GET", "/rekosearch/api/v1/jobs/get?job-id=%00"),
    Case("rekosearch job-id unicode digit", "GET", "/rekosearch/api/v1/jobs/get?job-id=%C2%B2"),
    Case("rekosearch job-id huge", "DELETE", "/rekosearch/api/v1/jobs/delete?job-id=99999999999999999999999"),
    Case("rekosearch object NUL", "GET", "/rekosearch/api/v1/jobs/get-object-url?job-id=1&object-uuid=%00"),
    Case("rekosearch long request line", "GET", "/rekosearch/api/v1/jobs/list?x=" + "a" * 9000),

    # Kasabi (plain text)
    Case("kasabi startTime year 1 +01:00", "POST", "/kasabi/dataset/{w.code}/jobs",
         **form(jobType="reset", startTime="0001-01-01T00:00:00+01:00")),
    Case("kasabi startTime year 9999 -01:00", "POST", "/kasabi/dataset/{w.code}/jobs",
         **form(jobType="reset", startTime="9999-12-31T23:59:59-01:00")),
    Case("kasabi startTime json year 9999", "POST", "/kasabi/dataset/{w.code}/jobs",
         {"jobType": "reset", "startTime": "9999-12-31T23:59:59-01:00"}),
    Case("kasabi startTime NUL", "POST", "/kasabi/dataset/{w.code}/jobs", {"jobType": "reset", "startTime": f"2030-01-01{NUL}"}),
    Case("kasabi jobType NUL", "POST", "/kasabi/dataset/{w.code}/jobs", **form(jobType=f"reset{NUL}")),
    Case("kasabi deep", "POST", "/kasabi/dataset/{w.code}/jobs", **raw(DEEP)),
    Case("kasabi NaN", "POST", "/kasabi/dataset/{w.code}/jobs", **raw('{"jobType": "reset", "x": NaN}')),
    Case("kasabi status NUL", "GET", "/kasabi/api/%00/status"),
    Case("kasabi job NUL", "GET", "/kasabi/dataset/{w.code}/jobs/%00"),
    Case("kasabi job urn:uuid", "GET", "/kasabi/dataset/{w.code}/jobs/" + URN),
    Case("kasabi apikey NUL", "GET", "/kasabi/api/{w.code}/status?apikey=%00"),
    Case("kasabi long request line", "GET", "/kasabi/api/{w.code}/status?x=" + "a" * 9000),
    # the console (HTML pages): refused before its sign-in is even looked at
    Case("console query NUL", "GET", "/console/jobs?status=%00"),
    Case("console path NUL", "GET", "/console/jobs/%00"),
    Case("console long request line", "GET", "/console/jobs?x=" + "a" * 9000),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_a_4xx_in_the_surfaces_format_and_changes_nothing(client, world, case):
    before = snapshot(world)
    r = case.call(client, world)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    assert surface_format(case.path)(r), (r.status_code, r.mimetype, r.get_data(as_text=True)[:300])
    assert snapshot(world) == before


def test_every_class_of_the_issue_is_in_the_corpus():
    """The issue's classes, each with at least one case on every surface it names."""
    ids = " | ".join(c.id for c in CASES)
    for word in ("NUL", "NaN", "Infinity", "1e400", "huge", "surrogate", "\\U", "deep", "year 1", "year 9999",
                 "unicode digit", "cursor", "urn:uuid", "non-ASCII", "batch", "long request line"):
        assert word in ids, word
    for surface in FORMATS:
        assert any(c.path.startswith(surface + "/") and "NUL" in c.id for c in CASES), surface
        assert any(c.path.startswith(surface + "/") and "long" in c.id for c in CASES), surface
