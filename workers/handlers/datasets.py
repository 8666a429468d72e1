"""Handlers of the dataset jobs: reset (swap generations), reclaim (delete old rows), export."""

from __future__ import annotations

import io
from dataclasses import asdict
from typing import Any

from shared.datasets.service import DatasetService
from shared.engine.errors import JobError
from workers.context import JobContext
from workers.services import runtime


def _dataset(ctx: JobContext, service: DatasetService) -> dict[str, Any]:
    row = service.for_job(ctx.job_id, ctx.params["dataset"])
    if row is None:  # deleted, or someone else's: the same answer either way
        raise JobError(f"no dataset {ctx.params['dataset']!r} in this account")
    return row


def reset(ctx: JobContext) -> dict[str, Any]:
    """Empty the dataset: one UPDATE makes a new, empty generation current.

    The dataset has been read-only since this job started running (writers look for a
    running reset). The swap waits for writes already in flight, and the rows of the old
    generation, invisible from the swap on, are deleted by a dataset.reclaim job created in
    the same transaction, so the dataset is read-write again as soon as this job ends.
    """
    rt = runtime()
    service = DatasetService(rt.db)
    ds = _dataset(ctx, service)
    ctx.progress(0.1, "read-only; swapping to an empty generation")
    spec = rt.jobs.spec("dataset.reclaim", {"dataset": ds["code"]}, metadata={"reset_job": ctx.job_id})

    def reclaim_job(cur, swapped: dict[str, Any]) -> list[dict[str, Any]]:
        if not swapped["garbage"]:
            return []
        return rt.store.insert(cur, swapped["account_id"], [asdict(spec)], None)

    swapped = service.swap(ds["id"], ctx.job_id, then=reclaim_job)
    if swapped is None:
        ctx.check_canceled()
        raise JobError("the dataset was deleted, or this job stopped running, before the swap; nothing was reset")
    rt.jobs.publish(swapped["then"])
    result: dict[str, Any] = {"dataset": ds["code"], "generation": swapped["generation"],
                              "previous_generation": swapped["previous"],
                              "reclaim_job": str(swapped["then"][0]["public_id"]) if swapped["then"] else None}
    if ds["lateness_ms"] is not None:
        result["lateness_ms"] = round(float(ds["lateness_ms"]), 1)
    return result


def reclaim(ctx: JobContext) -> dict[str, Any]:
    service = DatasetService(runtime().db)
    ds = _dataset(ctx, service)
    deleted = service.reclaim(ds["id"], on_batch=lambda n: ctx.progress(0.5, f"{n} rows reclaimed"))
    return {"dataset": ds["code"], "reclaimed": deleted}


def export(ctx: JobContext) -> dict[str, Any]:
    """Dump the current generation (one snapshot) as N-Triples to ``dump.nt``."""
    service = DatasetService(runtime().db)
    ds = _dataset(ctx, service)
    out = io.StringIO()
    written = 0

    def write(line: str) -> None:
        nonlocal written
        out.write(line)
        written += 1
        if written % 50000 == 0:
            ctx.progress(0.5, f"{written} triples written")

    n = service.export(ds["id"], write)
    data = out.getvalue().encode()
    ctx.save_file("dump.nt", data, "application/n-triples")
    return {"dataset": ds["code"], "triples": n, "file": "dump.nt", "bytes": len(data)}
