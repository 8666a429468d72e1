"""Console pages about the account: queues and workers, apps, datasets, uploads, keys."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from api.common import runtime
from api.console.blueprint import blp
from api.console.session import current, require
from shared.apps.service import AppService
from shared.datasets.service import DatasetService
from shared.engine import states
from shared.engine.accounts import KEY_KINDS, SCOPES, WRITE
from shared.engine.errors import BadRequest, NotFound
from shared.engine.uploads import Uploads

#: Throughput and failure rate are over this window.
WINDOW_S = 3600
S = states.Status


def _scope_of(account) -> int | None:
    """Whose jobs the operations page counts: an admin's key sees every account's."""
    return None if account.role == "admin" else account.id


@blp.route("/queues")
def queues():
    account = current()
    db, who = runtime().db, _scope_of(account)
    depths = db.all("console_queue_depths", account_id=who, scheduled=S.SCHEDULED.value, queued=S.QUEUED.value,
                    running=S.RUNNING.value, active=sorted(s.value for s in states.ACTIVE))
    by_queue = {d["queue"]: d for d in depths}
    names = {t.queue for t in runtime().registry} | set(by_queue)
    depths = [by_queue.get(q, {"queue": q, "oldest_queued_at": None}) for q in sorted(names)]
    finished: dict[str, dict[str, int]] = {}
    for row in db.all("console_throughput", account_id=who, window_s=WINDOW_S,
                      terminal=sorted(s.value for s in states.TERMINAL)):
        finished.setdefault(row["queue"], {})[row["status"]] = row["n"]
    throughput = []
    for queue, by_status in sorted(finished.items()):
        done = sum(by_status.values())
        throughput.append({"queue": queue, "finished": done, **by_status,
                           "failure_rate": by_status.get(S.FAILED.value, 0) / done if done else 0.0})
    running = db.all("console_running", account_id=who, running=S.RUNNING.value)
    template = "console/_queues.html" if request.headers.get("HX-Request") else "console/queues.html"
    return render_template(template, account=account, depths=depths, throughput=throughput,
                           running=running, window_min=WINDOW_S // 60, all_accounts=who is None)


@blp.route("/accounts")
def accounts():
    """Every account at a glance, for admin keys only (others: as if the page did not exist)."""
    account = current()
    if account.role != "admin":
        raise NotFound("no such page")
    rows = runtime().db.all("console_accounts", active=sorted(s.value for s in states.ACTIVE),
                            failed=S.FAILED.value, window_s=WINDOW_S)
    return render_template("console/accounts.html", account=account, accounts=rows, window_min=WINDOW_S // 60)


@blp.route("/apps")
def apps():
    account = current()
    return render_template("console/apps.html", account=account, apps=AppService(runtime()).list(account))


@blp.route("/datasets")
def datasets():
    account = current()
    service = DatasetService(runtime().db)
    rows = [{**d, "triples": service.count(d["id"], d["generation"])} for d in service.list(account)]
    return render_template("console/datasets.html", account=account, datasets=rows)


@blp.route("/uploads", methods=["GET", "POST"])
def uploads():
    account = current()
    created = None
    if request.method == "POST":
        account = require(WRITE)
        part = request.files.get("file")
        data = part.read() if part else b""
        if not data:
            raise BadRequest("choose a non-empty file to upload")
        if len(data) > runtime().settings.fetch_max_bytes:
            raise BadRequest(f"the file is larger than {runtime().settings.fetch_max_bytes} bytes")
        created = Uploads(runtime().files.store).save(account.id, data, part.mimetype or "application/octet-stream")
    return render_template("console/uploads.html", account=account, created=created)


@blp.route("/uploads/delete", methods=["POST"])
def delete_upload():
    account = require(WRITE)
    upload_id = (request.form.get("upload_id") or "").strip()
    Uploads(runtime().files.store).delete(account.id, upload_id)
    flash(f"upload {upload_id} deleted")
    return redirect(url_for("console.uploads"))


@blp.route("/keys", methods=["GET", "POST"])
def keys():
    account = current()
    created = None
    if request.method == "POST":
        account = require(WRITE)
        kind, label = request.form.get("kind", ""), (request.form.get("label") or "").strip()
        if kind not in KEY_KINDS:
            raise BadRequest(f"kind must be one of {', '.join(KEY_KINDS)}")
        if len(label) > 200:
            raise BadRequest("the label is longer than 200 characters")
        created = {"key": runtime().accounts.create_key(account, kind, label), "kind": kind}
    return render_template("console/keys.html", account=account, created=created, kinds=KEY_KINDS,
                           scopes=SCOPES, keys=runtime().accounts.list_keys(account))


@blp.route("/keys/revoke", methods=["POST"])
def revoke_key():
    account = require(WRITE)
    prefix = request.form.get("prefix", "")
    if runtime().db.one("console_revoke_key", prefix=prefix, account_id=account.id) is None:
        raise NotFound(f"no active key with prefix {prefix!r}")
    runtime().accounts.forget_keys()
    flash(f"key {prefix} revoked")
    return redirect(url_for("console.keys"))
