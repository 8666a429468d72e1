"""Versioned SQL migrations (``shared/engine/migrations/NNNN_name.sql``), applied in order.

Safe when several processes run it at once: a session advisory lock serialises them, and
each migration commits with its row in ``schema_migrations`` in one transaction.
"""

from __future__ import annotations

import logging
from pathlib import Path

from shared.engine.db import connect_raw

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_ID = 0x6A6F626C696E65  # "jobline"


def available() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        found.append((int(version), name, path))
    return found


def upgrade(dsn: str) -> list[str]:
    """Apply every migration not yet applied; return the names applied now."""
    conn = connect_raw(dsn)
    applied_now: list[str] = []
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
        conn.autocommit = False
        for version, name, path in available():
            if version in done:
                continue
            with conn.cursor() as cur:
                cur.execute(path.read_text())
                cur.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
                )
            conn.commit()
            log.info("applied migration %04d_%s", version, name)
            applied_now.append(f"{version:04d}_{name}")
    finally:
        if not conn.closed:
            conn.rollback()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
            conn.close()
    return applied_now
