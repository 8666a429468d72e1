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

from shared.engine.errors import NotFound, StorageFull, StorageUnavailable


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def keys(self, prefix: str) -> list[str]: ...
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

    def keys(self, prefix: str) -> list[str]:
        folder = self.root / _safe_key(prefix.rstrip("/"))
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*")
                      if p.is_file() and not p.name.endswith(".part"))

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


#: S3 error codes that mean "no space left" (MinIO's, and the HTTP status some servers use).
S3_FULL_CODES = frozenset({"XMinioStorageFull", "InsufficientStorage", "507"})
#: S3 error codes worth retrying: the server is overloaded or briefly unable to answer.
S3_TRANSIENT_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
                                "RequestTimeTooSkewed", "Throttling", "500", "502", "503", "504"})
S3_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Store:
    """S3 or an S3-compatible server (MinIO, R2, Ceph …). Errors map as the local folder's do:
    no space is ``StorageFull``; an unreachable or overloaded server ``StorageUnavailable``
    (both retried with backoff in a worker); a missing key ``NotFound``."""

    def __init__(self, bucket: str, prefix: str, endpoint: str | None) -> None:
        import boto3  # noqa: F401 - optional (`pip install jobline[s3]`): fail at start, not at first use

        if not bucket:
            raise ValueError("JOBLINE_STORAGE_URL: s3:// needs a bucket (s3://bucket/prefix)")
        self.bucket, self.prefix, self.endpoint = bucket, prefix.strip("/"), endpoint or None
        self._client, self._pid = None, 0

    @property
    def s3(self):
        """A client per process: a pooled connection inherited across a fork is shared by accident."""
        if self._client is None or self._pid != os.getpid():
            import boto3
            from botocore.config import Config

            self._client = boto3.client("s3", endpoint_url=self.endpoint, config=Config(
                connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}))
            self._pid = os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{_safe_key(key)}" if self.prefix else _safe_key(key)

    def _call(self, what: str, key: str, fn, **kw):
        """One S3 call with its errors in the store's terms."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kw)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in S3_MISSING_CODES:
                raise NotFound(f"no object {key}") from None
            if code in S3_FULL_CODES:
                raise StorageFull() from exc
            if code in S3_TRANSIENT_CODES:
                raise StorageUnavailable(f"object store: {what} {key}: {code}") from exc
            raise
        except BotoCoreError as exc:  # could not connect, timed out, connection closed
            raise StorageUnavailable(f"object store: {what} {key}: {exc}") from exc

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write ``key`` whole or not at all (an S3 PUT is atomic; a failed one leaves nothing)."""
        self._call("put", key, self.s3.put_object, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        body = self.open(key)
        try:
            return body.read()
        finally:
            body.close()

    def open(self, key: str) -> BinaryIO:
        """The object as a stream, read from the server as it is consumed."""
        return self._call("get", key, self.s3.get_object, Key=self._key(key))["Body"]

    def exists(self, key: str) -> bool:
        try:
            self._call("head", key, self.s3.head_object, Key=self._key(key))
            return True
        except NotFound:
            return False

    def keys(self, prefix: str) -> list[str]:
        """Every key under the folder ``prefix``, without the store's own prefix."""
        folder = self._key(prefix.rstrip("/")) + "/"
        pages = self._call("list", prefix, lambda **kw: list(
            self.s3.get_paginator("list_objects_v2").paginate(**kw)), Prefix=folder)
        strip = len(self.prefix) + 1 if self.prefix else 0
        return [o["Key"][strip:] for page in pages for o in page.get("Contents", [])]

    def delete_prefix(self, prefix: str) -> None:
        keys = [self._key(k) for k in self.keys(prefix)]
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            self._call("delete", prefix, self.s3.delete_objects,
                       Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})

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
