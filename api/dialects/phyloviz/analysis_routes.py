"""phyloDB's inferences and visualizations under ``/phyloviz``, and the SVG drawing.

Inferences: ``/projects/{p}/datasets/{d}/inferences[/{i}]`` (older phyloDB: ``analyses``);
``?format=newick`` (phyloDB's default), ``nexus``, or ``json`` (the goeBURST forest:
edges, directed edges, groups). Visualizations: ``.../inferences/{i}/visualizations[/{v}]``
and ``/projects/{p}/datasets/{d}/visualizations/{v}``; their drawing at ``.../{v}/svg``.
An analysis whose job has not stored it yet answers 404, as phyloDB's does. A tree
computed elsewhere is uploaded with ``POST .../inferences`` (201 ``{"id"}``).
"""

from __future__ import annotations

from typing import Any

from flask import request, send_file

from api.common import base_url, runtime
from api.dialects.phyloviz.common import analyses, bp, page, problem, project, upload
from shared.engine.errors import NotFound
from shared.phylo.analyses import format_tree
from shared.phylo.mlst import ProfileError

INFERENCES = ("/projects/<pid>/datasets/<did>/inferences", "/projects/<pid>/datasets/<did>/analyses")


def _route(suffix: str, *prefixes: str):
    """Register a view under each spelling of the path."""
    def register(view):
        for n, prefix in enumerate(prefixes):
            bp.add_url_rule(prefix + suffix, f"{view.__name__}_{n}", view, methods=["GET"])
        return view
    return register


def _visualization(row: dict[str, Any]) -> dict[str, Any]:
    path = (f"/phyloviz/projects/{row['project_id']}/datasets/{row['dataset_id']}"
            f"/inferences/{row['inference_id']}/visualizations/{row['id']}/svg")
    return {
        "project_id": str(row["project_id"]), "dataset_id": str(row["dataset_id"]),
        "inference_id": str(row["inference_id"]), "id": str(row["id"]), "deprecated": False,
        "algorithm": row["algorithm"],
        "coordinates": [{"profile_id": n["profile_id"], "component": n["component"], "x": n["x"], "y": n["y"]}
                        for n in row["layout"]["nodes"]],
        "edges": row["layout"]["edges"],
        "svg": base_url() + path,
    }


@_route("", *INFERENCES)
def list_inferences(pid: str, did: str):
    return [{"id": str(r["id"]), "algorithm": r["algorithm"], "lvs": r["lvs"]}
            for r in analyses().inferences(project(pid), did, page())]


@bp.post("/projects/<pid>/datasets/<did>/inferences")
def upload_inference(pid: str, did: str):
    """phyloDB's tree upload: multipart ``file`` (Newick or Nexus), ``algorithm``, ``format``.

    The web platform's tree_indexer sends ``algorithm`` and ``format`` as file parts
    (requests' ``files=``), so they are read from either the form or the files.
    """
    target = project(pid, write=True)
    data = upload()
    try:
        iid = analyses().upload_inference(target, did, _field("algorithm"), _field("format"), data)
    except ProfileError as exc:
        return problem(400, str(exc), invalid_lines=[exc.line] if exc.line else [], invalid_entities=[])
    return {"id": iid}, 201


def _field(name: str) -> str | None:
    if name in request.form:
        return request.form[name]
    part = request.files.get(name)
    if part is None:
        return None
    value = part.read(200)
    return value.decode("utf-8", "replace").strip()


@_route("/<iid>", *INFERENCES)
def get_inference(pid: str, did: str, iid: str):
    row = analyses().inference(project(pid), did, iid)
    return {"project_id": str(row["project_id"]), "dataset_id": str(row["dataset_id"]), "id": str(row["id"]),
            "deprecated": False, "algorithm": row["algorithm"], "lvs": row["lvs"],
            "tree": format_tree(row["tree"], request.args.get("format", "newick"))}


@_route("/<iid>/visualizations", *INFERENCES)
def list_visualizations(pid: str, did: str, iid: str):
    return [{"id": str(r["id"]), "algorithm": r["algorithm"]}
            for r in analyses().visualizations(project(pid), did, iid, page())]


@_route("/<iid>/visualizations/<vid>", *INFERENCES)
def get_visualization(pid: str, did: str, iid: str, vid: str):
    return _visualization(analyses().visualization(project(pid), did, iid, vid))


@bp.get("/projects/<pid>/datasets/<did>/visualizations/<vid>")
def get_visualization_short(pid: str, did: str, vid: str):
    return _visualization(analyses().visualization(project(pid), did, None, vid))


@_route("/<iid>/visualizations/<vid>/svg", *INFERENCES)
def get_svg(pid: str, did: str, iid: str, vid: str):
    return _svg(analyses().visualization(project(pid), did, iid, vid))


@bp.get("/projects/<pid>/datasets/<did>/visualizations/<vid>/svg")
def get_svg_short(pid: str, did: str, vid: str):
    return _svg(analyses().visualization(project(pid), did, None, vid))


def _svg(row: dict[str, Any]):
    rt = runtime()
    if row["job_id"] is None:
        raise NotFound(f"the drawing of visualization {row['id']} was deleted with its job")
    file = rt.files.get(row["job_id"], "layout.svg")
    return send_file(rt.files.store.open(file["key"]), mimetype="image/svg+xml",
                     download_name=f"{row['id']}.svg", as_attachment=False, max_age=60)
