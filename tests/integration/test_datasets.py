"""The canonical datasets API, and resets / exports run by the real engine."""

from __future__ import annotations

import io
import threading
import time
from datetime import datetime

import pytest

from shared.datasets import rdf
from shared.datasets.service import DatasetService
from tests.conftest import wait_until
from tests.support.datasets import NT, make_dataset, nt, reset_held_running, rows_by_generation

pytestmark = pytest.mark.usefixtures("engine")


def run_job(client, auth, code, type_, **body):
    r = client.post(f"/v1/datasets/{code}/jobs", json={"type": type_, **body}, headers=auth)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def wait_job(client, auth, job_id, status="succeeded"):
    def done():
        job = client.get(f"/v1/jobs/{job_id}?wait=5", headers=auth).get_json()
        return job if job["status"] in ("succeeded", "failed", "canceled") else None

    job = wait_until(done, timeout=60)
    assert job["status"] == status, job
    return job


def all_triples(client, auth, code):
    out, cursor = [], None
    while True:
        page = client.get(f"/v1/datasets/{code}/triples", query_string={"limit": 1000, **({"cursor": cursor} if cursor else {})},
                          headers=auth).get_json()
        out += page["triples"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def test_create_load_read_page_and_delete_a_pattern(client, auth):
    code = make_dataset(client, auth, title="NASA")
    body = nt(5) + nt(2) + '<http://example.org/s0> <http://example.org/q> <http://example.org/o> .\n'
    r = client.post(f"/v1/datasets/{code}/triples", data=body, headers={**auth, **NT})
    assert r.get_json() == {"parsed": 8, "added": 6, "triples": 6, "generation": 1}
    ds = client.get(f"/v1/datasets/{code}", headers=auth).get_json()
    assert (ds["title"], ds["triples"], ds["storage_mode"], ds["status"], ds["reset_job"]) == ("NASA", 6, "read-write", "draft", None)
    # pages with a cursor, in a stable order, with the count
    first = client.get(f"/v1/datasets/{code}/triples?limit=4", headers=auth).get_json()
    second = client.get(f"/v1/datasets/{code}/triples?limit=4&cursor={first['next_cursor']}", headers=auth).get_json()
    assert first["count"] == 6 and len(first["triples"]) == 4 and len(second["triples"]) == 2 and second["next_cursor"] is None
    assert {t["s"] for t in first["triples"] + second["triples"]} == {f"<http://example.org/s{i}>" for i in range(5)}
    # a pattern: read, then delete
    s0 = {"s": "<http://example.org/s0>"}
    assert client.get(f"/v1/datasets/{code}/triples", query_string=s0, headers=auth).get_json()["count"] == 2
    r = client.get(f"/v1/datasets/{code}/triples", query_string=s0, headers={**auth, "Accept": "application/n-triples"})
    assert r.mimetype == "application/n-triples" and r.headers["X-Total-Count"] == "2"
    assert '<http://example.org/s0> <http://example.org/p> "value 0" .\n' in r.get_data(as_text=True)
    r = client.delete(f"/v1/datasets/{code}/triples", query_string={**s0, "o": '"value 0"'}, headers=auth)
    assert r.get_json() == {"deleted": 1, "triples": 5, "generation": 1}
    assert client.get(f"/v1/datasets/{code}/status", headers=auth).get_json() == {
        "status": "draft", "storage_mode": "read-write", "reset_job": None}
    r = client.patch(f"/v1/datasets/{code}", json={"status": "published"}, headers=auth)
    assert r.get_json()["status"] == "published"
    assert code in [d["code"] for d in client.get("/v1/datasets", headers=auth).get_json()]


def test_turtle_and_bad_input_store_nothing(client, auth, app, runtime):
    code = make_dataset(client, auth, triples=3)
    ttl = b'@prefix ex: <http://example.org/> .\nex:apollo ex:crew "Armstrong", "Aldrin" .\n'
    r = client.post(f"/v1/datasets/{code}/triples", data=ttl, headers={**auth, "Content-Type": "text/turtle"})
    assert r.get_json()["added"] == 2
    bad = nt(2000) + "<http://example.org/s> <http://example.org/p> oops .\n"  # the staged path, failing late
    r = client.post(f"/v1/datasets/{code}/triples", data=bad, headers={**auth, **NT})
    assert r.status_code == 400 and r.get_json()["message"].startswith("line 2001: not an N-Triples statement")
    r = client.post(f"/v1/datasets/{code}/triples", data=b"<http://s> <http://p> .\n", headers={**auth, **NT})
    assert r.status_code == 400 and "line 1" in r.get_json()["message"]
    r = client.post(f"/v1/datasets/{code}/triples", data=b"ex:a ex:b", headers={**auth, "Content-Type": "text/turtle"})
    assert r.status_code == 400 and "not valid Turtle" in r.get_json()["message"]
    r = client.post(f"/v1/datasets/{code}/triples", data=b'{"s": 1}', headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 415
    # N-Triples streams in, up to its own limit; Turtle is parsed in memory, up to the JSON
    # one, and a bigger text/turtle body is streamed as N-Triples (pytassium's .nt files).
    big = b"#" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert client.post(f"/v1/datasets/{code}/triples", data=big, headers={**auth, **NT}).get_json()["added"] == 0
    assert client.post(f"/v1/datasets/{code}/triples", data=big, headers={**auth, "Content-Type": "text/turtle"}
                       ).get_json()["added"] == 0
    big_ttl = b"@prefix ex: <http://example.org/> .\n" + big
    r = client.post(f"/v1/datasets/{code}/triples", data=big_ttl, headers={**auth, "Content-Type": "text/turtle"})
    assert r.status_code == 400 and r.get_json()["message"].startswith("line 1: not an N-Triples statement")
    huge = b"#" * (runtime.settings.max_load_bytes + 1)
    assert client.post(f"/v1/datasets/{code}/triples", data=huge, headers={**auth, **NT}).status_code == 413
    assert client.get(f"/v1/datasets/{code}", headers=auth).get_json()["triples"] == 5


def test_bulk_load_through_staging_counts_and_compacts(client, auth, runtime):
    code = make_dataset(client, auth, triples=5000)
    for i in range(70):  # many small writes: counted by deltas, folded into one by a count
        client.post(f"/v1/datasets/{code}/triples", data=f"<http://x/{i}> <http://p> <http://o> .\n", headers={**auth, **NT})
    assert client.get(f"/v1/datasets/{code}", headers=auth).get_json()["triples"] == 5070
    with runtime.db.transaction() as cur:
        cur.execute("SELECT account_id FROM datasets WHERE code = %s", (code,))
        account_id = cur.fetchone()["account_id"]
    ds = runtime.db.one("get_dataset", account_id=account_id, code=code)
    assert runtime.db.one("count_triples", dataset_id=ds["id"], generation=1)["deltas"] == 1
    assert len(all_triples(client, auth, code)) == 5070 == sum(rows_by_generation(runtime.settings, code).values())


def test_invalid_requests(client, auth):
    code = make_dataset(client, auth)
    for body in [{"code": "Bad Code"}, {"code": ""}, {"code": "ok", "status": "public"}, {"code": "ok", "x": 1}, {}]:
        r = client.post("/v1/datasets", json=body, headers=auth)
        assert r.status_code == 400, body
    assert client.post("/v1/datasets", data="{", headers={**auth, "Content-Type": "application/json"}).status_code == 400
    assert client.post("/v1/datasets", json={"code": code}, headers=auth).status_code == 409
    for query in [{"s": "not-a-term"}, {"p": '"lit"'}, {"limit": 0}, {"limit": "x"}, {"cursor": "zz"}]:
        r = client.get(f"/v1/datasets/{code}/triples", query_string=query, headers=auth)
        assert r.status_code == 400, query
    assert client.delete(f"/v1/datasets/{code}/triples?o=nope", headers=auth).status_code == 400
    for body in [{"type": "explode"}, {"type": "hello"}, {}, {"type": "reset", "start_at": "soon"}]:
        assert client.post(f"/v1/datasets/{code}/jobs", json=body, headers=auth).status_code == 400, body
    assert client.get("/v1/datasets/nope", headers=auth).status_code == 404
    assert client.get("/v1/datasets").status_code == 401


def test_another_accounts_dataset_is_404_and_unchanged(client, auth, make_account):
    code = make_dataset(client, auth, triples=3)
    other = {"Authorization": f"Bearer {make_account()[1]}"}
    for method, path, kw in [
        ("get", f"/v1/datasets/{code}", {}), ("get", f"/v1/datasets/{code}/status", {}),
        ("get", f"/v1/datasets/{code}/triples", {}), ("patch", f"/v1/datasets/{code}", {"json": {"title": "x"}}),
        ("post", f"/v1/datasets/{code}/triples", {"data": nt(1, "http://evil"), "headers": NT}),
        ("delete", f"/v1/datasets/{code}/triples", {}), ("post", f"/v1/datasets/{code}/jobs", {"json": {"type": "reset"}}),
        ("delete", f"/v1/datasets/{code}", {}),
    ]:
        headers = {**other, **kw.pop("headers", {})}
        assert getattr(client, method)(path, headers=headers, **kw).status_code == 404, (method, path)
    assert code not in [d["code"] for d in client.get("/v1/datasets", headers=other).get_json()]
    # the code is free in the other account's namespace: taking it reveals nothing, touches nothing
    assert client.post("/v1/datasets", json={"code": code}, headers=other).status_code == 201
    assert client.get(f"/v1/datasets/{code}", headers=other).get_json()["triples"] == 0
    assert client.delete(f"/v1/datasets/{code}", headers=other).status_code == 204
    # a job naming someone else's dataset, through the generic API, fails without touching it
    job = client.post("/v1/jobs", json={"type": "dataset.reset", "params": {"dataset": code}}, headers=other).get_json()
    assert "no dataset" in wait_job(client, other, job["id"], "failed")["error"]
    assert client.get(f"/v1/datasets/{code}", headers=auth).get_json()["triples"] == 3


def test_reset_empties_the_dataset_and_reclaims_old_rows(client, auth, runtime):
    code = make_dataset(client, auth, triples=3000)
    job = wait_job(client, auth, run_job(client, auth, code, "reset")["id"])
    assert job["queue"] == "maintenance" and job["result"]["generation"] == 2
    ds = client.get(f"/v1/datasets/{code}", headers=auth).get_json()
    assert (ds["triples"], ds["storage_mode"], ds["generation"]) == (0, "read-write", 2)
    assert client.get(f"/v1/datasets/{code}/triples", headers=auth).get_json()["triples"] == []
    reclaim = wait_job(client, auth, job["result"]["reclaim_job"])
    assert reclaim["type"] == "dataset.reclaim" and reclaim["result"]["reclaimed"] == 3000
    assert rows_by_generation(runtime.settings, code) == {}
    # an empty dataset's reset leaves nothing to reclaim
    assert wait_job(client, auth, run_job(client, auth, code, "reset")["id"])["result"]["reclaim_job"] is None


def test_read_only_while_a_reset_runs_and_a_reset_failing_midway_changes_nothing(client, auth, make_account, runtime):
    account, key = make_account()
    auth = {"Authorization": f"Bearer {key}"}
    code = make_dataset(client, auth, triples=10)
    with reset_held_running(runtime, account, code) as job:
        r = client.post(f"/v1/datasets/{code}/triples", data=nt(1, "http://new"), headers={**auth, **NT})
        assert r.status_code == 423 and str(job["public_id"]) in r.get_json()["message"]
        r = client.delete(f"/v1/datasets/{code}/triples", headers=auth)
        assert r.status_code == 423 and str(job["public_id"]) in r.get_json()["message"]
        status = client.get(f"/v1/datasets/{code}/status", headers=auth).get_json()
        assert status == {"status": "draft", "storage_mode": "read-only", "reset_job": str(job["public_id"])}
        assert client.get(f"/v1/datasets/{code}/triples", headers=auth).get_json()["count"] == 10  # reads work
    ds = client.get(f"/v1/datasets/{code}", headers=auth).get_json()
    assert (ds["storage_mode"], ds["triples"], ds["generation"]) == ("read-write", 10, 1)
    assert client.post(f"/v1/datasets/{code}/triples", data=nt(1, "http://new"), headers={**auth, **NT}).status_code == 200


def test_scheduled_resets_far_future_cancellable_and_past_runs_now(client, auth):
    code = make_dataset(client, auth, triples=5)
    job = run_job(client, auth, code, "reset", start_at="2999-01-01T00:00:00Z")
    assert job["status"] == "scheduled"
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth).get_json()["status"] == "canceled"
    assert client.get(f"/v1/datasets/{code}", headers=auth).get_json()["triples"] == 5
    job = run_job(client, auth, code, "reset", start_at="2001-01-01T00:00:00Z")
    assert job["status"] == "queued"
    assert wait_job(client, auth, job["id"])["result"]["lateness_ms"] > 0
    soon = time.time() + 1.5
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(soon)) + f".{int(soon % 1 * 1000):03d}Z"
    job = run_job(client, auth, code, "reset", start_at=start)
    assert job["status"] == "scheduled"
    done = wait_job(client, auth, job["id"])
    # dispatched ahead by beat, claimed no earlier than its time
    assert datetime.fromisoformat(done["started_at"]) >= datetime.fromisoformat(done["start_at"])


