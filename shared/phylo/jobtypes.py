"""``goeburst`` and ``layout``: the PHYLOViZ analyses, on the ``analysis`` queue.

Through ``POST /phyloviz/projects/{project}/jobs`` each fills the analysis row created
with it (``shared.phylo.analyses``). Through ``POST /v1/jobs``, without an analysis id,
each reads a project dataset of the job's account and stores its result as the job's
output file: ``tree.json`` (goeburst), ``layout.json`` and ``layout.svg`` (layout).
"""

from marshmallow import Schema, fields, validate

from shared.engine.registry import JobType

#: Highest lvs accepted; the handler clamps lvs to the number of loci, which gives the
#: same forest (no pair differs at more loci than there are), so this only bounds input.
MAX_LVS = 100_000


#: Project and dataset ids: generated uuids, or the client's own (shared.phylo.projects.ID).
_ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class GoeburstParams(Schema):
    project_id = fields.String(required=True, validate=_ID, metadata={"description": "The PHYLOViZ project."})
    dataset_id = fields.String(required=True, validate=_ID, metadata={"description": "The dataset of profiles."})
    inference_id = fields.UUID(metadata={"description": "The PHYLOViZ inference this job fills (set by "
                                                      "/phyloviz); without it the tree is the file tree.json."})
    lvs = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_LVS),
                         metadata={"description": "Link profiles differing at up to this many loci.",
                                   "example": 3})


class LayoutParams(Schema):
    project_id = fields.String(required=True, validate=_ID)
    dataset_id = fields.String(required=True, validate=_ID)
    inference_id = fields.UUID(required=True, metadata={"description": "The goeBURST tree to draw."})
    visualization_id = fields.UUID(metadata={"description": "The PHYLOViZ visualization this job fills (set "
                                                          "by /phyloviz); without it: layout.json, layout.svg."})


JOB_TYPES = [
    JobType("goeburst", "analysis", GoeburstParams, "workers.handlers.phylo:goeburst",
            "goeBURST spanning forest of a dataset's MLST profiles, as phyloDB computes it "
            "(PHYLOViZ inference).", soft_time_limit=300, time_limit=330),
    JobType("layout", "analysis", LayoutParams, "workers.handlers.phylo:layout",
            "Radial coordinates of a goeBURST forest, as phyloDB computes them, and an SVG "
            "drawing (layout.svg) (PHYLOViZ visualization).", soft_time_limit=300, time_limit=330),
]
