"""The web console at ``/console``: server-rendered pages for people, on the same services.

A person signs in with an API key; the session cookie (signed, HttpOnly, Secure, SameSite,
path ``/console``) holds only the key's id, so revoking the key ends the session at once and
the key itself never travels again. The key's scopes apply exactly as on the API
(``session.require``); every form carries a CSRF token (Flask-WTF). These routes are
``Access.NONE`` in ``api.access.ROUTES`` because they authenticate by session, not by header.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, render_template
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from api import errors
from api.console import jobs, pages, present, session
from api.console.blueprint import blp
from shared.engine.runtime import Runtime

__all__ = ["blp", "init_app", "jobs", "pages", "session"]


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing key derived on the first console
    request (it may come from the database, which need not be up when the app starts)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def open_session(self, app, request):
        if not app.secret_key and request.path.startswith(blp.url_prefix):
            secret = self.runtime.settings.secret_key or self.runtime.db.one("signing_key")["value"]
            app.secret_key = hmac.new(secret.encode(), b"jobline console session", hashlib.sha256).hexdigest()
        return super().open_session(app, request)


def _render_error(status: int, message: str, _errors, headers) -> Response:
    body = render_template("console/error.html", status=status, message=message)
    return Response(body, status, headers=headers, mimetype="text/html")


def init_app(app: Flask, runtime: Runtime) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="jobline_console", SESSION_COOKIE_PATH=blp.url_prefix,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_CHECK_DEFAULT=False,  # only the console's forms; API clients send keys, not cookies
        WTF_CSRF_TIME_LIMIT=None,      # the token lives as long as the session
    )
    app.session_interface = ConsoleSessions(runtime)
    CSRFProtect(app)
    app.jinja_env.filters.update(present.FILTERS)
    app.register_blueprint(blp)
    errors.register_renderer(app, blp.url_prefix, _render_error)
