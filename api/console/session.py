"""Signing in and out, and who the session is: the key's account with the key's scopes."""

from __future__ import annotations

import time

from flask import g, redirect, render_template, request, session, url_for

from api.common import runtime
from api.console.blueprint import blp
from shared.engine.accounts import READ, SCOPES, WRITE, Account
from shared.engine.errors import Forbidden, JoblineError

#: A session lasts this long after sign-in, however active.
SESSION_MAX_AGE_S = 12 * 3600
PUBLIC_REFUSED = "A public key cannot sign in to the console: use a secret or a read key."


class SignInRequired(Exception):
    """Raised when a page needs a signed-in session and there is none (or it ended)."""


@blp.errorhandler(SignInRequired)
def _to_sign_in(_exc):
    if request.headers.get("HX-Request"):  # htmx: send the whole page to sign-in, not a fragment
        return "", 401, {"HX-Redirect": url_for("console.sign_in")}
    return redirect(url_for("console.sign_in", next=request.full_path if request.method == "GET" else None))


def current() -> Account:
    """The signed-in account, with the scopes of the key it signed in with."""
    if "console_account" in g:
        return g.console_account
    key_id, since = session.get("key_id"), session.get("since", 0)
    if not isinstance(key_id, int) or not isinstance(since, (int, float)) or time.time() - since > SESSION_MAX_AGE_S:
        session.clear()
        raise SignInRequired()
    row = runtime().db.one("console_key", key_id=key_id)
    if row is None or READ not in SCOPES.get(row["kind"], frozenset()):  # revoked since, or never a console key
        session.clear()
        raise SignInRequired()
    g.console_account = Account.from_row(row, key_kind=row["kind"], key_id=row["key_id"])
    return g.console_account


def require(scope: str) -> Account:
    """The account, if its key grants ``scope``; else 403, as the API would answer."""
    account = current()
    if scope not in account.scopes:
        raise Forbidden(f"this {account.key_kind} key may not do this "
                        f"(it grants: {', '.join(sorted(account.scopes))}; this needs {scope})")
    return account


def can_write() -> bool:
    return WRITE in current().scopes


@blp.app_template_global()
def console_can_write() -> bool:
    return "console_account" in g and WRITE in g.console_account.scopes


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    error = None
    if request.method == "POST":
        key = (request.form.get("key") or "").strip()
        account, error = None, "That key is not valid (or it was revoked)."
        try:
            account = runtime().accounts.authenticate(key) if key else None
        except Forbidden:  # a public key, which needs a Referer
            error = PUBLIC_REFUSED
        except JoblineError:
            pass
        if account is not None and READ not in account.scopes:
            account, error = None, PUBLIC_REFUSED
        if account is not None:
            session.clear()  # a fresh session (and CSRF token) for the new identity
            session.update(key_id=account.key_id, since=int(time.time()))
            target = request.args.get("next") or ""
            if not target.startswith(blp.url_prefix + "/"):  # never off-site
                target = url_for("console.jobs")
            return redirect(target)
    status = 401 if error else 200
    return render_template("console/sign_in.html", error=error), status


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    session.clear()
    return redirect(url_for("console.sign_in"))


@blp.route("/")
def home():
    current()
    return redirect(url_for("console.jobs"))