def test_export_writes_an_ntriples_dump(client, auth):
    code = make_dataset(client, auth, triples=1200)
    client.post(f"/v1/datasets/{code}/triples", data='<http://s> <http://p> "tab\\there \\"q\\""@EN .\n', headers={**auth, **NT})
    job = wait_job(client, auth, run_job(client, auth, code, "export")["id"])
    assert job["result"]["triples"] == 1201
    r = client.get(f"/v1/jobs/{job['id']}/files/dump.nt", headers=auth)
    assert r.status_code == 302
    dump = client.get(r.headers["Location"].split("localhost", 1)[1])
    assert dump.status_code == 200 and dump.mimetype == "application/n-triples"
    lines = dump.get_data(as_text=True).splitlines()
    assert len(lines) == 1201 and '<http://s> <http://p> "tab\\there \\"q\\""@en .' in lines
    # the dump loads back into an identical dataset
    copy = make_dataset(client, auth)
    r = client.post(f"/v1/datasets/{copy}/triples", data=dump.get_data(), headers={**auth, **NT})
    assert r.get_json()["added"] == 1201


def test_delete_dataset(client, auth, runtime):
    code = make_dataset(client, auth, triples=20)
    assert client.delete(f"/v1/datasets/{code}", headers=auth).status_code == 204
    assert client.get(f"/v1/datasets/{code}", headers=auth).status_code == 404
    assert make_dataset(client, auth, code=code) == code  # the code is free again, and empty
    assert client.get(f"/v1/datasets/{code}", headers=auth).get_json()["triples"] == 0


