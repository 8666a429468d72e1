"""The Dragon task API (Stupeflix; seed 001) under ``/dragon``.

Everything of this dialect lives in this package: its blueprint, routes and error renderer
(``routes``, helpers beside it). It imports no other dialect (import-linter); the services it calls
are in ``shared``.
"""

from api.dialects.dragon.routes import init_app

__all__ = ["init_app"]
