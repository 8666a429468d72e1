"""The Rekosearch jobs API (seed 003) at ``/rekosearch``: file-processing jobs over uploads.

Everything of this dialect lives in this package: its blueprint, routes and error renderer
(``routes``, helpers beside it). It imports no other dialect (import-linter); the services it calls
are in ``shared``.
"""

from api.dialects.rekosearch.routes import init_app

__all__ = ["init_app"]
