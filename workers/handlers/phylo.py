"""``goeburst`` and ``layout`` handlers: PHYLOViZ inferences and visualizations.

goeBURST reads the dataset's profiles (one row, see migration 0005) and isolate counts,
runs ``shared.phylo.goeburst`` and stores the forest as the inference's tree. layout
rebuilds the forest from that tree, runs ``radial`` and stores the coordinates, plus an
SVG drawing as the job's output file ``layout.svg``. Each writes its analysis last, after
a final cancel check, so a cancelled job leaves its analysis empty.

A job made through ``POST /v1/jobs`` names no analysis: it reads the dataset (or
inference) as the job's account may, and leaves its result as output files.
"""

from __future__ import annotations

import json
from typing import Any

from shared.engine.accounts import Account
from shared.engine.errors import JobError, NotFound
from shared.phylo.analyses import Analyses
from shared.phylo.goeburst import Edge, Forest, Group
from shared.phylo.goeburst import goeburst as run_goeburst
from shared.phylo.projects import Datasets, Projects
from shared.phylo.radial import radial, to_svg
from workers.context import JobContext
from workers.services import runtime


def _analyses() -> Analyses:
    rt = runtime()
    return Analyses(rt.db, rt.jobs)


def _project(analyses: Analyses, ctx: JobContext) -> dict[str, Any]:
    """The job's project as its account may read it (a job made through /v1/jobs)."""
    row = analyses.db.one("phylo_job_account", public_id=ctx.job_id)
    if row is None:
        raise JobError("the job's account no longer exists")
    try:
        return Projects(analyses.db).get(Account.from_row(row), ctx.params["project_id"])
    except NotFound as exc:
        raise JobError(str(exc)) from None


def _goeburst_file(ctx: JobContext, analyses: Analyses, lvs: int) -> dict[str, Any]:
    """goeBURST of a dataset of the job's account, stored as the output file tree.json."""
    datasets = Datasets(analyses.db)
    try:
        dataset = datasets.get(_project(analyses, ctx), ctx.params["dataset_id"])
    except NotFound as exc:
        raise JobError(str(exc)) from None
    tree = _run(ctx, datasets, str(dataset["id"]), lvs).to_json()
    ctx.check_canceled()
    ctx.save_file("tree.json", json.dumps(tree, separators=(",", ":")).encode(), "application/json")
    ctx.progress(1.0, "stored tree.json")
    return {"file": "tree.json", "profiles": tree["profiles"], "edges": len(tree["edges"]),
            "trees": len(tree["groups"]), "unlinked": len(tree["unlinked"])}


def _run(ctx: JobContext, datasets: Datasets, dataset_id: str, lvs: int) -> Forest:
    ctx.progress(0.02, "loading profiles")
    profiles = datasets.profiles(dataset_id)
    if len(profiles) < 2:
        raise JobError(f"the dataset has {len(profiles)} profile(s): goeBURST needs at least 2")
    isolates = datasets.isolates(dataset_id)
    # Phases of goeBURST (distances, levels, orientation) report 0.1 .. 0.85; storing after.
    forest = run_goeburst(profiles, lvs, isolates or None,
                          progress=lambda f, message: ctx.progress(0.1 + 0.75 * f, message))
    ctx.progress(0.9, "storing the tree")
    return forest


def goeburst(ctx: JobContext) -> dict[str, Any]:
    analyses = _analyses()
    inference_id, lvs = ctx.params.get("inference_id"), int(ctx.params["lvs"])
    if inference_id is None:
        return _goeburst_file(ctx, analyses, lvs)
    row = analyses.job_inference(inference_id, ctx.job_id)
    if row is None:
        raise JobError("this job fills no inference: leave inference_id out to get the tree as the "
                       "file tree.json, or create goeBURST jobs with "
                       "POST /phyloviz/projects/{project}/jobs")
    forest = _run(ctx, Datasets(analyses.db), str(row["dataset_id"]), lvs)
    tree = forest.to_json()
    ctx.check_canceled()
    if not analyses.store_inference(inference_id, ctx.job_id, tree):
        raise JobError("the inference was deleted while the job ran")
    ctx.progress(1.0, "stored")
    return {"inference_id": inference_id, "profiles": len(forest.ids), "edges": len(forest.edges),
            "trees": len(forest.groups), "unlinked": len(tree["unlinked"])}


def _layout_files(ctx: JobContext, analyses: Analyses) -> dict[str, Any]:
    """Radial layout of an inference of the job's account: layout.json and layout.svg."""
    try:
        row = analyses.inference(_project(analyses, ctx), ctx.params["dataset_id"], ctx.params["inference_id"])
    except NotFound as exc:
        raise JobError(str(exc)) from None
    ctx.progress(0.05, "radial layout")
    drawn = radial(forest_from_json(row["tree"]))
    ctx.progress(0.4, "drawing the SVG")
    svg = to_svg(drawn).encode()
    ctx.check_canceled()
    ctx.save_file("layout.svg", svg, "image/svg+xml")
    ctx.save_file("layout.json", json.dumps(drawn.to_json(), separators=(",", ":")).encode(), "application/json")
    ctx.progress(1.0, "stored layout.json and layout.svg")
    return {"files": ["layout.json", "layout.svg"], "nodes": len(drawn.nodes), "svg_bytes": len(svg)}


def layout(ctx: JobContext) -> dict[str, Any]:
    analyses = _analyses()
    visualization_id = ctx.params.get("visualization_id")
    if visualization_id is None:
        return _layout_files(ctx, analyses)
    row = analyses.job_visualization(visualization_id, ctx.job_id)
    if row is None:
        raise JobError("this job fills no visualization: leave visualization_id out to get "
                       "layout.json and layout.svg, or create layout jobs with "
                       "POST /phyloviz/projects/{project}/jobs")
    if row["tree"] is None:
        raise JobError(f"inference {row['inference_id']} has no tree")
    ctx.progress(0.05, "radial layout")
    drawn = radial(forest_from_json(row["tree"]))
    ctx.progress(0.4, "drawing the SVG")
    svg = to_svg(drawn).encode()
    ctx.progress(0.7, "storing the drawing and coordinates")
    ctx.save_file("layout.svg", svg, "image/svg+xml")
    ctx.check_canceled()
    if not analyses.store_visualization(visualization_id, ctx.job_id, drawn.to_json()):
        raise JobError("the visualization was deleted while the job ran")
    ctx.progress(1.0, "stored")
    return {"visualization_id": visualization_id, "nodes": len(drawn.nodes), "svg_bytes": len(svg)}


def forest_from_json(tree: dict[str, Any]) -> Forest:
    """The ``Forest`` that ``Forest.to_json()`` wrote (what ``radial`` needs of it)."""
    def edges(key: str) -> list[Edge]:
        return [Edge(e["from"], e["to"], int(e["distance"])) for e in tree[key]]

    members = [m for g in tree["groups"] for m in g["members"]]
    return Forest(
        lvs=int(tree["lvs"]),
        ids=members + list(tree.get("unlinked", [])),
        edges=edges("edges"),
        directed=edges("directed"),
        groups=[Group(g["component"], g["root"], list(g["members"])) for g in tree["groups"]],
    )
