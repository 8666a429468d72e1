"""The shared catalogue of PHYLOViZ (phyloDB): taxa, their loci, and typing schemas.

One catalogue for every account, as in phyloDB. Any account may add an entry; changing or
deprecating an existing one is for the account that created it or an admin (phyloDB
leaves the catalogue to admins; letting users add entries keeps a user's first dataset
one request away, and no user can rewrite another's schema). Deleting only deprecates:
datasets keep pointing at their schema, and a PUT revives the entry.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg2.errors

from shared.engine.accounts import Account
from shared.engine.db import Database
from shared.engine.errors import BadRequest, Forbidden, NotFound
from shared.phylo.projects import text

Row = dict[str, Any]
#: Entries per page of a catalogue list.
PAGE_SIZE = 100
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SCHEMA_TYPES = ("mlst", "mlva", "snp")
MAX_SCHEMA_LOCI = 20000


def check_name(kind: str, value: str, *, creating: bool = False) -> str:
    """An id that cannot exist is unknown (404), or invalid when a PUT would create it (400)."""
    if not isinstance(value, str) or not NAME.match(value):
        if creating:
            raise BadRequest(f"invalid {kind} id {value!r} (letters, digits, . _ -; at most 100)")
        raise NotFound(f"no {kind} {value!r}")
    return value


def _text(body: dict[str, Any], key: str) -> str:
    return text(body.get(key), key)


def _same_id(body: dict[str, Any], key: str, expected: str) -> None:
    """phyloDB refuses a body whose id disagrees with the URL."""
    if key in body and body[key] != expected:
        raise BadRequest(f"{key} {body[key]!r} in the body differs from {expected!r} in the URL")


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _owner(account: Account) -> dict[str, Any]:
        return {"account_id": account.id, "admin": account.role == "admin"}

    # -- taxa ---------------------------------------------------------------------------

    def list_taxa(self, page: int) -> list[Row]:
        return self.db.all("phylo_list_taxa", limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def taxon(self, taxon_id: str, *, live: bool = False) -> Row:
        row = self.db.one("phylo_get_taxon", id=check_name("taxon", taxon_id))
        if row is None or (live and row["deprecated"]):
            raise NotFound(f"no taxon {taxon_id!r}")
        return row

    def _extensible_taxon(self, account: Account, taxon_id: str) -> None:
        """A live taxon that ``account`` may add loci and schemas to: its own, one nobody owns, or
        any for an admin. phyloDB lets only admins write loci and schemas; here each account
        keeps its own catalogue entries, and nobody extends another's taxon."""
        row = self.db.one("phylo_taxon_owner", id=check_name("taxon", taxon_id))
        if row is None:
            raise NotFound(f"no taxon {taxon_id!r}")
        if row["created_by"] not in (None, account.id) and account.role != "admin":
            raise Forbidden(f"taxon {taxon_id!r} belongs to another account: only its owner "
                            "or an admin adds loci and schemas to it")

    def put_taxon(self, account: Account, taxon_id: str, body: dict[str, Any]) -> bool:
        """Create or update a taxon; True when created."""
        check_name("taxon", taxon_id, creating=True)
        _same_id(body, "id", taxon_id)
        row = self.db.one("phylo_put_taxon", id=taxon_id, description=_text(body, "description"),
                          **self._owner(account))
        if row is None:
            raise Forbidden(f"taxon {taxon_id!r} belongs to another account")
        return bool(row["created"])

    def deprecate_taxon(self, account: Account, taxon_id: str) -> None:
        self.taxon(taxon_id, live=True)
        if self.db.one("phylo_deprecate_taxon", id=taxon_id, **self._owner(account)) is None:
            raise Forbidden(f"taxon {taxon_id!r} belongs to another account")

    # -- loci ---------------------------------------------------------------------------

    def list_loci(self, taxon_id: str, page: int) -> list[Row]:
        self.taxon(taxon_id, live=True)
        return self.db.all("phylo_list_loci", taxon_id=taxon_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def locus(self, taxon_id: str, locus_id: str, *, live: bool = False) -> Row:
        self.taxon(taxon_id)
        row = self.db.one("phylo_get_locus", taxon_id=taxon_id, id=check_name("locus", locus_id))
        if row is None or (live and row["deprecated"]):
            raise NotFound(f"no locus {locus_id!r} in taxon {taxon_id!r}")
        return row

    def put_locus(self, account: Account, taxon_id: str, locus_id: str, body: dict[str, Any]) -> bool:
        self._extensible_taxon(account, taxon_id)
        check_name("locus", locus_id, creating=True)
        _same_id(body, "id", locus_id)
        _same_id(body, "taxon_id", taxon_id)
        row = self.db.one("phylo_put_locus", taxon_id=taxon_id, id=locus_id,
                          description=_text(body, "description"), **self._owner(account))
        if row is None:
            raise Forbidden(f"locus {locus_id!r} belongs to another account")
        return bool(row["created"])

    def deprecate_locus(self, account: Account, taxon_id: str, locus_id: str) -> None:
        self.locus(taxon_id, locus_id, live=True)
        if self.db.one("phylo_deprecate_locus", taxon_id=taxon_id, id=locus_id, **self._owner(account)) is None:
            raise Forbidden(f"locus {locus_id!r} belongs to another account")

    # -- schemas ------------------------------------------------------------------------

    def list_schemas(self, taxon_id: str, page: int) -> list[Row]:
        self.taxon(taxon_id, live=True)
        return self.db.all("phylo_list_schemas", taxon_id=taxon_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def schema(self, taxon_id: str, schema_id: str, *, live: bool = False) -> Row:
        self.taxon(taxon_id)
        row = self.db.one("phylo_get_schema", taxon_id=taxon_id, id=check_name("schema", schema_id))
        if row is None or (live and row["deprecated"]):
            raise NotFound(f"no schema {schema_id!r} in taxon {taxon_id!r}")
        return row

    def put_schema(self, account: Account, taxon_id: str, schema_id: str, body: dict[str, Any]) -> bool:
        """Create or update a schema; its loci must be live loci of the taxon, in column order."""
        self._extensible_taxon(account, taxon_id)
        check_name("schema", schema_id, creating=True)
        _same_id(body, "id", schema_id)
        _same_id(body, "taxon_id", taxon_id)
        loci = body.get("loci")
        if (not isinstance(loci, list) or not loci or len(loci) > MAX_SCHEMA_LOCI
                or not all(isinstance(x, str) and NAME.match(x) for x in loci)):
            raise BadRequest(f"loci must be a non-empty list of locus ids (at most {MAX_SCHEMA_LOCI})")
        if len(set(loci)) != len(loci):
            raise BadRequest("a schema lists each locus once")
        kind = body.get("type", "mlst")
        if kind not in SCHEMA_TYPES:
            raise BadRequest(f"type must be one of {', '.join(SCHEMA_TYPES)}")
        known = {r["id"] for r in self.db.all("phylo_live_loci", taxon_id=taxon_id, ids=loci)}
        unknown = [x for x in dict.fromkeys(loci) if x not in known]
        if unknown:
            raise BadRequest(f"unknown loci of taxon {taxon_id!r}: {', '.join(map(repr, unknown[:10]))}")
        try:
            row = self.db.one("phylo_put_schema", taxon_id=taxon_id, id=schema_id, type=kind, loci=loci,
                              description=_text(body, "description"), **self._owner(account))
        except psycopg2.errors.CheckViolation:
            raise BadRequest("invalid schema") from None
        if row is None:
            raise Forbidden(f"schema {schema_id!r} belongs to another account")
        return bool(row["created"])

    def deprecate_schema(self, account: Account, taxon_id: str, schema_id: str) -> None:
        self.schema(taxon_id, schema_id, live=True)
        if self.db.one("phylo_deprecate_schema", taxon_id=taxon_id, id=schema_id, **self._owner(account)) is None:
            raise Forbidden(f"schema {schema_id!r} belongs to another account")
