"""phyloDB's projects, datasets, profiles and isolates under ``/phyloviz``.

``PUT /projects/{p}`` and ``PUT /projects/{p}/datasets/{d}`` create the resource with the
client's id when it does not exist (201), as phyloDB does, or update it (204).
Profile and isolate files arrive as multipart ``file`` (POST: keep existing profiles or
isolates on an id conflict; PUT: replace them). A bad file answers 400 with the line at
fault in ``invalid_lines`` and stores nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from api.dialects.phyloviz.common import (
    account,
    analyses,
    body,
    bp,
    created,
    datasets,
    no_content,
    page,
    problem,
    project,
    projects,
)
from api.dialects.phyloviz.common import upload as uploaded_file
from shared.phylo.mlst import ProfileError


def _project(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "version": row["version"], "deprecated": False, "name": row["name"],
            "visibility": row["visibility"], "description": row["description"], "users": row["users"]}


def _dataset(row: dict[str, Any]) -> dict[str, Any]:
    return {"project_id": str(row["project_id"]), "id": str(row["id"]), "version": row["version"],
            "deprecated": False, "description": row["description"], "taxon_id": row["taxon_id"],
            "schema_id": row["schema_id"], "profiles": row["profiles"], "isolates": row["isolates"]}


# -- projects ------------------------------------------------------------------------------


@bp.get("/projects")
def list_projects():
    return [{"id": str(r["id"]), "version": r["version"], "name": r["name"], "visibility": r["visibility"]}
            for r in projects().list(account(), page())]


@bp.post("/projects")
def create_project():
    return created(projects().create(account(), body()))


@bp.get("/projects/<pid>")
def get_project(pid: str):
    return _project(project(pid))


@bp.put("/projects/<pid>")
def put_project(pid: str):
    return created(pid) if projects().put(account(), pid, body()) else no_content()


@bp.delete("/projects/<pid>")
def delete_project(pid: str):
    analyses().cancel_unfinished(projects().get(account(), pid, owner=True))
    projects().delete(account(), pid)
    return no_content()


# -- datasets ------------------------------------------------------------------------------


@bp.get("/projects/<pid>/datasets")
def list_datasets(pid: str):
    return [{"id": str(r["id"]), "version": r["version"], "description": r["description"]}
            for r in datasets().list(project(pid), page())]


@bp.post("/projects/<pid>/datasets")
def create_dataset(pid: str):
    return created(datasets().create(project(pid, write=True), body()))


@bp.get("/projects/<pid>/datasets/<did>")
def get_dataset(pid: str, did: str):
    return _dataset(datasets().get(project(pid), did))


@bp.put("/projects/<pid>/datasets/<did>")
def put_dataset(pid: str, did: str):
    return created(did) if datasets().put(project(pid, write=True), did, body()) else no_content()


@bp.delete("/projects/<pid>/datasets/<did>")
def delete_dataset(pid: str, did: str):
    target = project(pid, write=True)
    analyses().cancel_unfinished(target, str(datasets().get(target, did)["id"]))
    datasets().delete(target, did)
    return no_content()


# -- profiles and isolates -----------------------------------------------------------------


@bp.get("/projects/<pid>/datasets/<did>/profiles")
def list_profiles(pid: str, did: str):
    # phyloDB: JSON pages by default, the whole TSV file for "Accept: text/plain".
    if request.accept_mimetypes.best_match(["application/json", "text/plain"]) == "text/plain":
        return Response(datasets().export(project(pid), did), mimetype="text/plain")
    return datasets().profile_page(project(pid), did, page())


@bp.get("/projects/<pid>/datasets/<did>/profiles/<profile_id>")
def get_profile(pid: str, did: str, profile_id: str):
    return datasets().profile(project(pid), did, profile_id)


@bp.route("/projects/<pid>/datasets/<did>/profiles/files", methods=["POST", "PUT"])
def profiles_file(pid: str, did: str):
    target = project(pid, write=True)
    data = uploaded_file()
    try:
        return datasets().upload_profiles(target, did, data, replace=request.method == "PUT")
    except ProfileError as exc:
        return _invalid(exc)


@bp.route("/projects/<pid>/datasets/<did>/isolates/files", methods=["POST", "PUT"])
def isolates_file(pid: str, did: str):
    target = project(pid, write=True)
    data = uploaded_file()
    raw = request.args.get("id", "0")
    if not raw.isdigit() or int(raw) > 10_000:
        return problem(400, "id (the isolate id column) must be a non-negative integer")
    try:
        return datasets().upload_isolates(target, did, data, replace=request.method == "PUT", id_column=int(raw))
    except ProfileError as exc:
        return _invalid(exc)


def _invalid(exc: ProfileError) -> Response:
    return problem(400, str(exc), invalid_lines=[exc.line] if exc.line else [], invalid_entities=[])
