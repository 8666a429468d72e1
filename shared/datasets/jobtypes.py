"""Jobs on datasets (the Kasabi Jobs API): reset, export, and the reclaim a reset leaves behind."""

from marshmallow import Schema, fields, validate

from shared.engine.registry import JobType

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$", error="Not a dataset code.")


class DatasetParams(Schema):
    dataset = fields.String(required=True, validate=CODE,
                            metadata={"description": "The dataset's short code.", "example": "nasa"})


JOB_TYPES = [
    JobType("dataset.reset", "maintenance", DatasetParams, "workers.handlers.datasets:reset",
            "Deletes all the dataset's triples; the dataset is read-only while the job runs. "
            "The old rows are reclaimed afterwards by a dataset.reclaim job.",
            soft_time_limit=300, time_limit=330, max_attempts=3),
    JobType("dataset.export", "maintenance", DatasetParams, "workers.handlers.datasets:export",
            "Writes the dataset as an N-Triples file, dump.nt (GET /v1/jobs/{id}/files/dump.nt).",
            soft_time_limit=300, time_limit=330, max_attempts=3),
    JobType("dataset.reclaim", "maintenance", DatasetParams, "workers.handlers.datasets:reclaim",
            "Deletes, in batches, the rows of a dataset's earlier generations (invisible since their reset). "
            "Idempotent: a retry after a timeout goes on with the rows left.",
            soft_time_limit=300, time_limit=330, max_attempts=5),
]
