"""``hello``: the Dragon document's example task."""

from marshmallow import Schema, fields, validate

from shared.engine.registry import JobType


class HelloParams(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "Who to greet.", "example": "John"})


JOB_TYPES = [
    JobType("hello", "default", HelloParams, "workers.handlers.hello:run",
            'Greets: {"name": "John"} → "Hello John".', soft_time_limit=30, time_limit=60),
]
