"""Observability as an operator meets it with real processes: several workers on one host
behind one metrics port, their JSON logs carrying job ids, the API's JSON access log."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.request
from pathlib import Path

from tests.conftest import worker_proc
from tests.support.net import free_port, wait_until
from tests.support.web import gunicorn_server, request
from workers.exporter import host_dir

SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} ([0-9.e+-]+)$', re.M)


def scrape(port: int) -> list[tuple[str, dict[str, str], float]]:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return []
    return [(m[1], dict(re.findall(r'(\w+)="([^"]*)"', m[2])), float(m[3])) for m in SAMPLE.finditer(text)]


def json_lines(log: Path) -> list[dict]:
    """Every line the process wrote to stderr that is a log line; fails on one that is not JSON."""
    out = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_workers_on_one_host_share_one_metrics_port_and_log_job_ids(settings, client, auth, tmp_path):
    port = free_port()
    mine = dataclasses.replace(settings, worker_metrics_port=port)
    folder = host_dir(port)
    workers = [worker_proc(mine, tmp_path, name=f"m{i}", concurrency=1).start() for i in range(3)]
    try:
        def up():
            return {(int(labels["pid"]), labels["node"]) for name, labels, v in scrape(port)
                    if name == "jobline_worker_up" and v == 1}

        def all_up():
            return {pid for pid, _node in up()} == {w.popen.pid for w in workers}
        wait_until(all_up, timeout=90, interval=0.5)  # every worker came up; one scrape shows all
        assert {node.split("@")[0] for _pid, node in up()} == {"m0", "m1", "m2"}
        assert {name for name, labels, _v in scrape(port) if name == "jobline_worker_up"
                and int(labels["pid"]) not in {w.popen.pid for w in workers}} == set()  # no pool child
        for w in workers:
            assert w.popen.poll() is None, w.log.read_text()[-2000:]
        made = [client.post("/v1/jobs", json={"type": "hello", "params": {"name": f"m{i}"}}, headers=auth).get_json()["id"]
                for i in range(12)]
        wait_until(lambda: all(client.get(f"/v1/jobs/{j}", headers=auth).get_json()["status"] == "succeeded"
                               for j in made), timeout=60, interval=0.3)
        ran = {}  # job id -> the success line, from these workers' own logs (others may take some)

        def logged():
            ran.clear()
            for w in workers:
                for x in json_lines(w.log):
                    if x["msg"].startswith("succeeded in") and x.get("job_id") in made:
                        ran[x["job_id"]] = x
            return ran
        wait_until(logged, timeout=30, interval=0.3)
        assert all(x["type"] == "hello" and x["attempt"] == 1 and x["level"] == "info" for x in ran.values())

        def counted():
            finished = sum(v for name, labels, v in scrape(port) if name == "jobline_jobs_finished_total"
                           and labels == {"type": "hello", "status": "succeeded"})
            return finished >= len(ran) and finished
        assert counted() == len(ran) or wait_until(counted, timeout=10)
        samples = scrape(port)
        waits = [v for name, labels, v in samples if name == "jobline_job_queue_wait_seconds_count"
                 and labels.get("type") == "hello"]
        runs = [v for name, labels, v in samples if name == "jobline_job_run_seconds_count"
                and labels.get("type") == "hello"]
        assert waits and waits[0] >= len(ran) and runs and runs[0] >= len(ran)
        assert folder.is_dir() and (folder / f"member-{workers[0].popen.pid}").exists()

        # The worker serving the port stops: another one takes it over, the counts kept.
        server = next(w for w in workers if "serving this host's worker metrics" in w.log.read_text())
        server.stop()
        rest = [w for w in workers if w is not server]
        wait_until(lambda: {pid for pid, _node in up()} == {w.popen.pid for w in rest}, timeout=30, interval=0.5)
        assert any("serving this host's worker metrics" in w.log.read_text() for w in rest)
        assert sum(v for name, labels, v in scrape(port) if name == "jobline_jobs_finished_total"
                   and labels == {"type": "hello", "status": "succeeded"}) == len(ran)
    finally:
        for w in workers:
            w.stop()
    assert not folder.exists()  # the last worker to stop removed the host's folder
    for w in workers:  # every line the workers logged is JSON (Celery's banner goes to stdout, not the log)
        lines = [line for line in w.log.read_text().splitlines() if line.startswith("{")]
        assert lines and all(json.loads(line)["level"] for line in lines)


def test_the_api_writes_a_json_access_log(settings, key, tmp_path):
    log = tmp_path / "api.log"
    with gunicorn_server(settings, log) as port:
        status, headers, _ = request(port, "GET", "/v1/jobs?limit=1", {"Authorization": f"Bearer {key}",
                                                                     "X-Request-Id": "trace-42"})
        assert status == 200 and headers["X-Request-Id"] == "trace-42"
        status, headers, _ = request(port, "GET", "/v1/jobs/nope")
        assert status == 401 and re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])

        def access():
            return [x for x in json_lines(log) if x["logger"] == "jobline.access"]
        lines = wait_until(lambda: len(access()) >= 2 and access())
    ok = next(x for x in lines if x["request_id"] == "trace-42")
    assert ok["method"] == "GET" and ok["path"] == "/v1/jobs" and ok["status"] == 200
    assert isinstance(ok["account_id"], int) and ok["duration_ms"] >= 0
    refused = next(x for x in lines if x["path"] == "/v1/jobs/nope")
    assert refused["status"] == 401 and refused["account_id"] is None
    text = log.read_text().splitlines()
    assert text and all(json.loads(line) for line in text if line.strip())  # gunicorn's own lines too
