"""The console's blueprint: its templates, its static files, and the checks every request gets."""

from __future__ import annotations

from flask import Blueprint, current_app, request

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                static_folder="static", static_url_path="/static")


@blp.before_request
def _csrf() -> None:
    """Every state-changing request carries the session's CSRF token (form field or header)."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        current_app.extensions["csrf"].protect()


@blp.after_request
def _headers(response):
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "console.static":  # pages show account data: never cached
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    return response
