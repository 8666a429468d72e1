"""Media jobs: uploaded objects, one ``media.analyze`` job each, credits, results, deletion.

A media job (a random numeric id, Rekosearch's ``job_id``) owns its objects; each object has one
engine job, so objects are analysed in parallel across workers, and the media job's status
is derived from those jobs (``outcome``). Object-store layout, under ``media/<public_id>/``:
``objects/<uuid>.<ext>`` (the upload) and ``results/<uuid>/`` (``<uuid>.json``, ``.min.json``,
``.thumb.jpg``). Every stored object is also a ``job_files`` row of its object's job, so the
signed-URL route serves it and deleting the job kills its links.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from shared.engine import states
from shared.engine.accounts import Account
from shared.engine.errors import BadRequest, NotFound
from shared.engine.files import NAME
from shared.engine.queries import queries
from shared.engine.runtime import Runtime
from shared.media.credits import Credits

JOB_TYPE = "media.analyze"
#: Credits per object, charged up front: the media length of a still image.
CREDITS_PER_OBJECT = 1
MAX_NAME = 200
#: Media job ids are drawn from 1 .. 2**53 - 1.
MAX_ID = 2**53 - 1
#: A media job whose objects all finished, some of them without a result.
PARTIAL = "partially_succeeded"
#: Magic bytes → (content type, extension). Served content types come from here, never
#: from the client, so an uploaded HTML page cannot run script on the API's origin.
SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg", "jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
              (b"GIF87a", "image/gif", "gif"), (b"GIF89a", "image/gif", "gif"), (b"BM", "image/bmp", "bmp"),
              (b"II*\x00", "image/tiff", "tif"), (b"MM\x00*", "image/tiff", "tif"))
EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")
#: Why an object has no result, when its job has no error of its own.
GONE = {"canceled": "The object's job was canceled", "deleted": "The object's job was deleted"}


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def sniff(data: bytes) -> tuple[str, str | None]:
    """(content type, extension) from the first bytes; unknown: octet-stream."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    for magic, ctype, ext in SIGNATURES:
        if data.startswith(magic):
            return ctype, ext
    return "application/octet-stream", None


def object_name(object_uuid: str, filename: str, sniffed_ext: str | None) -> str:
    """``uuid.ext``: the extension of the original name, else the sniffed one, else ``bin``."""
    m = EXTENSION.search(filename or "")
    return f"{object_uuid}.{(m.group(1) if m else sniffed_ext or 'bin').lower()}"


def outcome(statuses: dict[str, int]) -> str:
    """A media job's status from its objects' job statuses (counts by canonical name)."""
    total = sum(statuses.values())
    active = sum(statuses.get(s.value, 0) for s in states.ACTIVE)
    waiting = statuses.get(states.Status.QUEUED.value, 0) + statuses.get(states.Status.SCHEDULED.value, 0)
    succeeded = statuses.get(states.Status.SUCCEEDED.value, 0)
    if active:
        return states.Status.QUEUED.value if waiting == total else states.Status.RUNNING.value
    if succeeded == total:
        return states.Status.SUCCEEDED.value
    return states.Status.FAILED.value if succeeded == 0 else PARTIAL


def failure(obj: dict[str, Any]) -> str | None:
    """Why an object has no result (``None``: it has one, or is not finished)."""
    if obj["status"] == states.Status.FAILED.value:
        return obj["error"] or "The object could not be processed"
    return GONE.get(obj["status"])


def media_prefix(public_id: Any) -> str:
    return f"media/{public_id}"


def results_prefix(public_id: Any, object_uuid: Any) -> str:
    return f"{media_prefix(public_id)}/results/{object_uuid}"


