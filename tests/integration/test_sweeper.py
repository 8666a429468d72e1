"""Beat's orphan sweep, on real files: a job's folder outliving its job, and ``.part`` files."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from workers.sweeper import ORPHAN_AGE_S, PARTIAL_AGE_S, Sweeper


def _job(runtime, account):
    spec = dict(vars(runtime.jobs.spec("hello", {"name": "files"})), queue="unserved")  # no worker claims it
    with runtime.db.transaction() as cur:
        [job] = runtime.store.insert(cur, account.id, [spec], None)
    return job


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_orphaned_job_folders_and_old_partial_files_are_swept(runtime, make_account):
    account, _key = make_account()
    store, root = runtime.files.store, runtime.files.store.root
    live, gone, young = _job(runtime, account), _job(runtime, account), _job(runtime, account)
    runtime.files.save(live["id"], str(live["public_id"]), "kept.txt", b"kept")
    for job in (gone, young):
        # A handler saving after a concurrent delete: the bytes land, the row cannot.
        runtime.store.delete(account.id, str(job["public_id"]))
        with pytest.raises(Exception):  # noqa: B017 - the foreign key refuses the file's row
            runtime.files.save(job["id"], str(job["public_id"]), "late.txt", b"late")
        assert store.exists(f"jobs/{job['public_id']}/late.txt")
    old_part = root / "jobs" / str(live["public_id"]) / "crashed.bin.part"
    new_part = root / "uploads" / f"sweep-{uuid.uuid4().hex}" / "writing.bin.part"
    for part in (old_part, new_part):
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"half a file")
    _age(old_part, PARTIAL_AGE_S + 60)
    for job in (live, gone):
        _age(root / "jobs" / str(job["public_id"]), ORPHAN_AGE_S + 60)

    counts = Sweeper(runtime).sweep(batch=100_000)  # the whole store in one batch

    assert counts["orphan_jobs"] >= 1 and counts["partials"] >= 1
    assert not (root / "jobs" / str(gone["public_id"])).exists()
    assert not old_part.exists()
    assert store.exists(f"jobs/{live['public_id']}/kept.txt")  # its job exists
    assert store.exists(f"jobs/{young['public_id']}/late.txt")  # too young: a save may be in flight
    assert new_part.exists()  # a write may be in progress


def test_a_sweep_looks_at_a_bounded_batch(runtime, make_account):
    account, _key = make_account()
    root = runtime.files.store.root
    orphans = [_job(runtime, account) for _ in range(3)]
    for job in orphans:
        runtime.store.delete(account.id, str(job["public_id"]))
        folder = root / "jobs" / str(job["public_id"])
        folder.mkdir(parents=True)
        (folder / "late.txt").write_bytes(b"late")
        _age(folder, ORPHAN_AGE_S + 60)
    sweeper = Sweeper(runtime)
    assert sum(sweeper.sweep(batch=1).values()) <= 1
    while sweeper.sweep(batch=1) and sweeper.pending:
        pass
    assert not any((root / "jobs" / str(j["public_id"])).exists() for j in orphans)
