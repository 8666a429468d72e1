"""Datasets of RDF triples: owned by an account, stored in generations, reset in O(1).

The API side (create, load, read a page, delete a pattern, status) and the worker side
(swap a generation, reclaim old rows, export) both go through ``DatasetService``; the SQL
is in ``shared/datasets/sql/datasets.sql`` and the invariants in migration 0004.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import chain, islice
from typing import Any

import psycopg2.errors

from shared.engine.accounts import Account
from shared.engine.db import Database
from shared.engine.errors import BadRequest, Conflict, JoblineError, NotFound
from shared.engine.queries import queries

Row = dict[str, Any]
Triple = tuple[str, str, str]  # canonical N-Triples terms (shared.datasets.rdf; not imported: rdflib is slow to load)
#: Loads up to this many triples go in one INSERT from arrays; larger ones are staged first.
SMALL_LOAD = 1000
#: Triples per INSERT into the staging table. Not COPY: psycopg2 refuses COPY once
#: psycogreen has set a wait callback (the API under gunicorn + gevent).
STAGE_CHUNK = 20000
#: A big load is parsed into a temporary file first; it stays in memory up to this size.
SPOOL_MEMORY = 16 * 1024 * 1024
#: Counter rows summed by a count before they are folded into one.
COMPACT_AFTER = 64
READ_WRITE, READ_ONLY = "read-write", "read-only"
STATUSES = ("draft", "published")


class DatasetLocked(JoblineError):
    """The dataset is read-only while a reset runs; retry once it has finished."""

    status = 423

    def __init__(self, code: str, job: object) -> None:
        super().__init__(f"dataset {code!r} is read-only while reset job {job} runs; "
                         "retry once it has finished", job=str(job))
        self.job = str(job)


class UnsupportedMediaType(JoblineError):
    """Send RDF as application/n-triples or text/turtle."""

    status = 415


def storage_mode(row: Row) -> str:
    return READ_ONLY if row.get("reset_job") else READ_WRITE


def encode_cursor(generation: int, h: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{generation}:{h}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        generation, _, h = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        return int(generation), str(uuid.UUID(h))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("invalid cursor", errors=[{"name": "cursor", "location": "query",
                                                    "description": "Not a cursor returned by this API."}]) from None


def _columns(triples: list[Triple]) -> dict[str, list[str]]:
    return {"s": [t[0] for t in triples], "p": [t[1] for t in triples], "o": [t[2] for t in triples]}


@contextmanager
def _spool(triples: Iterator[Triple]) -> Iterator[tuple[Iterator[str], int]]:
    """All the triples, parsed, in a temporary file (in memory up to ``SPOOL_MEMORY``) as
    "s<TAB>p<TAB>o" lines: yields (chunks of ``STAGE_CHUNK`` lines, how many triples).
    Terms are canonical N-Triples, so no term holds a raw tab or line break."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, mode="w+", encoding="utf-8", newline="\n") as f:
        n = 0
        for s, p, o in triples:
            line = f"{s}\t{p}\t{o}\n"
            if line.count("\t") != 2 or line.count("\n") != 1:
                raise BadRequest("a term holds a raw tab or line break (not canonical N-Triples)")
            f.write(line)
            n += 1
            if n % 5000 == 0:
                # Parsing is CPU work that may never wait on the socket (a fast client): under
                # gevent (time.sleep is patched) this lets the worker's other requests and its
                # heartbeat run, so a long load neither stalls them nor gets the worker killed.
                time.sleep(0)
        f.seek(0)
        yield iter(lambda: "".join(islice(f, STAGE_CHUNK)), ""), n


