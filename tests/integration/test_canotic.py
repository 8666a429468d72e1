"""The Canotic Job API (seed 000) at /canotic: every documented request, what the published
client (``canotic-api-client``) sends, bad input, hostile ``inputs_file``; and the canonical
apps API, the Python client and the ``jobline apps`` commands against a live server.
"""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from canotic.client import Client as CanoticClient
from canotic.exceptions import CanoticError
from jobline_client.client import ApiError, Client

from shared.admin import cli
from shared.apps.service import load_inputs
from shared.engine.errors import BadRequest
from shared.engine.fetch import Policy
from tests.conftest import wait_until
from tests.support import images
from tests.support.images import image_server
from tests.support.web import in_thread

pytestmark = pytest.mark.usefixtures("engine")
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CREATED_KEYS = ["job_id", "created_at", "callback_url", "app_id", "status", "input", "metadata"]
DONE_KEYS = ["job_id", "completed_at", "created_at", "callback_url", "app_id", "status", "callback_succeeded",
             "input", "output", "metadata"]


@pytest.fixture(scope="module")
def live(app):
    """The session's app on a real socket, for the Python client, the CLI and raw requests."""
    with in_thread(app) as url:
        yield url


@pytest.fixture
def user(make_account):
    _account, key = make_account()
    return SimpleNamespace(key=key, bearer={"Authorization": f"Bearer {key}"}, raw={"Authorization": key},
                           basic={"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()},
                           api_key={"API-KEY": key})


def make_app(client, user, type="hello", **kw):
    r = client.post("/v1/apps", json={"name": f"{type} app", "type": type, **kw}, headers=user.bearer)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["app_id"]


def submit(client, user, app_id, inputs, **body):
    r = client.post(f"/canotic/apps/{app_id}/jobs", json={"inputs": inputs, **body}, headers=user.basic)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["jobs"]


def job_when(client, user, job_id, status="completed", **fields):
    def ready():
        job = client.get(f"/canotic/jobs/{job_id}", headers=user.raw).get_json()
        return job if job["status"] == status and all(job.get(k) == v for k, v in fields.items()) else None
    return wait_until(ready, timeout=60, interval=0.2)


def count(client, user, app_id):
    return client.get(f"/canotic/jobs?app_id={app_id}", headers=user.raw).get_json()["total"]


# -- the document's requests ----------------------------------------------------------------


def test_create_get_and_callback_as_documented(client, user, receiver):
    app_id = make_app(client, user)
    callback = receiver.plan("/doc-callback")
    r = client.post(f"/canotic/apps/{app_id}/jobs", headers=user.basic,  # curl -u KEY:
                    json={"callback_url": callback, "inputs": [{"name": "dog"}]})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert list(body) == ["jobs", "total", "limit", "offset", "has_more"]
    assert (body["total"], body["limit"], body["offset"], body["has_more"]) == (1, 100, 0, False)
    [job] = body["jobs"]
    assert list(job) == CREATED_KEYS and ISO_MS.fullmatch(job["created_at"])
    assert (job["status"], job["app_id"], job["callback_url"], job["input"], job["metadata"]) == (
        "pending", app_id, callback, {"name": "dog"}, {})
    [req] = receiver.wait_for("/doc-callback")
    payload = json.loads(req.body)
    assert (payload["job_id"], payload["status"], payload["output"]) == (job["job_id"], "completed", "Hello dog")
    done = job_when(client, user, job["job_id"], callback_succeeded=True)  # Authorization: KEY (raw)
    assert list(done) == DONE_KEYS and ISO_MS.fullmatch(done["completed_at"]) and done["output"] == "Hello dog"
    assert client.get(f"/canotic/api/jobs/{job['job_id']}", headers=user.basic).get_json() == done


def test_curl_form_body_and_the_documents_other_paths(client, user, receiver):
    app_id = make_app(client, user)
    file_url = receiver.serve("/form-inputs.json", json.dumps([{"name": "f1"}, {"name": "f2"}]).encode())
    form = {"callback_url": receiver.plan("/form-cb"), "inputs": json.dumps([{"name": "a"}]), "inputs_file": file_url}
    r = client.post(f"/canotic/apps/{app_id}", data=form, headers=user.basic)  # the curl line, -d fields
    assert r.status_code == 200, r.get_json()
    assert [j["input"]["name"] for j in r.get_json()["jobs"]] == ["a", "f1", "f2"]
    r = client.post("/canotic/api/jobs/", data={**form, "app_id": app_id}, headers=user.raw)
    assert r.status_code == 200 and r.get_json()["total"] == 3, r.get_json()
    r = client.post(f"/canotic/api/jobs?app_id={app_id}", json={"inputs": [{"name": "q"}]}, headers=user.raw)
    assert r.status_code == 200 and r.get_json()["jobs"][0]["app_id"] == app_id
    assert client.get(f"/canotic/api/jobs/?app_id={app_id}", headers=user.raw).get_json()["total"] == 7


def test_cancel_in_every_documented_form(client, user):
    app_id = make_app(client, user, "test.sleep", params={"seconds": 20, "steps": 40})
    jobs = submit(client, user, app_id, [{}, {}, {}])
    r = client.post(f"/canotic/jobs/{jobs[0]['job_id']}/restart", headers=user.raw)
    assert r.status_code == 409 and "is pending" in r.get_json()["message"]  # only finished jobs restart
    forms = [("POST", "/canotic/jobs/{}/cancel"), ("GET", "/canotic/jobs/{}/cancel"), ("DELETE", "/canotic/api/jobs/{}")]
    for job, (method, path) in zip(jobs, forms, strict=True):
        r = client.open(path.format(job["job_id"]), method=method, headers=user.raw)
        assert r.status_code == 200 and list(r.get_json())[:2] == ["job_id", "created_at"], r.get_json()
        assert r.get_json()["status"] in ("canceled", "pending")
    for job in jobs:
        done = job_when(client, user, job["job_id"], "canceled")
        assert "completed_at" not in done and "output" not in done
    r = client.post(f"/canotic/jobs/{jobs[0]['job_id']}/cancel", headers=user.raw)
    assert r.status_code == 409 and "is canceled" in r.get_json()["message"]


def test_restart(client, user):
    app_id = make_app(client, user)
    [job] = submit(client, user, app_id, [{"name": "again"}])
    job_when(client, user, job["job_id"])
    r = client.post(f"/canotic/jobs/{job['job_id']}/restart", headers=user.raw)
    assert r.status_code == 200 and r.get_json()["status"] == "pending" and "output" not in r.get_json()
    job_when(client, user, job["job_id"])
    assert client.post(f"/canotic/api/jobs/{job['job_id']}/restart", headers=user.raw).status_code == 200
    assert job_when(client, user, job["job_id"])["output"] == "Hello again"


def test_list_with_app_id_limit_offset(client, user):
    a, b = make_app(client, user), make_app(client, user)
    made = submit(client, user, a, [{"name": f"a{i}"} for i in range(5)])
    submit(client, user, b, [{"name": "b0"}, {"name": "b1"}])
    page = client.get(f"/canotic/jobs?app_id={a}&limit=2&offset=0", headers=user.raw).get_json()
    assert list(page) == ["jobs", "total", "limit", "offset", "has_more"]
    assert (page["total"], page["limit"], page["offset"], page["has_more"]) == (5, 2, 0, True)
    assert [j["job_id"] for j in page["jobs"]] == [made[4]["job_id"], made[3]["job_id"]]  # newest first
    last = client.get(f"/canotic/jobs?app_id={a}&limit=2&offset=4", headers=user.raw).get_json()
    assert [j["job_id"] for j in last["jobs"]] == [made[0]["job_id"]] and not last["has_more"]
    beyond = client.get(f"/canotic/jobs?app_id={a}&offset=10", headers=user.raw).get_json()
    assert beyond["jobs"] == [] and beyond["total"] == 5
    assert client.get(f"/canotic/apps/{b}/jobs", headers=user.raw).get_json()["total"] == 2
    assert client.get("/canotic/jobs", headers=user.raw).get_json()["total"] == 7


def test_published_client_end_to_end(live, user, receiver):
    """canotic-api-client 0.0.3 itself, at its default ``/v1`` suffix: every jobs call it has."""
    canotic = CanoticClient(api_key=user.key, base_url=f"{live}/canotic/v1")
    with Client(live, user.key) as jl:
        app_id = jl.create_app("camel", "hello")["app_id"]
        sleeper = jl.create_app("sleeper", "test.sleep", {"seconds": 20, "steps": 40})["app_id"]
    file_url = receiver.serve("/camel-inputs.json", json.dumps([{"name": "file"}]).encode())
    body = canotic.create_jobs(app_id, callbackUrl=receiver.plan("/camel-cb"), inputs=[{"name": "camel"}],
                               inputsFileUrl=file_url, metadata={"batch": 7})
    assert body["total"] == 2 and [j["metadata"] for j in body["jobs"]] == [{"batch": 7}] * 2, body
    job_id = body["jobs"][0]["job_id"]
    wait_until(lambda: canotic.fetch_job(job_id)["status"] == "completed", timeout=60, interval=0.2)
    assert canotic.fetch_job(job_id)["output"] == "Hello camel"
    response = canotic.get_job_response(job_id)
    assert (response["job_id"], response["status"], response["output"]) == (job_id, "completed", "Hello camel")
    made = canotic.create_jobs(sleeper, inputs=[{}])
    assert canotic.cancel_job(made["jobs"][0]["job_id"])["job_id"] == made["jobs"][0]["job_id"]
    hour = timedelta(hours=1)
    window = {"createdStartDate": datetime.now(UTC) - hour, "createdEndDate": datetime.now(UTC) + hour,
              "statusIn": ["COMPLETED", "IN_PROGRESS", "SCHEDULED"]}
    wait_until(lambda: canotic.list_jobs(app_id, page=0, size=1, **window)["pages"] == 2, timeout=60)
    page = canotic.list_jobs(app_id, page=0, size=1, **window)
    assert list(page) == ["jobs", "pages"] and page["jobs"][0]["job_id"] == job_id
    assert [j["job_id"] for j in canotic.get_all_jobs(app_id, **window)] == [j["job_id"] for j in body["jobs"]]
    downloaded = canotic.download_jobs(app_id, statusIn=["COMPLETED"])
    assert downloaded["total"] == 2 and not downloaded["truncated"]
    assert sorted(j["output"] for j in downloaded["jobs"]) == ["Hello camel", "Hello file"]
    assert canotic.download_jobs(app_id, statusIn=["FAILED"]) == {"jobs": [], "total": 0, "truncated": False}
    with pytest.raises(CanoticError) as missing:
        canotic.create_jobs("0123456789ABCDEF0123456789ABCDEF", inputs=[{}])
    assert missing.value.error_code == 404 and "no app" in missing.value.message
    with pytest.raises(CanoticError) as bad:
        canotic.download_jobs(app_id, statusIn=["DONE"])
    assert bad.value.error_code == 400 and "statusIn" in bad.value.message
    with pytest.raises(CanoticError) as unauthorized:
        CanoticClient(api_key="jl_wrong", base_url=f"{live}/canotic/v1").fetch_job(job_id)
    assert unauthorized.value.error_code == 401


def test_image_apps_take_their_source_from_the_inputs(client, user):
    """An app's defaults may be partial: ``url`` comes from each input's ``data_url``."""
    r = client.post("/v1/apps", json={"name": "pics", "type": "image.info", "input_map": {"data_url": "url"}},
                    headers=user.bearer)
    assert r.status_code == 201, r.get_json()
    app_id = r.get_json()["app_id"]
    with image_server({"/cat.jpg": ("image/jpeg", images.jpeg(64, 48))}) as base:
        [job] = submit(client, user, app_id, [{"data_url": f"{base}/cat.jpg"}])
        done = job_when(client, user, job["job_id"])
    assert (done["output"]["width"], done["output"]["height"]) == (64, 48)
    r = client.post(f"/canotic/apps/{app_id}/jobs", json={"inputs": [{"caption": "no picture"}]}, headers=user.raw)
    assert r.status_code == 400 and "url" in r.get_json()["message"]  # the whole-schema rule, once complete
    for bad, name in (({"params": {"url": "ftp://x"}}, "params.url"),
                      ({"params": {"url": "http://a/", "upload_id": str(uuid.UUID(int=1))}}, "params.url")):
        r = client.post("/v1/apps", json={"name": "x", "type": "image.info", **bad}, headers=user.bearer)
        assert r.status_code == 400 and any(e["name"].startswith(name) for e in r.get_json()["errors"]), r.get_json()


def test_inputs_file_as_a_multipart_part(client, user):
    app_id = make_app(client, user)
    url = f"/canotic/apps/{app_id}/jobs"
    r = client.post(url, headers=user.raw, data={
        "inputs": json.dumps([{"name": "field"}]), "metadata": json.dumps({"k": 1}),
        "inputs_file": (io.BytesIO(b'[{"name": "a"}, {"name": "b"}]'), "inputs.json", "application/json")})
    assert r.status_code == 200 and r.get_json()["total"] == 3, r.get_json()
    assert [j["input"] for j in r.get_json()["jobs"]] == [{"name": "field"}, {"name": "a"}, {"name": "b"}]
    r = client.post(url, headers=user.raw, data={"inputs_file_data": "x", "uploaded": "y",
                                                 "inputs_file": (io.BytesIO(b'[{"name": "c"}]'), "f.json")})
    assert r.status_code == 400 and "inputs_file_data" in r.get_json()["message"]  # no way to forge a field
    for part, words in ((("inputs_file", b"{not json"), "not JSON"), (("inputsFile", b'{"name": "a"}'), "JSON list"),
                        (("photo", b"[]"), "unknown file part"), (("inputs_file", b'["a"]'), "inputs[0] must be an object")):
        r = client.post(url, headers=user.raw, data={part[0]: (io.BytesIO(part[1]), "f.json")})
        assert r.status_code == 400 and words in r.get_json()["message"], (part, r.get_json())
    assert count(client, user, app_id) == 3


def test_the_documents_get_to_create_form_is_refused_clearly(client, user, receiver):
    app_id = make_app(client, user)
    for path in ("/canotic/api/jobs/", "/canotic/jobs", f"/canotic/apps/{app_id}/jobs"):
        r = client.get(path, query_string={"app_id": app_id, "callback_url": receiver.plan("/get-cb"),
                                           "inputs": '[{"name": "x"}]'}, headers=user.raw)
        assert r.status_code == 400 and "POST" in r.get_json()["message"], (path, r.get_json())
    assert count(client, user, app_id) == 0


def test_undeliverable_callbacks_are_refused_at_creation(client, user):
    """The SSRF guard would refuse them, or no SMTP server is configured: 400, nothing created."""
    app_id = make_app(client, user)
    for target, words in (("http://10.1.2.3:8080/hook", "private"), ("http://169.254.169.254/x", "169.254.169.254 is a private address"),
                          ("http://[::ffff:192.168.0.1]/x", "private"), ("http://[fe80::1%25eth9]/x", "private"),
                          ("ops@example.com", "SMTP"),
                          ("mailto:ops@example.com", "SMTP")):
        r = client.post(f"/canotic/apps/{app_id}/jobs", json={"inputs": [{"name": "x"}], "callback_url": target},
                        headers=user.raw)
        assert r.status_code == 400 and words in r.get_json()["message"], (target, r.get_json())
        r = client.post("/v1/apps", json={"name": "x", "type": "hello", "callback_url": target}, headers=user.bearer)
        assert r.status_code == 400 and r.get_json()["errors"][0]["name"] == "callback_url", r.get_json()
        r = client.post("/v1/jobs", json={"type": "hello", "params": {"name": "x"}, "callback_url": target},
                        headers=user.bearer)
        assert r.status_code == 400 and r.get_json()["errors"][0]["name"] == "callback_url", r.get_json()
        r = client.put("/v1/webhook", json={"default_callback_url": target}, headers=user.bearer)
        assert r.status_code == 400, r.get_json()
    assert count(client, user, app_id) == 0
    assert client.get("/v1/apps", headers=user.bearer).get_json()["apps"][0]["app_id"] == app_id


def test_callback_succeeded_is_null_without_a_callback(client, user, receiver):
    app_id = make_app(client, user)
    [plain] = submit(client, user, app_id, [{"name": "plain"}])
    [called] = submit(client, user, app_id, [{"name": "called"}], callback_url=receiver.plan("/succeeded-cb"))
    assert job_when(client, user, plain["job_id"])["callback_succeeded"] is None
    assert job_when(client, user, called["job_id"], callback_succeeded=True)["output"] == "Hello called"


def test_client_list_parameters(client, user):
    app_id = make_app(client, user)
    made = submit(client, user, app_id, [{"name": f"n{i}"} for i in range(5)])
    for job in made:
        job_when(client, user, job["job_id"])

    def ids(**query):
        r = client.get(f"/canotic/apps/{app_id}/jobs", query_string=query, headers=user.api_key)
        assert r.status_code == 200, r.get_json()
        return [j["job_id"] for j in r.get_json()["jobs"]], r.get_json()["pages"]

    order = [j["job_id"] for j in made]
    assert ids(page=0, size=2, sortBy="id", orderBy="asc") == (order[:2], 3)
    assert ids(page=2, size=2, sortBy="id", orderBy="asc") == (order[4:], 3)
    assert ids(page=0, size=5, sortBy="createdAt", orderBy="desc") == (order[::-1], 1)
    by_completion, _ = ids(size=5, sortBy="completedAt", orderBy="desc")
    assert sorted(by_completion) == sorted(order)
    assert ids(statusIn=["COMPLETED"]) == (order, 1)
    assert ids(statusIn=["FAILED", "CANCELED"]) == ([], 0) and ids(statusIn="SUSPENDED,EXPIRED") == ([], 0)
    soon, past = datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC) - timedelta(hours=1)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    assert ids(createdStartDate=soon.strftime(fmt)) == ([], 0)
    assert ids(createdEndDate=past.strftime(fmt)) == ([], 0)
    assert ids(completedStartDate=past.strftime(fmt), completedEndDate=soon.strftime(fmt)) == (order, 1)
    for bad, name in (({"statusIn": "DONE"}, "statusIn"), ({"page": "-1"}, "page"), ({"size": "0"}, "size"),
                      ({"size": "5000"}, "size"), ({"page": "x"}, "page"), ({"sortBy": "color"}, "sortBy"),
                      ({"orderBy": "up"}, "orderBy"), ({"createdStartDate": "yesterday"}, "createdStartDate")):
        r = client.get(f"/canotic/apps/{app_id}/jobs", query_string=bad, headers=user.api_key)
        assert r.status_code == 400 and name in r.get_json()["message"], (bad, r.get_json())


