"""Uploads: source files for jobs that take a file instead of a URL (``upload_id``).

``POST /v1/uploads`` takes ``multipart/form-data`` with a ``file`` part (or a raw body with
its own Content-Type) up to ``JOBLINE_FETCH_MAX_BYTES``, the same cap as a fetched URL, and
answers ``{"upload_id", "size"}``. ``image.info`` and ``image.thumb`` accept
``{"upload_id": ...}`` in place of ``{"url": ...}``. Uploads belong to the uploader's account.
"""

from __future__ import annotations

import marshmallow as ma
from flask import request
from marshmallow import fields

from api.auth import authenticate
from api.blueprint import Blueprint
from api.common import runtime
from shared.engine.errors import BadRequest
from shared.engine.uploads import Uploads

blp = Blueprint("uploads", __name__, url_prefix="/v1", description="Uploaded source files for jobs.")


class UploadOut(ma.Schema):
    upload_id = fields.UUID(metadata={"description": "Pass as a job's `upload_id` parameter."})
    size = fields.Integer(metadata={"description": "Bytes stored."})


def _uploads() -> Uploads:
    return Uploads(runtime().files.store)


@blp.route("/uploads", methods=["POST"])
@blp.response(201, UploadOut)
@blp.doc(requestBody={"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "*/*": {"schema": {"type": "string", "format": "binary"},
            "description": "Any other type: the raw body is the file, its Content-Type the file's."}}})
def create_upload():
    """Upload a source file (multipart `file`, or a raw body)"""
    account = authenticate()
    request.max_content_length = runtime().settings.fetch_max_bytes  # sources may be larger than JSON bodies
    if request.mimetype == "multipart/form-data":
        part = request.files.get("file")
        if part is None:
            raise BadRequest("a multipart part named 'file' is required", errors=[
                {"name": "file", "location": "files", "description": "Missing data for required field."}])
        data, ctype = part.read(), part.mimetype or "application/octet-stream"
    else:
        data, ctype = request.get_data(cache=False), request.mimetype or "application/octet-stream"
    if not data:
        raise BadRequest("the uploaded file is empty", errors=[
            {"name": "file", "location": "files", "description": "The file is empty."}])
    return _uploads().save(account.id, data, ctype)


@blp.route("/uploads/<upload_id>", methods=["DELETE"])
@blp.response(204)
def delete_upload(upload_id):
    """Delete an upload (jobs that already read it keep their results)"""
    _uploads().delete(authenticate().id, upload_id)
