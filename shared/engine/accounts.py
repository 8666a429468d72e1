"""Accounts and API keys. A key is shown once; only its sha256 digest is stored.

Keys look like ``jl_<prefix>_<secret>``: the prefix (kept in clear) finds the row in one
indexed lookup, the digest of the whole key is compared in constant time. Keys carry 192
bits of randomness, so a fast hash is enough (no password-stretching needed).

An API process remembers what a key digest authenticated to, but only while it listens to
``jobline_auth``: a trigger (migration 0008) notifies every change to a key or to an
account's grants, and the cache is dropped on each notice, when the listener reconnects,
and in the process that revokes. That saved a query on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg2.errors

from shared.engine.db import Database
from shared.engine.errors import Conflict, Forbidden, NotFound, Unauthorized

#: What a key may do. A kind names a fixed scope set (``jobline keys create --scope KIND``).
READ, WRITE, PUBLIC = "read", "write", "public"
SCOPES: dict[str, frozenset[str]] = {
    "secret": frozenset({READ, WRITE}),  # everything of its account
    "read": frozenset({READ}),           # look, never change
    "public": frozenset({PUBLIC}),       # Dragon, in a web page: create tasks, read its own
}
KEY_KINDS = tuple(SCOPES)


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    referers: tuple[str, ...]
    max_in_flight: int | None
    key_kind: str = "secret"
    key_id: int | None = None

    @property
    def scopes(self) -> frozenset[str]:
        return SCOPES[self.key_kind]

    @classmethod
    def from_row(cls, row: dict[str, Any], key_kind: str = "secret", key_id: int | None = None) -> Account:
        return cls(row["id"], row["name"], row["role"], tuple(row["referers"] or ()),
                   row["max_in_flight"], key_kind, key_id)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def split_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else ``None``."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "jl" or len(parts[1]) != 8 or not parts[2]:
        return None
    return parts[1]


def referer_allowed(referer: str | None, allowed: tuple[str, ...]) -> bool:
    """A public key works only from a page on one of the account's whitelisted hosts."""
    if not referer:
        return False
    try:
        host = (urlsplit(referer).hostname or "").lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return any(host == a.lower() or host.endswith("." + a.lower()) for a in allowed)


#: A remembered key is re-read after this long even without a notice.
AUTH_CACHE_TTL_S = 300.0
AUTH_CACHE_MAX = 10_000


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db
        #: Whether change notices are being received; the cache is used only while true.
        self.cache_live: Callable[[], bool] = lambda: False
        self._cache: dict[bytes, tuple[float, Account]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def forget_keys(self) -> None:
        """Drop every remembered key (a change notice arrived, or notices may have been missed)."""
        with self._lock:
            self._cache = {}
            self._generation += 1

    def create(self, name: str, role: str = "user", referers: list[str] | None = None,
               max_in_flight: int | None = None) -> Account:
        try:
            row = self.db.one("create_account", name=name, role=role, referers=referers or [],
                              max_in_flight=max_in_flight)
        except psycopg2.errors.UniqueViolation:
            raise Conflict(f"account {name!r} already exists") from None
        except psycopg2.errors.CheckViolation:
            raise Conflict(f"invalid account name {name!r} (letters, digits, . _ @ -; at most 64)") from None
        assert row is not None
        return Account.from_row(row)

    def get(self, name: str) -> Account:
        row = self.db.one("get_account_by_name", name=name)
        if row is None:
            raise NotFound(f"no account named {name!r}")
        return Account.from_row(row)

    def update(self, name: str, referers: list[str] | None = None, max_in_flight: int | None = None) -> Account:
        row = self.db.one("update_account", name=name, referers=referers, max_in_flight=max_in_flight)
        self.forget_keys()
        if row is None:
            raise NotFound(f"no account named {name!r}")
        return Account.from_row(row)

    def create_key(self, account: Account, kind: str = "secret", label: str = "") -> str:
        """Create a key and return it; this is the only time it is ever visible."""
        if kind not in KEY_KINDS:
            raise ValueError(f"key kind must be one of {KEY_KINDS}")
        prefix = secrets.token_hex(4)
        key = f"jl_{prefix}_{secrets.token_hex(24)}"
        self.db.one("create_key", account_id=account.id, prefix=prefix, digest=_digest(key),
                    kind=kind, label=label)
        return key

    def list_keys(self, account: Account) -> list[dict[str, Any]]:
        """The account's keys (prefixes only), each with its scopes."""
        return [dict(k, scopes=sorted(SCOPES[k["kind"]])) for k in self.db.all("list_keys", account_id=account.id)]

    def revoke_key(self, prefix: str) -> None:
        row = self.db.one("revoke_key", prefix=prefix)
        self.forget_keys()
        if row is None:
            raise NotFound(f"no active key with prefix {prefix!r}")

    def authenticate(self, key: str, referer: str | None = None) -> Account:
        """The account a presented key belongs to, or ``Unauthorized``/``Forbidden``."""
        key = key.strip()
        digest = _digest(key)
        live = self.cache_live()
        hit = self._cache.get(digest) if live else None
        if hit is not None and hit[0] > time.monotonic():
            account = hit[1]
        else:
            generation = self._generation
            account = self._lookup(key, digest)
            if live:
                with self._lock:
                    if generation == self._generation:  # no notice arrived while we read
                        if len(self._cache) >= AUTH_CACHE_MAX:
                            self._cache = {}
                        self._cache[digest] = (time.monotonic() + AUTH_CACHE_TTL_S, account)
        if account.key_kind == "public" and not referer_allowed(referer, account.referers):
            raise Forbidden("this public key is valid only with a whitelisted Referer")
        return account

    def _lookup(self, key: str, digest: bytes) -> Account:
        prefix = split_key(key)
        row = self.db.one("find_key", prefix=prefix) if prefix else None
        if row is None or row["revoked_at"] is not None or not hmac.compare_digest(bytes(row["digest"]), digest):
            raise Unauthorized("invalid or revoked API key")
        return Account.from_row(row, key_kind=row["kind"], key_id=row["key_id"])
