"""PHYLOViZ projects and datasets of MLST profiles, with phyloDB's access rules.

A project belongs to the account that created it; its ``users`` (``[{"id", "provider"}]``)
name other accounts that share it. Owner, users and admins read and write it; a public
project is readable by every account; any other project answers 404, as if it did not
exist. Deleting a project is for its owner or an admin. Lists follow phyloDB's
ProjectRepository: the caller's projects and public ones, by id length then id.

Project and dataset ids are the client's when it creates them with PUT (the web platform
uses MongoDB ObjectIds), generated uuids when it POSTs.

A dataset's profiles live in one row (see migration 0005): ids in file order, alleles as
an int32 matrix. Uploads are validated whole before anything is written; POST keeps
existing profiles on an id conflict (phyloDB's "on conflict skip"), PUT replaces them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from psycopg2.extras import Json

from shared.engine.accounts import Account
from shared.engine.db import Database
from shared.engine.errors import BadRequest, Forbidden, NotFound
from shared.engine.queries import queries
from shared.phylo.mlst import Labels, ProfileError, ProfileSet, parse_isolates, parse_profiles

Row = dict[str, Any]
#: Items per page of the JSON lists (projects, datasets, profiles, jobs, analyses).
PAGE_SIZE = 100
VISIBILITIES = ("private", "public")
MAX_USERS = 1000


ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def parse_id(kind: str, value: Any) -> str:
    """A project or dataset id as stored; anything else names no resource (404)."""
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise NotFound(f"no {kind} {value!r}")
    return value


def new_id(kind: str, value: Any) -> str:
    """A client-chosen id for a resource created with PUT; else 400."""
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise BadRequest(f"a {kind} id must be 1 to 100 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return value


def text(value: Any, name: str, *, limit: int = 2000, required: bool = False) -> str:
    """A string PostgreSQL can store (no NUL, no lone surrogate), else 400."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        size = f"1 to {limit}" if required else f"at most {limit}"
        raise BadRequest(f"{name} must be a string of {size} characters")
    if "\x00" in value or (not value.isprintable() and _unencodable(value)):
        raise BadRequest(f"{name} contains characters that cannot be stored")
    return value


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def encode(matrix: np.ndarray) -> bytes:
    return np.ascontiguousarray(matrix, dtype="<i4").tobytes()


def decode(blob: bytes | memoryview, n: int, width: int) -> np.ndarray:
    return np.frombuffer(blob, dtype="<i4").reshape(n, width).astype(np.int32)


