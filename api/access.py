"""Who may call what: one access decision per route, checked before any view runs.

Every key has a scope set (``shared.engine.accounts.SCOPES``): a **secret** key reads and writes
everything of its account, a **read** key only reads, a **public** key (Dragon's "Api key +
referrer", meant to sit in a web page's JavaScript) may only create Dragon tasks and read
the tasks it created itself. ``ROUTES`` gives each endpoint its decision; an endpoint missing
from it needs a secret key (fail closed), and ``tests/integration/test_access.py`` fails until
the new endpoint is listed here.

The check runs in ``before_request``, before request parsing, so a key without the scope
gets 403 (in the surface's own error format) whatever the body holds, and changes nothing.
"""

from __future__ import annotations

from enum import Enum

from apispec import BasePlugin
from flask import Flask, request

from api.auth import authenticate, presented_key
from shared.engine.accounts import PUBLIC, READ, WRITE
from shared.engine.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(Enum):
    #: No key at all: liveness, the spec and docs, signed file links, metrics (own token).
    NONE = "no key"
    #: GET/HEAD read, every other method writes (the REST rule, decided per route here).
    BY_METHOD = "read for GET, write otherwise"
    READ = "read"
    WRITE = "write"
    #: Dragon's task-creating methods: secret keys, and public keys from a whitelisted Referer.
    PUBLIC_CREATE = "write, or a public key"
    #: Dragon's reads by task key: the unguessable key is the capability, so no API key is
    #: needed; a key that is sent limits the read to its account (public: its own tasks).
    TASK_KEY = "task key; any key kind"


ROUTES: dict[str, Access] = {
    # operations and documentation
    "ops.healthz": Access.NONE,
    "ops.readyz": Access.NONE,
    "ops.metrics": Access.NONE,  # JOBLINE_METRICS_TOKEN guards it when set
    "ops.docs_assets": Access.NONE,
    "api-docs.openapi_json": Access.NONE,
    "api-docs.openapi_swagger_ui": Access.NONE,
    "static": Access.NONE,
    "files.download": Access.NONE,  # the signed, expiring link is the credential
    # the web console: signed in by session cookie; each view checks the key's scopes itself
    **{f"console.{name}": Access.NONE for name in (
        "static", "sign_in", "sign_out", "home", "jobs", "jobs_table", "new_job", "bulk", "job", "job_live",
        "job_verb", "redeliver", "queues", "accounts", "apps", "datasets", "uploads", "delete_upload", "keys", "revoke_key",
    )},
    # the canonical API
    "jobs.Jobs": Access.BY_METHOD,
    "jobs.Job": Access.BY_METHOD,
    "jobs.cancel": Access.WRITE,
    "jobs.restart": Access.WRITE,
    "jobs.events": Access.READ,
    "jobs.job_types": Access.READ,
    "files.list_files": Access.READ,
    "files.get_file": Access.READ,
    "apps.Apps": Access.BY_METHOD,
    "apps.App": Access.BY_METHOD,
    "apps.deliveries": Access.READ,
    "apps.redeliver": Access.WRITE,
    "apps.Webhook": Access.BY_METHOD,
    "apps.rotate_secret": Access.WRITE,
    "datasets.Datasets": Access.BY_METHOD,
    "datasets.Dataset": Access.BY_METHOD,
    "datasets.Triples": Access.BY_METHOD,
    "datasets.create_job": Access.WRITE,
    "datasets.status": Access.READ,
    "uploads.create_upload": Access.WRITE,
    "uploads.delete_upload": Access.WRITE,
    "usage.usage": Access.READ,
    "queues.queues": Access.READ,
    # Dragon
    "dragon.create": Access.PUBLIC_CREATE,
    "dragon.create_stream": Access.PUBLIC_CREATE,
    "dragon.create_file": Access.PUBLIC_CREATE,  # GET too: <img src=".../create_file?...">
    "dragon.status": Access.TASK_KEY,  # POST reads as well (Stupeflix's client)
    "dragon.status_stream": Access.TASK_KEY,
    "dragon.file": Access.TASK_KEY,
    # Canotic, at /canotic, /canotic/api and /canotic/v1 (its client's default): cancel is also
    # a GET in its document and still writes; download_jobs POSTs and only reads
    "canotic.create_api_form": Access.WRITE,
    **{f"canotic.{name}{suffix}": access for suffix in ("", "_api", "_v1") for name, access in (
        ("create_at_app", Access.WRITE), ("create_for_app", Access.WRITE),
        ("list_app_jobs", Access.READ), ("list_jobs", Access.READ), ("get_job", Access.READ),
        ("job_response", Access.READ), ("download_responses", Access.READ),
        ("delete_job", Access.WRITE), ("cancel_job", Access.WRITE), ("restart_job", Access.WRITE),
    )},
    # Kasabi
    "kasabi.create_job": Access.WRITE,
    "kasabi.get_job": Access.READ,
    "kasabi.status": Access.READ,
    "kasabi.description": Access.READ,
    "kasabi.store": Access.WRITE,
    # Rekosearch
    "rekosearch.upload": Access.WRITE,
    "rekosearch.delete_job": Access.WRITE,
    "rekosearch.get_job": Access.READ,
    "rekosearch.object_url": Access.READ,
    "rekosearch.list_jobs": Access.READ,
    # PHYLOViZ: phyloDB's API root answers anyone; its resources follow the REST rule
    "phyloviz.api_root": Access.NONE,
    **{f"phyloviz.{name}": Access.BY_METHOD for name in (
        "list_users", "alleles_file", "get_allele", "list_alleles", "upload_inference",
        "list_projects", "create_project", "get_project", "put_project", "delete_project",
        "list_datasets", "create_dataset", "get_dataset", "put_dataset", "delete_dataset",
        "list_inferences_0", "list_inferences_1", "get_inference_0", "get_inference_1",
        "list_visualizations_0", "list_visualizations_1", "get_visualization_0", "get_visualization_1",
        "get_visualization_short", "get_svg_0", "get_svg_1", "get_svg_short",
        "isolates_file", "profiles_file", "list_profiles", "get_profile",
        "list_jobs", "create_job", "delete_job",
        "list_taxa", "get_taxon", "put_taxon", "delete_taxon",
        "list_loci", "get_locus", "put_locus", "delete_locus",
        "list_schemas", "get_schema", "put_schema", "delete_schema",
    )},
}


