"""Helpers for the PHYLOViZ dialect tests: a client that speaks it like phyloDB's clients do."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from tests.support.data import mlst

PYOGENES = mlst("pyogenesST_onlinephyloviz.tsv")
TERMINAL = ("succeeded", "failed", "canceled")


class Phylo:
    """Every call carries ``?provider=google`` and ``Authorization: Bearer`` (example.sh)."""

    def __init__(self, client, key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def url(self, path: str, **query: str) -> str:
        args = "&".join([f"{k}={v}" for k, v in query.items()] + ["provider=google"])
        return f"/phyloviz{path}?{args}"

    def get(self, path: str, headers: dict | None = None, **query: str):
        return self.client.get(self.url(path, **query), headers={**self.headers, **(headers or {})})

    def post(self, path: str, json=None, **kw):
        return self.client.post(self.url(path), json=json, headers=self.headers, **kw)

    def put(self, path: str, json=None, **kw):
        return self.client.put(self.url(path), json=json, headers=self.headers, **kw)

    def delete(self, path: str):
        return self.client.delete(self.url(path), headers=self.headers)

    def upload(self, path: str, data: bytes, method: str = "post", name: str = "profiles.txt"):
        call = self.client.post if method == "post" else self.client.put
        return call(self.url(path), headers=self.headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(data), name)})

    # -- the example.sh sequence ------------------------------------------------------------

    def catalogue(self, taxon: str, loci: list[str], schema: str = "mlst7") -> None:
        assert self.put(f"/taxa/{taxon}", {"id": taxon, "description": "Example taxon"}).status_code == 204
        for locus in loci:
            r = self.put(f"/taxa/{taxon}/loci/{locus}", {"id": locus, "description": "Example locus"})
            assert r.status_code == 204, r.get_json()
        r = self.put(f"/taxa/{taxon}/schemas/{schema}", {"taxon_id": taxon, "id": schema, "type": "mlst",
                                                         "description": "demo schema", "loci": loci})
        assert r.status_code == 204, r.get_json()

    def project(self, **fields) -> str:
        body = {"name": "Test", "visibility": "private", "description": "Test project", "users": [], **fields}
        r = self.post("/projects", body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    def dataset(self, project: str, taxon: str, schema: str = "mlst7") -> str:
        r = self.post(f"/projects/{project}/datasets", {"taxon_id": taxon, "schema_id": schema,
                                                         "description": "Example dataset"})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    def job(self, project: str, analysis: str, algorithm: str, parameters: list) -> dict:
        r = self.post(f"/projects/{project}/jobs", {"analysis": analysis, "algorithm": algorithm,
                                                    "parameters": parameters})
        assert r.status_code == 202, r.get_json()
        return r.get_json()

    def jobs(self, project: str, page: int = 0) -> list[dict]:
        r = self.get(f"/projects/{project}/jobs", page=str(page))
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def finished(self, project: str, job_id: str) -> dict | None:
        """The job's list entry once completed or cancelled (a missing job counts as done)."""
        entry = next((j for j in self.jobs(project) if j["id"] == job_id), None)
        if entry is None:
            return {"id": job_id, "completed": True, "cancelled": False}
        return entry if entry["completed"] or entry["cancelled"] else None


def loci_of(path: Path) -> list[str]:
    """Locus ids for a file's header (made unique: phyloDB's sets repeat 'locus7')."""
    header = path.read_text().split("\n", 1)[0].split("\t")[1:]
    return [f"l{k}_{name.strip()}" for k, name in enumerate(header, start=1)]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"
