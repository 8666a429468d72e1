"""Finding the API key in a request, in every form the documents and real clients use.

``Authorization: Bearer K | Secret K | Api-Key K | Basic base64(K:) | K``, the headers
``API-KEY`` (Canotic's client) and ``X_KASABI_APIKEY`` / ``X-Kasabi-Apikey`` (Kasabi's), the
query parameters ``apikey``, ``api_key`` and ``secret``, and ``secret`` / ``api_key`` in a JSON
body (Dragon). What a key may then do is ``api.access``'s decision.
"""

from __future__ import annotations

import base64
import binascii

from flask import current_app, g, request

from shared.engine.accounts import Account
from shared.engine.errors import Unauthorized


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "").strip()
    if header:
        scheme, _, value = header.partition(" ")
        scheme_l = scheme.lower()
        if scheme_l in ("bearer", "secret", "api-key", "token") and value:
            return value.strip()
        if scheme_l == "basic" and value:
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return user or password or None
        if not value:
            return header  # the raw key
    for name in ("API-KEY", "X-Kasabi-Apikey", "X_KASABI_APIKEY"):
        if request.headers.get(name):
            return request.headers[name].strip()
    # gunicorn drops underscore headers unless told not to; under WSGI the raw name survives.
    raw = request.environ.get("HTTP_X_KASABI_APIKEY")
    if raw:
        return raw.strip()
    for name in ("apikey", "api_key", "secret"):  # ?apikey= (Kasabi, pytassium); Dragon's request parameters
        if request.args.get(name):
            return request.args[name]
    body = request.get_json(silent=True, force=True) if request.content_length else None
    if isinstance(body, dict):
        for name in ("secret", "api_key"):
            if isinstance(body.get(name), str) and body[name]:
                return body[name]
    return None


def authenticate() -> Account:
    """The request's account (cached on ``g``); ``Unauthorized`` when there is no valid key."""
    if "account" not in g:
        key = presented_key()
        if not key:
            raise Unauthorized("an API key is required (e.g. Authorization: Bearer <key>)")
        g.account = current_app.extensions["jobline"].accounts.authenticate(key, page())
    return g.account


def page() -> str | None:
    """The page a browser request comes from, for public keys: ``Referer``, the ``Referrer``
    spelling of Dragon's document, else ``Origin``."""
    h = request.headers
    return h.get("Referer") or h.get("Referrer") or h.get("Origin")
