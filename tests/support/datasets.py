"""Helpers for dataset tests: datasets with data, N-Triples bodies, a reset held running."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict

import psycopg2

NT = {"Content-Type": "application/n-triples"}


def nt(n: int, prefix: str = "http://example.org") -> str:
    return "".join(f'<{prefix}/s{i}> <{prefix}/p> "value {i}" .\n' for i in range(n))


def make_dataset(client, auth, triples: int = 0, **fields) -> str:
    code = fields.pop("code", None) or f"ds-{uuid.uuid4().hex[:10]}"
    r = client.post("/v1/datasets", json={"code": code, **fields}, headers=auth)
    assert r.status_code == 201, r.get_json()
    if triples:
        r = client.post(f"/v1/datasets/{code}/triples", data=nt(triples), headers={**auth, **NT})
        assert r.status_code == 200 and r.get_json()["added"] == triples, r.get_json()
    return code


def rows_by_generation(settings, code: str) -> dict[int, int]:
    """Rows per generation, straight from the table (old generations included)."""
    with contextlib.closing(psycopg2.connect(settings.database_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT t.generation, count(*) FROM triples t JOIN datasets d ON d.id = t.dataset_id"
                    " WHERE d.code = %s GROUP BY 1", (code,))
        return dict(cur.fetchall())


@contextlib.contextmanager
def reset_held_running(runtime, account, code: str) -> Iterator[dict]:
    """A dataset.reset job claimed by a fake worker that never swaps: the dataset is read-only.

    Inserted on a queue no worker serves, so no real worker claims it (workers claim from
    PostgreSQL); on exit the fake worker fails it (a reset that failed midway, before its swap).
    """
    spec = runtime.jobs.spec("dataset.reset", {"dataset": code})
    with runtime.db.transaction() as cur:
        job = runtime.store.insert(cur, account.id, [dict(asdict(spec), queue="unserved")], None)[0]
    claimed = runtime.store.claim(job["id"], "fake-worker")
    assert claimed is not None
    done = threading.Event()

    def beat() -> None:  # keep beat's reaper from handing the job to a real worker
        while not done.wait(0.5):
            runtime.store.heartbeat(job["id"], "fake-worker")

    threading.Thread(target=beat, daemon=True).start()
    try:
        yield claimed
    finally:
        done.set()
        runtime.store.fail(job["id"], "fake-worker", "simulated failure midway")
