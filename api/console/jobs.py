"""Console pages for jobs: the list (filters, paging, live refresh, bulk actions), one job
(state, params, result, live timeline, attempts, deliveries, outputs), and the verbs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import flash, redirect, render_template, request, url_for

from api.common import base_url, runtime
from api.console import present
from api.console.blueprint import blp
from api.console.session import current, require
from shared.apps.callbacks import Deliveries, check_target
from shared.engine.accounts import WRITE
from shared.engine.errors import BadRequest, Conflict, NotFound
from shared.engine.states import TERMINAL, Status

PAGE_SIZE = 25
#: At most this many jobs in one bulk action (one form post).
MAX_BULK = 200
#: JSON output files up to this size are shown inline.
MAX_INLINE_JSON = 256 * 1024
TERMINAL_NAMES = frozenset(s.value for s in TERMINAL)


def _when(name: str) -> datetime | None:
    """A ``datetime-local`` filter, read as UTC (the console shows every time in UTC)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} is not a date and time (e.g. 2026-01-31T13:45)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _filters() -> dict:
    statuses = [s for s in request.args.getlist("status") if s]
    bad = [s for s in statuses if s not in {x.value for x in Status}]
    if bad:
        raise BadRequest(f"unknown status {bad[0]!r}")
    before = request.args.get("before", "")
    if before and not before.isdigit():
        raise BadRequest("before must be a page marker from this console")
    return {"statuses": statuses or None, "type": request.args.get("type") or None,
            "created_after": _when("created_after"), "created_before": _when("created_before"),
            "before_id": int(before) if before else None}


def _page() -> tuple[list[dict], int | None]:
    rows = runtime().store.list(current().id, limit=PAGE_SIZE + 1, **_filters())
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1]["id"] if more else None)


@blp.route("/jobs")
def jobs():
    account = current()
    rows, older = _page()
    return render_template("console/jobs.html", account=account, jobs=rows, older=older,
                           statuses=[s.value for s in Status], types=runtime().registry.names(),
                           args=request.args)


@blp.route("/jobs/table")
def jobs_table():
    """The list's rows alone, for the live refresh."""
    current()
    rows, older = _page()
    return render_template("console/_jobs_table.html", jobs=rows, older=older, args=request.args)


@blp.route("/jobs/new", methods=["POST"])
def new_job():
    account = require(WRITE)
    rt = runtime()
    try:
        params = json.loads(request.form.get("params") or "{}")
    except ValueError as exc:
        raise BadRequest(f"params is not JSON: {exc}") from None
    spec = rt.jobs.spec(request.form.get("type", ""), params,
                        callback_url=check_target(request.form.get("callback_url") or None, location="form"))
    job = rt.jobs.create(account, [spec])[0]
    return redirect(url_for("console.job", job_id=job["public_id"]))


@blp.route("/jobs/bulk", methods=["POST"])
def bulk():
    account = require(WRITE)
    action, ids = request.form.get("action"), request.form.getlist("ids")
    if action not in ("cancel", "restart"):
        raise BadRequest("action must be cancel or restart")
    if not ids or len(ids) > MAX_BULK:
        raise BadRequest(f"select between 1 and {MAX_BULK} jobs")
    verb = getattr(runtime().jobs, action)
    done, skipped = 0, []
    for public_id in ids:
        try:
            verb(account, public_id)
            done += 1
        except (Conflict, NotFound) as exc:  # one job in the wrong state does not stop the rest
            skipped.append(exc.message)
    flash(f"{action}: {done} job(s)" + (f"; skipped {len(skipped)}: {skipped[0]}" if skipped else ""))
    return redirect(request.referrer if _same_console(request.referrer) else url_for("console.jobs"))


def _same_console(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url.rstrip("/") + blp.url_prefix + "/")


def _job_context(public_id: str) -> dict:
    rt, account = runtime(), current()
    job = rt.jobs.get(account, public_id)
    files = [_file(rt, f) for f in rt.files.list(job["id"])]
    return {"job": job, "events": rt.store.events(job["id"]), "files": files,
            "terminal": job["status"] in TERMINAL_NAMES}


def _file(rt, row: dict) -> dict:
    """A job's file with its signed link; a small JSON file also with its text, pretty-printed."""
    out = {**row, "url": rt.files.url(row, base_url())}
    if present.kind(row) == "json" and (row.get("size") or 0) <= MAX_INLINE_JSON:
        try:
            out["text"] = present.pretty(json.loads(rt.files.store.get(row["key"])))
        except (ValueError, OSError):
            pass  # shown as a link only
    return out


@blp.route("/jobs/<job_id>")
def job(job_id):
    context = _job_context(job_id)
    deliveries = Deliveries(runtime()).for_job(context["job"]["id"])
    return render_template("console/job.html", account=current(), deliveries=deliveries, **context)


@blp.route("/jobs/<job_id>/live")
def job_live(job_id):
    """State, progress, attempts, timeline and outputs: refreshed until the job finishes."""
    return render_template("console/_job_live.html", **_job_context(job_id))


@blp.route("/jobs/<job_id>/deliveries/<delivery_id>/redeliver", methods=["POST"])
def redeliver(job_id, delivery_id):
    account = require(WRITE)
    rt = runtime()
    job = rt.jobs.get(account, job_id)
    Deliveries(rt).redeliver(job["id"], delivery_id)
    flash("redeliver: sent again")
    return redirect(url_for("console.job", job_id=job_id))


@blp.route("/jobs/<job_id>/<any(cancel, restart, delete):verb>", methods=["POST"])
def job_verb(job_id, verb):
    account = require(WRITE)
    getattr(runtime().jobs, verb)(account, job_id)
    flash(f"{verb}: done")
    if verb == "delete":
        return redirect(url_for("console.jobs"))
    return redirect(url_for("console.job", job_id=job_id))
