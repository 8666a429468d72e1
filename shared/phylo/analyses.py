"""Inferences and visualizations of PHYLOViZ datasets, and the project jobs that fill them.

Creating an analysis inserts its job, the analysis row (empty until the job fills it) and
the job's link to the project in one transaction, then publishes the job: the id returned
as ``analysis_id`` names a row that exists from the start. A goeBURST job writes the tree
(``Forest.to_json()``); a layout job writes radial coordinates and its ``layout.svg``.
Handlers find their analysis by its id *and* their own job id, so a job created through
another API cannot read or fill another account's analysis.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from shared.engine.accounts import Account
from shared.engine.db import Database
from shared.engine.errors import BadRequest, NotFound
from shared.engine.jobs import JobService
from shared.engine.queries import queries
from shared.engine.states import TERMINAL
from shared.phylo.jobtypes import MAX_LVS
from shared.phylo.mlst import ProfileError
from shared.phylo.projects import PAGE_SIZE, Datasets
from shared.phylo.trees import parse_newick, tree_json

Row = dict[str, Any]
#: phyloDB's analysis kinds → algorithm name → our job type.
ALGORITHMS: dict[str, dict[str, str]] = {
    "inference": {"goeburst": "goeburst"},
    "visualization": {"radial": "layout"},
}
TREE_FORMATS = ("newick", "nexus", "json")
_TERMINAL = {s.value for s in TERMINAL}


def parse_uuid(kind: str, value: Any) -> str:
    """Jobs and analyses have generated uuids: anything else names none of them (404)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(f"no {kind} {value!r}") from None


def job_type(analysis: str, algorithm: str) -> str:
    """The job type for an analysis kind and algorithm; an unknown algorithm is a 404."""
    if analysis not in ALGORITHMS:
        raise BadRequest(f"analysis must be one of {', '.join(ALGORITHMS)}")
    name = ALGORITHMS[analysis].get(algorithm.lower() if isinstance(algorithm, str) else "")
    if name is None:
        raise NotFound(f"no {analysis} algorithm {algorithm!r} (known: {', '.join(ALGORITHMS[analysis])})")
    return name


