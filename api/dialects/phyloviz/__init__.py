"""The PHYLOViZ dialect (phyloDB's jobs page, seed 002) at ``/phyloviz``.

Everything of this dialect lives in this package: its blueprint, routes and error renderer
(``routes``, helpers beside it). It imports no other dialect (import-linter); the services it calls
are in ``shared``.
"""

from api.dialects.phyloviz.routes import init_app

__all__ = ["init_app"]
