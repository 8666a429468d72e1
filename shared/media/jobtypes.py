"""``media.analyze`` (queue ``images``): one uploaded object of a media job (Rekosearch).

Created only with its media job (``POST /rekosearch/api/v1/upload/gen``): the handler finds
its object through its own job, so a job made by hand with someone's ids finds nothing.
"""

from marshmallow import Schema, fields, validate

from shared.engine.registry import JobType


class MediaParams(Schema):
    media_job_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1),
                                  metadata={"description": "The media job (Rekosearch's numeric job_id)."})
    object_uuid = fields.UUID(required=True, metadata={"description": "The object of that job to analyse."})


JOB_TYPES = [
    JobType("media.analyze", "images", MediaParams, "workers.handlers.media:run",
            "Analyses one uploaded object of a media job: format, size, EXIF, colour statistics, "
            "dominant colours, perceptual hashes and a thumbnail, as `full` and `min` JSON files.",
            soft_time_limit=60, time_limit=90, max_attempts=2),
]