# -- bad input: a clear 4xx with a message, nothing created --------------------------------


def test_errors_in_the_dialects_format(client, user, make_account, settings):
    app_id = make_app(client, user)
    [job] = submit(client, user, app_id, [{"name": "x"}])
    url = f"/canotic/apps/{app_id}/jobs"
    r = client.post(url, json={"inputs": [{"name": "x"}]})
    assert r.status_code == 401 and r.get_json()["message"] and r.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/canotic/jobs", headers={"Authorization": "jl_bogus_key"}).status_code == 401
    _other, other_key = make_account()
    other = {"Authorization": other_key}
    assert client.post(url, json={"inputs": [{"name": "x"}]}, headers=other).status_code == 404
    assert client.get(f"/canotic/jobs/{job['job_id']}", headers=other).status_code == 404
    assert client.post(f"/canotic/jobs/{job['job_id']}/cancel", headers=other).status_code == 404
    assert client.get(f"/canotic/jobs?app_id={app_id}", headers=other).status_code == 404
    cases = [
        (dict(data="{not json", content_type="application/json"), 400, "not valid JSON"),
        (dict(json=[{"name": "x"}]), 400, "JSON object"),
        (dict(json={"inputs": {"name": "x"}}), 400, "must be a list"),
        (dict(json={"inputs": ["x"]}), 400, "inputs[0] must be an object"),
        (dict(json={"inputs": [{"name": "ok"}, {}]}), 400, "inputs.1.params.name"),
        (dict(json={"inputs": [{"name": 5}]}), 400, "inputs.0.params.name"),
        (dict(json={"inputs": [{"name": "x"}], "colour": "red"}), 400, "colour"),
        (dict(json={}), 400, "no inputs"),
        (dict(json={"inputs": []}), 400, "no inputs"),
        (dict(json={"inputs": [{"name": "x"}], "callback_url": "ftp://x"}), 400, "callback_url"),
        (dict(json={"inputs": [{"name": "x"}], "callbackUrl": "http://a/", "callback_url": "http://b/"}), 400, "twice"),
        (dict(json={"inputs": [{"name": "x"}], "metadata": [1]}), 400, "metadata"),
        (dict(data={"inputs": "[{"}), 400, "not valid JSON"),
        (dict(json={"inputs": [{"name": "x"}] * (settings.max_batch + 1)}), 400, "at most"),
        (dict(data=b"x" * (settings.max_body_bytes + 1), content_type="application/json"), 413, "too large"),
    ]
    for kwargs, status, words in cases:
        r = client.post(url, headers=user.raw, **kwargs)
        assert r.status_code == status and words in r.get_json()["message"], (kwargs.get("json"), r.get_json())
    assert count(client, user, app_id) == 1  # nothing was created
    assert client.post("/canotic/api/jobs", json={"inputs": [{}]}, headers=user.raw).get_json()["message"] == \
        "app_id: is required"
    assert client.post("/canotic/apps/NOTANAPP/jobs", json={"inputs": [{}]}, headers=user.raw).status_code == 404
    assert client.get("/canotic/jobs/not-a-uuid", headers=user.raw).status_code == 404
    r = client.get("/canotic/no/such/route", headers=user.raw)
    assert r.status_code == 404 and r.get_json()["message"]
    r = client.put(f"/canotic/jobs/{job['job_id']}", headers=user.raw)
    assert r.status_code == 405 and r.get_json()["message"]