def test_reset_while_writers_hammer_the_dataset(client, auth, app, runtime):
    """No write lands in the old generation once the reset is visible; none is silently lost."""
    code = make_dataset(client, auth, triples=2000)
    stop, log, lock = threading.Event(), [], threading.Lock()

    def writer(w: int) -> None:
        c = app.test_client()
        i = 0
        while not stop.is_set():
            triple = f"<http://w/{w}/{i}> <http://p> <http://o> .\n"
            t0 = time.monotonic()
            r = c.post(f"/v1/datasets/{code}/triples", data=triple, headers={**auth, **NT})
            with lock:
                log.append((t0, triple.split(" ")[0], r.status_code, r.get_json()))
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    job = run_job(client, auth, code, "reset")
    seen = wait_until(lambda: client.get(f"/v1/datasets/{code}", headers=auth).get_json()["generation"] == 2
                      and time.monotonic(), timeout=60, interval=0.01)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    job = wait_job(client, auth, job["id"])
    assert len(log) > 20
    refused = [e for e in log if e[2] != 200]
    assert all(e[2] == 423 and job["id"] in e[3]["message"] for e in refused), refused[:3]
    ok = [e for e in log if e[2] == 200]
    assert {e[3]["generation"] for e in ok} <= {1, 2} and any(e[3]["generation"] == 2 for e in ok)
    late_old = [e for e in ok if e[0] > seen and e[3]["generation"] == 1]
    assert late_old == []
    # every write acknowledged in the new generation is there; nothing else is
    survivors = {t["s"] for t in all_triples(client, auth, code)}
    assert survivors == {e[1] for e in ok if e[3]["generation"] == 2}
    assert client.get(f"/v1/datasets/{code}", headers=auth).get_json()["triples"] == len(survivors)
    wait_job(client, auth, job["result"]["reclaim_job"])
    assert set(rows_by_generation(runtime.settings, code)) == {2}