class DatasetService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- datasets ---------------------------------------------------------------------

    def create(self, account: Account, code: str, title: str = "", status: str = "draft") -> Row:
        try:
            return self.db.one("create_dataset", account_id=account.id, code=code, title=title, status=status)
        except psycopg2.errors.UniqueViolation:
            raise Conflict(f"the dataset code {code!r} is taken") from None
        except psycopg2.errors.CheckViolation:
            raise BadRequest(f"invalid dataset code {code!r}", errors=[{
                "name": "code", "location": "json",
                "description": "1-64 of a-z 0-9 _ -, starting with a letter or digit."}]) from None

    def find(self, account: Account, code: str) -> Row:
        """The account's dataset ``code`` (codes are per account: another's is not found)."""
        row = self.db.one("get_dataset", account_id=account.id, code=code)
        if row is None:
            raise NotFound(f"no dataset {code!r}")
        return row

    def list(self, account: Account) -> list[Row]:
        return self.db.all("list_datasets", account_id=account.id)

    def update(self, account: Account, code: str, title: str | None = None, status: str | None = None) -> Row:
        row = self.find(account, code)
        self.db.one("update_dataset", dataset_id=row["id"], title=title, status=status)
        return self.find(account, code)

    def delete(self, account: Account, code: str) -> None:
        row = self.find(account, code)
        with self.db.transaction() as cur:
            cur.execute(queries["delete_dataset"], {"dataset_id": row["id"]})
            cur.execute(queries["delete_dataset_rows"], {"dataset_id": row["id"]})

    def count(self, dataset_id: int, generation: int) -> int:
        row = self.db.one("count_triples", dataset_id=dataset_id, generation=generation)
        assert row is not None
        if row["deltas"] > COMPACT_AFTER:
            self.db.one("compact_counts", dataset_id=dataset_id, generation=generation)
        return int(row["n"])

    # -- writes: under FOR SHARE of the dataset row, into its current generation ---------

    def _lock_for_write(self, cur, account: Account, code: str) -> Row:
        # Look before locking: share locks never wait for each other, so writers that kept
        # taking one while a reset runs (only to be refused) could starve the reset's swap.
        for query in ("get_dataset", "lock_dataset_for_write"):
            cur.execute(queries[query], {"account_id": account.id, "code": code})
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"no dataset {code!r}")
            if row["reset_job"] is not None:
                raise DatasetLocked(code, row["reset_job"])
        return row

    def load(self, account: Account, code: str, triples: Iterable[Triple]) -> Row:
        """Add triples (duplicates are ignored); all or nothing.

        The body is read and parsed in full before a database connection is taken: a slow
        upload holds neither a pooled connection nor the dataset row's lock (a reset's swap
        waits for writers holding it). Big loads are spooled to a temporary file meanwhile,
        then staged in a temporary table and moved in one statement under the lock.
        """
        ds = self.find(account, code)  # 404 or 423 before reading a body for nothing
        if ds["reset_job"] is not None:
            raise DatasetLocked(code, ds["reset_job"])
        triples = iter(triples)
        head = list(islice(triples, SMALL_LOAD))
        if len(head) < SMALL_LOAD:
            with self.db.transaction() as cur:
                ds = self._lock_for_write(cur, account, code)
                ids = {"dataset_id": ds["id"], "generation": ds["generation"]}
                cur.execute(queries["insert_triples"], {**ids, **_columns(head)})
                return self._loaded(cur, ids, len(head))
        with _spool(chain(head, triples)) as (spooled, parsed), self.db.transaction() as cur:
            cur.execute(queries["create_triple_load"])
            for lines in spooled:
                cur.execute(queries["stage_triples"], {"lines": lines})
            ds = self._lock_for_write(cur, account, code)
            ids = {"dataset_id": ds["id"], "generation": ds["generation"]}
            cur.execute(queries["insert_staged_triples"], ids)
            return self._loaded(cur, ids, parsed)

    @staticmethod
    def _loaded(cur, ids: Row, parsed: int) -> Row:
        added = cur.fetchone()["added"]
        cur.execute(queries["count_triples"], ids)
        total = cur.fetchone()["n"]
        return {"parsed": parsed, "added": int(added), "triples": int(total), "generation": ids["generation"]}

    def delete_pattern(self, account: Account, code: str, s: str | None, p: str | None, o: str | None) -> Row:
        with self.db.transaction() as cur:
            ds = self._lock_for_write(cur, account, code)
            ids = {"dataset_id": ds["id"], "generation": ds["generation"]}
            cur.execute(queries["delete_triples"], {**ids, "s": s, "p": p, "o": o})
            deleted = cur.fetchone()["deleted"]
            cur.execute(queries["count_triples"], ids)
            total = cur.fetchone()["n"]
        return {"deleted": int(deleted), "triples": int(total), "generation": ds["generation"]}

    # -- reads: one snapshot for the dataset row, the page and the count ------------------

    def page(self, account: Account, code: str, limit: int, cursor: str | None = None,
             s: str | None = None, p: str | None = None, o: str | None = None) -> Row:
        with self.db.transaction() as cur:
            cur.execute(queries["repeatable_read"])
            cur.execute(queries["get_dataset"], {"account_id": account.id, "code": code})
            ds = cur.fetchone()
            if ds is None or ds["account_id"] != account.id:
                raise NotFound(f"no dataset {code!r}")
            ids = {"dataset_id": ds["id"], "generation": ds["generation"]}
            after = None
            if cursor:
                generation, after = decode_cursor(cursor)
                if generation != ds["generation"]:
                    raise Conflict(f"dataset {code!r} was reset since this cursor was issued; start again")
            pattern = {"s": s, "p": p, "o": o}
            cur.execute(queries["page_triples"], {**ids, **pattern, "after": after, "limit": limit + 1})
            rows = cur.fetchall()
            if s is None and p is None and o is None:
                cur.execute(queries["count_triples"], ids)
            else:
                cur.execute(queries["count_matching_triples"], {**ids, **pattern})
            count = int(cur.fetchone()["n"])
        more = len(rows) > limit
        rows = rows[:limit]
        return {"dataset": ds, "count": count, "triples": [{"s": r["s"], "p": r["p"], "o": r["o"]} for r in rows],
                "next_cursor": encode_cursor(ds["generation"], rows[-1]["h"]) if more else None}

    # -- worker side --------------------------------------------------------------------

    def for_job(self, job_public_id: str, code: str) -> Row | None:
        return self.db.one("dataset_for_job", job=job_public_id, code=code)

    def swap(self, dataset_id: int, job_public_id: str, then: Callable[[Any, Row], Any] | None = None) -> Row | None:
        """Make a new, empty generation current; ``then(cur, row)`` runs in the same transaction."""
        with self.db.transaction() as cur:
            cur.execute(queries["swap_generation"], {"dataset_id": dataset_id, "job": job_public_id})
            row = cur.fetchone()
            if row is not None and then is not None:
                row = {**row, "then": then(cur, row)}
        return row

    def reclaim(self, dataset_id: int, batch: int = 10000,
                on_batch: Callable[[int], None] | None = None) -> int:
        """Delete the rows of old generations in batches (short transactions); return how many."""
        current = self.db.one("current_generation", dataset_id=dataset_id)
        if current is None:
            return 0
        ids = {"dataset_id": dataset_id, "generation": current["generation"]}
        total = 0
        while (oldest := self.db.one("oldest_generation", **ids)) is not None:
            after = str(uuid.UUID(int=0))
            while True:
                row = self.db.one("reclaim_triples", **ids, old=oldest["generation"], after_h=after, batch=batch)
                assert row is not None
                total += row["deleted"]
                if on_batch is not None:
                    on_batch(total)
                if row["deleted"] < batch:
                    break
                after = str(row["last_h"])
        self.db.one("reclaim_counts", **ids)
        return total

    def export(self, dataset_id: int, write: Callable[[str], None], chunk: int = 10000) -> int:
        """Write the current generation as N-Triples lines; one snapshot (a server-side cursor)."""
        n = 0
        with self.db.transaction() as cur:
            cur.execute(queries["repeatable_read"])
            cur.execute(queries["current_generation"], {"dataset_id": dataset_id})
            current = cur.fetchone()
            if current is None:
                raise NotFound("the dataset was deleted")
            with cur.connection.cursor(name=f"export_{uuid.uuid4().hex}") as named:
                named.itersize = chunk
                named.execute(queries["export_triples"], {"dataset_id": dataset_id,
                                                          "generation": current["generation"]})
                for (line,) in named:
                    write(line)
                    n += 1
        return n
