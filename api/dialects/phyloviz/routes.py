"""The PHYLOViZ dialect (phyloDB's jobs page, seed 002) at ``/phyloviz``.

- ``GET /projects/{project}/jobs?page=N`` → ``[{"id", "completed", "cancelled"}]``, newest
  first, 100 per page (a removed job simply vanishes: phyloDB's clients read that as done).
- ``POST /projects/{project}/jobs`` with ``{"analysis": "inference", "algorithm":
  "goeburst", "parameters": [dataset_id, lvs]}`` or ``{"analysis": "visualization",
  "algorithm": "radial", "parameters": [dataset_id, inference_id]}`` → 202
  ``{"job_id", "analysis_id"}``; 404 for an unknown project, dataset, inference or algorithm.
- ``DELETE /projects/{project}/jobs/{job}`` → 204; an unfinished job is cancelled first.
- ``GET /`` → 200 without a key (phyloDB's API root); ``GET /users`` → the caller.

Around the jobs, ``api/dialects/phyloviz/`` serves the phyloDB resources its clients call (taxa,
loci, schemas, projects, datasets, profile and isolate files, inferences, visualizations).
``Authorization: Bearer <key>``; ``?provider=`` (the token's identity provider) is accepted
and ignored. Errors: ``{"message": "<phyloDB problem>", "detail": "..."}``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_smorest import Api

from api import errors
from api.dialects.phyloviz.common import (
    account,
    analyses,
    body,
    bp,
    no_content,
    page,
    project,
    render_error,
)
from shared.engine.errors import BadRequest
from shared.engine.states import Status

#: Canonical status → phyloDB's (completed, cancelled). A failed job is completed (its
#: analysis then answers 404 with the job's error); a cancelled one is not.
STATES: dict[str, tuple[bool, bool]] = {
    Status.SCHEDULED: (False, False),
    Status.QUEUED: (False, False),
    Status.RUNNING: (False, False),
    Status.SUCCEEDED: (True, False),
    Status.FAILED: (True, False),
    Status.CANCELED: (False, True),
}


def _job(row: dict[str, Any]) -> dict[str, Any]:
    completed, cancelled = STATES[row["status"]]
    return {"id": str(row["public_id"]), "completed": completed, "cancelled": cancelled}


@bp.get("/", strict_slashes=False)
def api_root():
    """phyloDB's API root: 200 without a key (its example.sh checks the server with it)."""
    return {"name": "phyloDB", "served_by": "Jobline (PHYLOViZ dialect)",
            "resources": ["/users", "/taxa", "/projects"]}


@bp.get("/users")
def list_users():
    """phyloDB's users list, as the caller may see it: the caller's own user."""
    me = account()
    return [{"id": me.name, "provider": request.args.get("provider", "google"), "version": 1,
             "deprecated": False}]


@bp.get("/projects/<pid>/jobs")
def list_jobs(pid: str):
    return [_job(r) for r in analyses().list_jobs(project(pid), page())]


@bp.post("/projects/<pid>/jobs")
def create_job(pid: str):
    target = project(pid, write=True)
    data = body()
    kind, algorithm, parameters = data.get("analysis"), data.get("algorithm"), data.get("parameters")
    if not isinstance(kind, str) or not isinstance(algorithm, str):
        raise BadRequest('"analysis" and "algorithm" are required strings')
    if not isinstance(parameters, list) or len(parameters) != 2:
        raise BadRequest('"parameters" must be [dataset_id, lvs] for an inference, '
                         '[dataset_id, inference_id] for a visualization')
    service = analyses()
    if kind == "inference":
        job_id, analysis_id = service.create_inference(account(), target, parameters[0], algorithm, parameters[1])
    elif kind == "visualization":
        job_id, analysis_id = service.create_visualization(account(), target, parameters[0], parameters[1], algorithm)
    else:
        raise BadRequest('analysis must be "inference" or "visualization"')
    return {"job_id": job_id, "analysis_id": analysis_id}, 202


@bp.delete("/projects/<pid>/jobs/<job_id>")
def delete_job(pid: str, job_id: str):
    analyses().remove_job(project(pid, write=True), job_id)
    return no_content()


def init_app(app: Flask, api: Api) -> None:
    # The route modules add phyloDB's other resources to the blueprint when imported.
    from api.dialects.phyloviz import analysis_routes, catalog_routes, data_routes  # noqa: F401

    app.register_blueprint(bp)
    errors.register_renderer(app, "/phyloviz", render_error)
