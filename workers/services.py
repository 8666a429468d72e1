"""The worker process's runtime, for handlers that need services beyond their context.

Set once by ``workers.app.create_worker_app``; handlers call ``runtime()`` at run time (never
at import), so tests can give the runner a runtime of their own.
"""

from __future__ import annotations

from shared.engine.runtime import Runtime

_runtime: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no worker runtime installed (workers.app.create_worker_app sets it)")
    return _runtime
