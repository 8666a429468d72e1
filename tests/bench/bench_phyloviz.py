"""End-to-end PHYLOViZ analyses through the API and a real worker, against the bare algorithms.

Run: ``python tests/bench/bench_phyloviz.py [--sizes 1000 5000 10000 15000] [--lvs 3]``.
Needs PostgreSQL and Redis (``JOBLINE_TEST_PG``, ``JOBLINE_TEST_REDIS``, as the tests): it
makes a scratch database, starts ``celery worker -Q analysis -c 1``, and drives the dialect
through Flask's test client (no HTTP server: the request cost is the app's own).

Table 1, per size: upload (multipart POST, parse + validate + store), then an inference job
(POST → job listed as completed, polled every 50 ms) and a visualization job; "worker s"
is the job's own run time (finished_at − started_at); "bare s" runs parse + goeBURST
(+ radial + SVG) in this process. Table 2 is the storage choice: loading a dataset's
profiles for a job from the one-row blob (migration 0005) vs. one row per profile.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg2
import redis
from psycopg2.extras import execute_values

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.engine.settings import Settings  # noqa: E402
from shared.phylo.goeburst import goeburst  # noqa: E402
from shared.phylo.mlst import parse_profiles  # noqa: E402
from shared.phylo.projects import Datasets  # noqa: E402
from shared.phylo.radial import radial, to_svg  # noqa: E402
from tests.bench.bench_goeburst import machine  # noqa: E402
from tests.support.data import MissingData, mlst  # noqa: E402

FILES = {1000: "phylodb_profiles_1000.tsv", 2000: "phylodb_profiles_2000.tsv",
         5000: "phylodb_profiles_5000.tsv", 10000: "phylodb_profiles_10000.tsv",
         15000: "phylodb_profiles_15000.tsv"}


class Bench:
    def __init__(self, admin_dsn: str, redis_url: str, tmp: Path) -> None:
        self.admin_dsn, self.name = admin_dsn, f"jobline_bench_{os.getpid()}"
        self._sql(f'CREATE DATABASE "{self.name}"')
        self.settings = Settings(database_url=admin_dsn.rsplit("/", 1)[0] + "/" + self.name,
                                 redis_url=redis_url, redis_prefix=f"jlb-{uuid.uuid4().hex[:8]}:",
                                 storage_url=f"file://{tmp}", heartbeat_s=0.5, log_level="WARNING")
        from shared.engine.migrate import upgrade

        upgrade(self.settings.database_url)
        env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT)}
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "analysis", "-c", "1",
             "--without-mingle", "--without-gossip", "-l", "warning"],
            cwd=ROOT, env=env, stdout=(tmp / "worker.log").open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        from api.app import create_app
        from shared.engine.runtime import Runtime

        self.runtime = Runtime.build(self.settings)
        self.client = create_app(runtime=self.runtime).test_client()
        account = self.runtime.accounts.create("bench")
        self.headers = {"Authorization": f"Bearer {self.runtime.accounts.create_key(account)}"}

    def _sql(self, statement: str) -> None:
        conn = psycopg2.connect(self.admin_dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
        conn.close()

    def close(self) -> None:
        self.worker.terminate()
        try:
            self.worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.worker.pid, 9)
        self.runtime.db.close()
        self._sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        r = redis.Redis.from_url(self.settings.redis_url)
        keys = list(r.scan_iter(match=f"{self.settings.redis_prefix}*"))
        if keys:
            r.delete(*keys)

    def call(self, method: str, path: str, expect: int, **kw):
        r = getattr(self.client, method)(f"/phyloviz{path}?provider=google", headers=self.headers, **kw)
        assert r.status_code == expect, (path, r.status_code, r.get_data(as_text=True)[:300])
        return r.get_json()

    def dataset(self, path: Path) -> tuple[str, str, float]:
        taxon = f"t{uuid.uuid4().hex[:8]}"
        loci = [f"l{k}" for k in range(len(path.read_text().split("\n", 1)[0].split("\t")) - 1)]
        self.call("put", f"/taxa/{taxon}", 204, json={})
        for locus in loci:
            self.call("put", f"/taxa/{taxon}/loci/{locus}", 204, json={})
        self.call("put", f"/taxa/{taxon}/schemas/s", 204, json={"loci": loci})
        project = self.call("post", "/projects", 201, json={"name": "bench"})["id"]
        dataset = self.call("post", f"/projects/{project}/datasets", 201,
                            json={"taxon_id": taxon, "schema_id": "s"})["id"]
        t0 = time.perf_counter()
        self.call("post", f"/projects/{project}/datasets/{dataset}/profiles/files", 200,
                  content_type="multipart/form-data", data={"file": (io.BytesIO(path.read_bytes()), "p.tsv")})
        return project, dataset, time.perf_counter() - t0

    def job(self, project: str, analysis: str, algorithm: str, params: list) -> tuple[dict, float, float]:
        t0 = time.perf_counter()
        job = self.call("post", f"/projects/{project}/jobs", 202,
                        json={"analysis": analysis, "algorithm": algorithm, "parameters": params})
        while True:
            entry = next(j for j in self.call("get", f"/projects/{project}/jobs", 200) if j["id"] == job["job_id"])
            if entry["completed"] or entry["cancelled"]:
                break
            time.sleep(0.05)  # a tighter poll steals CPU from the worker on a 2-core box
        wall = time.perf_counter() - t0
        row = self.runtime.store.db.one("get_job", account_id=self.runtime.accounts.get("bench").id,
                                        public_id=job["job_id"])
        assert row["status"] == "succeeded", row["error"]
        return job, wall, (row["finished_at"] - row["started_at"]).total_seconds()


def bare(path: Path, lvs: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    forest = goeburst(parse_profiles(path.read_bytes()), lvs)
    t1 = time.perf_counter()
    to_svg(radial(forest))
    return t1 - t0, time.perf_counter() - t1


def storage(b: Bench, dataset: str) -> tuple[float, float]:
    """Load ``dataset``'s profiles: the blob row vs. a one-row-per-profile int[] table."""
    datasets = Datasets(b.runtime.db)
    ps = datasets.profiles(dataset)
    with b.runtime.db.transaction() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_rows (dataset_id uuid, ord int, id text, alleles int[],"
                    " PRIMARY KEY (dataset_id, ord))")
        execute_values(cur, "INSERT INTO bench_rows VALUES %s",
                       [(dataset, k, pid, row) for k, (pid, row) in enumerate(zip(ps.ids, ps.matrix.tolist(), strict=True))])
    blob, rows = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        datasets.profiles(dataset)
        blob.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with b.runtime.db.transaction() as cur:
            cur.execute("SELECT id, alleles FROM bench_rows WHERE dataset_id = %s ORDER BY ord", (dataset,))
            got = cur.fetchall()
        np.array([r["alleles"] for r in got], dtype=np.int32)
        rows.append(time.perf_counter() - t0)
    return min(blob), min(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000, 15000])
    parser.add_argument("--lvs", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    pg = os.environ.get("JOBLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    rd = os.environ.get("JOBLINE_TEST_REDIS", "redis://127.0.0.1:6379/13")
    with tempfile.TemporaryDirectory() as tmp:
        b = Bench(pg, rd, Path(tmp))
        try:
            print("\n| n | upload s | inference: API wall s | worker s | bare goeBURST s "
                  "| visualization: API wall s | worker s | bare radial+SVG s |")
            print("|---" * 8 + "|")
            loads = []
            project, dataset, _ = b.dataset(mlst("phylodb_profiles_500.tsv"))  # warm the worker up
            b.job(project, "inference", "goeburst", [dataset, args.lvs])
            for n in args.sizes:
                try:
                    path = mlst(FILES[n])
                except MissingData as exc:
                    print(f"| {n} | skipped: {exc} |", flush=True)
                    continue
                project, dataset, upload_s = b.dataset(path)
                inf, inf_wall, inf_run = b.job(project, "inference", "goeburst", [dataset, args.lvs])
                _, vis_wall, vis_run = b.job(project, "visualization", "radial", [dataset, inf["analysis_id"]])
                g_s, r_s = bare(path, args.lvs)
                print(f"| {n} | {upload_s:.2f} | {inf_wall:.2f} | {inf_run:.2f} | {g_s:.2f} "
                      f"| {vis_wall:.2f} | {vis_run:.2f} | {r_s:.2f} |", flush=True)
                loads.append((n, dataset))
            print("\n| n | load profiles: one blob row s | one row per profile s |")
            print("|---|---|---|")
            for n, dataset in loads:
                blob_s, rows_s = storage(b, dataset)
                print(f"| {n} | {blob_s:.4f} | {rows_s:.4f} |", flush=True)
        finally:
            b.close()


if __name__ == "__main__":
    main()