def decision(endpoint: str | None, method: str) -> Access:
    """The access rule for one request (``WRITE`` for an endpoint nobody decided on)."""
    access = ROUTES.get(endpoint or "", Access.WRITE)
    if access is Access.BY_METHOD:
        return Access.READ if method in SAFE_METHODS else Access.WRITE
    return access


def required_scopes(access: Access) -> frozenset[str]:
    """The scopes any one of which lets a key through ``access``."""
    return {
        Access.READ: frozenset({READ}),
        Access.WRITE: frozenset({WRITE}),
        Access.PUBLIC_CREATE: frozenset({WRITE, PUBLIC}),
        Access.TASK_KEY: frozenset({READ, PUBLIC}),
    }.get(access, frozenset())


def enforce() -> None:
    """``before_request``: authenticate and check the key's scopes against the route."""
    if request.url_rule is None or request.method == "OPTIONS":
        return  # routing errors answer 404/405; CORS preflights carry no key
    access = decision(request.endpoint, request.method)
    if access is Access.NONE or (access is Access.TASK_KEY and not presented_key()):
        return
    account = authenticate()
    if not account.scopes & required_scopes(access):
        raise Forbidden(f"this {account.key_kind} key may not do this "
                        f"(it grants: {', '.join(sorted(account.scopes))}; this needs {access.value})")


def init_app(app: Flask) -> None:
    app.before_request(enforce)


class AccessPlugin(BasePlugin):
    """Writes each operation's access rule into /openapi.json: ``security`` (none for keyless
    routes), ``x-jobline-scopes`` (any one of them suffices), and a line of its description."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        for method, operation in operations.items():
            access = decision(rule.endpoint, method.upper())
            if access is Access.NONE:
                operation["security"] = []
                continue
            scopes = sorted(required_scopes(access))
            operation["x-jobline-scopes"] = scopes
            note = f"Key scope: {' or '.join(scopes)}."
            operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{note}".lstrip()


SECURITY_DESCRIPTION = (
    "An API key, as `Authorization: Bearer <key>` (other forms: see the README). Each key has a "
    "scope set: a **secret** key has `read` and `write` (everything of its account); a **read** "
    "key has `read` (every GET, nothing that changes anything); a **public** key has `public` "
    "(Dragon only: create tasks from a whitelisted Referer and read the tasks it created). "
    "`x-jobline-scopes` on each operation lists the scopes any one of which lets a key through; "
    "a key without one gets 403.")
