"""The database's side of the contract: migrations, and refusing what the state machine refuses."""

from __future__ import annotations

import threading
import uuid
from itertools import product

import psycopg2
import pytest

from shared.engine.migrate import available, upgrade
from shared.engine.states import Status, can_move

TERMINAL = {"succeeded", "failed", "canceled"}


def columns_for(status: str) -> dict:
    """Column values that satisfy the table's CHECK constraints for ``status``."""
    return {
        "status": status,
        "start_at": "now()" if status == "scheduled" else "NULL",
        "queued_at": "now()" if status == "queued" else "NULL",
        "started_at": "now()" if status == "running" else "NULL",
        "heartbeat_at": "now()" if status == "running" else "NULL",
        "finished_at": "now()" if status in TERMINAL else "NULL",
        "error": "'boom'" if status == "failed" else "NULL",
    }


@pytest.fixture
def account_id(runtime):
    return runtime.accounts.create(f"db-{uuid.uuid4().hex[:8]}").id


def test_database_refuses_exactly_what_the_state_machine_refuses(runtime, account_id):
    for source, target in product(Status, Status):
        if source == target:
            continue
        a, b = columns_for(source.value), columns_for(target.value)
        with runtime.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO jobs (account_id, type, queue, status, start_at, queued_at, started_at,"
                f" heartbeat_at, finished_at, error) VALUES (%s, 'hello', 'default', %s, {a['start_at']},"
                f" {a['queued_at']}, {a['started_at']}, {a['heartbeat_at']}, {a['finished_at']}, {a['error']})"
                f" RETURNING id", (account_id, source.value))
            job_id = cur.fetchone()["id"]
        update = (f"UPDATE jobs SET status = %s, start_at = {b['start_at']}, queued_at = {b['queued_at']},"
                  f" started_at = {b['started_at']}, heartbeat_at = {b['heartbeat_at']},"
                  f" finished_at = {b['finished_at']}, error = {b['error']} WHERE id = %s")
        refused = False
        try:
            with runtime.db.transaction() as cur:
                cur.execute(update, (target.value, job_id))
        except psycopg2.errors.CheckViolation as exc:
            assert "cannot move" in str(exc), exc
            refused = True
        assert refused == (not can_move(source, target)), (source, target)


def test_constraints_tie_timestamps_to_states(runtime, account_id):
    bad = [
        "status, finished_at) VALUES (%s, 'hello', 'default', 'succeeded', NULL)",
        "status, finished_at) VALUES (%s, 'hello', 'default', 'queued', now())",
        "status, start_at) VALUES (%s, 'hello', 'default', 'scheduled', NULL)",
        "status, started_at) VALUES (%s, 'hello', 'default', 'running', NULL)",
    ]
    for tail in bad:
        with pytest.raises(psycopg2.errors.CheckViolation), runtime.db.transaction() as cur:
            cur.execute("INSERT INTO jobs (account_id, type, queue, " + tail, (account_id,))


def test_concurrent_migrations_apply_once(servers):
    admin, _ = servers
    name = f"jobline_mig_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    dsn = admin.rsplit("/", 1)[0] + "/" + name
    results, errors = [], []

    def run():
        try:
            results.append(upgrade(dsn))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        applied = sorted(m for r in results for m in r)
        assert applied == [f"{v:04d}_{n}" for v, n, _p in available()]  # each by exactly one process
        assert upgrade(dsn) == []
    finally:
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
