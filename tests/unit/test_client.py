"""``jobline_client.client`` and the ``jobline`` client commands against a fake API in a thread."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from jobline_client.cli import parse_params
from jobline_client.client import ApiError, Client

from shared.admin import cli


def job(job_id: str, status: str = "queued", **extra) -> dict:
    return {"id": job_id, "type": "hello", "status": status, "params": {}, "progress": 0.0,
            "result": None, "error": None, **extra}


def sse(event_id: int | None, event: str, data: dict | str) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def progress(event_id: int, fraction: float, message: str | None = None) -> str:
    data = {"progress": fraction, **({"message": message} if message else {})}
    return sse(event_id, "progress", {"id": event_id, "type": "progress", "status": "running", "run": 1,
                                      "data": data})


END = "event: end\ndata: {}\n\n"
INVALID = {"code": 400, "status": "Bad Request", "message": "The request is not valid: params.name: Missing data.",
           "errors": [{"name": "params.name", "location": "json", "description": "Missing data."}]}
STREAMS = {
    "j1": [": keep-alive\n\n", sse(1, "created", {"id": 1, "type": "created", "data": {}}),
           progress(2, 0.5, "half way"), progress(3, 1.0), sse(4, "succeed", {"id": 4, "type": "succeed"}), END],
    "failjob": [progress(1, 0.2), sse(2, "fail", {"id": 2, "type": "fail"}), END],
    # CRLF endings, two data lines, a comment and a retry field, an id carried over, JSON split over lines
    "multi": ["id: 7\r\nevent: note\r\ndata: line one\r\ndata: line two\r\n\r\n",
              "retry: 1000\n: a comment\ndata: {\"a\":\ndata: 1}\n\n", END],
    "flaky": [progress(1, 0.3, "first")],  # closes without `end`; the resumed stream finishes
}
JOBS = {"j1": job("j1", "succeeded", result={"greeting": "hi"}), "flaky": job("flaky", "succeeded"),
        "failjob": job("failjob", "failed", error="boom"), "slow": job("slow", "running")}


class FakeApi(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body=None, content_type: str = "application/json") -> None:
        raw = b"" if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def handle_one(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.seen.append({"method": method, "path": url.path, "query": query, "body": body,
                                 "headers": dict(self.headers)})
        parts = url.path.strip("/").split("/")[1:]  # drop "v1"
        if parts == ["jobs"] and method == "POST":
            if body.get("type") == "bad":
                return self.reply(400, INVALID)
            if "jobs" in body:
                return self.reply(201, {"jobs": [job(f"b{i}") for i, _ in enumerate(body["jobs"])]})
            status = "succeeded" if query.get("wait") else "queued"
            return self.reply(201, job("j1", status, params=body["params"]))
        if parts == ["jobs"]:
            if query.get("cursor") == ["c2"]:
                return self.reply(200, {"jobs": [job("j-1")], "next_cursor": None})
            return self.reply(200, {"jobs": [job("j-3"), job("j-2")], "next_cursor": "c2"})
        if parts == ["job-types"]:
            return self.reply(200, [{"name": "hello", "queue": "default", "params_schema": {}}])
        job_id, action = parts[1], (parts[2] if len(parts) > 2 else None)
        if job_id == "missing":
            return self.reply(404, {"code": 404, "status": "Not Found", "message": "No such job: missing"})
        if job_id == "boom":
            return self.reply(500, "Internal Server Error", "text/plain")
        if action == "events":
            return self.events(job_id)
        if method == "DELETE":
            return self.reply(204)
        if action in ("cancel", "restart"):
            return self.reply(200, job(job_id, "canceled" if action == "cancel" else "queued"))
        return self.reply(200, JOBS.get(job_id, job(job_id)))

    def events(self, job_id: str) -> None:
        if "text/event-stream" not in self.headers.get("Accept", ""):
            return self.reply(200, [{"id": 1, "type": "created", "data": {}}])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunks = STREAMS.get(job_id, [])
        if job_id == "flaky" and self.headers.get("Last-Event-ID") == "1":
            chunks = [progress(2, 1.0, "second"), END]
        try:
            if job_id == "slow":  # keep-alives, never an end
                for _ in range(50):
                    self.wfile.write(b": keep-alive\n\n")
                    time.sleep(0.1)
            for chunk in chunks:
                self.wfile.write(chunk.encode())
        except OSError:
            pass

    def do_GET(self) -> None:
        self.handle_one("GET")

    def do_POST(self) -> None:
        self.handle_one("POST")

    def do_DELETE(self) -> None:
        self.handle_one("DELETE")


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("JOBLINE_URL", raising=False)
    monkeypatch.delenv("JOBLINE_API_KEY", raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    server.daemon_threads = True
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def jl(api):
    with Client(api.url, "jl_test_key") as client:
        yield client


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- the client ------------------------------------------------------------------------------------

def test_create_sends_the_job_key_and_idempotency_key(api, jl):
    created = jl.create("hello", {"name": "John"}, priority=5, idempotency_key="k-1")
    assert created["id"] == "j1" and created["status"] == "queued"
    seen = api.seen[-1]
    assert seen["body"] == {"type": "hello", "params": {"name": "John"}, "priority": 5}
    assert seen["headers"]["Idempotency-Key"] == "k-1"
    assert seen["headers"]["Authorization"] == "Bearer jl_test_key"
    assert seen["query"] == {}


def test_create_with_wait_and_batch(api, jl):
    assert jl.create("hello", wait=3)["status"] == "succeeded"
    assert api.seen[-1]["query"] == {"wait": ["3"]}
    assert "Idempotency-Key" not in api.seen[-1]["headers"]
    batch = jl.create_batch([{"type": "hello"}, {"type": "hello"}], idempotency_key="b")
    assert [j["id"] for j in batch] == ["b0", "b1"]
    assert api.seen[-1]["body"] == {"jobs": [{"type": "hello"}, {"type": "hello"}]}


def test_get_list_and_iter_jobs_paging(api, jl):
    assert jl.get("j1")["result"] == {"greeting": "hi"}
    page = jl.list(status=["queued", "running"], type="hello", limit=2)
    assert page["next_cursor"] == "c2" and len(page["jobs"]) == 2
    assert api.seen[-1]["query"] == {"status": ["queued", "running"], "type": ["hello"], "limit": ["2"]}
    assert [j["id"] for j in jl.iter_jobs(status="queued", limit=2)] == ["j-3", "j-2", "j-1"]
    assert api.seen[-1]["query"]["cursor"] == ["c2"]


def test_cancel_restart_delete_events_types(api, jl):
    assert jl.cancel("j1")["status"] == "canceled"
    assert api.seen[-1]["method"] == "POST" and api.seen[-1]["path"] == "/v1/jobs/j1/cancel"
    assert jl.restart("j1")["status"] == "queued"
    assert jl.delete("j1") is None
    assert api.seen[-1]["method"] == "DELETE"
    assert jl.events("j1")[0]["type"] == "created"
    assert jl.job_types()[0]["name"] == "hello"


def test_api_errors_carry_status_message_and_errors(jl):
    with pytest.raises(ApiError) as missing:
        jl.get("missing")
    assert (missing.value.status, missing.value.message, missing.value.errors) == (404, "No such job: missing", [])
    with pytest.raises(ApiError) as invalid:
        jl.create("bad")
    assert invalid.value.status == 400 and invalid.value.errors == INVALID["errors"]
    assert invalid.value.message.startswith("The request is not valid")
    with pytest.raises(ApiError) as boom:
        jl.get("boom")
    assert (boom.value.status, boom.value.message) == (500, "Internal Server Error")


def test_unreachable_server_is_status_0_naming_the_url():
    url = dead_url()
    with Client(url) as client, pytest.raises(ApiError) as err:
        client.get("j1")
    assert err.value.status == 0 and url in err.value.message


def test_url_and_key_from_the_environment(api, monkeypatch):
    monkeypatch.setenv("JOBLINE_URL", api.url + "/")
    monkeypatch.setenv("JOBLINE_API_KEY", "jl_env")
    with Client() as client:
        assert client.url == api.url
        client.job_types()
    assert api.seen[-1]["headers"]["Authorization"] == "Bearer jl_env"


def test_sse_parsing_skips_keepalives_and_stops_at_end(api, jl):
    events = list(jl.stream_events("j1"))
    assert [(e["id"], e["event"]) for e in events] == [("1", "created"), ("2", "progress"), ("3", "progress"),
                                                       ("4", "succeed")]
    assert events[1]["data"]["data"] == {"progress": 0.5, "message": "half way"}
    assert api.seen[-1]["headers"]["Accept"] == "text/event-stream"


def test_sse_multiline_data_crlf_and_comments(jl):
    events = list(jl.stream_events("multi"))
    assert events == [{"id": "7", "event": "note", "data": "line one\nline two"},
                      {"id": "7", "event": "message", "data": {"a": 1}}]


def test_stream_that_breaks_raises_and_resumes_from_last_event_id(api, jl):
    with pytest.raises(ApiError) as err:
        list(jl.stream_events("flaky"))
    assert err.value.status == 0 and "closed before its end" in err.value.message
    assert [e["id"] for e in jl.stream_events("flaky", last_event_id=1)] == ["2"]
    assert api.seen[-1]["headers"]["Last-Event-ID"] == "1"


def test_wait_reports_progress_and_returns_the_final_job(jl):
    seen = []
    final = jl.wait("j1", on_progress=lambda f, m: seen.append((f, m)))
    assert seen == [(0.5, "half way"), (1.0, None)]
    assert final["status"] == "succeeded"


def test_wait_resumes_a_broken_stream(api, jl):
    seen = []
    assert jl.wait("flaky", on_progress=lambda f, m: seen.append((f, m)))["status"] == "succeeded"
    assert seen == [(0.3, "first"), (1.0, "second")]
    assert [s["headers"].get("Last-Event-ID") for s in api.seen if s["path"].endswith("/events")] == [None, "1"]


def test_wait_times_out(jl):
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        jl.wait("slow", timeout=0.5)
    assert time.monotonic() - started < 3


def test_wait_on_a_missing_job_raises_at_once(jl):
    with pytest.raises(ApiError) as err:
        jl.wait("missing")
    assert err.value.status == 404


# -- the CLI ---------------------------------------------------------------------------------------

def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_param_parsing():
    assert parse_params('{"a": 1, "b": 2}', ["b=3", "s=hello", "t=true", "l=[1,2]", "e=", "q=x=y", 'j="7"']) == {
        "a": 1, "b": 3, "s": "hello", "t": True, "l": [1, 2], "e": "", "q": "x=y", "j": "7"}


def test_cli_submit(api, capsys):
    code, out, err = run(capsys, "submit", "hello", "--url", api.url, "--key", "k", "--param", "name=John",
                         "--param", "n=3", "--params-json", '{"tags": ["a"]}', "--priority", "2",
                         "--idempotency-key", "idem", "--start-at", "2030-01-01T00:00:00Z")
    assert code == 0 and err == ""
    assert json.loads(out)["id"] == "j1"
    seen = api.seen[-1]
    assert seen["body"] == {"type": "hello", "params": {"tags": ["a"], "name": "John", "n": 3}, "priority": 2,
                            "start_at": "2030-01-01T00:00:00Z"}
    assert seen["headers"]["Idempotency-Key"] == "idem" and seen["headers"]["Authorization"] == "Bearer k"


def test_cli_submit_wait_seconds_and_follow(api, capsys, monkeypatch):
    monkeypatch.setenv("JOBLINE_URL", api.url)
    code, out, _ = run(capsys, "submit", "hello", "--wait", "5")
    assert code == 0 and json.loads(out)["status"] == "succeeded" and api.seen[-1]["query"] == {"wait": ["5"]}
    code, out, err = run(capsys, "submit", "hello", "--wait")
    assert code == 0 and json.loads(out)["status"] == "succeeded"
    lines = err.splitlines()  # not a terminal: a line per report, then the bar as it ended
    assert lines[:2] == ["progress  50.0% half way", "progress 100.0%"] and len(lines) == 3
    assert lines[2].startswith("job j1 ") and "━" in lines[2] and "100%" in lines[2] and "succeeded" in lines[2]
    assert api.seen[0]["query"] == {"wait": ["5"]} and "wait" not in api.seen[1]["query"]


def test_cli_bad_arguments_exit_2(api, capsys):
    code, _, err = run(capsys, "submit", "hello", "--url", api.url, "--param", "novalue")
    assert code == 2 and err.startswith("jobline: --param takes KEY=VALUE")
    code, _, err = run(capsys, "submit", "hello", "--url", api.url, "--params-json", "[1]")
    assert code == 2 and "JSON object" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["get"])
    assert exc.value.code == 2
    assert api.seen == []


def test_cli_get_and_errors(api, capsys):
    code, out, _ = run(capsys, "get", "j1", "--url", api.url, "--wait", "2")
    assert code == 0 and json.loads(out)["status"] == "succeeded" and api.seen[-1]["query"] == {"wait": ["2"]}
    code, out, err = run(capsys, "get", "missing", "--url", api.url)
    assert (code, out, err) == (2, "", "jobline: No such job: missing\n")
    code, _, err = run(capsys, "submit", "bad", "--url", api.url)
    assert code == 2 and "params.name (json): Missing data." in err
    code, _, err = run(capsys, "get", "boom", "--url", api.url)
    assert code == 3 and err == "jobline: Internal Server Error\n"
    url = dead_url()
    code, _, err = run(capsys, "get", "j1", "--url", url)
    assert code == 3 and err.startswith("jobline: cannot reach Jobline at " + url)


def test_cli_list(api, capsys):
    code, out, _ = run(capsys, "list", "--url", api.url, "--status", "queued", "running", "--status", "failed",
                       "--type", "hello", "--limit", "2")
    assert code == 0 and json.loads(out)["next_cursor"] == "c2"
    assert api.seen[-1]["query"] == {"status": ["queued", "running", "failed"], "type": ["hello"], "limit": ["2"]}
    code, out, _ = run(capsys, "list", "--url", api.url, "--all")
    assert code == 0 and [j["id"] for j in json.loads(out)["jobs"]] == ["j-3", "j-2", "j-1"]


def test_cli_wait_exit_codes(api, capsys):
    code, out, err = run(capsys, "wait", "j1", "--url", api.url)
    assert code == 0 and json.loads(out)["status"] == "succeeded" and "progress  50.0% half way" in err
    code, out, err = run(capsys, "wait", "failjob", "--url", api.url)
    assert code == 1 and json.loads(out)["status"] == "failed"
    progress_line, bar, message = err.splitlines()
    assert progress_line == "progress  20.0%" and message == "jobline: job failjob failed: boom"
    assert bar.startswith("job failjob") and " 20%" in bar and bar.rstrip().endswith("failed")
    code, out, err = run(capsys, "wait", "slow", "--url", api.url, "--timeout", "0.3")
    assert code == 1 and json.loads(out)["status"] == "running" and "did not finish within 0.3 s" in err
    code, _, _ = run(capsys, "wait", "missing", "--url", api.url)
    assert code == 2


def test_cli_cancel_restart_delete_events_types(api, capsys):
    code, out, _ = run(capsys, "cancel", "j1", "--url", api.url)
    assert code == 0 and json.loads(out)["status"] == "canceled" and api.seen[-1]["path"] == "/v1/jobs/j1/cancel"
    assert json.loads(run(capsys, "restart", "j1", "--url", api.url)[1])["status"] == "queued"
    assert json.loads(run(capsys, "delete", "j1", "--url", api.url)[1]) == {"id": "j1", "deleted": True}
    assert json.loads(run(capsys, "events", "j1", "--url", api.url)[1])[0]["type"] == "created"
    code, out, _ = run(capsys, "events", "j1", "--url", api.url, "--follow")
    assert code == 0 and [json.loads(line)["type"] for line in out.splitlines()] == [
        "created", "progress", "progress", "succeed"]
    assert json.loads(run(capsys, "types", "--url", api.url)[1])[0]["name"] == "hello"
    assert run(capsys, "cancel", "missing", "--url", api.url)[0] == 2


def test_progress_bar_on_a_terminal_redraws_in_place(api, capsys, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich's switch: draw as on a terminal
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, err = run(capsys, "wait", "j1", "--url", api.url)
    assert code == 0 and json.loads(out)["status"] == "succeeded"
    assert "progress  50.0%" not in err  # no log lines: the bar itself
    assert err.startswith("\x1b[?25ljob j1 ")  # the cursor hidden while the bar is drawn
    assert "\r\x1b[2Kjob j1 " in err and "100% 0:00:00 succeeded" in err  # redrawn in place


def test_the_sdk_and_the_plain_commands_do_not_import_rich():
    """The SDK and its CLI will ship with `requests` alone: rich only inside the drawing commands."""
    import subprocess
    import sys

    code = ("import sys, jobline_client.client, jobline_client.cli, jobline_client.live, shared.admin.cli; "
            "sys.exit('rich' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