def _lvs(value: Any) -> int:
    """phyloDB's parameters are untyped: take an integer, or a string of digits."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LVS:
        raise BadRequest(f"the number of lvs (parameters[1]) must be an integer from 1 to {MAX_LVS}")
    return value


def _metadata(project: Row, analysis: str, analysis_id: str) -> dict[str, str]:
    """Shown by the canonical API: which PHYLOViZ project and analysis a job fills."""
    return {"phyloviz_project": str(project["id"]), "phyloviz_analysis": analysis, "analysis_id": analysis_id}


def _not_ready(kind: str, row: Row) -> NotFound:
    state = row.get("job_status")
    why = {None: "its job was deleted", "failed": f"its job failed: {row.get('job_error')}",
           "canceled": "its job was cancelled"}.get(state, f"its job is {state}")
    return NotFound(f"{kind} {row['id']} is not available: {why}")


class Analyses:
    def __init__(self, db: Database, jobs: JobService) -> None:
        self.db = db
        self.jobs = jobs
        self.datasets = Datasets(db)

    # -- creating (API) -----------------------------------------------------------------

    def create_inference(self, account: Account, project: Row, dataset_id: Any, algorithm: str,
                         lvs: Any) -> tuple[str, str]:
        """Queue a goeBURST job; returns (job id, inference id)."""
        type_ = job_type("inference", algorithm)
        dataset = self.datasets.get(project, dataset_id)
        lvs = _lvs(lvs)
        if dataset["profiles"] < 2:
            raise BadRequest(f"dataset {dataset['id']} has {dataset['profiles']} profile(s): goeBURST "
                             "needs at least 2; upload a profiles file first")
        analysis_id = str(uuid.uuid4())
        spec = self.jobs.spec(type_, {"project_id": str(project["id"]), "dataset_id": str(dataset["id"]),
                                      "inference_id": analysis_id, "lvs": lvs},
                              metadata=_metadata(project, "inference", analysis_id))
        params = {"id": analysis_id, "project_id": project["id"], "dataset_id": dataset["id"],
                  "algorithm": algorithm.lower(), "lvs": lvs}
        return self._create(account, project, spec, "inference", "phylo_create_inference", params), analysis_id

    def create_visualization(self, account: Account, project: Row, dataset_id: Any, inference_id: Any,
                             algorithm: str) -> tuple[str, str]:
        """Queue a layout job over a finished inference; returns (job id, visualization id)."""
        type_ = job_type("visualization", algorithm)
        inference = self.inference(project, dataset_id, inference_id)
        analysis_id = str(uuid.uuid4())
        spec = self.jobs.spec(type_, {"project_id": str(project["id"]), "dataset_id": str(inference["dataset_id"]),
                                      "inference_id": str(inference["id"]), "visualization_id": analysis_id},
                              metadata=_metadata(project, "visualization", analysis_id))
        params = {"id": analysis_id, "project_id": project["id"], "dataset_id": inference["dataset_id"],
                  "inference_id": inference["id"], "algorithm": algorithm.lower()}
        return self._create(account, project, spec, "visualization", "phylo_create_visualization", params), analysis_id

    def _create(self, account: Account, project: Row, spec, analysis: str, query: str, params: Row) -> str:
        # The analysis row and the job commit together (limits included), then it is published.
        with self.jobs.creating(account, [spec]) as (cur, rows):
            cur.execute(queries[query], {**params, "job_id": rows[0]["id"]})
            cur.execute(queries["phylo_link_job"], {"job_id": rows[0]["id"], "project_id": project["id"],
                                                    "analysis": analysis, "analysis_id": params["id"]})
        return str(rows[0]["public_id"])

    def upload_inference(self, project: Row, dataset_id: Any, algorithm: Any, fmt: Any, data: bytes) -> str:
        """Store a tree the client computed (phyloDB's POST .../inferences); returns its id."""
        dataset = self.datasets.get(project, dataset_id)
        if not isinstance(algorithm, str) or algorithm.lower() not in ALGORITHMS["inference"]:
            raise BadRequest(f"algorithm must be one of {', '.join(ALGORITHMS['inference'])}")
        if fmt not in ("newick", "nexus"):
            raise BadRequest("format must be newick or nexus")
        if fmt == "nexus":
            data = _nexus_body(data)
        edges = parse_newick(data)
        rows = {pid: k for k, pid in enumerate(self.datasets.profile_ids(dataset["id"]))}
        unknown = sorted({p for e in edges for p in e[:2] if p not in rows})
        if unknown:
            raise ProfileError(f"{len(unknown)} profile(s) of the tree are not in dataset {dataset['id']}: "
                               f"{', '.join(unknown[:5])}")
        try:
            tree = tree_json(edges, rows, algorithm.lower())
        except ValueError as exc:
            raise ProfileError(f"not a tree: {exc}") from None
        analysis_id = str(uuid.uuid4())
        self.db.one("phylo_store_uploaded_inference", id=analysis_id, project_id=project["id"],
                    dataset_id=dataset["id"], algorithm=algorithm.lower(), lvs=tree["lvs"], tree=_compact(tree))
        return analysis_id

    # -- project jobs (API) -------------------------------------------------------------

    def list_jobs(self, project: Row, page: int) -> list[Row]:
        return self.db.all("phylo_list_jobs", project_id=project["id"], limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def remove_job(self, project: Row, job_id: Any) -> None:
        """Take a job off the project's list, cancelling it (and dropping its empty analysis) if unfinished."""
        if isinstance(job_id, str) and "provider=" in job_id:
            # The seed's own DELETE example drops the "?": .../jobs/{job}provider=google.
            job_id = job_id[:job_id.index("provider=")]
        public_id = parse_uuid("job", job_id)
        row = self.db.one("phylo_get_project_job", project_id=project["id"], public_id=public_id)
        if row is None:
            raise NotFound(f"no job {public_id} in project {project['id']}")
        if row["status"] not in _TERMINAL:
            self.jobs.store.cancel(row["account_id"], public_id)
            self.db.one(f"phylo_drop_pending_{row['analysis']}", id=row["analysis_id"])
        self.db.one("phylo_remove_job", job_id=row["job_id"])

    def cancel_unfinished(self, project: Row, dataset_id: str | None = None) -> int:
        """Cancel the project's (or one dataset's) unfinished jobs, before deleting what they fill."""
        rows = self.db.all("phylo_unfinished_jobs", project_id=project["id"], dataset_id=dataset_id)
        for row in rows:
            self.jobs.store.cancel(row["account_id"], str(row["public_id"]))
        return len(rows)

    # -- reading (API) ------------------------------------------------------------------

    def inferences(self, project: Row, dataset_id: Any, page: int) -> list[Row]:
        dataset = self.datasets.get(project, dataset_id)
        return self.db.all("phylo_list_inferences", dataset_id=dataset["id"], limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def inference(self, project: Row, dataset_id: Any, inference_id: Any) -> Row:
        """A finished inference of the dataset; 404 while its job has not stored the tree."""
        dataset = self.datasets.get(project, dataset_id)
        iid = parse_uuid("inference", inference_id)
        row = self.db.one("phylo_get_inference", id=iid, dataset_id=dataset["id"])
        if row is None:
            raise NotFound(f"no inference {iid} in dataset {dataset['id']}")
        if row["tree"] is None:
            raise _not_ready("inference", row)
        return row

    def visualizations(self, project: Row, dataset_id: Any, inference_id: Any, page: int) -> list[Row]:
        inference = self.inference(project, dataset_id, inference_id)
        return self.db.all("phylo_list_visualizations", inference_id=inference["id"],
                           limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def visualization(self, project: Row, dataset_id: Any, inference_id: Any | None, visualization_id: Any) -> Row:
        dataset = self.datasets.get(project, dataset_id)
        vid = parse_uuid("visualization", visualization_id)
        iid = None if inference_id is None else parse_uuid("inference", inference_id)
        row = self.db.one("phylo_get_visualization", id=vid, dataset_id=dataset["id"], inference_id=iid)
        if row is None:
            raise NotFound(f"no visualization {vid} in dataset {dataset['id']}")
        if row["layout"] is None:
            raise _not_ready("visualization", row)
        return row

    # -- filling (worker) ---------------------------------------------------------------

    def job_inference(self, inference_id: str, job_public_id: str) -> Row | None:
        return self.db.one("phylo_inference_for_job", id=inference_id, public_id=job_public_id)

    def store_inference(self, inference_id: str, job_public_id: str, tree: dict[str, Any]) -> bool:
        return self.db.one("phylo_store_inference", id=inference_id, public_id=job_public_id,
                           tree=_compact(tree)) is not None

    def job_visualization(self, visualization_id: str, job_public_id: str) -> Row | None:
        return self.db.one("phylo_visualization_for_job", id=visualization_id, public_id=job_public_id)

    def store_visualization(self, visualization_id: str, job_public_id: str, layout: dict[str, Any]) -> bool:
        return self.db.one("phylo_store_visualization", id=visualization_id, public_id=job_public_id,
                           layout=_compact(layout)) is not None


def _compact(value: dict[str, Any]) -> str:
    """JSON text without spaces: a 15k-profile tree or layout is ~2 MB, written once, read often."""
    return json.dumps(value, separators=(",", ":"))


# -- tree formats (phyloDB's NewickFormatter and NexusFormatter) ----------------------------


def newick(tree: dict[str, Any]) -> str:
    """Each tree as ``(subtree child:distance, ...)root;``, children in directed-edge order.

    Profiles in no link are left out, as phyloDB does (its roots come from edges).
    """
    kids: dict[str, list[tuple[str, int]]] = {}
    for e in tree["directed"]:
        kids.setdefault(e["from"], []).append((e["to"], e["distance"]))
    out: list[str] = []
    for group in tree["groups"]:
        todo: list[tuple[bool, str]] = [(True, group["root"])]  # (expand?, node or text)
        while todo:  # an explicit stack: a 10k-profile chain must not hit the recursion limit
            expand, item = todo.pop()
            if not expand:
                out.append(item)
                continue
            children = kids.get(item)
            if not children:
                continue
            seq: list[tuple[bool, str]] = [(False, "(")]
            for k, (child, distance) in enumerate(children):
                seq += [(False, ",")] if k else []
                seq += [(True, child), (False, f"{child}:{distance}")]
            seq.append((False, ")"))
            todo.extend(reversed(seq))
        out.append(f"{group['root']};")
    return "".join(out)


def nexus(tree: dict[str, Any]) -> str:
    return f"BEGIN TREES;\n\tTree result = {newick(tree)}\nEND;"


def _nexus_body(data: bytes) -> bytes:
    """The Newick text of phyloDB's Nexus (``Tree name = ...;`` lines inside BEGIN TREES)."""
    trees = re.findall(rb"^\s*tree\s+[^=]*=\s*(.*)$", data, flags=re.IGNORECASE | re.MULTILINE)
    if not trees:
        raise ProfileError("no 'Tree name = ...;' line in the Nexus file", 1)
    return b"\n".join(trees)


def format_tree(tree: dict[str, Any], fmt: str) -> Any:
    if fmt not in TREE_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(TREE_FORMATS)}")
    return tree if fmt == "json" else newick(tree) if fmt == "newick" else nexus(tree)