class MediaService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt, self.db = runtime, runtime.db
        self.credits = Credits(runtime.db, runtime.settings.default_credits)

    @property
    def store(self):
        return self.rt.files.store

    # -- creating ---------------------------------------------------------------------

    def create(self, account: Account, name: str, uploads: list[Upload], email: str | None = None) -> dict[str, Any]:
        """Store the objects, then in one transaction charge credits and insert the media job,
        its objects, their jobs and files; if anything fails, the stored objects go again."""
        name = (name or "").strip()
        if not 1 <= len(name) <= MAX_NAME:
            raise BadRequest(f"the job name must be 1 to {MAX_NAME} characters")
        if not uploads:
            raise BadRequest("at least one file is required")
        if len(uploads) > self.rt.settings.max_batch:
            raise BadRequest(f"at most {self.rt.settings.max_batch} files per job")
        for up in uploads:
            if not up.data:
                raise BadRequest(f"the file {up.filename[:100]!r} is empty")
        cost = CREDITS_PER_OBJECT * len(uploads)
        self.credits.check(account, cost)  # refuse before storing anything
        media_id = self._new_id()
        public_id = str(uuid.uuid4())
        objects = [self._object(public_id, i, up) for i, up in enumerate(uploads)]
        try:
            for obj, up in zip(objects, uploads, strict=True):
                self.store.put(obj["key"], up.data, obj["content_type"])
            specs = [self.rt.jobs.spec(JOB_TYPE, {"media_job_id": media_id, "object_uuid": o["object_uuid"]},
                                       metadata={"media_job_id": media_id, "object": o["name"]})
                     for o in objects]
            with self.rt.jobs.creating(account, specs) as (cur, rows):
                self.credits.charge(cur, account, cost)
                cur.execute(queries["insert_media_job"], {
                    "id": media_id, "public_id": public_id, "account_id": account.id, "name": name,
                    "total_size": sum(o["size"] for o in objects), "credits_spent": cost, "email": email})
                job = cur.fetchone()
                job_ids = {r["params"]["object_uuid"]: r["id"] for r in rows}
                for obj in objects:
                    obj["job_id"] = job_ids[obj["object_uuid"]]
                cur.execute(queries["insert_media_objects"], {"media_job_id": media_id, "objects": json.dumps(objects)})
                cur.execute(queries["insert_object_files"], {"files": json.dumps([
                    {"job_id": o["job_id"], "name": o["name"], "key": o["key"],
                     "content_type": o["content_type"], "size": o["size"]} for o in objects])})
        except BaseException:
            self.store.delete_prefix(media_prefix(public_id))
            raise
        return {**job, "objects": objects}

    def _new_id(self) -> int:
        """A numeric job id no one can guess or count from: random, below 2**53 (exact in
        JavaScript, as Rekosearch's web clients read it)."""
        while True:
            media_id = secrets.randbelow(MAX_ID) + 1
            if not self.db.one("media_job_id_taken", id=media_id)["taken"]:
                return media_id

    @staticmethod
    def _object(public_id: str, ord_: int, up: Upload) -> dict[str, Any]:
        object_uuid = str(uuid.uuid4())
        ctype, ext = sniff(up.data)
        original = re.split(r"[/\\]", up.filename)[-1][:255] or "file"  # some browsers send a path
        name = object_name(object_uuid, original, ext)
        return {"object_uuid": object_uuid, "ord": ord_, "name": name, "original_name": original,
                "size": len(up.data), "content_type": ctype, "credits": CREDITS_PER_OBJECT,
                "key": f"{media_prefix(public_id)}/objects/{name}"}

    # -- reading ----------------------------------------------------------------------

    def summaries(self, account: Account, media_job_id: int | None = None) -> list[dict[str, Any]]:
        rows = self.db.all("media_job_summaries", account_id=account.id, id=media_job_id)
        for row in rows:
            row["outcome"] = outcome(row["statuses"])
        return rows

    def get(self, account: Account, media_job_id: int) -> dict[str, Any]:
        """The media job with its objects (each with ``failure``); another account's: NotFound."""
        rows = self.summaries(account, media_job_id)
        if not rows:
            raise NotFound("The job does not exist")
        job = rows[0]
        job["objects"] = self.db.all("media_job_objects", media_job_id=media_job_id)
        for obj in job["objects"]:
            obj["failure"] = failure(obj)
        return job

    def url(self, key: str, name: str, content_type: str, base_url: str) -> str:
        return self.rt.files.url({"key": key, "name": name, "content_type": content_type}, base_url)

    def object_url(self, account: Account, media_job_id: int, name: str, base_url: str) -> str:
        """A signed URL of a file of the job by name (``uuid.ext``, a bare uuid, ``uuid.json``,
        ``uuid.thumb.jpg`` ...). Like Rekosearch's, it does not promise the file exists: an
        unknown name gets a link that answers 404."""
        if not NAME.match(name or ""):
            raise BadRequest("the object name may hold letters, digits, '.', '_' and '-' (at most 128)")
        job = self.get(account, media_job_id)
        row = self.db.one("media_object_file", media_job_id=media_job_id, name=name)
        if row is None:
            row = next(({"key": o["key"], "name": o["name"], "content_type": o["content_type"]}
                        for o in job["objects"] if str(o["object_uuid"]) == name.lower()), None)
        if row is None:
            row = {"key": f"{media_prefix(job['public_id'])}/objects/{name}", "name": name,
                   "content_type": "application/octet-stream"}
        return self.url(row["key"], row["name"], row["content_type"], base_url)

    # -- deleting ---------------------------------------------------------------------

    def delete(self, account: Account, media_job_id: int) -> None:
        """The media job, its objects' jobs (their files' rows cascade) and every stored object.

        A running analysis sees its job gone at its next heartbeat; results it stores after
        this are removed by ``record_results``.
        """
        ids = {"id": media_job_id, "account_id": account.id}
        with self.db.transaction() as cur:
            cur.execute(queries["delete_media_object_jobs"], ids)
            cur.execute(queries["delete_media_job"], ids)
            row = cur.fetchone()
        if row is None:
            raise NotFound("The job does not exist")
        self.store.delete_prefix(media_prefix(row["public_id"]))

    # -- the worker's side ------------------------------------------------------------

    def object_for_job(self, job_public_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
        return self.db.one("media_object_for_job", public_id=job_public_id,
                           media_job_id=params["media_job_id"], object_uuid=str(params["object_uuid"]))

    def record_results(self, obj: dict[str, Any], files: dict[str, tuple[str, bytes, str]],
                       media_length: float) -> dict[str, str] | None:
        """Store result files (role → (name, bytes, type)) and record them; their keys by role,
        or ``None`` if the object was deleted meanwhile (then nothing of them stays)."""
        prefix = results_prefix(obj["media_public_id"], obj["object_uuid"])
        keys = {role: f"{prefix}/{name}" for role, (name, _d, _t) in files.items()}
        for role, (_name, data, ctype) in files.items():
            self.store.put(keys[role], data, ctype)
        with self.db.transaction() as cur:
            cur.execute(queries["skip_commit_flush"])
            cur.execute(queries["record_media_results"], {
                "job_id": obj["engine_job_id"], "media_length": media_length, "full_key": keys.get("full"),
                "min_key": keys.get("min"), "thumbnail_key": keys.get("thumbnail"),
                "files": json.dumps([{"name": name, "key": keys[role], "content_type": ctype, "size": len(data)}
                                     for role, (name, data, ctype) in files.items()])})
            row = cur.fetchone()
        if row is None:
            self.store.delete_prefix(prefix)
            return None
        return keys
