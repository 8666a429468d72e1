"""``image.info`` and ``image.thumb`` (queue ``images``): an image from a URL or an upload.

The source is ``url`` (fetched under the SSRF guard) or ``upload_id`` (from ``POST
/v1/uploads``); exactly one. Thumbnails are named output files: ``small`` and ``large`` by
default, any names with ``sizes``, or a single ``output`` file with ``width``/``height``
(Dragon v1's form). Every parameter also reads from a query string (Dragon's GET
``create_file``), so ``sizes`` accepts ``"small:200,large:800x600"`` as well as an object.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.engine.registry import JobType

MAX_SIDE = 4096
MAX_OUTPUTS = 8
OUTPUT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
DEFAULT_SIZES = {"small": [200, 200], "large": [800, 800]}
FORMATS = ("jpeg", "png", "gif", "webp")


class SourceParams(Schema):
    url = fields.Url(schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2048),
                     metadata={"description": "The image's http(s) URL.", "example": "http://files.com/image.jpg"})
    upload_id = fields.UUID(metadata={"description": "An id returned by `POST /v1/uploads` (instead of `url`)."})

    @validates_schema(skip_on_field_errors=False)  # report a missing source with other errors
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("url" in data) == ("upload_id" in data):
            raise ValidationError("give either url or upload_id", field_name="url")


def _side(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"{where}: sides are whole numbers of pixels")
    try:
        side = int(value)
    except ValueError:
        raise ValidationError(f"{where}: {value!r} is not a number of pixels") from None
    if not 1 <= side <= MAX_SIDE:
        raise ValidationError(f"{where}: sides are 1 to {MAX_SIDE} pixels")
    return side


class Sizes(fields.Field):
    """``{name: 200 | [w, h] | {"width": w, "height": h}}`` or ``"name:200,name2:800x600"``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, list]:
        if isinstance(value, str):
            pairs = [p.partition(":") for p in value.split(",") if p.strip()]
            if any(not sep for _n, sep, _v in pairs):
                raise ValidationError('use "name:200,name2:800x600"')
            value = {n.strip(): (v.split("x", 1) if "x" in v else v) for n, _s, v in pairs}
        if not isinstance(value, dict) or not value:
            raise ValidationError("an object of output names to sizes")
        if len(value) > MAX_OUTPUTS:
            raise ValidationError(f"at most {MAX_OUTPUTS} outputs")
        out: dict[str, list] = {}
        for name, size in value.items():
            if not isinstance(name, str) or not OUTPUT_NAME.match(name):
                raise ValidationError(f"{name!r}: names are letters, digits, - and _ (at most 32)")
            if isinstance(size, dict):
                size = [size.get("width"), size.get("height")]
            if isinstance(size, list) and len(size) == 2:
                box = [None if s in (None, "") else _side(s, name) for s in size]
                if box == [None, None]:
                    raise ValidationError(f"{name}: give a width, a height or both")
                out[name] = box
            else:
                side = _side(size, name)
                out[name] = [side, side]
        return out


class ThumbParams(SourceParams):
    sizes = Sizes(metadata={"description": "Output files: name → longest side, [width, height] or "
                                           "{width, height}. Default: small 200x200, large 800x800."})
    width = fields.Integer(validate=validate.Range(1, MAX_SIDE),
                           metadata={"description": "Width and/or height instead of sizes: one file, `output`."})
    height = fields.Integer(validate=validate.Range(1, MAX_SIDE))
    crop = fields.Boolean(load_default=False, metadata={"description": "Fill the box and cut the overflow."})
    rotation = fields.Integer(load_default=0, validate=validate.OneOf([0, 90, 180, 270]),
                              metadata={"description": "Degrees, counterclockwise, after EXIF orientation."})
    format = fields.String(load_default="jpeg", validate=validate.OneOf(FORMATS + ("jpg",)))
    quality = fields.Integer(load_default=85, validate=validate.Range(1, 95))

    @validates_schema
    def _one_shape(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "sizes" in data and ("width" in data or "height" in data):
            raise ValidationError("give either sizes or width/height", field_name="sizes")


class InfoParams(SourceParams):
    pass


def thumb_boxes(params: dict[str, Any]) -> dict[str, tuple[int | None, int | None]]:
    """The named boxes a thumb job makes (shared, so the API could tell names before running)."""
    if "width" in params or "height" in params:
        return {"output": (params.get("width"), params.get("height"))}
    return {name: (box[0], box[1]) for name, box in (params.get("sizes") or DEFAULT_SIZES).items()}


JOB_TYPES = [
    JobType("image.info", "images", InfoParams, "workers.handlers.images:info",
            "An image's format, size, mode, frames, orientation and EXIF summary.",
            soft_time_limit=60, time_limit=90),
    JobType("image.thumb", "images", ThumbParams, "workers.handlers.images:thumb",
            "Thumbnails of an image as named output files (small and large by default).",
            soft_time_limit=120, time_limit=150),
]
