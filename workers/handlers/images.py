"""``image.info`` and ``image.thumb``: fetch (or read the upload), then Pillow in ``shared.images.imaging``."""

from __future__ import annotations

from typing import Any

from shared.engine.errors import JobError, NotFound, TransientError
from shared.engine.uploads import Uploads
from shared.images import imaging
from shared.images.jobtypes import thumb_boxes
from workers import services
from workers.context import JobContext


def source(ctx: JobContext) -> tuple[bytes, str]:
    """(bytes, label for messages) of the job's image: its URL fetched, or its upload read."""
    url = ctx.params.get("url")
    if url:
        got = ctx.fetch(url)
        if got.status in (429, 502, 503, 504):
            raise TransientError(f"fetching {url} answered HTTP {got.status}")
        if got.status != 200:
            raise JobError(f"File '{url}' could not be fetched: HTTP {got.status}")
        return got.body, url
    upload_id = str(ctx.params["upload_id"])
    rt = services.runtime()
    job = rt.db.one("image_job_account", public_id=ctx.job_id)
    try:
        if job is None:
            raise NotFound()
        return Uploads(rt.files.store).read(job["account_id"], upload_id), f"upload {upload_id}"
    except NotFound:
        raise JobError(f"no upload {upload_id!r}") from None


def info(ctx: JobContext) -> dict[str, Any]:
    data, label = source(ctx)
    ctx.check_canceled()  # no progress write: info takes a few tens of milliseconds
    return imaging.describe(data, label)


def thumb(ctx: JobContext) -> dict[str, Any]:
    p = ctx.params
    data, label = source(ctx)
    ctx.progress(0.5)  # one report: each is a database write, and a thumbnail is quick
    fmt = "jpeg" if p["format"] == "jpg" else p["format"]
    original, thumbs = imaging.thumbnails(data, label, thumb_boxes(p), fmt=fmt, quality=p["quality"],
                                          crop=p["crop"], rotation=p["rotation"])
    ctx.check_canceled()
    files = []  # a list: JSONB would not keep an object's key order, and the order is the request's
    for t in thumbs:
        ctx.save_file(f"{t.name}.{t.extension}", t.data, t.content_type)
        files.append({"name": t.name, "file": f"{t.name}.{t.extension}", "width": t.width, "height": t.height,
                      "size": len(t.data)})
    result: dict[str, Any] = {**original, "format": fmt, "content_type": thumbs[0].content_type, "files": files}
    if len(thumbs) == 1:  # Dragon v1's single-output form: the thumbnail's size at the top level
        result.update(width=thumbs[0].width, height=thumbs[0].height)
    return result
