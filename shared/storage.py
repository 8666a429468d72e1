"""The object store for output and uploaded files: a local folder, or S3-compatible storage.

``JOBLINE_STORAGE_URL`` picks the backend: ``file:///abs/path`` (default: a folder beside
the working directory) or ``s3://bucket/prefix`` (boto3; endpoint from
``JOBLINE_S3_ENDPOINT``, credentials from the usual AWS variables). Clients never see keys:
they get signed, expiring URLs — served by ``/files/<token>`` for the local backend, or a
presigned S3 URL. Deleting a job deletes its objects, after which old URLs answer 404.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

from shared.errors import NotFound, StorageFull


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def children(self, prefix: str) -> Iterator[tuple[str, float]]: ...
    def partials(self) -> Iterator[tuple[str, float]]: ...
    def delete(self, key: str) -> None: ...
    def presigned(self, key: str, expires_in: int, filename: str, content_type: str) -> str | None: ...


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key {key!r}")
    return key


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write ``key`` whole or not at all; a full disk is ``StorageFull`` (507 at the API,
        a retry with backoff in a worker) and leaves no partial file behind."""
        path = self._path(key)
        tmp = path.with_name(path.name + ".part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)  # readers never see half a file
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull() from exc
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no object {key}") from None

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFound(f"no object {key}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.root / _safe_key(prefix.rstrip("/")), ignore_errors=True)

    def children(self, prefix: str) -> Iterator[tuple[str, float]]:
        """The names directly under ``prefix``, each with its modification time."""
        try:
            with os.scandir(self.root / _safe_key(prefix.rstrip("/"))) as entries:
                for entry in entries:
                    try:
                        yield entry.name, entry.stat(follow_symlinks=False).st_mtime
                    except FileNotFoundError:
                        continue  # deleted meanwhile
        except FileNotFoundError:
            return

    def partials(self) -> Iterator[tuple[str, float]]:
        """The keys of partial writes (``.part``: a writer died before its rename), with times."""
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if name.endswith(".part"):
                    path = Path(folder, name)
                    try:
                        yield path.relative_to(self.root).as_posix(), path.stat().st_mtime
                    except FileNotFoundError:
                        continue

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def presigned(self, key: str, expires_in: int, filename: str, content_type: str) -> str | None:
        return None  # served by the API's /files/<token>


class S3Store:
    def __init__(self, bucket: str, prefix: str, endpoint: str | None) -> None:
        import boto3  # optional: only S3 deployments need it

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.s3 = boto3.client("s3", endpoint_url=endpoint or None)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{_safe_key(key)}" if self.prefix else _safe_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self.open(key).read()

    def open(self, key: str) -> BinaryIO:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self.s3.exceptions.NoSuchKey:
            raise NotFound(f"no object {key}") from None

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except Exception:  # noqa: BLE001 - botocore's ClientError for 404
            return False

    def delete_prefix(self, prefix: str) -> None:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        for page in pages:
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def children(self, prefix: str) -> Iterator[tuple[str, float]]:
        """The names directly under ``prefix`` (S3 "common prefixes" have no time: 0)."""
        base = self._key(prefix.rstrip("/")) + "/"
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base, Delimiter="/")
        for page in pages:
            for p in page.get("CommonPrefixes", []):
                yield p["Prefix"][len(base):].rstrip("/"), 0.0

    def partials(self) -> Iterator[tuple[str, float]]:
        return iter(())  # an S3 put is whole or nothing

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self._key(key))

    def presigned(self, key: str, expires_in: int, filename: str, content_type: str) -> str | None:
        return self.s3.generate_presigned_url("get_object", ExpiresIn=expires_in, Params={
            "Bucket": self.bucket, "Key": self._key(key), "ResponseContentType": content_type,
            "ResponseContentDisposition": f'inline; filename="{filename}"'})


def open_store(url: str, s3_endpoint: str = "") -> ObjectStore:
    parts = urlsplit(url)
    if parts.scheme == "s3":
        return S3Store(parts.netloc, parts.path, s3_endpoint)
    if parts.scheme in ("file", ""):
        path = Path(parts.netloc + parts.path if parts.scheme == "file" else url)
        return LocalStore(path.resolve())
    raise ValueError(f"JOBLINE_STORAGE_URL: unsupported scheme {parts.scheme!r} (file:// or s3://)")


class Signer:
    """Tokens naming an object, its download name and type, and an expiry, under an HMAC."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def sign(self, key: str, expires_in: int, filename: str, content_type: str) -> str:
        claims = {"k": key, "e": int(time.time()) + expires_in, "n": filename, "t": content_type}
        raw = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=")
        mac = base64.urlsafe_b64encode(hmac.new(self.secret, raw, hashlib.sha256).digest()[:20]).rstrip(b"=")
        return f"{raw.decode()}.{mac.decode()}"

    def verify(self, token: str) -> dict:
        """The claims of a valid, unexpired token, else ``NotFound`` (no hint which)."""
        raw, _, mac = token.partition(".")
        if not token.isascii():  # compare_digest refuses non-ASCII text; no token has any
            raise NotFound("no such file, or the link has expired")
        expected = base64.urlsafe_b64encode(hmac.new(self.secret, raw.encode(), hashlib.sha256).digest()[:20]).rstrip(b"=")
        if not mac or not hmac.compare_digest(expected.decode(), mac):
            raise NotFound("no such file, or the link has expired")
        claims = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if claims["e"] < time.time():
            raise NotFound("no such file, or the link has expired")
        return claims
