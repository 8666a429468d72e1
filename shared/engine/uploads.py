"""Uploaded source files (an image to describe or thumbnail instead of a URL).

The bytes live in the object store under ``uploads/<account id>/<upload id>/`` (a folder of
one object, so that deleting the prefix works on every backend); the id is a
random UUID handed to the uploader. A job names it as ``upload_id``; the worker reads it back
under the job's own account, so another account's id is simply not found.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.engine.errors import NotFound
from shared.engine.storage import ObjectStore


def upload_prefix(account_id: int, upload_id: str) -> str:
    return f"uploads/{int(account_id)}/{uuid.UUID(str(upload_id))}"


def upload_key(account_id: int, upload_id: str) -> str:
    return upload_prefix(account_id, upload_id) + "/file"


class Uploads:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def save(self, account_id: int, data: bytes, content_type: str = "application/octet-stream") -> dict[str, Any]:
        upload_id = str(uuid.uuid4())
        self.store.put(upload_key(account_id, upload_id), data, content_type)
        return {"upload_id": upload_id, "size": len(data)}

    def read(self, account_id: int, upload_id: str) -> bytes:
        """The uploaded bytes, or ``NotFound`` (unknown id, or another account's)."""
        try:
            key = upload_key(account_id, upload_id)
        except ValueError:
            raise NotFound(f"no upload {upload_id!r}") from None
        try:
            return self.store.get(key)
        except NotFound:
            raise NotFound(f"no upload {upload_id!r}") from None

    def delete(self, account_id: int, upload_id: str) -> None:
        try:
            key = upload_key(account_id, upload_id)
        except ValueError:
            raise NotFound(f"no upload {upload_id!r}") from None
        if not self.store.exists(key):
            raise NotFound(f"no upload {upload_id!r}")
        self.store.delete_prefix(upload_prefix(account_id, upload_id))
