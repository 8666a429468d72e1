"""The dialects: one module per published Jobs API, each under its fixed mount.

A dialect module exposes ``init_app(app, api)``: it registers its blueprint (at its mount:
``/dragon``, ``/canotic``, ``/phyloviz``, ``/rekosearch``, ``/kasabi``) and its error renderer
(``api.errors.register_renderer``), so every error under its mount — routing errors
included — comes out in the dialect's own format. Dialects are thin: parse the request,
call the services in ``shared``, render the response; state names map in one dict each.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}").init_app(app, api)
