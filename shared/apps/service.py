"""Apps: named configurations of a job type, and the jobs submitted through them.

An app (owned by an account, with a 32-hex public id) fixes a job type, default parameters,
how input keys map to parameter names (``{"data_url": "url"}``) and a default callback URL.
Submitting inputs to an app creates one job per input, all in one transaction.

Those jobs are shown as the Canotic document shows them (``render_job``); ``STATUS`` is the
one mapping of our states to its vocabulary. The document has no running state: scheduled,
queued and running jobs all read ``pending``. The same view is the ``job`` of a callback about a job of an app.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError

from shared.apps.callbacks import canonical_payload, check_target
from shared.engine.accounts import Account
from shared.engine.errors import BadRequest, NotFound
from shared.engine.fetch import FetchError, Policy, fetch
from shared.engine.jobs import flatten_errors
from shared.engine.jobstore import Row
from shared.engine.queries import queries
from shared.engine.runtime import Runtime
from shared.engine.states import Status

#: Our states in the Canotic document's words (running is still ``pending`` there).
STATUS: dict[str, str] = {
    Status.SCHEDULED.value: "pending",
    Status.QUEUED.value: "pending",
    Status.RUNNING.value: "pending",
    Status.SUCCEEDED.value: "completed",
    Status.FAILED.value: "error",
    Status.CANCELED.value: "canceled",
}
FINISHED = (Status.SUCCEEDED.value, Status.FAILED.value)
_HEX32 = frozenset("0123456789abcdefABCDEF")


def iso(value: datetime | None) -> str | None:
    """``2016-06-23T09:09:34.752Z``, as the document writes times (UTC, milliseconds)."""
    if value is None:
        return None
    v = value.astimezone(UTC) if value.tzinfo else value
    return f"{v.year:04d}-" + v.strftime("%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"  # %Y: "1", not "0001"


def render_job(row: Row) -> dict[str, Any]:
    """A job as the document shows it; finished jobs add completion, output, callback outcome."""
    done = row["status"] in FINISHED
    out: dict[str, Any] = {"job_id": str(row["public_id"])}
    if done:
        out["completed_at"] = iso(row["finished_at"])
    out.update(created_at=iso(row["created_at"]), callback_url=row.get("callback_url"),
               app_id=row.get("app_public_id"), status=STATUS[row["status"]])
    if done:
        out["callback_succeeded"] = row.get("callback_succeeded")  # null: no callback, or not settled yet
    out["input"] = row["input"] if row.get("input") is not None else row["params"]
    if done:
        out["output"] = row.get("result")
        if row.get("error"):
            out["error"] = row["error"]
    out["metadata"] = row.get("metadata") or {}
    return out


def callback_payload(row: Row) -> dict[str, Any]:
    """What a callback POSTs (or emails): ``{job_id, status, output, job}``, in the words of the
    API the job came from: a job of an app (Canotic's) as Canotic shows it, any other job in
    the canonical API's states and fields."""
    if not row.get("app_public_id"):
        return canonical_payload(row)
    job = render_job(row)
    return {"job_id": job["job_id"], "status": job["status"], "output": row.get("result"), "job": job}


def inputs_policy(runtime: Runtime) -> Policy:
    """The fetch policy for ``inputs_file``: the image policy, capped at the request body limit."""
    s = runtime.settings
    return replace(runtime.fetch_policy, max_bytes=min(s.fetch_max_bytes, s.max_body_bytes),
                   total_timeout=min(runtime.fetch_policy.total_timeout, 60.0))


def load_inputs(url: str, policy: Policy, name: str = "inputs_file") -> list[Any]:
    """The JSON list of inputs at ``url``, fetched through the SSRF guard and size cap."""

    def bad(message: str) -> BadRequest:
        return BadRequest(f"{name}: {message}", errors=[{"name": name, "location": "json", "description": message}])

    if not isinstance(url, str) or not url:
        raise bad("must be the URL of a JSON file")
    try:
        got = fetch(url, policy)
    except FetchError as exc:
        raise bad(str(exc)) from None
    if not 200 <= got.status < 300:
        raise bad(f"the server answered HTTP {got.status}")
    try:
        data = json.loads(got.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad("is not a JSON document") from None
    if not isinstance(data, list):
        raise bad("must hold a JSON list of inputs")
    return data


class AppService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.db = runtime.db

    def create(self, account: Account, name: str, type: str, params: dict | None = None,
               input_map: dict | None = None, callback_url: str | None = None) -> Row:
        params, input_map = params or {}, input_map or {}
        if type not in self.rt.registry:
            raise BadRequest(f"unknown job type {type!r}", errors=[{
                "name": "type", "location": "json", "description": f"must be one of: {', '.join(self.rt.registry.names())}"}])
        if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in input_map.items()):
            raise BadRequest("input_map maps input keys to parameter names (strings)")
        try:  # defaults may be partial (inputs complete them) but must not be wrong
            self.rt.registry[type].schema.load(params, partial=True)
        except ValidationError as exc:
            # Whole-schema rules ("give either url or upload_id", reported on ``url``) judge a
            # complete job, so they wait for the inputs: only errors on given fields count now.
            messages = {k: v for k, v in exc.messages.items() if k in params} if isinstance(exc.messages, dict) \
                else exc.messages
            if messages:
                raise BadRequest(f"invalid default parameters for job type {type!r}",
                                 errors=flatten_errors(messages, "json", "params")) from None
        row = self.db.one("create_app", account_id=account.id, name=name, type=type, params=json.dumps(params),
                          input_map=json.dumps(input_map), callback_url=check_target(callback_url, runtime=self.rt))
        assert row is not None
        return row

    def get(self, account: Account, public_id: str) -> Row:
        row = None
        if isinstance(public_id, str) and len(public_id) == 32 and set(public_id) <= _HEX32:
            row = self.db.one("get_app", account_id=account.id, public_id=public_id)
        if row is None:
            raise NotFound(f"no app {public_id!r}")
        return row

    def list(self, account: Account, limit: int = 1000) -> list[Row]:
        return self.db.all("list_apps", account_id=account.id, limit=limit)

    def delete(self, account: Account, public_id: str) -> Row:
        """Retire an app; its jobs stay (and keep showing its id)."""
        self.get(account, public_id)
        row = self.db.one("delete_app", account_id=account.id, public_id=public_id)
        if row is None:
            raise NotFound(f"no app {public_id!r}")
        return row

    def submit(self, account: Account, app: Row, inputs: Sequence[Any], callback_url: str | None = None,
               metadata: dict | None = None) -> list[Row]:
        """One job per input (app defaults, then the input's keys), created in one transaction."""
        if not inputs:
            raise BadRequest("no inputs: give inputs (a list) and/or inputs_file (the URL of one)")
        if len(inputs) > self.rt.settings.max_batch:
            raise BadRequest(f"at most {self.rt.settings.max_batch} inputs per request")
        callback_url = check_target(callback_url, runtime=self.rt) or app["callback_url"]
        specs = []
        for i, item in enumerate(inputs):
            if not isinstance(item, dict):
                raise BadRequest(f"inputs[{i}] must be an object", errors=[{
                    "name": f"inputs.{i}", "location": "json", "description": "Not a valid mapping type."}])
            params = {**app["params"], **{app["input_map"].get(k, k): v for k, v in item.items()}}
            specs.append(self.rt.jobs.spec(app["type"], params, field_prefix=f"inputs.{i}.",
                                           callback_url=callback_url, metadata=metadata or {}))
        # The engine's batch insert (limits included); the app link joins its transaction.
        with self.rt.jobs.creating(account, specs) as (cur, inserted):
            items = [{"id": r["id"], "input": item} for r, item in zip(inserted, inputs, strict=True)]
            cur.execute(queries["attach_app_jobs"], {"app_id": app["id"], "items": json.dumps(items)})
            rows = sorted(cur.fetchall(), key=lambda r: r["id"])
        return [dict(r, app_public_id=app["public_id"]) for r in rows]

    def decorate(self, rows: Sequence[Row]) -> list[Row]:
        """Rows with their app's public id (``app_public_id``) for rendering."""
        ids = sorted({r["app_id"] for r in rows if r.get("app_id")})
        names = {a["id"]: a["public_id"] for a in self.db.all("app_public_ids", ids=ids)} if ids else {}
        return [dict(r, app_public_id=names.get(r.get("app_id"))) for r in rows]

    def page(self, account: Account, *, app: Row | None = None, statuses: list[str] | None = None,
             created: tuple[datetime | None, datetime | None] = (None, None),
             completed: tuple[datetime | None, datetime | None] = (None, None),
             descending: bool = True, by_completion: bool = False, limit: int = 100,
             offset: int = 0) -> tuple[int, list[Row]]:
        """(total matching, one page of jobs) of the account, or of one of its apps."""
        rows = self.db.all("page_app_jobs", account_id=account.id, app_id=app["id"] if app else None,
                           statuses=statuses, created_from=created[0], created_to=created[1],
                           completed_from=completed[0], completed_to=completed[1], descending=descending,
                           by_completion=by_completion, limit=limit, offset=offset)
        total = int(rows[0]["total"]) if rows else 0
        return total, [r for r in rows if r["id"] is not None]
