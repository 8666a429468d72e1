"""Files of jobs: stored by handlers, listed and handed out as signed, expiring URLs."""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from shared.engine.db import Database
from shared.engine.errors import NotFound
from shared.engine.storage import ObjectStore, Signer

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def job_prefix(public_id: str) -> str:
    return f"jobs/{public_id}"


class FileService:
    def __init__(self, db: Database, store: ObjectStore, signer: Signer, ttl_s: int) -> None:
        self.db, self.store, self.signer, self.ttl_s = db, store, signer, ttl_s

    def save(self, job_id: int, public_id: str, name: str, data: bytes, content_type: str | None = None) -> dict[str, Any]:
        """Store ``data`` as the job's file ``name`` (replacing one of the same name)."""
        if not NAME.match(name):
            raise ValueError(f"invalid file name {name!r}")
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        key = f"{job_prefix(public_id)}/{name}"
        self.store.put(key, data, content_type)
        return self.db.one("save_file", job_id=job_id, name=name, key=key, content_type=content_type, size=len(data))

    def list(self, job_id: int) -> list[dict[str, Any]]:
        return self.db.all("list_files", job_id=job_id)

    def get(self, job_id: int, name: str) -> dict[str, Any]:
        row = self.db.one("get_file", job_id=job_id, name=name)
        if row is None:
            raise NotFound(f"no file {name!r}")
        return row

    def url(self, row: dict[str, Any], base_url: str) -> str:
        """A signed URL that expires after the configured time."""
        direct = self.store.presigned(row["key"], self.ttl_s, row["name"], row["content_type"])
        if direct:
            return direct
        token = self.signer.sign(row["key"], self.ttl_s, row["name"], row["content_type"])
        return f"{base_url.rstrip('/')}/files/{token}"

    def resolve(self, token: str) -> dict[str, Any]:
        """The claims of a download token whose object still exists (deleted jobs: 404)."""
        claims = self.signer.verify(token)
        if self.db.one("file_exists_by_key", key=claims["k"]) is None:
            raise NotFound("no such file, or the link has expired")
        return claims

    def delete_job(self, public_id: str) -> None:
        self.store.delete_prefix(job_prefix(public_id))
