"""Reading Dragon requests: JSON bodies whatever their Content-Type, booleans, keys, tasks, auth.

Errors are ``BadRequest``s with Dragon's ``[{name, location, description}]`` entries
(locations ``body`` and ``querystring``, as Cornice, which the document's format comes
from, names them); the dialect's renderer turns them into ``{"status": "error", ...}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, request

from api.auth import authenticate
from api.common import runtime
from api.dialects.dragon import keys
from shared.engine.accounts import Account
from shared.engine.errors import BadRequest
from shared.engine.jobs import JobSpec

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}
#: Request parameters that are credentials, never task parameters.
CREDENTIALS = ("secret", "api_key")


def error(name: str, location: str, description: str) -> BadRequest:
    return BadRequest(f"{name}: {description}", errors=[{"name": name, "location": location, "description": description}])


def body() -> dict[str, Any]:
    """The JSON object in the body (any Content-Type: Stupeflix's client sends text/plain)."""
    if not request.get_data(cache=True).strip():
        return {}
    data = request.get_json(force=True, silent=True)
    if data is None:
        raise error("body", "body", "the body is not valid JSON")
    if not isinstance(data, dict):
        raise error("body", "body", "the body must be a JSON object")
    return data


def flag(value: Any, name: str, location: str) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise error(name, location, f"{name} must be a boolean")


def account() -> Account:
    """The caller of a task-creating method: ``secret``/``api_key`` in the body or query, or
    any Authorization form (``api.auth``). Every failure is a 401, as Dragon documents."""
    return authenticate()


def reader() -> Account | None:
    """The caller of a read by task key, if a key was sent (``api.access`` checked it)."""
    return g.get("account")


def task_keys(value: Any, location: str, name: str = "tasks") -> list[str]:
    """Keys from a list, one string, or comma-separated strings; malformed ones are a 400."""
    if value is None or value == [] or value == "":
        raise error(name, location, f"{name} is missing")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(k, str) for k in items):
        raise error(name, location, f"{name} must be a task key or a list of task keys")
    out = [k.strip().upper() for item in items for k in item.split(",") if k.strip()]
    limit = runtime().settings.max_batch
    if len(out) > limit:
        raise error(name, location, f"at most {limit} task keys per request")
    bad = [k for k in out if keys.decode(k) is None]
    if bad or not out:
        raise BadRequest("invalid task keys", errors=[
            {"name": name, "location": location, "description": f"{k!r} is not a valid task key"} for k in bad
        ] or [{"name": name, "location": location, "description": f"{name} is missing"}])
    return out


def public_ids(task_keys: list[str]) -> list[uuid.UUID]:
    return [keys.decode(k) for k in task_keys]  # type: ignore[misc] - validated by task_keys


def specs(tasks: Any, name: str, location: str) -> list[JobSpec]:
    """One task definition or a list of them → validated job specs (all errors at once)."""
    if tasks is None:
        raise error(name, location, f"{name} is missing")
    single = isinstance(tasks, dict)
    items = [tasks] if single else tasks
    if not isinstance(items, list) or not items:
        raise error(name, location, f"{name} must be a task definition or a non-empty list of them")
    limit = runtime().settings.max_batch
    if len(items) > limit:
        raise error(name, location, f"at most {limit} tasks per request")
    out, errors = [], []
    for i, item in enumerate(items):
        try:
            out.append(spec(item, name if single else f"{name}.{i}", location))
        except BadRequest as exc:
            errors += exc.errors
    if errors:
        raise BadRequest("invalid task definitions", errors=errors)
    return out


def spec(task: Any, prefix: str, location: str) -> JobSpec:
    """One task definition (``task_name`` plus its parameters; ``task_metas`` → metadata)."""
    def at(field: str) -> str:
        return f"{prefix}.{field}" if prefix else field

    if not isinstance(task, dict):
        raise error(prefix or "task", location, "a task definition must be an object")
    params = {k: v for k, v in task.items() if k not in CREDENTIALS}
    task_name, metas = params.pop("task_name", None), params.pop("task_metas", None)
    if task_name is None:
        raise error(at("task_name"), location, "task_name is missing")
    if not isinstance(task_name, str):
        raise error(at("task_name"), location, "task_name must be a string")
    if metas is not None and not isinstance(metas, dict):
        raise error(at("task_metas"), location, "task_metas must be an object")
    try:
        return runtime().jobs.spec(task_name, params, metadata=metas or {})
    except BadRequest as exc:
        raise BadRequest(exc.message, errors=[_translate(e, at, location) for e in exc.errors]) from None


def _translate(e: dict[str, str], at, location: str) -> dict[str, str]:
    """A canonical error (``type``, ``params.url``) → Dragon's (``task_name``, ``url``)."""
    name = e["name"]
    name = "task_name" if name == "type" else name.removeprefix("params.").removeprefix("params")
    description = e["description"]
    if description == "Missing data for required field.":
        description = f"{name.rsplit('.', 1)[-1]} is missing"
    return {"name": at(name) if name else at("task_name"), "location": location, "description": description}
