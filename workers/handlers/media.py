"""``media.analyze``: read one uploaded object, analyse it, store ``full``/``min`` and a thumbnail.

An object that cannot be processed (not an image, truncated, a decompression bomb) fails its
job with the reason, which the media job shows under ``failed_to_process``; its credits are
refunded when the job fails (migration 0007). The other objects' jobs are not affected.
"""

from __future__ import annotations

import json
from typing import Any

from shared.engine.errors import JobError, NotFound
from shared.media import analysis as media_analysis
from shared.media.service import MediaService
from workers import services
from workers.context import JobContext


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def run(ctx: JobContext) -> dict[str, Any]:
    media = MediaService(services.runtime())
    obj = media.object_for_job(ctx.job_id, ctx.params)
    if obj is None:
        raise JobError("no such media object: media.analyze jobs are created by uploading "
                       "files (POST /rekosearch/api/v1/upload/gen)")
    try:
        data = media.store.get(obj["key"])
    except NotFound:
        raise JobError(f"File '{obj['original_name']}' is no longer stored") from None
    ctx.check_canceled()  # no progress writes: an object takes tens of milliseconds
    stem = str(obj["object_uuid"])
    names = {"full": f"{stem}.json", "min": f"{stem}.min.json", "thumbnail": f"{stem}.thumb.jpg"}
    analysis = media_analysis.analyze(data, obj["original_name"], names["thumbnail"])
    ctx.check_canceled()
    about = {"object": obj["name"], "file_name": obj["original_name"], "media_job_id": obj["media_job_id"]}
    full, minimal = {**about, **analysis.full}, {**about, **analysis.min}
    keys = media.record_results(obj, {
        "full": (names["full"], _json(full), "application/json"),
        "min": (names["min"], _json(minimal), "application/json"),
        "thumbnail": (names["thumbnail"], analysis.thumbnail, "image/jpeg"),
    }, analysis.media_length)
    if keys is None:
        raise JobError("the media job was deleted while this object was analysed")
    return minimal
