"""Retention: beat deletes jobs finished over JOBLINE_RETENTION_DAYS ago, in bounded batches."""

from __future__ import annotations

from workers.maintenance import Maintainer


def finished(runtime, account, *, days_ago: float, with_file: bool = False):
    spec = dict(vars(runtime.jobs.spec("hello", {"name": "old"})), queue="unserved")  # no worker claims it first
    with runtime.db.transaction() as cur:
        [job] = runtime.store.insert(cur, account.id, [spec], None)
    assert runtime.store.claim(job["id"], "t") and runtime.store.succeed(job["id"], "t", "done")
    if with_file:
        runtime.files.save(job["id"], str(job["public_id"]), "out.txt", b"bytes", "text/plain")
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE jobs SET finished_at = now() - %s * interval '1 day' WHERE id = %s", (days_ago, job["id"]))
    return job


def test_finished_jobs_past_retention_are_pruned_with_their_files(runtime, make_account):
    account, _key = make_account()
    old = finished(runtime, account, days_ago=runtime.settings.retention_days + 1, with_file=True)
    recent = finished(runtime, account, days_ago=runtime.settings.retention_days - 1)
    [row] = runtime.files.list(old["id"])
    assert runtime.files.store.exists(row["key"])
    while Maintainer(runtime).prune():  # each call one bounded batch (beat may take some too)
        pass
    assert runtime.store.get_by_id(old["id"]) is None and runtime.store.events(old["id"]) == []
    assert not runtime.files.store.exists(row["key"])
    assert runtime.store.get_by_id(recent["id"])["status"] == "succeeded"


def test_unfinished_jobs_are_never_pruned(runtime, make_account):
    account, _key = make_account()
    spec = vars(runtime.jobs.spec("hello", {"name": "waiting"}))
    with runtime.db.transaction() as cur:
        [job] = runtime.store.insert(cur, account.id, [spec], None)
        cur.execute("UPDATE jobs SET created_at = now() - interval '30 days', run_after = now() + interval '1 hour'"
                    " WHERE id = %s", (job["id"],))
    Maintainer(runtime).prune()
    assert runtime.store.get_by_id(job["id"])["status"] == "queued"
