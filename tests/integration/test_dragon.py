"""The Dragon task API (seed 001) under /dragon: every documented request, and its real client."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from datetime import datetime

import pytest
from PIL import Image

from api.dialects.dragon.keys import decode, encode
from api.dialects.dragon.streams import follow
from tests.support import images

pytestmark = pytest.mark.usefixtures("engine")
D = "/dragon/v1"


@pytest.fixture(scope="module")
def served():
    routes = {"/cat.jpg": ("image/jpeg", images.jpeg(1024, 768, camera=True)),
              "/cat.jpeg": ("text/html", images.NOT_AN_IMAGE)}
    with images.image_server(routes) as base:
        yield base


@pytest.fixture
def secret(make_account):
    return make_account()[1]


@pytest.fixture
def sk(secret):
    return {"Authorization": f"Secret {secret}"}


def post(client, path, body, headers=None, **kw):
    return client.post(D + path, data=json.dumps(body), headers=headers or {}, content_type="application/json", **kw)


def lines(response) -> list:
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def assert_status_shape(s, status=None):
    assert set(s) <= {"status", "key", "progress", "events", "result"} and decode(s["key"]), s
    for at in s["events"].values():
        assert datetime.fromisoformat(at).utcoffset().total_seconds() == 0
    if status:
        assert s["status"] == status, s


# -- keys ------------------------------------------------------------------------------


def test_keys_are_unpadded_base32_uuids():
    u = uuid.uuid4()
    assert len(encode(u)) == 26 and decode(encode(u)) == u and decode(encode(u).lower()) == u
    assert decode("5OYA5JQVFIAHYOMLQG5QV3U33M") is not None  # the document's example key
    for bad in ("", "5OYA5JQVFIAHYOMLQG5QV3U33", "5OYA5JQVFIAHYOMLQG5QV3U33N", "0" * 26, None, 42):
        assert decode(bad) is None


# -- create ----------------------------------------------------------------------------


def test_create_one_task_with_secret_in_body_then_block_on_status(client, secret, served):
    body = {"secret": secret, "tasks": {"task_name": "image.info", "url": f"{served}/cat.jpg"}}
    r = post(client, "/create", body)
    assert r.status_code == 200, r.get_json()
    [task] = r.get_json()
    assert_status_shape(task, "queued")
    assert "queued" in task["events"]
    r = client.get(f"{D}/status?tasks={task['key']}&block=true", headers={"Authorization": f"Secret {secret}"})
    [done] = r.get_json()
    assert r.status_code == 200 and done["status"] == "success", done
    assert set(done["events"]) == {"queued", "started", "completed"}
    assert done["result"]["width"] == 1024 and done["result"]["content_type"] == "image/jpeg"


def test_create_two_tasks_with_secret_header_and_block(client, sk, served):
    tasks = [{"task_name": "image.info", "url": f"{served}/cat.jpg"},
             {"task_name": "image.thumb", "url": f"{served}/cat.jpg"}]
    r = post(client, "/create", {"tasks": tasks, "block": True}, sk)
    assert r.status_code == 200
    info, thumb = r.get_json()
    assert_status_shape(info, "success")
    assert_status_shape(thumb, "success")
    assert info["result"]["type"] == "image" and [f["name"] for f in thumb["result"]["files"]] == ["small", "large"]


def test_create_hello_and_status_of_many_keys_in_request_order(client, sk):
    made = post(client, "/create", {"tasks": [{"task_name": "hello", "name": n} for n in ("John", "Jane", "Joe")]}, sk)
    keys = [t["key"] for t in made.get_json()]
    r = client.get(f"{D}/status?tasks={keys[2]}&tasks={keys[0]}&tasks={keys[1]}&block=true", headers=sk)
    assert [s["key"] for s in r.get_json()] == [keys[2], keys[0], keys[1]]
    assert [s["result"] for s in r.get_json()] == ["Hello Joe", "Hello John", "Hello Jane"]


def test_api_key_with_whitelisted_referer(client, runtime, served):
    account = runtime.accounts.create(f"web-{uuid.uuid4().hex[:8]}", referers=["shop.example"])
    public = runtime.accounts.create_key(account, kind="public")
    task = {"task_name": "hello", "name": "web"}
    ok = post(client, "/create", {"api_key": public, "tasks": task}, {"Referer": "https://www.shop.example/page"})
    assert ok.status_code == 200 and ok.get_json()[0]["status"] == "queued"
    header = {"Authorization": f"Api-Key {public}", "Referer": "https://shop.example/"}
    assert post(client, "/create", {"tasks": task}, header).status_code == 200
    for headers in ({}, {"Referer": "https://evil.example/"}):
        r = post(client, "/create", {"api_key": public, "tasks": task}, headers)
        assert r.status_code == 401 and r.get_json()["status"] == "error", r.get_json()


@pytest.mark.parametrize("headers, body", [
    ({}, {}),
    ({"Authorization": "Secret jl_nope_nope"}, {}),
    ({}, {"secret": "123456"}),
    ({"Authorization": "Api-Key 654321"}, {}),
])
def test_bad_credentials_are_401(client, headers, body):
    r = post(client, "/create", {**body, "tasks": {"task_name": "hello", "name": "x"}}, headers)
    assert r.status_code == 401 and r.get_json()["status"] == "error" and r.get_json()["message"]


def test_account_limit_in_flight_is_401_and_creates_nothing(client, runtime):
    account = runtime.accounts.create(f"lim-{uuid.uuid4().hex[:8]}", max_in_flight=1)
    headers = {"Authorization": f"Secret {runtime.accounts.create_key(account)}"}
    tasks = [{"task_name": "test.sleep", "seconds": 0.1}] * 2
    r = post(client, "/create", {"tasks": tasks}, headers)
    assert r.status_code == 401 and "limit" in r.get_json()["message"]
    assert runtime.store.in_flight(account.id) == 0


# -- the browser client: text/plain JSON, POST /v1/status, exactly 200, CORS -----------------


def test_stupeflix_browser_client(client, runtime):
    account = runtime.accounts.create(f"js-{uuid.uuid4().hex[:8]}", referers=["app.example"])
    public = runtime.accounts.create_key(account, kind="public")
    headers = {"Referer": "https://app.example/edit", "Origin": "https://app.example"}
    body = {"tasks": [{"task_name": "hello", "name": "A", "task_metas": {"user": 7}},
                      {"task_name": "hello", "name": "B"}], "api_key": public}
    r = client.post(f"{D}/create", data=json.dumps(body), headers=headers, content_type="text/plain;charset=UTF-8")
    assert r.status_code == 200 and isinstance(r.get_json(), list), r.data
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    keys = [t["key"] for t in r.get_json()]
    job = runtime.jobs.get(account, str(decode(keys[0])))
    assert job["metadata"] == {"user": 7} and job["params"] == {"name": "A"}
    status = {"tasks": keys, "api_key": public, "block": True}
    r = client.post(f"{D}/status", data=json.dumps(status), headers=headers, content_type="text/plain;charset=UTF-8")
    assert r.status_code == 200 and [s["result"] for s in r.get_json()] == ["Hello A", "Hello B"]
    pre = client.options(f"{D}/create", headers={**headers, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200 and "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    # reading by task key needs no API key (the document asks for one only to create tasks)
    keyless = client.post(f"{D}/status", data=json.dumps({"tasks": keys}), content_type="text/plain")
    assert keyless.status_code == 200 and [s["result"] for s in keyless.get_json()] == ["Hello A", "Hello B"]
    assert keyless.headers["Access-Control-Allow-Origin"] == "*"
    refused = client.post(f"{D}/status", data=json.dumps({"tasks": keys, "api_key": "jl_nope_nope"}),
                          content_type="text/plain")
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == "*"
    # an <img> tag can only put the public key in the query string
    r = client.get(f"{D}/file/x.jpg?task={keys[0]}&api_key={public}", headers=headers)
    assert r.status_code == 404 and "has no output file" in r.get_json()["message"]


# -- 400s in the documented form, and nothing created ---------------------------------


def test_missing_tasks_is_the_documented_400(client, sk):
    r = post(client, "/create", {}, sk)
    assert r.status_code == 400
    assert r.get_json() == {"status": "error", "errors": [
        {"name": "tasks", "location": "body", "description": "tasks is missing"}]}


@pytest.mark.parametrize("raw, name", [
    (b"{not json", "body"),
    (b"[1, 2]", "body"),
    (json.dumps({"tasks": []}).encode(), "tasks"),
    (json.dumps({"tasks": "hello"}).encode(), "tasks"),
    (json.dumps({"tasks": [42]}).encode(), "tasks.0"),
    (json.dumps({"tasks": [{"name": "x"}]}).encode(), "tasks.0.task_name"),
    (json.dumps({"tasks": [{"task_name": "nope"}]}).encode(), "tasks.0.task_name"),
    (json.dumps({"tasks": {"task_name": "image.info"}}).encode(), "tasks.url"),
    (json.dumps({"tasks": [{"task_name": "hello", "name": "ok"}, {"task_name": "hello", "name": 5}]}).encode(),
     "tasks.1.name"),
    (json.dumps({"tasks": {"task_name": "hello", "name": "x", "extra": 1}}).encode(), "tasks.extra"),
    (json.dumps({"tasks": {"task_name": "hello", "name": "x"}, "block": "maybe"}).encode(), "block"),
    (json.dumps({"tasks": {"task_name": "image.thumb", "url": "file:///etc/passwd"}}).encode(), "tasks.url"),
])
def test_bad_create_requests_are_400_and_create_nothing(client, runtime, make_account, raw, name):
    account, key = make_account()
    r = client.post(f"{D}/create", data=raw, headers={"Authorization": f"Secret {key}"}, content_type="application/json")
    assert r.status_code == 400, r.get_json()
    body = r.get_json()
    assert body["status"] == "error" and name in [e["name"] for e in body["errors"]], body
    assert all(set(e) == {"name", "location", "description"} for e in body["errors"])
    assert runtime.store.list(account.id) == []


def test_routing_errors_render_in_dragon_form(client, sk, settings):
    r = client.get(f"{D}/nope", headers=sk)
    assert r.status_code == 404 and r.get_json()["status"] == "error" and "message" in r.get_json()
    r = client.get(f"{D}/create", headers=sk)
    assert r.status_code == 405 and r.get_json()["status"] == "error"
    r = client.post(f"{D}/create", data=b"x" * (settings.max_body_bytes + 1), headers=sk)
    assert r.status_code == 413 and r.get_json()["status"] == "error"


# -- status and its keys -----------------------------------------------------------------


def test_status_of_unknown_malformed_and_other_accounts_keys(client, sk, make_account, settings):
    mine = post(client, "/create", {"tasks": {"task_name": "hello", "name": "me"}}, sk).get_json()[0]["key"]
    other = {"Authorization": f"Secret {make_account()[1]}"}
    r = client.get(f"{D}/status?tasks={mine}", headers=other)
    assert r.status_code == 200
    [s] = r.get_json()
    assert (s["key"], s["status"]) == (mine, "error") and "unknown task key" in s["result"]
    r = client.get(f"{D}/status?tasks=NOT-A-KEY&tasks={mine}", headers=sk)
    assert r.status_code == 400 and r.get_json()["errors"] == [
        {"name": "tasks", "location": "querystring", "description": "'NOT-A-KEY' is not a valid task key"}]
    r = client.get(f"{D}/status", headers=sk)
    assert r.status_code == 400 and r.get_json()["errors"][0]["description"] == "tasks is missing"
    r = post(client, "/status", {"tasks": "5OYA5JQVFIAHYOMLQG5QV3U33M"}, sk)
    assert r.status_code == 200 and r.get_json()[0]["status"] == "error"
    r = client.get(f"{D}/status?tasks={mine}")  # no key: the task key alone reads it
    assert r.status_code == 200 and r.get_json()[0]["key"] == mine and r.get_json()[0]["status"] != "error"
    assert client.get(f"{D}/status?tasks={mine}", headers={"Authorization": "Secret jl_nope_nope"}).status_code == 401
    r = post(client, "/status", {"tasks": [mine] * (settings.max_batch + 1)}, sk)
    assert r.status_code == 400 and "at most" in r.get_json()["errors"][0]["description"]


# -- create_file -------------------------------------------------------------------------


def _follow(client, r):
    assert r.status_code == 302, r.get_json()
    return client.get(r.headers["Location"].split("localhost", 1)[1])


def test_create_file_post_redirects_to_the_named_file(client, sk, served):
    task = {"task": {"task_name": "image.thumb", "url": f"{served}/cat.jpg"}}
    got = _follow(client, post(client, "/create_file/small", task, sk))
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(got.data)).size == (200, 150)
    assert Image.open(io.BytesIO(_follow(client, post(client, "/create_file/large.jpg", task, sk)).data)).size == (800, 600)


def test_create_file_in_an_img_tag_as_documented_gets_the_default_output(client, secret, served):
    """<img src=".../v1/create_file/cat.jpg?task_name=image.thumb&url=...">: cat.jpg names the link."""
    r = client.get(f"{D}/create_file/cat.jpg", query_string={"task_name": "image.thumb", "url": f"{served}/cat.jpg",
                                                             "secret": secret})
    got = _follow(client, r)
    assert got.status_code == 200 and Image.open(io.BytesIO(got.data)).size == (200, 150)  # small, the first
    r = client.get(f"{D}/create_file/medium", query_string={"task_name": "image.thumb", "url": f"{served}/cat.jpg",
                                                            "secret": secret})
    assert r.status_code == 404 and "choose one of: 'small', 'large'" in r.get_json()["message"]


def test_create_file_invalid_or_missing_filename_is_the_documented_404(client, sk, served):
    task = {"task": {"task_name": "image.thumb", "url": f"{served}/cat.jpg"}}
    r = post(client, "/create_file/medium", task, sk)
    assert r.status_code == 404
    assert r.get_json() == {"status": "error",
                            "message": "'medium' is not a valid filename, choose one of: 'small', 'large'"}
    r = post(client, "/create_file", task, sk)
    assert r.status_code == 404 and "choose one of: 'small', 'large'" in r.get_json()["message"]


def test_create_file_of_a_failed_task_is_400_with_its_status(client, sk, served):
    url = f"{served}/cat.jpeg"
    r = post(client, "/create_file/small", {"task": {"task_name": "image.thumb", "url": url}}, sk)
    assert r.status_code == 400
    status = r.get_json()
    assert_status_shape(status, "error")
    assert status["result"] == f"File '{url}' is not a valid image file"
    assert {"queued", "completed"} <= set(status["events"])


def test_create_file_get_with_query_parameters(client, secret, served):
    q = f"task_name=image.thumb&url={served}/cat.jpg&secret={secret}"
    got = _follow(client, client.get(f"{D}/create_file/small?{q}"))
    assert Image.open(io.BytesIO(got.data)).size == (200, 150)
    # a single-output task takes any file name (the document's <img src=".../cat.jpg?...">)
    got = _follow(client, client.get(f"{D}/create_file/cat.jpg?{q}&width=64&crop=true&height=64"))
    assert Image.open(io.BytesIO(got.data)).size == (64, 64)
    got = _follow(client, client.get(f"{D}/create_file?{q}&sizes=tiny:32"))
    assert Image.open(io.BytesIO(got.data)).size == (32, 24)
    r = client.get(f"{D}/create_file/small?task_name=image.thumb&secret={secret}&width=abc")
    assert r.status_code == 400 and {e["name"] for e in r.get_json()["errors"]} == {"url", "width"}
    assert all(e["location"] == "querystring" for e in r.get_json()["errors"])
    assert client.get(f"{D}/create_file/small?task_name=image.thumb&url={served}/cat.jpg").status_code == 401


def test_create_file_that_outlasts_the_wait_redirects_to_file(client, sk, runtime, monkeypatch):
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, max_wait_s=0.3))
    r = post(client, "/create_file/out", {"task": {"task_name": "test.sleep", "seconds": 2, "steps": 4}}, sk)
    assert r.status_code == 302 and r.headers["Location"].startswith(f"{D}/file/out?task=")
    monkeypatch.undo()
    r = client.get(r.headers["Location"], headers=sk)
    assert r.status_code == 404 and "has no output file" in r.get_json()["message"]


# -- file ------------------------------------------------------------------------------


def test_file_waits_for_an_existing_task(client, sk, served, make_account):
    key = post(client, "/create", {"tasks": {"task_name": "image.thumb", "url": f"{served}/cat.jpg", "width": 50}},
               sk).get_json()[0]["key"]
    got = _follow(client, client.get(f"{D}/file/cat.jpg?task={key}", headers=sk))
    assert Image.open(io.BytesIO(got.data)).size == (50, 38)
    assert _follow(client, client.get(f"{D}/file?task={key}", headers=sk)).status_code == 200
    other = {"Authorization": f"Secret {make_account()[1]}"}
    r = client.get(f"{D}/file/cat.jpg?task={key}", headers=other)
    assert r.status_code == 404 and r.get_json()["status"] == "error"
    failing = post(client, "/create", {"tasks": {"task_name": "image.info", "url": f"{served}/cat.jpeg"}},
                   sk).get_json()[0]["key"]
    r = client.get(f"{D}/file?task={failing}", headers=sk)
    assert r.status_code == 400 and r.get_json()["status"] == "error" and r.get_json()["key"] == failing
    r = client.get(f"{D}/file/cat.jpg?task=bogus", headers=sk)
    assert r.status_code == 400 and r.get_json()["errors"][0]["name"] == "task"
    assert client.get(f"{D}/file/cat.jpg", headers=sk).get_json()["errors"][0]["description"] == "task is missing"


# -- streams ---------------------------------------------------------------------------


def test_create_stream_the_documented_example(client, sk):
    body = {"tasks": [{"task_name": "hello", "name": "John"}, {"task_name": "hello", "name": "Jane"}]}
    r = post(client, "/create_stream", body, sk)
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    first, *updates = lines(r)
    assert [s["status"] for s in first] == ["queued", "queued"]
    keys = [s["key"] for s in first]
    for key, name in zip(keys, ("John", "Jane"), strict=True):
        mine = [u for u in updates if u["key"] == key]
        assert [u["status"] for u in mine] == ["executing", "success"], mine
        assert mine[-1]["result"] == f"Hello {name}" and "completed" in mine[-1]["events"]
        for u in mine:
            assert_status_shape(u)
    assert updates[-1]["status"] == "success"


@pytest.mark.parametrize("path", ["/status_stream", "/stream"])
def test_status_stream_follows_progress_to_the_end(client, sk, path):
    made = post(client, "/create", {"tasks": [{"task_name": "test.sleep", "seconds": 1.2, "steps": 4},
                                              {"task_name": "hello", "name": "x"}]}, sk).get_json()
    keys = [t["key"] for t in made]
    r = client.get(f"{D}{path}?tasks={keys[0]}&tasks={keys[1]}", headers=sk)
    first, *updates = lines(r)
    assert [s["key"] for s in first] == keys
    sleeper = [u for u in updates if u["key"] == keys[0]]
    assert sleeper[-1]["status"] == "success" and sleeper[-1]["result"]["slept"] == 1.2
    progress = [u["progress"] for u in sleeper if u["status"] == "executing"]
    assert progress == sorted(progress) and progress[-1] > 0
    # a finished task's stream is just the first line
    assert lines(client.get(f"{D}{path}?tasks={keys[0]}", headers=sk)) == [[sleeper[-1]]]


def test_status_stream_with_unknown_and_bad_keys(client, sk):
    unknown = encode(uuid.uuid4())
    assert lines(client.get(f"{D}/stream?tasks={unknown}", headers=sk))[0][0]["status"] == "error"
    r = client.get(f"{D}/status_stream?tasks=zzz", headers=sk)
    assert r.status_code == 400 and r.get_json()["status"] == "error"


def test_quiet_streams_repeat_a_status_and_notice_deleted_tasks(app, runtime, make_account):
    account, _key = make_account()
    [job] = runtime.jobs.create(account, [runtime.jobs.spec("test.sleep", {"seconds": 2.0, "steps": 1})])
    first = [{"status": "queued"}]
    # a chunk of the stream may carry several NDJSON lines
    out = [json.loads(line) for chunk in follow(runtime, app.extensions["jobline_waiter"], [job["id"]], first, [job],
                                                keepalive_s=0.2) for line in chunk.splitlines()]
    statuses = [line["status"] for line in out[1:]]
    assert statuses[-1] == "success" and statuses.count("executing") >= 2, statuses  # repeated while quiet
    [job] = runtime.jobs.create(account, [runtime.jobs.spec("test.sleep", {"seconds": 5.0, "steps": 20})])
    stream = follow(runtime, app.extensions["jobline_waiter"], [job["id"]], first, [job], keepalive_s=0.2,
                    recheck_s=0)
    assert json.loads(next(stream))[0]["status"] == "queued"
    runtime.jobs.delete(account, str(job["public_id"]))
    rest = [json.loads(line) for chunk in stream for line in chunk.splitlines()]
    assert rest[-1]["status"] == "error" and rest[-1]["result"] == "the task was deleted"
