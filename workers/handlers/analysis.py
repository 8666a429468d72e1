"""``goeburst`` and ``layout`` handlers: PHYLOViZ inferences and visualizations.

goeBURST reads the dataset's profiles (one row, see migration 0005) and isolate counts,
runs ``workers.analysis.goeburst`` and stores the forest as the inference's tree. layout
rebuilds the forest from that tree, runs ``radial`` and stores the coordinates, plus an
SVG drawing as the job's output file ``layout.svg``. Each writes its analysis last, after
a final cancel check, so a cancelled job leaves its analysis empty.
"""

from __future__ import annotations

from typing import Any

from shared.errors import JobError
from shared.phylo import Datasets
from shared.phylo_analyses import Analyses
from workers.analysis.goeburst import Edge, Forest, Group
from workers.analysis.goeburst import goeburst as run_goeburst
from workers.analysis.radial import radial, to_svg
from workers.context import JobContext
from workers.services import runtime


def _analyses() -> Analyses:
    rt = runtime()
    return Analyses(rt.db, rt.jobs)


def goeburst(ctx: JobContext) -> dict[str, Any]:
    analyses = _analyses()
    inference_id, lvs = ctx.params["inference_id"], int(ctx.params["lvs"])
    row = analyses.job_inference(inference_id, ctx.job_id)
    if row is None:
        raise JobError("this job fills no inference: create goeBURST jobs with "
                       "POST /phyloviz/projects/{project}/jobs")
    ctx.progress(0.02, "loading profiles")
    datasets = Datasets(analyses.db)
    profiles = datasets.profiles(str(row["dataset_id"]))
    if len(profiles) == 0:
        raise JobError("the dataset has no profiles: upload a profiles file first")
    isolates = datasets.isolates(str(row["dataset_id"]))
    ctx.progress(0.1, f"goeBURST over {len(profiles)} profiles, lvs {lvs}")
    # No pair differs at more loci than there are, so clamping lvs changes nothing but the
    # size of the LV-count table.
    forest = run_goeburst(profiles, min(lvs, len(profiles.loci)), isolates or None)
    forest.lvs = lvs
    tree = forest.to_json()
    ctx.check_canceled()
    if not analyses.store_inference(inference_id, ctx.job_id, tree):
        raise JobError("the inference was deleted while the job ran")
    ctx.progress(1.0, "stored")
    return {"inference_id": inference_id, "profiles": len(profiles), "edges": len(forest.edges),
            "trees": len(forest.groups), "unlinked": len(tree["unlinked"])}


def layout(ctx: JobContext) -> dict[str, Any]:
    analyses = _analyses()
    visualization_id = ctx.params["visualization_id"]
    row = analyses.job_visualization(visualization_id, ctx.job_id)
    if row is None:
        raise JobError("this job fills no visualization: create layout jobs with "
                       "POST /phyloviz/projects/{project}/jobs")
    if row["tree"] is None:
        raise JobError(f"inference {row['inference_id']} has no tree")
    ctx.progress(0.05, "radial layout")
    drawn = radial(forest_from_json(row["tree"]))
    ctx.check_canceled()
    svg = to_svg(drawn).encode()
    ctx.progress(0.6, "drawing")
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
