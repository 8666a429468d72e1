"""The Canotic Job API (seed 000) at ``/canotic``, plus what its published client sends.

Everything of this dialect lives in this package: its blueprint, routes and error renderer
(``routes``). It imports no other dialect (import-linter); the services it calls
are in ``shared``.
"""

from api.dialects.canotic.routes import init_app

__all__ = ["init_app"]