def test_swap_is_one_step_and_reclaim_walks_old_rows_in_batches(client, auth, make_account, runtime):
    from shared.datasets.service import DatasetService

    account, key = make_account()
    auth = {"Authorization": f"Bearer {key}"}
    code = make_dataset(client, auth, triples=1050)
    service = DatasetService(runtime.db)
    ds = service.find(account, code)
    with reset_held_running(runtime, account, code) as job:
        swapped = service.swap(ds["id"], str(job["public_id"]))
        assert (swapped["generation"], swapped["previous"], swapped["garbage"]) == (2, 1, True)
        assert client.get(f"/v1/datasets/{code}", headers=auth).get_json()["triples"] == 0  # at once, whole
        assert rows_by_generation(runtime.settings, code) == {1: 1050}  # invisible, not yet reclaimed
        assert service.reclaim(ds["id"], batch=100) == 1050
    assert rows_by_generation(runtime.settings, code) == {}
    assert service.swap(ds["id"], str(job["public_id"])) is None  # a job no longer running swaps nothing


@pytest.mark.parametrize("size", [10, 3000])  # the small path, and the spooled, staged one
def test_a_reset_does_not_wait_for_an_upload_in_flight(client, auth, runtime, make_account, size):
    """A client that sends part of its body and stalls holds no lock and no connection."""
    account, key = make_account()
    auth = {"Authorization": f"Bearer {key}"}
    code = make_dataset(client, auth, triples=4)
    reached, release = threading.Event(), threading.Event()

    def body():  # what the request's parser yields: some triples, then a stalled client
        yield from rdf.read(io.BytesIO(nt(size, "http://example.org/a").encode()), "nt")
        reached.set()
        assert release.wait(120)
        yield from rdf.read(io.BytesIO(nt(10, "http://example.org/b").encode()), "nt")

    outcome = {}
    loader = threading.Thread(target=lambda: outcome.update(DatasetService(runtime.db).load(account, code, body())))
    loader.start()
    try:
        assert reached.wait(60)
        job = run_job(client, auth, code, "reset")
        wait_job(client, auth, job["id"])  # swapped while the upload is still open
        assert loader.is_alive()
    finally:
        release.set()
        loader.join(120)
    assert outcome["added"] == size + 10 and outcome["generation"] == 2
    assert client.get(f"/v1/datasets/{code}", headers=auth).get_json()["triples"] == size + 10