def merge(ids: list[str], matrix: np.ndarray, new: ProfileSet, *, replace: bool,
          names: Labels | None = None) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Existing profiles keep their rows (updated when ``replace``); new ones append in file order.

    ``names`` holds the stored non-numeric allele ids; the new file's are recoded into it.
    """
    if names is not None:
        new = ProfileSet(new.ids, new.loci, names.recode(new.matrix, new.labels))
    where = {pid: row for row, pid in enumerate(ids)}
    old_rows = [where.get(pid, -1) for pid in new.ids]
    fresh = [k for k, row in enumerate(old_rows) if row < 0]
    known = [k for k, row in enumerate(old_rows) if row >= 0]
    matrix = matrix.copy()
    if replace and known:
        matrix[[old_rows[k] for k in known]] = new.matrix[known]
    out_ids = ids + [new.ids[k] for k in fresh]
    out = np.concatenate([matrix, new.matrix[fresh]])
    counts = {"added": len(fresh), "updated": len(known) if replace else 0, "skipped": 0 if replace else len(known)}
    return out_ids, out, counts


def _header_line(data: bytes) -> int:
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            return number
    return 1


def _no_nul(data: bytes) -> None:
    """PostgreSQL text cannot hold NUL: refuse it with its line rather than fail on store."""
    at = data.find(b"\x00")
    if at >= 0:
        raise ProfileError("NUL byte in the file", data.count(b"\n", 0, at) + 1)


def _users(value: Any) -> list[dict[str, str]]:
    """``[{"id", "provider"}]``; plain strings (phyloDB's first input model) are accepted too."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_USERS:
        raise BadRequest(f"users must be a list of at most {MAX_USERS} users")
    out = []
    for user in value:
        if isinstance(user, str):
            user = {"id": user}
        if not isinstance(user, dict):
            raise BadRequest('each user must be {"id": "...", "provider": "..."}')
        out.append({"id": text(user.get("id"), "a user's id", limit=200, required=True),
                    "provider": text(user.get("provider"), "a user's provider", limit=100)})
    return out


def _project_fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    name = text(body.get("name"), "name", limit=200, required=True)
    visibility = body.get("visibility") or "private"
    if visibility not in VISIBILITIES:
        raise BadRequest(f"visibility must be one of {', '.join(VISIBILITIES)}")
    description = text(body.get("description"), "description")
    users = _users(body.get("users"))
    return {"name": name, "visibility": visibility, "description": description,
            "users": users, "members": sorted({u["id"] for u in users})}


class Projects:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, account: Account, page: int) -> list[Row]:
        return self.db.all("phylo_list_projects", account_id=account.id, name=account.name,
                           limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def get(self, account: Account, project_id: Any, *, write: bool = False, owner: bool = False) -> Row:
        """The project if ``account`` may read it (or write it, or delete it); else 404 / 403."""
        pid = parse_id("project", project_id)
        row = self.db.one("phylo_get_project", id=pid, account_id=account.id, name=account.name)
        if row is None:
            raise NotFound(f"no project {pid}")
        admin = account.role == "admin"
        if admin or row["member"]:
            if owner and not admin and row["account_id"] != account.id:
                raise Forbidden("only the project's owner or an admin may delete it")
            return row
        if row["visibility"] == "public":
            if write or owner:
                raise Forbidden("this public project is read-only for accounts outside it")
            return row
        raise NotFound(f"no project {pid}")

    def create(self, account: Account, body: Any, project_id: str | None = None) -> str | None:
        """A new project (id generated, or ``project_id``); None if that id is taken."""
        fields = _project_fields(body)
        row = self.db.one("phylo_create_project", id=project_id, account_id=account.id,
                          **{**fields, "users": Json(fields["users"])})
        return None if row is None else str(row["id"])

    def put(self, account: Account, project_id: Any, body: Any) -> bool:
        """phyloDB's PUT: create the project with the client's id, or update it; True if created."""
        if isinstance(body, dict) and body.get("id", project_id) != project_id:
            raise BadRequest(f"id {body['id']!r} in the body differs from {project_id!r} in the URL")
        if self.create(account, body, new_id("project", project_id)) is not None:
            return True
        self.update(account, project_id, body)
        return False

    def update(self, account: Account, project_id: Any, body: Any) -> None:
        project = self.get(account, project_id, write=True)
        fields = _project_fields(body)
        self.db.one("phylo_update_project", id=project["id"], **{**fields, "users": Json(fields["users"])})

    def delete(self, account: Account, project_id: Any) -> None:
        project = self.get(account, project_id, owner=True)
        self.db.one("phylo_delete_project", id=project["id"])


class Datasets:
    """Datasets of one project; callers pass the project row their access check returned."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, project: Row, page: int) -> list[Row]:
        return self.db.all("phylo_list_datasets", project_id=project["id"], limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def get(self, project: Row, dataset_id: Any) -> Row:
        did = parse_id("dataset", dataset_id)
        row = self.db.one("phylo_get_dataset", id=did, project_id=project["id"])
        if row is None:
            raise NotFound(f"no dataset {did} in project {project['id']}")
        return row

    def put(self, project: Row, dataset_id: Any, body: Any) -> bool:
        """phyloDB's PUT: create the dataset with the client's id, or update it; True if created."""
        did = new_id("dataset", dataset_id)
        if isinstance(body, dict) and body.get("id", did) != did:
            raise BadRequest(f"id {body['id']!r} in the body differs from {did!r} in the URL")
        if self.db.one("phylo_get_dataset", id=did, project_id=project["id"]) is None:
            if self.create(project, body, did) is not None:
                return True
        self.update(project, did, body)
        return False

    def create(self, project: Row, body: Any, dataset_id: str | None = None) -> str | None:
        """A new dataset (id generated, or ``dataset_id``); None if that id is taken."""
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        taxon = text(body.get("taxon_id"), "taxon_id", limit=100, required=True)
        schema = text(body.get("schema_id"), "schema_id", limit=100, required=True)
        description = text(body.get("description"), "description")
        if self.db.one("phylo_live_schema", taxon_id=taxon, id=schema) is None:
            raise BadRequest(f"no schema {schema!r} in taxon {taxon!r}")
        row = self.db.one("phylo_create_dataset", id=dataset_id, project_id=project["id"], taxon_id=taxon,
                          schema_id=schema, description=description)
        return None if row is None else str(row["id"])

    def update(self, project: Row, dataset_id: Any, body: Any) -> None:
        dataset = self.get(project, dataset_id)
        if not isinstance(body, dict) or "description" not in body:
            raise BadRequest('the body must be a JSON object with a "description"')
        description = text(body["description"], "description")
        self.db.one("phylo_update_dataset", id=dataset["id"], description=description)

    def delete(self, project: Row, dataset_id: Any) -> None:
        self.db.one("phylo_delete_dataset", id=self.get(project, dataset_id)["id"])

    # -- profiles -----------------------------------------------------------------------

    def upload_profiles(self, project: Row, dataset_id: Any, data: bytes, *, replace: bool) -> dict[str, Any]:
        """Validate a whole TSV file (``ProfileError`` with its line), then merge it in."""
        dataset = self.get(project, dataset_id)
        _no_nul(data)
        new = parse_profiles(data)
        if len(new.loci) != len(dataset["loci"]):
            raise ProfileError(f"the header has {len(new.loci)} loci; schema {dataset['schema_id']!r} "
                               f"has {len(dataset['loci'])}", _header_line(data))
        with self.db.transaction() as cur:
            cur.execute(queries["phylo_lock_dataset"], {"id": dataset["id"]})
            if cur.fetchone() is None:
                raise NotFound(f"no dataset {dataset['id']}")
            cur.execute(queries["phylo_get_profiles"], {"dataset_id": dataset["id"]})
            old = cur.fetchone()
            ids, matrix = (old["ids"], decode(old["alleles"], len(old["ids"]), old["width"])) if old else \
                ([], np.empty((0, len(new.loci)), np.int32))
            names = Labels(old["labels"] if old else [])
            ids, matrix, counts = merge(ids, matrix, new, replace=replace, names=names)
            cur.execute(queries["phylo_save_profiles"], {"dataset_id": dataset["id"], "ids": ids,
                                                         "width": matrix.shape[1], "alleles": encode(matrix),
                                                         "labels": names.labels})
        return {"invalid_lines": [], "invalid_entities": [], **counts, "profiles": len(ids)}

    def upload_isolates(self, project: Row, dataset_id: Any, data: bytes, *, replace: bool,
                        id_column: int = 0) -> dict[str, Any]:
        """Add a file's isolates to the dataset's, by isolate id (phyloDB's POST skips ids it
        has, PUT updates them); STs that are not profiles of the dataset are reported."""
        dataset = self.get(project, dataset_id)
        _no_nul(data)
        new = parse_isolates(data, id_column)
        known = set(self.profile_ids(dataset["id"]))
        with self.db.transaction() as cur:
            cur.execute(queries["phylo_lock_dataset"], {"id": dataset["id"]})
            if cur.fetchone() is None:
                raise NotFound(f"no dataset {dataset['id']}")
            cur.execute(queries["phylo_get_isolate_members"], {"dataset_id": dataset["id"]})
            old = cur.fetchone()
            members: dict[str, str | None] = dict(old["members"]) if old else {}
            added = sum(1 for k in new if k not in members)
            members = {**members, **new} if replace else {**new, **members}
            counts: dict[str, int] = {}
            for st in members.values():
                if st is not None:
                    counts[st] = counts.get(st, 0) + 1
            cur.execute(queries["phylo_save_isolates"], {"dataset_id": dataset["id"], "counts": Json(counts),
                                                         "rows": len(members), "members": Json(members)})
        unknown = sorted({st for st in new.values() if st is not None and st not in known})
        return {"invalid_lines": [], "invalid_entities": unknown, "added": added,
                "isolates": len(members), "profiles_with_isolates": len(set(counts) & known)}

    def profile_ids(self, dataset_id: str) -> list[str]:
        row = self.db.one("phylo_get_profile_ids", dataset_id=dataset_id)
        return row["ids"] if row else []

    def profiles(self, dataset_id: str) -> ProfileSet:
        """The dataset's profiles in upload order (what a goeBURST job runs on)."""
        row = self.db.one("phylo_get_schema_profiles", dataset_id=dataset_id)
        if row is None:
            raise NotFound(f"no dataset {dataset_id}")
        if row["ids"] is None:
            return ProfileSet(ids=[], loci=list(row["loci"]), matrix=np.empty((0, len(row["loci"])), np.int32))
        return ProfileSet(ids=list(row["ids"]), loci=list(row["loci"]),
                          matrix=decode(row["alleles"], len(row["ids"]), row["width"]),
                          labels=list(row["labels"]))

    def isolates(self, dataset_id: str) -> dict[str, int]:
        row = self.db.one("phylo_get_isolates", dataset_id=dataset_id)
        return {k: int(v) for k, v in row["counts"].items()} if row else {}

    def profile_page(self, project: Row, dataset_id: Any, page: int) -> list[Row]:
        dataset = self.get(project, dataset_id)
        ids = self.profile_ids(dataset["id"])[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
        return [{"id": pid, "version": 1} for pid in ids]

    def profile(self, project: Row, dataset_id: Any, profile_id: str) -> Row:
        dataset = self.get(project, dataset_id)
        ps = self.profiles(dataset["id"])
        try:
            row = ps.ids.index(profile_id)
        except ValueError:
            raise NotFound(f"no profile {profile_id!r} in dataset {dataset['id']}") from None
        alleles = [ps.allele(a) for a in ps.matrix[row].tolist()]
        return {"project_id": str(project["id"]), "dataset_id": str(dataset["id"]), "id": profile_id,
                "version": 1, "deprecated": False, "aka": None, "alleles": alleles}

    def export(self, project: Row, dataset_id: Any) -> str:
        """The profiles as a TSV file (header ``ST`` + the schema's loci; missing: empty)."""
        ps = self.profiles(self.get(project, dataset_id)["id"])
        lines = ["\t".join(["ST", *ps.loci])]
        for pid, row in zip(ps.ids, ps.matrix.tolist(), strict=True):
            lines.append("\t".join([pid, *(ps.allele(a) or "" for a in row)]))
        return "\n".join(lines) + "\n"