def test_hostile_inputs_file(client, user, receiver, settings):
    app_id = make_app(client, user)
    url = f"/canotic/apps/{app_id}/jobs"
    deep = b"[" * 100_000 + b"]" * 100_000
    files = {
        "/huge.json": (b"[" + b'{"name": "x"},' * (settings.max_body_bytes // 14 + 1) + b'{"name": "x"}]', "too large"),
        "/not-json.json": (b"\x89PNG\r\n\x1a\n not json at all", "not a JSON document"),
        "/deep.json": (deep, "not a JSON document"),
        "/object.json": (b'{"inputs": [{"name": "x"}]}', "must hold a JSON list"),
        "/strings.json": (b'["a", "b"]', "inputs[0] must be an object"),
    }
    for path, (data, words) in files.items():
        r = client.post(url, json={"inputs_file": receiver.serve(path, data)}, headers=user.raw)
        assert r.status_code == 400 and words in r.get_json()["message"], (path, r.get_json())
    r = client.post(url, json={"inputsFileUrl": receiver.url + "/missing.json"}, headers=user.raw)
    assert r.status_code == 400 and "HTTP 404" in r.get_json()["message"]
    for hostile in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x.json", "file:///etc/passwd"):
        r = client.post(url, json={"inputs_file": hostile}, headers=user.raw)
        assert r.status_code == 400 and "inputs_file" in r.get_json()["message"], r.get_json()
    assert count(client, user, app_id) == 0
    good = receiver.serve("/good.json", b'[{"name": "x"}]')
    with pytest.raises(BadRequest, match="loopback"):  # loopback is refused unless allowlisted
        load_inputs(good, Policy())
    assert load_inputs(good, Policy(allow=("127.0.0.0/8",))) == [{"name": "x"}]


# -- apps: canonical API, input map, Python client and CLI ---------------------------------


def test_canonical_apps_api(client, user, make_account):
    r = client.post("/v1/apps", json={"name": "pics", "type": "hello", "params": {"name": "default"},
                                      "input_map": {"data_url": "name"}, "callback_url": "https://hooks.example.com/ops"},
                    headers=user.bearer)
    assert r.status_code == 201, r.get_json()
    app = r.get_json()
    assert re.fullmatch(r"[0-9A-F]{32}", app["app_id"]) and app["callback_url"] == "https://hooks.example.com/ops"
    assert client.get(f"/v1/apps/{app['app_id'].lower()}", headers=user.bearer).get_json() == app
    assert app["app_id"] in [a["app_id"] for a in client.get("/v1/apps", headers=user.bearer).get_json()["apps"]]
    for bad, name in (({"type": "nope"}, "type"), ({"params": {"name": 5}}, "params.name"),
                      ({"input_map": {"a": 1}}, "input_map"), ({"callback_url": "ftp://x"}, "callback_url"),
                      ({"name": ""}, "name"), ({"colour": "red"}, "colour")):
        r = client.post("/v1/apps", json={"name": "x", "type": "hello", **bad}, headers=user.bearer)
        assert r.status_code == 400 and any(e["name"].startswith(name) for e in r.get_json()["errors"]), r.get_json()
    [job] = submit(client, user, app["app_id"], [{"data_url": "pic.png"}], callback_url="https://hooks.example.com/x")
    assert job["input"] == {"data_url": "pic.png"} and job["callback_url"] == "https://hooks.example.com/x"
    assert job_when(client, user, job["job_id"])["output"] == "Hello pic.png"  # data_url → name
    _other, other_key = make_account()
    assert client.get(f"/v1/apps/{app['app_id']}", headers={"Authorization": f"Bearer {other_key}"}).status_code == 404
    assert client.delete(f"/v1/apps/{app['app_id']}", headers={"Authorization": f"Bearer {other_key}"}).status_code == 404
    assert client.delete(f"/v1/apps/{app['app_id']}", headers=user.bearer).status_code == 204
    assert client.get(f"/v1/apps/{app['app_id']}", headers=user.bearer).status_code == 404
    r = client.post(f"/canotic/apps/{app['app_id']}/jobs", json={"inputs": [{}]}, headers=user.raw)
    assert r.status_code == 404 and r.get_json()["message"]
    assert client.get(f"/canotic/jobs/{job['job_id']}", headers=user.raw).get_json()["app_id"] == app["app_id"]


def test_python_client_and_cli(live, user, capsys):
    with Client(live, user.key) as jl:
        app = jl.create_app("sdk", "hello", {"name": "sdk"}, callback_url="http://hooks.example.com/x")
        assert jl.get_app(app["app_id"]) == app and app in jl.list_apps()
        assert "secret" not in jl.webhook() and jl.rotate_webhook_secret()["secret"].startswith("whsec_")
        assert jl.set_webhook("http://hooks.example.com/default")["default_callback_url"].endswith("/default")
        assert jl.set_webhook(None)["default_callback_url"] is None
        job = jl.create("hello", {"name": "x"}, wait=20)
        assert jl.deliveries(job["id"]) == []
        jl.delete_app(app["app_id"])
        with pytest.raises(ApiError) as exc:
            jl.get_app(app["app_id"])
        assert exc.value.status == 404
    base = ["--url", live, "--key", user.key]
    assert cli.main(["apps", "create", "cli-app", "--type", "hello", "--param", "name=Bob",
                     "--input-map", "who=name", *base]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["params"] == {"name": "Bob"} and made["input_map"] == {"who": "name"}
    assert cli.main(["apps", "get", made["app_id"], *base]) == 0
    assert json.loads(capsys.readouterr().out)["app_id"] == made["app_id"]
    assert cli.main(["apps", "list", *base]) == 0 and made["app_id"] in capsys.readouterr().out
    assert cli.main(["webhook", *base]) == 0 and "whsec_" not in capsys.readouterr().out
    assert cli.main(["webhook", "--rotate-secret", *base]) == 0 and "whsec_" in capsys.readouterr().out
    assert cli.main(["deliveries", job["id"], *base]) == 0 and json.loads(capsys.readouterr().out) == []
    assert cli.main(["apps", "delete", made["app_id"], *base]) == 0
    capsys.readouterr()
    assert cli.main(["apps", "get", made["app_id"], *base]) == 2
    assert "no app" in capsys.readouterr().err
    assert cli.main(["apps", "create", "x", "--type", "hello", "--input-map", "oops", *base]) == 2
    assert "--input-map" in capsys.readouterr().err
    assert cli.main(["apps", "create", "x", "--type", "nope", *base]) == 2
    assert "unknown job type" in capsys.readouterr().err
