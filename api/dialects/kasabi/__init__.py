"""The Kasabi Jobs API (seed 004) at ``/kasabi``: per-dataset jobs, owner only, plain text.

Everything of this dialect lives in this package: its blueprint, routes and error renderer
(``routes``). It imports no other dialect (import-linter); the services it calls
are in ``shared``.
"""

from api.dialects.kasabi.routes import init_app

__all__ = ["init_app"]
